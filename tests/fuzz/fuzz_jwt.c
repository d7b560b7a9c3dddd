/*
 * fuzz_jwt: the JWT parser, claim checks and JWKS key choice (providers/jwt.h) and
 * strict base64url (providers/pubkey.h) on any bytes. abort() unless:
 *   - jwt_parse either fails and leaves the token empty, or succeeds with an alg the
 *     caller allowed, JSON objects for header and claims, a kid that is a string of
 *     the header (or none), a signature of 1..512 bytes, and a signing input that is
 *     the token up to its second dot;
 *   - pubkey_unbase64url accepts only canonical text: decoding then re-encoding gives
 *     the input back;
 *   - the claim checks and the JWKS lookup (with the rest of the input as the JWKS
 *     document) return without crashing, and a key they return has the type the alg
 *     needs.
 * Input: byte 0 = the allowed algs (bits 1, 2), then the token up to the first '\n',
 * then a JWKS document.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/jwt.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of in (the canonical text). */
static size_t encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        size_t chars = len - i >= 3 ? 4 : len - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = B64URL[(v >> (18 - 6 * k)) & 63];
    }
    return o;
}

static void check_base64url(const char *p, size_t len)
{
    if (len > 4096)
        return;
    unsigned char bin[4096];
    char again[6000];
    long n = pubkey_unbase64url(p, len, bin, sizeof bin);
    if (n < 0)
        return;
    CHECK(encode(bin, (size_t)n, again) == len && memcmp(again, p, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned allowed = data[0] & (JWT_ALLOW_RS256 | JWT_ALLOW_ES256);
    const char *rest = (const char *)data + 1;
    size_t rlen = size - 1;
    const char *nl = memchr(rest, '\n', rlen);
    size_t tlen = nl ? (size_t)(nl - rest) : rlen;
    char *tok = malloc(tlen + 1);
    if (!tok)
        return 0;
    memcpy(tok, rest, tlen);
    tok[tlen] = '\0';
    check_base64url(tok, tlen);

    struct jwt t;
    char why[160];
    if (jwt_parse(tok, tlen, allowed, &t, why, sizeof why) < 0) {
        CHECK(!t.header && !t.claims && t.siglen == 0);
    } else {
        CHECK(json_is_object(t.header) && json_is_object(t.claims));
        CHECK(t.alg == JWT_RS256 || t.alg == JWT_ES256);
        CHECK(allowed & (1u << t.alg));
        CHECK(!t.kid || t.kid == json_string_value(json_object_get(t.header, "kid")));
        CHECK(t.siglen >= 1 && t.siglen <= sizeof t.sig);
        CHECK(t.signing_input == tok && t.signing_len < tlen && tok[t.signing_len] == '.');
        CHECK(memchr(tok, '.', t.signing_len) != NULL);
        struct jwt_policy pol = {.issuers = {"https://accounts.google.com"},
                                 .audience = "aud",
                                 .skew = 60,
                                 .require_exp = true,
                                 .max_age = 300};
        (void)jwt_claims_ok(&t, &pol, 1700000000, why, sizeof why);
        (void)jwt_claim(&t, "email");
        if (nl) {
            struct pubkey *k = jwt_key_from_jwks(&t, nl + 1, rlen - tlen - 1, why, sizeof why);
            if (k) {
                CHECK(pubkey_type(k) == (t.alg == JWT_RS256 ? PUBKEY_RSA : PUBKEY_EC_P256));
                (void)jwt_signature_ok(&t, k);
            }
            pubkey_free(k);
        }
    }
    jwt_free(&t);
    free(tok);
    return 0;
}
