/*
 * signed_pubkey: providers that sign the body with a private key and hand out the
 * public one, which the integration keeps as its webhook secret (PEM, or the bare
 * base64 DER their dashboards show; see signed.h):
 * - HighLevel: x-wh-signature = base64 RSA-SHA256 (PKCS#1 v1.5) of the raw body.
 * - SendGrid (Signed Event Webhook): X-Twilio-Email-Event-Webhook-Signature = base64
 *   DER ECDSA P-256 signature of SHA-256(timestamp + body), the timestamp in
 *   X-Twilio-Email-Event-Webhook-Timestamp (unix seconds, within 300 s here: SendGrid
 *   documents no window).
 * A key of the wrong type (an EC key for HighLevel) never verifies.
 */
#include <stdlib.h>
#include <string.h>

#include "providers/pubkey.h"
#include "providers/signed.h"

#define SIG_B64_MAX 1024
#define TS_MAX_DIGITS 12

struct pubkey_scheme {
    const char *name, *header, *ts_header;
    enum pubkey_type type;
    int ts_tolerance;
};

/* Whether ts is canonical unix seconds within tolerance of now. */
static bool ts_ok(const char *ts, time_t now, int tolerance)
{
    size_t n = strlen(ts);
    if (n == 0 || n > TS_MAX_DIGITS || strspn(ts, "0123456789") != n || (ts[0] == '0' && n > 1))
        return false;
    long long diff = (long long)now - strtoll(ts, NULL, 10);
    return diff <= tolerance && diff >= -tolerance;
}

/* The signed message: [timestamp] + body, as a new buffer. */
static unsigned char *message(const char *ts, const struct webhook_request *req, size_t *len)
{
    size_t tl = ts ? strlen(ts) : 0;
    unsigned char *m = malloc(tl + req->body_len + 1);
    if (m) {
        if (tl)
            memcpy(m, ts, tl);
        if (req->body_len)
            memcpy(m + tl, req->body, req->body_len);
        *len = tl + req->body_len;
    }
    return m;
}

static enum verify_result verify_with(const struct pubkey_scheme *s, const struct provider *p,
                                      const struct webhook_request *req, const struct provider_secrets *secrets,
                                      char *why, size_t whylen)
{
    const char *keys[2];
    size_t nk = signature_secrets(p->sigs[0].secret, secrets, keys);
    if (nk == 0) {
        provider_say(why, whylen, "the integration has no webhook secret (%s's public key)", s->name);
        return VERIFY_NO_SECRET;
    }
    const char *b64 = webhook_header(req, s->header);
    const char *ts = s->ts_header ? webhook_header(req, s->ts_header) : NULL;
    if (!b64 || (s->ts_header && !ts)) {
        provider_say(why, whylen, "%s header absent", b64 ? s->ts_header : s->header);
        return VERIFY_MISSING;
    }
    unsigned char sig[SIG_B64_MAX];
    size_t blen = strlen(b64);
    while (blen && b64[blen - 1] == ' ')
        blen--;
    long siglen = blen < SIG_B64_MAX ? crypto_unbase64(b64, blen, sig, sizeof sig) : -1;
    if (siglen <= 0) {
        provider_say(why, whylen, "%s is not base64", s->header);
        return VERIFY_INVALID;
    }
    if (ts && !ts_ok(ts, req->now, s->ts_tolerance)) {
        provider_say(why, whylen, "timestamp outside the %d s window", s->ts_tolerance);
        return VERIFY_INVALID;
    }
    size_t mlen = 0;
    unsigned char *msg = message(ts, req, &mlen);
    enum verify_result v = VERIFY_INVALID;
    char keywhy[160] = "";
    provider_say(why, whylen, "the signature does not verify");
    for (size_t i = 0; msg && v != VERIFY_VALID && i < nk; i++) {
        struct pubkey *key = pubkey_from_text(keys[i], keywhy, sizeof keywhy);
        if (!key || pubkey_type(key) != s->type)
            provider_say(why, whylen, "the webhook secret is not %s's public key%s%s", s->name, key ? "" : ": ",
                         key ? "" : keywhy);
        else if (pubkey_verify_sha256(key, msg, mlen, sig, (size_t)siglen, PUBKEY_SIG_DER))
            v = VERIFY_VALID;
        pubkey_free(key);
    }
    if (v == VERIFY_VALID)
        provider_say(why, whylen, "the %s signature verifies", s->name);
    free(msg);
    return v;
}

enum verify_result highlevel_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, char *why, size_t whylen)
{
    static const struct pubkey_scheme s = {"HighLevel", "x-wh-signature", NULL, PUBKEY_RSA, 0};
    return verify_with(&s, p, req, secrets, why, whylen);
}

enum verify_result sendgrid_verify(const struct provider *p, const struct webhook_request *req,
                                   const struct provider_secrets *secrets, char *why, size_t whylen)
{
    static const struct pubkey_scheme s = {"SendGrid", "X-Twilio-Email-Event-Webhook-Signature",
                                           "X-Twilio-Email-Event-Webhook-Timestamp", PUBKEY_EC_P256, 300};
    return verify_with(&s, p, req, secrets, why, whylen);
}
