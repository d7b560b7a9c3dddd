/*
 * jwt: compact JWS tokens (RFC 7515/7519) as providers send them to prove a request:
 * Gong's and Plaid's signed headers, Google Pub/Sub's and Bot Framework's OIDC bearer
 * tokens. Parsing is strict (three base64url parts without padding, JSON objects
 * without duplicate keys, no "crit" extensions, a size cap); only RS256 and ES256 are
 * known, and a row allows a subset of them, so "none" and HS* (an HMAC keyed with a
 * public key) can never verify. A signature is checked only with a key of the type its
 * alg names.
 *
 * Pure and thread-safe. Errors: 0 / -1 (or bool) with a reason in why, which never
 * contains the token.
 */
#ifndef HOOKLINE_JWT_H
#define HOOKLINE_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "providers/pubkey.h"

#define JWT_MAX_LEN 16384
#define JWT_MAX_ISSUERS 3

enum jwt_alg { JWT_RS256 = 1, JWT_ES256 = 2 };
#define JWT_ALLOW_RS256 (1u << JWT_RS256)
#define JWT_ALLOW_ES256 (1u << JWT_ES256)

struct jwt {
    json_t *header; /* owned */
    json_t *claims; /* owned */
    enum jwt_alg alg;
    const char *kid;           /* borrowed from header, or NULL */
    const char *signing_input; /* borrowed from the token given to jwt_parse */
    size_t signing_len;
    unsigned char sig[512];
    size_t siglen;
};

/* What the claims must say. Unset members are not checked. */
struct jwt_policy {
    const char *issuers[JWT_MAX_ISSUERS]; /* iss must be one of these */
    const char *audience;                 /* aud (a string, or an array holding it) */
    int skew;                             /* seconds of clock difference allowed */
    bool require_exp;                     /* exp must be present */
    int max_age;                          /* iat must be present and at most this old */
};

/* Parses token (len bytes; a trailing "Bearer " is the caller's business) whose alg
 * must be in allowed (JWT_ALLOW_* bits). The token must outlive out. 0, or -1 with a
 * reason (out is then empty; jwt_free is still safe). */
int jwt_parse(const char *token, size_t len, unsigned allowed, struct jwt *out, char *why, size_t whylen)
    __attribute__((warn_unused_result));

/* Whether key (of the type the alg names) signed t. */
bool jwt_signature_ok(const struct jwt *t, const struct pubkey *key);

/* exp, nbf, iat (with skew), iss, aud, as pol says, at now. */
bool jwt_claims_ok(const struct jwt *t, const struct jwt_policy *pol, time_t now, char *why, size_t whylen);

/* A string claim, borrowed from t, or NULL. */
const char *jwt_claim(const struct jwt *t, const char *name);

/* The key of a JWKS document ({"keys":[...]}, len bytes) that t names by kid (or the
 * only key of its type when t has no kid), of the type t's alg needs. A new key, or
 * NULL with a reason. */
struct pubkey *jwt_key_from_jwks(const struct jwt *t, const char *jwks, size_t len, char *why, size_t whylen);

void jwt_free(struct jwt *t);

#endif
