/* envelope: see envelope.h. */
#include "common/envelope.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

/* Appends s as a JSON string literal (quoted, escaped), or null. Returns new length
 * or 0 on failure. */
static size_t append_json_string(char **buf, size_t len, size_t *cap, const char *s, size_t slen)
{
    char *lit;
    if (!s) {
        lit = strdup("null");
    } else {
        json_t *j = json_stringn_nocheck(s, slen);
        lit = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        json_decref(j);
    }
    if (!lit)
        return 0;
    size_t n = strlen(lit);
    if (len + n + 1 > *cap) {
        size_t c = (len + n + 1) * 2;
        char *b = realloc(*buf, c);
        if (!b) {
            free(lit);
            return 0;
        }
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + len, lit, n);
    free(lit);
    return len + n;
}

static size_t append_raw(char **buf, size_t len, size_t *cap, const void *s, size_t n)
{
    if (len + n + 1 > *cap) {
        size_t c = (len + n + 1) * 2;
        char *b = realloc(*buf, c);
        if (!b)
            return 0;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + len, s, n);
    return len + n;
}

static int is_json(const void *payload, size_t len)
{
    /* A raw NUL is never JSON, but jansson accepts one after a top-level scalar ("1\0"). */
    if (memchr(payload, '\0', len))
        return 0;
    json_error_t err;
    json_t *j = json_loadb(payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    json_decref(j);
    return j != NULL;
}

/* JSON strings carry only UTF-8 text; jansson's checked constructor validates it. */
static int is_utf8(const void *payload, size_t len)
{
    json_t *j = json_stringn(payload, len);
    json_decref(j);
    return j != NULL;
}

/* Appends "<base64 of payload>" (quoted). Returns the new length or 0. */
static size_t append_base64(char **buf, size_t len, size_t *cap, const void *payload, size_t plen)
{
    char *b64 = malloc(4 * ((plen + 2) / 3) + 1);
    if (!b64)
        return 0;
    size_t blen = crypto_base64(payload, plen, b64);
    len = append_raw(buf, len, cap, "\"", 1);
    len = len ? append_raw(buf, len, cap, b64, blen) : 0;
    len = len ? append_raw(buf, len, cap, "\"", 1) : 0;
    free(b64);
    return len;
}

/* Appends ,"payload":<payload encoded as the header comment says>} to buf (n bytes,
 * cap allocated) and NUL-terminates it. The new length, or 0 on failure. */
static size_t append_payload(char **buf, size_t n, size_t *cap, const void *payload, size_t payload_len)
{
#define RAW(s) (n = append_raw(buf, n, cap, (s), strlen(s)))
    if (!RAW(",\"payload\":"))
        return 0;
    if (payload_len == 0)
        n = append_raw(buf, n, cap, "null", 4);
    else if (is_json(payload, payload_len))
        n = append_raw(buf, n, cap, payload, payload_len);
    else if (is_utf8(payload, payload_len))
        n = append_json_string(buf, n, cap, payload, payload_len);
    else if (!(n = append_base64(buf, n, cap, payload, payload_len)) || !RAW(",\"payloadEncoding\":\"base64\""))
        return 0;
    if (!n || !RAW("}"))
        return 0;
#undef RAW
    (*buf)[n] = '\0';
    return n;
}

char *envelope_build(const char *provider, const char *integration, const char *connection, const void *payload,
                     size_t payload_len, size_t *len)
{
    size_t cap = payload_len + 256, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
#define RAW(s) (n = append_raw(&buf, n, &cap, (s), strlen(s)))
#define STR(s) (n = append_json_string(&buf, n, &cap, (s), (s) ? strlen(s) : 0))
    if (!RAW("{\"from\":") || !STR(provider) || !RAW(",\"type\":\"forward\",\"providerConfigKey\":") ||
        !STR(integration) || !RAW(",\"connectionId\":") || !STR(connection) ||
        !(n = append_payload(&buf, n, &cap, payload, payload_len))) {
        free(buf);
        return NULL;
    }
#undef RAW
#undef STR
    *len = n;
    return buf;
}

char *envelope_wrap(const char *head, size_t head_len, const void *payload, size_t payload_len, size_t *len)
{
    size_t cap = head_len + payload_len + 64;
    char *buf = malloc(cap);
    size_t n = buf ? append_raw(&buf, 0, &cap, head, head_len) : 0;
    if (!n || !(n = append_payload(&buf, n, &cap, payload, payload_len))) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

void envelope_sign_nango(const char *signing_key, const void *body, size_t len, char out[65])
{
    unsigned char mac[64];
    size_t m = crypto_hmac1(HMAC_SHA256, signing_key, strlen(signing_key), body, len, mac);
    crypto_hex(mac, m, out);
}

int envelope_sign_nango_legacy(const char *signing_key, const void *body, size_t len, char out[65])
{
    size_t klen = strlen(signing_key);
    unsigned char *buf = malloc(klen + len + 1), digest[32];
    out[0] = '\0';
    if (!buf)
        return -1;
    memcpy(buf, signing_key, klen);
    if (len)
        memcpy(buf + klen, body, len);
    crypto_sha256(buf, klen + len, digest);
    free(buf);
    crypto_hex(digest, sizeof digest, out);
    return 0;
}

/* Writes "v1,<base64 of HMAC-SHA256(key, id.ts.body)>" into out (at least 48 bytes). */
static void sign_standard_one(const char *key, const char *msg_id, const char *ts, const void *body, size_t len,
                              char *out, size_t outlen)
{
    const void *parts[5] = {msg_id, ".", ts, ".", body};
    size_t lens[5] = {strlen(msg_id), 1, strlen(ts), 1, len};
    unsigned char mac[64];
    size_t m = crypto_hmac(HMAC_SHA256, key, strlen(key), parts, lens, 5, mac);
    char b64[100];
    crypto_base64(mac, m, b64);
    snprintf(out, outlen, "v1,%s", b64);
}

void envelope_sign_standard(const char *signing_key, const char *previous_key, const char *msg_id, long long timestamp,
                            const void *body, size_t len, char out[ENVELOPE_STANDARD_SIG_MAX])
{
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", timestamp);
    sign_standard_one(signing_key, msg_id, ts, body, len, out, ENVELOPE_STANDARD_SIG_MAX);
    if (!previous_key || !*previous_key)
        return;
    size_t n = strlen(out);
    out[n++] = ' ';
    sign_standard_one(previous_key, msg_id, ts, body, len, out + n, ENVELOPE_STANDARD_SIG_MAX - n);
}
