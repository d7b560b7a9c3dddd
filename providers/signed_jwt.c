/*
 * signed_jwt: providers whose proof is a JWT (see signed.h).
 *
 * - Gong: "Authorization: <RS256 JWT>" (Bearer optional) made with the automation
 *   rule's key pair; the public key (PEM or bare base64 DER, as Gong's UI shows it) is
 *   the webhook secret. Claims: exp, webhook_url = the URL called, body_sha256 = hex
 *   SHA-256 of the body.
 * - Google Pub/Sub push (google-mail): "Authorization: Bearer <OIDC token>", RS256
 *   by Google's published keys; iss accounts.google.com, aud = verify_config.audience
 *   or else the URL called, exp; verify_config.email pins the push service account.
 * - Bot Framework (microsoft-teams, -bot): "Authorization: Bearer <token>", RS256 by
 *   Bot Framework's published keys; iss https://api.botframework.com, aud = the bot's
 *   app id (verify_config.audience, required), exp; its serviceUrl claim must equal
 *   the activity's.
 * - Plaid: "Plaid-Verification: <ES256 JWT>" whose kid names a key Plaid serves (POST
 *   with the client id and secret); iat at most 5 minutes old, request_body_sha256 =
 *   hex SHA-256 of the body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/remote_keys.h"
#include "providers/jwt.h"
#include "providers/signed.h"

#define SKEW_S 60
#define KID_REFRESH_S 60 /* an unknown kid refetches a JWKS at most this often */

static const char google_jwks[] = "https://www.googleapis.com/oauth2/v3/certs";
static const char *const google_hosts[] = {"www.googleapis.com", NULL};
static const char botframework_jwks[] = "https://login.botframework.com/v1/.well-known/keys";
static const char *const botframework_hosts[] = {"login.botframework.com", NULL};
static const char plaid_key_url[] = "https://production.plaid.com/webhook_verification_key/get";
static const char *const plaid_hosts[] = {"production.plaid.com", "sandbox.plaid.com", NULL};

/* The key from the JWKS at url that t names; refetches once when the cached JWKS lacks
 * the kid (the provider rotated its keys). NULL with a reason. */
static struct pubkey *published_key(const struct jwt *t, const char *url, const char *const *hosts, char *why,
                                    size_t whylen)
{
    struct pubkey *k = NULL;
    for (int attempt = 0; !k && attempt < 2; attempt++) {
        char *doc = NULL, fetch_why[200] = "";
        size_t len = 0;
        if (remote_keys_get(url, NULL, hosts, attempt ? KID_REFRESH_S : 0, &doc, &len, fetch_why, sizeof fetch_why) <
            0) {
            provider_say(why, whylen, "the provider's keys are unavailable: %s", fetch_why);
            return NULL;
        }
        k = jwt_key_from_jwks(t, doc, len, why, whylen);
        free(doc);
    }
    return k;
}

/* The verdict of a JWT: parsed, signed by key, claims as pol says. Borrowed key. */
static enum verify_result check(const struct jwt *t, const struct pubkey *key, const struct jwt_policy *pol, time_t now,
                                char *why, size_t whylen)
{
    if (!key)
        return VERIFY_INVALID;
    if (!jwt_signature_ok(t, key)) {
        provider_say(why, whylen, "the token's signature does not verify");
        return VERIFY_INVALID;
    }
    return jwt_claims_ok(t, pol, now, why, whylen) ? VERIFY_VALID : VERIFY_INVALID;
}

/* ---- Gong ---------------------------------------------------------------------- */

enum verify_result gong_verify(const struct provider *p, const struct webhook_request *req,
                               const struct provider_secrets *secrets, char *why, size_t whylen)
{
    const char *keys[2];
    size_t nk = signature_secrets(p->sigs[0].secret, secrets, keys);
    if (nk == 0) {
        provider_say(why, whylen, "the integration has no webhook secret (Gong's public key)");
        return VERIFY_NO_SECRET;
    }
    const char *token = signed_bearer(req, "Authorization", true);
    if (!token) {
        provider_say(why, whylen, "Authorization header absent");
        return VERIFY_MISSING;
    }
    struct jwt t;
    if (jwt_parse(token, strlen(token), JWT_ALLOW_RS256, &t, why, whylen) < 0)
        return VERIFY_INVALID;
    struct jwt_policy pol = {.skew = SKEW_S, .require_exp = true};
    enum verify_result v = VERIFY_INVALID;
    char keywhy[160] = "";
    for (size_t i = 0; v != VERIFY_VALID && i < nk; i++) {
        struct pubkey *key = pubkey_from_text(keys[i], keywhy, sizeof keywhy);
        if (!key)
            provider_say(why, whylen, "the webhook secret is not Gong's public key: %s", keywhy);
        else
            v = check(&t, key, &pol, req->now, why, whylen);
        pubkey_free(key);
    }
    if (v == VERIFY_VALID) {
        const char *url = jwt_claim(&t, "webhook_url");
        if (!url || !req->url || strcmp(url, req->url) != 0) {
            provider_say(why, whylen, "the token's webhook_url is not the URL called");
            v = VERIFY_INVALID;
        } else if (!signed_body_sha256_ok(req, jwt_claim(&t, "body_sha256"))) {
            provider_say(why, whylen, "the token's body_sha256 does not match the body");
            v = VERIFY_INVALID;
        } else {
            provider_say(why, whylen, "the Gong token verifies");
        }
    }
    jwt_free(&t);
    return v;
}

/* ---- bearer tokens checked against a published JWKS --------------------------------- */

struct bearer_spec {
    const char *jwks, *const *hosts;
    const char *issuers[JWT_MAX_ISSUERS];
    bool audience_required; /* else the URL called */
};

/* Verifies the bearer token of req under spec; *t is left parsed for further claims
 * (jwt_free it) when the verdict is VERIFY_VALID. */
static enum verify_result bearer_verify(const struct bearer_spec *spec, const struct webhook_request *req,
                                        const struct provider_secrets *secrets, struct jwt *t, char *why, size_t whylen)
{
    bool bad = false;
    char *audience = signed_option(secrets, "audience", &bad), *jwks = signed_option(secrets, "jwks_url", &bad);
    enum verify_result v = VERIFY_INVALID;
    const char *token = signed_bearer(req, "Authorization", false);
    memset(t, 0, sizeof *t);
    if (bad) {
        provider_say(why, whylen, "verify_config: audience and jwks_url must be strings");
    } else if (!audience && spec->audience_required) {
        provider_say(why, whylen, "verify_config has no audience (the bot's app id)");
        v = VERIFY_NO_SECRET;
    } else if (!token) {
        provider_say(why, whylen, "Authorization: Bearer header absent");
        v = VERIFY_MISSING;
    } else if (jwt_parse(token, strlen(token), JWT_ALLOW_RS256, t, why, whylen) == 0) {
        struct jwt_policy pol = {.audience = audience ? audience : req->url, .skew = SKEW_S, .require_exp = true};
        memcpy(pol.issuers, spec->issuers, sizeof pol.issuers);
        struct pubkey *key = published_key(t, jwks ? jwks : spec->jwks, spec->hosts, why, whylen);
        v = check(t, key, &pol, req->now, why, whylen);
        pubkey_free(key);
    }
    if (v != VERIFY_VALID)
        jwt_free(t);
    free(audience);
    free(jwks);
    return v;
}

enum verify_result google_push_verify(const struct provider *p, const struct webhook_request *req,
                                      const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    static const struct bearer_spec spec = {
        .jwks = google_jwks, .hosts = google_hosts, .issuers = {"https://accounts.google.com", "accounts.google.com"}};
    struct jwt t;
    enum verify_result v = bearer_verify(&spec, req, secrets, &t, why, whylen);
    if (v != VERIFY_VALID)
        return v;
    bool bad = false;
    char *email = signed_option(secrets, "email", &bad);
    json_t *verified = json_object_get(t.claims, "email_verified");
    if (bad ||
        (email && (!jwt_claim(&t, "email") || strcmp(email, jwt_claim(&t, "email")) != 0 || !json_is_true(verified)))) {
        provider_say(why, whylen, "the token's email is not the configured push service account");
        v = VERIFY_INVALID;
    } else {
        provider_say(why, whylen, "the Google token verifies");
    }
    free(email);
    jwt_free(&t);
    return v;
}

enum verify_result botframework_verify(const struct provider *p, const struct webhook_request *req,
                                       const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    static const struct bearer_spec spec = {.jwks = botframework_jwks,
                                            .hosts = botframework_hosts,
                                            .issuers = {"https://api.botframework.com"},
                                            .audience_required = true};
    struct jwt t;
    enum verify_result v = bearer_verify(&spec, req, secrets, &t, why, whylen);
    if (v != VERIFY_VALID)
        return v;
    /* The token is for one channel's service: the activity must name the same one. */
    json_t *body = provider_parse_json(req, NULL, 0);
    const char *claimed = jwt_claim(&t, "serviceUrl");
    const char *sent = json_string_value(json_object_get(body, "serviceUrl"));
    if (claimed && (!sent || strcmp(claimed, sent) != 0)) {
        provider_say(why, whylen, "the activity's serviceUrl is not the token's");
        v = VERIFY_INVALID;
    } else {
        provider_say(why, whylen, "the Bot Framework token verifies");
    }
    json_decref(body);
    jwt_free(&t);
    return v;
}

/* ---- Plaid ---------------------------------------------------------------------- */

/* The key Plaid serves for t's kid: {"key": {JWK..., "expired_at": null}}. */
static struct pubkey *plaid_key(const struct jwt *t, const char *url, const char *client_id, const char *secret,
                                char *why, size_t whylen)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "client_id", client_id, "secret", secret, "key_id", t->kid);
    char *post = req ? json_dumps(req, JSON_COMPACT) : NULL, *doc = NULL, fetch_why[200] = "";
    size_t len = 0;
    struct pubkey *k = NULL;
    json_decref(req);
    if (!post) {
        provider_say(why, whylen, "out of memory");
        return NULL;
    }
    if (remote_keys_get(url, post, plaid_hosts, 0, &doc, &len, fetch_why, sizeof fetch_why) < 0) {
        provider_say(why, whylen, "Plaid's key is unavailable: %s", fetch_why);
    } else {
        json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL), *jwk = json_object_get(root, "key");
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        if (!json_is_object(jwk) || !kid || strcmp(kid, t->kid) != 0)
            provider_say(why, whylen, "Plaid's answer holds no key with the token's kid");
        else if (!json_is_null(json_object_get(jwk, "expired_at")) && json_object_get(jwk, "expired_at"))
            provider_say(why, whylen, "the token's key has expired");
        else
            k = pubkey_from_jwk(jwk, why, whylen);
        json_decref(root);
    }
    free(doc);
    free(post);
    return k;
}

enum verify_result plaid_verify(const struct provider *p, const struct webhook_request *req,
                                const struct provider_secrets *secrets, char *why, size_t whylen)
{
    const char *keys[2];
    bool bad = false;
    size_t nk = signature_secrets(p->sigs[0].secret, secrets, keys);
    char *client_id = signed_option(secrets, "client_id", &bad), *url = signed_option(secrets, "key_url", &bad);
    const char *token = webhook_header(req, "Plaid-Verification");
    enum verify_result v = VERIFY_INVALID;
    struct jwt t = {0};
    if (bad) {
        provider_say(why, whylen, "verify_config: client_id and key_url must be strings");
    } else if (nk == 0 || !client_id) {
        provider_say(why, whylen, "the integration needs its client secret and verify_config.client_id");
        v = VERIFY_NO_SECRET;
    } else if (!token || !token[0]) {
        provider_say(why, whylen, "Plaid-Verification header absent");
        v = VERIFY_MISSING;
    } else if (jwt_parse(token, strlen(token), JWT_ALLOW_ES256, &t, why, whylen) == 0) {
        if (!t.kid) {
            provider_say(why, whylen, "the token has no kid");
        } else {
            struct jwt_policy pol = {.skew = SKEW_S, .max_age = 300};
            struct pubkey *key = plaid_key(&t, url ? url : plaid_key_url, client_id, keys[0], why, whylen);
            v = check(&t, key, &pol, req->now, why, whylen);
            pubkey_free(key);
        }
        if (v == VERIFY_VALID && !signed_body_sha256_ok(req, jwt_claim(&t, "request_body_sha256"))) {
            provider_say(why, whylen, "the token's request_body_sha256 does not match the body");
            v = VERIFY_INVALID;
        } else if (v == VERIFY_VALID) {
            provider_say(why, whylen, "the Plaid token verifies");
        }
    }
    jwt_free(&t);
    free(client_id);
    free(url);
    return v;
}
