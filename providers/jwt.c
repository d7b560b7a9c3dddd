/* jwt: see jwt.h. */
#include "providers/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_PART_MAX 8192

static void say(char *why, size_t whylen, const char *msg)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
}

/* One base64url part holding a JSON object: a new reference, or NULL. */
static json_t *json_part(const char *p, size_t len)
{
    unsigned char buf[JSON_PART_MAX];
    long n = pubkey_unbase64url(p, len, buf, sizeof buf);
    if (n <= 0)
        return NULL;
    json_t *v = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static enum jwt_alg alg_of(const char *name)
{
    if (name && strcmp(name, "RS256") == 0)
        return JWT_RS256;
    if (name && strcmp(name, "ES256") == 0)
        return JWT_ES256;
    return 0;
}

int jwt_parse(const char *token, size_t len, unsigned allowed, struct jwt *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!token || len == 0 || len > JWT_MAX_LEN) {
        say(why, whylen, len ? "the token is too long" : "the token is empty");
        return -1;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        say(why, whylen, "the token is not three dot-separated parts");
        return -1;
    }
    out->header = json_part(token, (size_t)(dot1 - token));
    out->claims = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!out->header || !out->claims) {
        say(why, whylen, "the token's header or claims are not base64url JSON objects");
        goto fail;
    }
    const char *alg = json_string_value(json_object_get(out->header, "alg"));
    out->alg = alg_of(alg);
    if (!out->alg || !(allowed & (1u << out->alg))) {
        say(why, whylen, "the token's alg is not one this provider signs with");
        goto fail;
    }
    if (json_object_get(out->header, "crit")) {
        say(why, whylen, "the token has critical extensions");
        goto fail;
    }
    json_t *kid = json_object_get(out->header, "kid");
    if (kid && !json_is_string(kid)) {
        say(why, whylen, "the token's kid is not a string");
        goto fail;
    }
    out->kid = json_string_value(kid);
    long n = pubkey_unbase64url(dot2 + 1, len - (size_t)(dot2 + 1 - token), out->sig, sizeof out->sig);
    if (n <= 0) {
        say(why, whylen, "the token's signature is not base64url");
        goto fail;
    }
    out->siglen = (size_t)n;
    out->signing_input = token;
    out->signing_len = (size_t)(dot2 - token);
    return 0;
fail:
    jwt_free(out);
    return -1;
}

bool jwt_signature_ok(const struct jwt *t, const struct pubkey *key)
{
    enum pubkey_type want = t->alg == JWT_RS256 ? PUBKEY_RSA : t->alg == JWT_ES256 ? PUBKEY_EC_P256 : 0;
    if (!want || pubkey_type(key) != want)
        return false;
    return pubkey_verify_sha256(key, t->signing_input, t->signing_len, t->sig, t->siglen, PUBKEY_SIG_RAW);
}

/* A NumericDate claim: 1 and *v when an integer (or a number with a fraction, cut),
 * 0 when absent, -1 when of another type. */
static int numeric_date(const struct jwt *t, const char *name, long long *v)
{
    json_t *c = json_object_get(t->claims, name);
    if (!c)
        return 0;
    if (json_is_integer(c))
        *v = json_integer_value(c);
    else if (json_is_real(c) && json_real_value(c) > -1e15 && json_real_value(c) < 1e15)
        *v = (long long)json_real_value(c);
    else
        return -1;
    return 1;
}

static bool audience_ok(const struct jwt *t, const char *want)
{
    json_t *aud = json_object_get(t->claims, "aud");
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) return true;
    return false;
}

static bool times_ok(const struct jwt *t, const struct jwt_policy *pol, time_t now, char *why, size_t whylen)
{
    long long exp = 0, nbf = 0, iat = 0, skew = pol->skew;
    int has_exp = numeric_date(t, "exp", &exp), has_nbf = numeric_date(t, "nbf", &nbf),
        has_iat = numeric_date(t, "iat", &iat);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0) {
        say(why, whylen, "the token's exp, nbf or iat is not a number");
        return false;
    }
    if (has_exp == 0 && pol->require_exp) {
        say(why, whylen, "the token has no exp");
        return false;
    }
    if (has_exp && (long long)now > exp + skew) {
        say(why, whylen, "the token has expired");
        return false;
    }
    if (has_nbf && (long long)now < nbf - skew) {
        say(why, whylen, "the token is not valid yet (nbf)");
        return false;
    }
    if (has_iat && iat > (long long)now + skew) {
        say(why, whylen, "the token was issued in the future (iat)");
        return false;
    }
    if (pol->max_age && (!has_iat || (long long)now - iat > pol->max_age + skew)) {
        say(why, whylen, has_iat ? "the token is too old (iat)" : "the token has no iat");
        return false;
    }
    return true;
}

bool jwt_claims_ok(const struct jwt *t, const struct jwt_policy *pol, time_t now, char *why, size_t whylen)
{
    if (!times_ok(t, pol, now, why, whylen))
        return false;
    if (pol->issuers[0]) {
        const char *iss = jwt_claim(t, "iss");
        bool ok = false;
        for (size_t i = 0; iss && i < JWT_MAX_ISSUERS && pol->issuers[i]; i++)
            ok |= strcmp(iss, pol->issuers[i]) == 0;
        if (!ok) {
            say(why, whylen, "the token's issuer (iss) is not the provider's");
            return false;
        }
    }
    if (pol->audience && !audience_ok(t, pol->audience)) {
        say(why, whylen, "the token's audience (aud) is not this integration's");
        return false;
    }
    return true;
}

const char *jwt_claim(const struct jwt *t, const char *name)
{
    return json_string_value(json_object_get(t->claims, name));
}

struct pubkey *jwt_key_from_jwks(const struct jwt *t, const char *jwks, size_t len, char *why, size_t whylen)
{
    json_t *doc = json_loadb(jwks, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *keys = json_object_get(doc, "keys"), *jwk, *found = NULL;
    const char *kty = t->alg == JWT_RS256 ? "RSA" : "EC";
    size_t i, candidates = 0;
    json_array_foreach(keys, i, jwk)
    {
        const char *k_kty = json_string_value(json_object_get(jwk, "kty"));
        const char *k_kid = json_string_value(json_object_get(jwk, "kid"));
        const char *use = json_string_value(json_object_get(jwk, "use"));
        if (!k_kty || strcmp(k_kty, kty) != 0 || (use && strcmp(use, "sig") != 0))
            continue;
        if (t->kid ? (k_kid && strcmp(k_kid, t->kid) == 0) : true) {
            found = jwk;
            candidates++;
        }
    }
    struct pubkey *k = NULL;
    if (!json_is_array(keys))
        say(why, whylen, "the key document is not a JWKS");
    else if (candidates != 1)
        say(why, whylen, candidates ? "the token names no single key" : "no published key has the token's kid");
    else
        k = pubkey_from_jwk(found, why, whylen);
    json_decref(doc);
    return k;
}

void jwt_free(struct jwt *t)
{
    if (!t)
        return;
    json_decref(t->header);
    json_decref(t->claims);
    memset(t, 0, sizeof *t);
}
