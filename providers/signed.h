/*
 * signed: the custom code of the providers that sign with a private key or a token
 * (table_signed.c): JWTs checked against a configured public key (Gong) or against
 * keys the provider publishes (Google Pub/Sub, Bot Framework, Plaid), public-key
 * signatures of the body (HighLevel RSA-SHA256, SendGrid ECDSA P-256), and HMACs keyed
 * by a signing key fetched from a URL the payload names (ConnectWise). Published keys
 * come from common/remote_keys.h; a provider whose keys cannot be fetched refuses the
 * request (VERIFY_INVALID, with the fetch's failure as the reason).
 *
 * Contracts as provider_verify (provider.h). Thread-safe.
 */
#ifndef HOOKLINE_PROVIDER_SIGNED_H
#define HOOKLINE_PROVIDER_SIGNED_H

#include "providers/provider_impl.h"

#define SIGNED_VERIFY_FN(fn)                                                                                           \
    enum verify_result fn(const struct provider *p, const struct webhook_request *req,                                 \
                          const struct provider_secrets *secrets, char *why, size_t whylen)

SIGNED_VERIFY_FN(gong_verify);         /* RS256 JWT in Authorization, key = webhook secret */
SIGNED_VERIFY_FN(google_push_verify);  /* Pub/Sub push OIDC token, Google's JWKS */
SIGNED_VERIFY_FN(botframework_verify); /* Bot Framework token, its JWKS */
SIGNED_VERIFY_FN(plaid_verify);        /* ES256 JWT in Plaid-Verification, key by kid */
SIGNED_VERIFY_FN(highlevel_verify);    /* RSA-SHA256 of the body in x-wh-signature */
SIGNED_VERIFY_FN(sendgrid_verify);     /* ECDSA P-256 of timestamp + body */
SIGNED_VERIFY_FN(connectwise_verify);  /* HMAC keyed by the key at Metadata.key_url */

/* verify_config settings the signed providers read (all strings), for options.c:
 * whether key is one of provider p's. */
bool signed_option_known(const struct provider *p, const char *key);

/* ---- helpers shared by the files above (signed_util.c) ---- */

/* A string setting of the integration's verify_config, as a new string, or NULL when
 * absent (or not a string; *bad is then set). */
char *signed_option(const struct provider_secrets *secrets, const char *key, bool *bad);

/* The token of an "Authorization: Bearer <token>" header (the scheme case-insensitive;
 * with bearer_optional, a bare token too), borrowed, or NULL. */
const char *signed_bearer(const struct webhook_request *req, const char *header, bool bearer_optional);

/* Whether hex is the lower- or upper-case hex SHA-256 of the body (constant time). */
bool signed_body_sha256_ok(const struct webhook_request *req, const char *hex);

#endif
