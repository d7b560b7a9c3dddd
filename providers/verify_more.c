/*
 * verify_more: the schemes of table_more.c that a row cannot say, because the proof
 * is inside the body or is HTTP Basic authentication:
 *
 *   mailgun   the body's signature.{timestamp, token, signature}: hex HMAC-SHA256 of
 *             timestamp + token with the webhook signing key, the timestamp within
 *             the row's window (300 s)
 *   adyen     every notificationItems[].NotificationRequestItem carries
 *             additionalData.hmacSignature: base64 HMAC-SHA256, keyed with the
 *             hex-decoded HMAC key, of its fields joined by ":" (pspReference,
 *             originalReference, merchantAccountCode, merchantReference, amount.value,
 *             amount.currency, eventCode, success); all of them must verify
 *   basic     Authorization: Basic base64(user:password) equal to the webhook secret
 *             "user:password" (Pipedrive, Freshdesk)
 *
 * Every comparison is constant-time; the previous secret is accepted during a
 * rotation. Neither Mailgun's nor Adyen's signature covers the whole body (Adyen's
 * covers the listed fields only), so the rest of an event could be changed: the
 * docs say so.
 */
#include "providers/provider_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEX_KEY_MAX 256 /* Adyen's HMAC keys are 32 bytes */

/* The text of a JSON string or integer ("" for anything else; JSON true/false as
 * Adyen writes them), into buf. */
static const char *field_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    buf[0] = '\0';
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    return buf;
}

static bool mac_matches(enum hmac_alg alg, const void *key, size_t keylen, const char *msg, const unsigned char *want,
                        size_t wantlen)
{
    unsigned char mac[64];
    size_t len = crypto_hmac1(alg, key, keylen, msg, strlen(msg), mac);
    return len > 0 && crypto_equal(mac, len, want, wantlen);
}

enum verify_result mailgun_verify(const struct provider *p, const struct webhook_request *req,
                                  const struct provider_secrets *secrets, char *why, size_t whylen)
{
    const char *keys[2];
    size_t nkeys = signature_secrets(SIG_SECRET_WEBHOOK, secrets, keys);
    if (nkeys == 0) {
        provider_say(why, whylen, "no webhook signing key");
        return VERIFY_NO_SECRET;
    }
    json_t *root = provider_parse_json(req, NULL, 0);
    json_t *ts = provider_json_path(root, "signature.timestamp"), *token = provider_json_path(root, "signature.token");
    json_t *sig = provider_json_path(root, "signature.signature");
    enum verify_result r = VERIFY_INVALID;
    unsigned char want[32];
    char *msg = NULL;
    if (!json_is_string(ts) || !json_is_string(token) || !json_is_string(sig)) {
        provider_say(why, whylen, "no signature.{timestamp, token, signature} in the body");
        r = VERIFY_MISSING;
    } else if (crypto_unhex(json_string_value(sig), json_string_length(sig), want, sizeof want) != sizeof want) {
        provider_say(why, whylen, "signature.signature is not a well-formed signature");
    } else if (!signature_timestamp_ok(&p->sigs[0], json_string_value(ts), req->now, why, whylen)) {
        /* The token and timestamp are signed, nothing else: without the window a captured
         * request would verify forever. */
    } else if (asprintf(&msg, "%s%s", json_string_value(ts), json_string_value(token)) < 0) {
        msg = NULL;
        provider_say(why, whylen, "out of memory");
    } else {
        for (size_t i = 0; i < nkeys && r != VERIFY_VALID; i++)
            if (mac_matches(HMAC_SHA256, keys[i], strlen(keys[i]), msg, want, sizeof want))
                r = VERIFY_VALID;
        if (r != VERIFY_VALID)
            provider_say(why, whylen, "signature.signature does not match");
    }
    free(msg);
    json_decref(root);
    return r;
}

/* Adyen's signed text of one NotificationRequestItem, as a new string. */
static char *adyen_text(json_t *item)
{
    static const char *const paths[] = {"pspReference", "originalReference", "merchantAccountCode", "merchantReference",
                                        "amount.value", "amount.currency",   "eventCode",           "success"};
    char bufs[8][32], *out = NULL;
    const char *f[8];
    for (int i = 0; i < 8; i++)
        f[i] = field_text(provider_json_path(item, paths[i]), bufs[i], sizeof bufs[i]);
    if (asprintf(&out, "%s:%s:%s:%s:%s:%s:%s:%s", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]) < 0)
        return NULL;
    return out;
}

/* One item against the keys: VERIFY_VALID, _MISSING (no hmacSignature) or _INVALID. */
static enum verify_result adyen_item(json_t *item, const unsigned char keys[2][HEX_KEY_MAX], const size_t *keylens,
                                     size_t nkeys)
{
    json_t *sig = provider_json_path(item, "additionalData.hmacSignature");
    unsigned char want[32];
    if (!json_is_string(sig))
        return VERIFY_MISSING;
    if (crypto_unbase64(json_string_value(sig), json_string_length(sig), want, sizeof want) != sizeof want)
        return VERIFY_INVALID;
    char *text = adyen_text(item);
    bool ok = false;
    for (size_t i = 0; text && i < nkeys; i++)
        ok |= mac_matches(HMAC_SHA256, keys[i], keylens[i], text, want, sizeof want);
    free(text);
    return ok ? VERIFY_VALID : VERIFY_INVALID;
}

enum verify_result adyen_verify(const struct provider *p, const struct webhook_request *req,
                                const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    const char *active[2];
    unsigned char keys[2][HEX_KEY_MAX];
    size_t keylens[2], nkeys = 0, nsecrets = signature_secrets(SIG_SECRET_WEBHOOK, secrets, active);
    for (size_t i = 0; i < nsecrets; i++) {
        long n = crypto_unhex(active[i], strlen(active[i]), keys[nkeys], HEX_KEY_MAX);
        if (n > 0)
            keylens[nkeys++] = (size_t)n;
    }
    if (nkeys == 0) {
        provider_say(why, whylen, nsecrets ? "the HMAC key is not hex" : "no HMAC key");
        return VERIFY_NO_SECRET;
    }
    json_t *root = provider_parse_json(req, NULL, 0), *items = json_object_get(root, "notificationItems");
    enum verify_result r = VERIFY_VALID;
    if (!json_is_array(items) || json_array_size(items) == 0) {
        provider_say(why, whylen, "no notificationItems[] to verify");
        r = VERIFY_MISSING;
    }
    for (size_t i = 0; r == VERIFY_VALID && i < json_array_size(items); i++) {
        json_t *item = json_object_get(json_array_get(items, i), "NotificationRequestItem");
        r = adyen_item(item, (const unsigned char(*)[HEX_KEY_MAX])keys, keylens, nkeys);
        if (r != VERIFY_VALID)
            provider_say(why, whylen, "notificationItems[%zu]: hmacSignature %s", i,
                         r == VERIFY_MISSING ? "absent" : "does not match");
    }
    json_decref(root);
    return r;
}

enum verify_result basic_auth_verify(const struct provider *p, const struct webhook_request *req,
                                     const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    const char *active[2];
    size_t n = signature_secrets(SIG_SECRET_WEBHOOK, secrets, active);
    if (n == 0) {
        provider_say(why, whylen, "no webhook secret (user:password)");
        return VERIFY_NO_SECRET;
    }
    const char *auth = webhook_header(req, "Authorization");
    if (!auth) {
        provider_say(why, whylen, "Authorization header absent");
        return VERIFY_MISSING;
    }
    unsigned char cred[512];
    long len = strncasecmp(auth, "Basic ", 6) == 0 ? crypto_unbase64(auth + 6, strlen(auth + 6), cred, sizeof cred)
                                                   : -1;
    if (len <= 0) {
        provider_say(why, whylen, "Authorization is not HTTP Basic credentials");
        return VERIFY_INVALID;
    }
    bool ok = false;
    for (size_t i = 0; i < n; i++)
        ok |= crypto_equal(cred, (size_t)len, active[i], strlen(active[i]));
    if (!ok)
        provider_say(why, whylen, "Authorization does not match");
    return ok ? VERIFY_VALID : VERIFY_INVALID;
}

int basic_auth_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                    struct http_header *out, size_t max)
{
    (void)p;
    (void)req;
    const char *secret = secrets ? secrets->webhook_secret : NULL;
    size_t len = secret ? strlen(secret) : 0;
    if (!len || max < 1 || len > 1024)
        return -1;
    char *value = malloc(6 + 4 * ((len + 2) / 3) + 1), *name = strdup("Authorization");
    if (!value || !name) {
        free(value);
        free(name);
        return -1;
    }
    memcpy(value, "Basic ", 6);
    crypto_base64((const unsigned char *)secret, len, value + 6);
    out[0] = (struct http_header){name, value};
    return 1;
}

enum verify_result query_secret_verify(const struct provider *p, const struct webhook_request *req,
                                       const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    const char *active[2];
    size_t n = signature_secrets(SIG_SECRET_WEBHOOK, secrets, active);
    if (n == 0) {
        provider_say(why, whylen, "no webhook secret");
        return VERIFY_NO_SECRET;
    }
    char *given = provider_query_param(req->query, "secret");
    if (!given) {
        provider_say(why, whylen, "the webhook URL has no ?secret=");
        return VERIFY_MISSING;
    }
    bool ok = false;
    for (size_t i = 0; i < n; i++)
        ok |= crypto_equal(given, strlen(given), active[i], strlen(active[i]));
    free(given);
    if (!ok)
        provider_say(why, whylen, "?secret= does not match");
    return ok ? VERIFY_VALID : VERIFY_INVALID;
}
