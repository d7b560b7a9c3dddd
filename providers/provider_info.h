/*
 * provider_info: what a provider does, described for people (the `hookline providers`
 * listing, docs), beyond the runtime interface of provider.h. Pure and thread-safe.
 */
#ifndef HOOKLINE_PROVIDER_INFO_H
#define HOOKLINE_PROVIDER_INFO_H

#include <stddef.h>

#include "providers/provider.h"

/* The handshakes provider_handshake answers, one line; NULL when there are none.
 * The string is static. */
const char *provider_handshakes(const struct provider *p);

/* Where attribution finds the connection, e.g. "installation.id ->
 * connection_config.installation_id", alternatives joined by ", else ". Writes a
 * NUL-terminated line into out (truncated at an alternative's boundary) and returns
 * its length; "" when the provider never attributes. */
size_t provider_attribution(const struct provider *p, char *out, size_t outlen);

/* The event type a sync subscription matches, described: hookline's ("<X-GitHub-Event>.
 * <action>": a request header in <>, body fields by name, joined by "."; an event of a
 * batch reads its own fields) into full, and the one Nango's routing script matches (the
 * same without the detail part, e.g. "<X-GitHub-Event>") into nango. "none" when the
 * provider names no event type. Both NUL-terminated, truncated to their buffers. */
void provider_event_type_forms(const struct provider *p, char *full, size_t fulllen, char *nango, size_t nangolen);

#endif
