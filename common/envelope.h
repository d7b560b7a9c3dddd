/*
 * envelope: what the forwarder sends (and the Standard Webhooks signatures the syncer
 * puts on its jobs), as pure functions (no I/O), so it is unit-tested byte for byte.
 * In common/ because two stages sign with it: one definition of what apps verify.
 *
 * Body (Nango-compatible, compact, this key order):
 *   {"from":P,"type":"forward","providerConfigKey":K,"connectionId":C|null,"payload":X}
 * where X is the provider payload spliced in byte for byte when it is JSON, a JSON
 * string of it when it is other UTF-8 text (e.g. a form-encoded body), null when
 * empty, and otherwise (binary, or text in another encoding) a JSON string of its
 * base64 followed by "payloadEncoding":"base64", so no byte is ever lost.
 * Signatures, keyed by the environment's signing key as bytes:
 *   X-Nango-Hmac-Sha256: hex(HMAC-SHA256(key, body))
 *   X-Nango-Signature:   hex(SHA-256(key || body)), Nango's legacy header (sent only
 *                        when the environment asks for it; it is a plain hash, open to
 *                        length extension, which is why the HMAC header replaced it)
 *   webhook-signature:   "v1," base64(HMAC-SHA256(key, id "." timestamp "." body)),
 *                        and during a signing-key rotation's grace period a second
 *                        entry with the previous key after a space (Standard Webhooks
 *                        verifiers accept the message when any entry matches).
 */
#ifndef HOOKLINE_ENVELOPE_H
#define HOOKLINE_ENVELOPE_H

#include <stddef.h>

/* Returns a new malloc'ed body (caller frees) and its length, or NULL on allocation
 * failure. connection may be NULL (unattributed). */
char *envelope_build(const char *provider, const char *integration, const char *connection, const void *payload,
                     size_t payload_len, size_t *len);

/* Another body around a payload encoded the same way: head is a JSON object without its
 * closing brace ("{\"type\":\"x\"" ...); ,"payload":... and the brace are appended. New
 * malloc'ed body (caller frees) and its length, or NULL on allocation failure. */
char *envelope_wrap(const char *head, size_t head_len, const void *payload, size_t payload_len, size_t *len);

/* Writes the 64 hex digits and a NUL into out. */
void envelope_sign_nango(const char *signing_key, const void *body, size_t len, char out[65]);

/* X-Nango-Signature: writes the 64 hex digits and a NUL into out. Returns 0, or -1 on
 * allocation failure (out is then ""). */
int envelope_sign_nango_legacy(const char *signing_key, const void *body, size_t len, char out[65])
    __attribute__((warn_unused_result));

/* Room for webhook-signature with two entries: 2 * ("v1," + 44 base64) + ' ' + NUL. */
#define ENVELOPE_STANDARD_SIG_MAX 96

/* Writes "v1,<base64>" with signing_key into out (ENVELOPE_STANDARD_SIG_MAX bytes),
 * followed by " v1,<base64>" with previous_key unless it is NULL or "". */
void envelope_sign_standard(const char *signing_key, const char *previous_key, const char *msg_id, long long timestamp,
                            const void *body, size_t len, char out[ENVELOPE_STANDARD_SIG_MAX]);

#endif
