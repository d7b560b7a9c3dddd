/*
 * jwt_hs256: a JSON Web Token in the Authorization header (optionally after
 * "Bearer "), signed HS256 with the webhook secret, as Monday signs its app webhooks.
 * The header must say "alg":"HS256" (no "none", no algorithm chosen by the sender),
 * the signature must match in constant time, and an "exp" claim, when present, must
 * not have passed. The claims are not otherwise read.
 */
#include "providers/provider_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_MAX 4096
#define EXP_LEEWAY_S 60 /* clock skew between Monday and us */

/* base64url (no padding) of in into a new string; NULL when out of memory. */
static char *b64url(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t n = crypto_base64(in, len, out);
    while (n && out[n - 1] == '=')
        out[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

/* Decodes base64url text of len bytes into out; bytes written or -1. */
static long unb64url(const char *text, size_t len, unsigned char *out, size_t cap)
{
    char buf[JWT_MAX];
    if (len >= sizeof buf)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '+' || c == '/' || c == '=')
            return -1; /* base64url only */
        buf[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    return crypto_unbase64(buf, len, out, cap);
}

/* A token part as a JSON object: a new reference, or NULL. */
static json_t *part_json(const char *text, size_t len)
{
    unsigned char buf[JWT_MAX];
    long n = unb64url(text, len, buf, sizeof buf);
    json_t *j = n > 0 ? json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

enum verify_result jwt_hs256_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    const char *active[2];
    size_t nsecrets = signature_secrets(SIG_SECRET_WEBHOOK, secrets, active);
    if (nsecrets == 0) {
        provider_say(why, whylen, "the integration has no webhook secret (the signing secret)");
        return VERIFY_NO_SECRET;
    }
    const char *tok = webhook_header(req, "Authorization");
    if (!tok) {
        provider_say(why, whylen, "Authorization header absent");
        return VERIFY_MISSING;
    }
    if (strncasecmp(tok, "Bearer ", 7) == 0)
        tok += 7;
    size_t len = strlen(tok);
    const char *dot1 = memchr(tok, '.', len), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (len > JWT_MAX || !dot1 || !dot2 || strchr(dot2 + 1, '.')) {
        provider_say(why, whylen, "Authorization is not a JWT");
        return VERIFY_INVALID;
    }
    json_t *head = part_json(tok, (size_t)(dot1 - tok));
    json_t *claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    json_t *alg = json_object_get(head, "alg"), *exp = json_object_get(claims, "exp");
    unsigned char sig[64], mac[64];
    long slen = unb64url(dot2 + 1, strlen(dot2 + 1), sig, sizeof sig);
    enum verify_result r = VERIFY_INVALID;
    if (!head || !claims || !json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        provider_say(why, whylen, "the JWT is not an HS256 token");
    else if (slen != 32)
        provider_say(why, whylen, "the JWT's signature is not 32 bytes");
    else if (exp && (!json_is_number(exp) || json_number_value(exp) + EXP_LEEWAY_S < (double)req->now))
        provider_say(why, whylen, "the JWT has expired");
    else {
        for (size_t i = 0; i < nsecrets && r != VERIFY_VALID; i++) {
            size_t m = crypto_hmac1(HMAC_SHA256, active[i], strlen(active[i]), tok, (size_t)(dot2 - tok), mac);
            if (m && crypto_equal(mac, m, sig, (size_t)slen))
                r = VERIFY_VALID;
        }
        provider_say(why, whylen, r == VERIFY_VALID ? "the JWT is valid" : "the JWT's signature does not match");
    }
    json_decref(head);
    json_decref(claims);
    return r;
}

int jwt_hs256_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                   struct http_header *out, size_t max)
{
    (void)p;
    const char *secret = secrets ? secrets->webhook_secret : NULL;
    if (!secret || !*secret || max < 1)
        return -1;
    char claims[96], *signing = NULL, *token = NULL;
    static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    snprintf(claims, sizeof claims, "{\"iat\":%lld,\"exp\":%lld}", (long long)req->now, (long long)req->now + 86400);
    char *h = b64url((const unsigned char *)head, strlen(head));
    char *c = b64url((const unsigned char *)claims, strlen(claims));
    unsigned char mac[64];
    char *s = NULL;
    int rc = -1;
    if (h && c && asprintf(&signing, "%s.%s", h, c) >= 0) {
        size_t m = crypto_hmac1(HMAC_SHA256, secret, strlen(secret), signing, strlen(signing), mac);
        if (m && (s = b64url(mac, m)) && asprintf(&token, "%s.%s", signing, s) >= 0) {
            out[0] = (struct http_header){strdup("Authorization"), token};
            rc = out[0].name ? 1 : -1;
            if (rc < 0)
                free(token);
        } else {
            token = NULL;
        }
    } else {
        signing = NULL;
    }
    free(h);
    free(c);
    free(s);
    free(signing);
    return rc;
}
