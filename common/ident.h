/*
 * ident: what an identifier that a stranger controls must look like before any stage
 * uses it. Connection ids and identifier values read from a webhook's query, headers
 * or body, and event types, reach PostgreSQL (which refuses bytes that are not UTF-8),
 * log lines and the app's request headers. One rule and one length cap for every
 * stage, so a value that passes the router never fails later in the forwarder or the
 * syncer: valid UTF-8 (no overlong forms, no surrogates), no control characters (C0,
 * DEL, C1), 1 to IDENT_MAX_LEN bytes.
 */
#ifndef HOOKLINE_IDENT_H
#define HOOKLINE_IDENT_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes, without the NUL: connection ids (the CLI's limit), identifier values, event
 * types. A buffer that holds any identifier is IDENT_MAX_LEN + 1 bytes. */
#define IDENT_MAX_LEN 1024

/* Integration keys (the CLI's pattern): 1 to 128 ASCII letters, digits, '.', '_' or
 * '-', the first a letter or digit. A URL whose key does not match names nothing. */
#define IDENT_INTEGRATION_KEY_MAX_LEN 128

/* True if the n bytes at s are well-formed UTF-8 (RFC 3629). */
bool ident_utf8_valid(const void *s, size_t n);

/* True if the n bytes at s are a usable identifier (see above). */
bool ident_valid(const char *s, size_t n);

/* The same for a NUL-terminated string (NULL is not valid). */
bool ident_valid_str(const char *s);

/* True if s (NUL-terminated, may be NULL) matches the integration key pattern. */
bool ident_is_integration_key(const char *s);

#endif
