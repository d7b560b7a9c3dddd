/*
 * fuzz_envelope: envelope_build (common/envelope.h) with fuzzed provider,
 * integration and connection strings and payload. abort() unless:
 *   - it returns a body (NULL is only for allocation failure), NUL-terminated with
 *     strlen == *len;
 *   - the body parses (jansson; \u0000 allowed, it is JSON) as an object with exactly
 *     the keys from, type, providerConfigKey, connectionId, payload; from,
 *     providerConfigKey and connectionId are the given strings (connectionId null when
 *     connection is NULL) and type is "forward";
 *   - payload: null when empty; when the payload is valid JSON (RFC 8259, \u0000
 *     included) the body ends with ,"payload":<the payload byte for byte>} ;
 *     otherwise it is a JSON string: of exactly the payload bytes when they are
 *     UTF-8, else of their base64, with a sixth key "payloadEncoding":"base64".
 *
 * Input: byte 0 = flags (bit 0: connection NULL), then three '\n'-terminated fields
 * (provider, integration, connection); the rest is the payload (any bytes). Inputs
 * whose names are not valid UTF-8 are skipped: names come from the provider table and
 * Postgres text. A payload nested exactly as deep as jansson allows makes the envelope
 * one level too deep for jansson to re-parse: tolerated.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/envelope.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static void check_string(json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    CHECK(json_is_string(v) && strlen(want) == json_string_length(v) && strcmp(json_string_value(v), want) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *field[3];
    size_t off = 1;
    for (int i = 0; i < 3; i++) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : 0;
        field[i] = strndup((const char *)data + off, n);
        off += nl ? n + 1 : 0;
    }
    for (int i = 0; i < 3; i++) {
        json_t *utf8 = json_string(field[i]); /* NULL when not valid UTF-8 */
        if (!utf8) {
            for (int j = 0; j < 3; j++)
                free(field[j]);
            return 0;
        }
        json_decref(utf8);
    }
    const char *connection = data[0] & 1 ? NULL : field[2];
    size_t plen = size - off;
    char *payload = malloc(plen ? plen : 1); /* exact size, so ASan sees overreads */
    memcpy(payload, data + off, plen);

    size_t len = 0;
    char *body = envelope_build(field[0], field[1], connection, payload, plen, &len);
    CHECK(body && body[len] == '\0' && strlen(body) == len);

    json_error_t jerr;
    json_t *env = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    /* Valid JSON: what jansson accepts, minus raw NULs (it takes "1\0" for 1). */
    json_t *pj = plen && !memchr(payload, '\0', plen)
                     ? json_loadb(payload, plen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                     : NULL;
    if (!env && pj && json_error_code(&jerr) == json_error_stack_overflow)
        goto out;
    json_t *encoding = json_object_get(env, "payloadEncoding");
    CHECK(json_is_object(env) && json_object_size(env) == (encoding ? 6u : 5u));
    check_string(env, "from", field[0]);
    check_string(env, "type", "forward");
    check_string(env, "providerConfigKey", field[1]);
    if (connection)
        check_string(env, "connectionId", connection);
    else
        CHECK(json_is_null(json_object_get(env, "connectionId")));

    json_t *pv = json_object_get(env, "payload");
    if (plen == 0) {
        CHECK(json_is_null(pv));
    } else if (pj) {
        static const char key[] = ",\"payload\":";
        size_t klen = sizeof key - 1;
        CHECK(pv && len >= klen + plen + 1 && body[len - 1] == '}' &&
              memcmp(body + len - 1 - plen, payload, plen) == 0 &&
              memcmp(body + len - 1 - plen - klen, key, klen) == 0);
    } else {
        json_t *utf8 = json_stringn(payload, plen); /* NULL when not valid UTF-8 */
        CHECK(json_is_string(pv) && (utf8 ? json_equal(pv, utf8) && !encoding : encoding != NULL));
        if (!utf8) { /* lossless: base64 of exactly the payload bytes */
            unsigned char *raw = malloc(plen + 3);
            long n = crypto_unbase64(json_string_value(pv), json_string_length(pv), raw, plen + 3);
            CHECK(json_is_string(encoding) && !strcmp(json_string_value(encoding), "base64") && n == (long)plen &&
                  memcmp(raw, payload, plen) == 0);
            free(raw);
        }
        json_decref(utf8);
    }
out:
    json_decref(pj);
    json_decref(env);
    free(body);
    free(payload);
    for (int i = 0; i < 3; i++)
        free(field[i]);
    return 0;
}
