/*
 * connectwise: ConnectWise PSA callbacks (see signed.h). The body names, in
 * Metadata.key_url, where the signing key is served ({"signing_key": "..."}); the
 * x-content-signature header is the base64 HMAC-SHA256 of the raw body keyed with the
 * SHA-256 of that signing key. The key URL is chosen by whoever sends the request, so
 * it is fetched only when it is https on one of ConnectWise's own API hosts (or an
 * operator's extra host), through the SSRF guard (common/remote_keys.h); the key is
 * cached by URL for its max-age.
 */
#include <stdlib.h>
#include <string.h>

#include "common/remote_keys.h"
#include "providers/signed.h"

#define SIG_B64_MAX 128

/* ConnectWise's regional API and sandbox hosts. */
static const char *const connectwise_hosts[] = {
    "api-na.myconnectwise.net",     "api-eu.myconnectwise.net",
    "api-au.myconnectwise.net",     "sandbox-na.myconnectwise.net",
    "sandbox-eu.myconnectwise.net", "sandbox-au.myconnectwise.net",
    "na.myconnectwise.net",         "eu.myconnectwise.net",
    "au.myconnectwise.net",         NULL,
};

/* The signing key served at url, as a new string, or NULL with a reason. */
static char *signing_key(const char *url, char *why, size_t whylen)
{
    char *doc = NULL, fetch_why[200] = "";
    size_t len = 0;
    if (remote_keys_get(url, NULL, connectwise_hosts, 0, &doc, &len, fetch_why, sizeof fetch_why) < 0) {
        provider_say(why, whylen, "ConnectWise's signing key is unavailable: %s", fetch_why);
        return NULL;
    }
    json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
    const char *key = json_string_value(json_object_get(root, "signing_key"));
    char *out = key && key[0] ? strdup(key) : NULL;
    if (!out)
        provider_say(why, whylen, "the key URL's answer has no signing_key");
    json_decref(root);
    free(doc);
    return out;
}

enum verify_result connectwise_verify(const struct provider *p, const struct webhook_request *req,
                                      const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    (void)secrets;
    const char *b64 = webhook_header(req, "x-content-signature");
    if (!b64) {
        provider_say(why, whylen, "x-content-signature header absent");
        return VERIFY_MISSING;
    }
    json_t *body = provider_parse_json(req, NULL, 0);
    const char *url = json_string_value(provider_json_path(body, "Metadata.key_url"));
    unsigned char got[SIG_B64_MAX], want[64], keyhash[32];
    long n = strlen(b64) < SIG_B64_MAX ? crypto_unbase64(b64, strlen(b64), got, sizeof got) : -1;
    enum verify_result v = VERIFY_INVALID;
    char *key = NULL;
    if (!url)
        provider_say(why, whylen, "the body has no Metadata.key_url");
    else if (n <= 0)
        provider_say(why, whylen, "x-content-signature is not base64");
    else if (!remote_keys_url_allowed(url, connectwise_hosts))
        provider_say(why, whylen, "Metadata.key_url is not https on a ConnectWise host");
    else if ((key = signing_key(url, why, whylen)) != NULL) {
        crypto_sha256(key, strlen(key), keyhash);
        size_t wl = crypto_hmac1(HMAC_SHA256, keyhash, sizeof keyhash, req->body, req->body_len, want);
        v = wl && crypto_equal(got, (size_t)n, want, wl) ? VERIFY_VALID : VERIFY_INVALID;
        provider_say(why, whylen,
                     v == VERIFY_VALID ? "the ConnectWise signature verifies"
                                       : "the signature does not match the key URL's key");
    }
    free(key);
    json_decref(body);
    return v;
}
