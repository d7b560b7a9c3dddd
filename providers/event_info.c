/*
 * event_info: a provider's event types described for people (provider_info.h), from the
 * row's attr_spec: the same parts attribution.c's event_text reads, in the same order, so
 * the description cannot drift from what the router computes.
 */
#include <stdio.h>
#include <string.h>

#include "providers/provider_impl.h"
#include "providers/provider_info.h"

/* Appends part to out (after a "." when out is not empty). */
static void join(char *out, size_t outlen, const char *part)
{
    size_t len = strlen(out);
    if (len < outlen)
        snprintf(out + len, outlen - len, "%s%s", len ? "." : "", part);
}

/* The header and body parts of the type (without the detail) into out. */
static void base_parts(const struct attr_spec *a, char *out, size_t outlen)
{
    char part[160];
    if (a->event_header) {
        snprintf(part, sizeof part, "<%s>", a->event_header);
        join(out, outlen, part);
    }
    if (a->event_paths[0]) {
        size_t o = 0;
        for (int i = 0; i < ATTR_MAX_EVENT_PATHS && a->event_paths[i] && o < sizeof part; i++)
            o += (size_t)snprintf(part + o, sizeof part - o, "%s%s", i ? " else " : "", a->event_paths[i]);
        join(out, outlen, part);
    }
}

void provider_event_type_forms(const struct provider *p, char *full, size_t fulllen, char *nango, size_t nangolen)
{
    const struct attr_spec *a = &p->attr;
    if (fulllen)
        full[0] = '\0';
    if (nangolen)
        nango[0] = '\0';
    base_parts(a, full, fulllen);
    base_parts(a, nango, nangolen);
    if (a->event_detail) {
        char part[96];
        snprintf(part, sizeof part, "%s", a->event_detail);
        join(full, fulllen, part);
    }
    if (fulllen && !full[0])
        snprintf(full, fulllen, "none");
    if (nangolen && !nango[0])
        snprintf(nango, nangolen, "%s", fulllen ? full : "none");
}
