/*
 * signature: the generic HMAC engine. It verifies and produces signatures described by
 * a provider row's sig_spec (provider_impl.h): the signed message is built from the
 * row's parts over the raw request, MACed with the chosen secret, and compared with
 * the decoded header value in constant time (crypto_equal).
 *
 * Anything wrong with the header (wrong prefix, bad hex or base64, wrong length, bad
 * or stale timestamp) is VERIFY_INVALID, never an error. Reasons written to `why`
 * name headers and rules only: never a secret, never a computed or received MAC.
 */
#include "providers/provider_impl.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_MAX 64                   /* SHA-512 */
#define MAC_TEXT_MAX (2 * MAC_MAX + 1) /* hex is the longer encoding */
#define TS_MAX_DIGITS 18             /* fits a long long with room to multiply by 1000 */

static void say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* The secret the scheme keys its HMAC with (borrowed), or NULL if unset or empty. */
static const char *secret_of(const struct sig_spec *s, const struct provider_secrets *secrets)
{
    const char *key = NULL;
    if (secrets && s->secret == SIG_SECRET_WEBHOOK)
        key = secrets->webhook_secret;
    else if (secrets && s->secret == SIG_SECRET_CLIENT)
        key = secrets->client_secret;
    return key && key[0] ? key : NULL;
}

static const char *secret_label(const struct sig_spec *s)
{
    return s->secret == SIG_SECRET_CLIENT ? "client secret" : "webhook secret";
}

/* url with the percent-encodings of the RFC 3986 sub-delimiters HubSpot v3 lists
 * decoded; everything else (including %25) kept. Returns a new string (caller frees),
 * or NULL when out of memory. */
static char *url_reserved_decode(const char *url)
{
    static const char decoded[] = ":/?@!$'()*,;";
    size_t len = strlen(url), o = 0;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (url[i] == '%' && i + 2 < len) {
            unsigned char c = 0;
            if (crypto_unhex(url + i + 1, 2, &c, 1) == 1 && c != '\0' && strchr(decoded, c)) {
                out[o++] = (char)c;
                i += 2;
                continue;
            }
        }
        out[o++] = url[i];
    }
    out[o] = '\0';
    return out;
}

/* HMAC of s->parts over req (ts: the timestamp text, or NULL) keyed with key. Writes
 * the MAC to mac (MAC_MAX bytes) and returns its length, or 0 on failure. */
static size_t compute_mac(const struct sig_spec *s, const struct webhook_request *req, const char *ts,
                          const char *key, unsigned char *mac)
{
    const void *parts[SIG_MAX_PARTS];
    size_t lens[SIG_MAX_PARTS], n = 0, maclen = 0;
    char *url = NULL;

    for (; n < SIG_MAX_PARTS && s->parts[n].kind != SIG_PART_END; n++) {
        const char *text = "";
        switch (s->parts[n].kind) {
        case SIG_PART_BODY:
            parts[n] = req->body ? (const void *)req->body : (const void *)"";
            lens[n] = req->body ? req->body_len : 0;
            continue;
        case SIG_PART_METHOD:
            text = req->method;
            break;
        case SIG_PART_URL:
            text = req->url;
            break;
        case SIG_PART_URL_RESERVED:
            free(url);
            url = url_reserved_decode(req->url ? req->url : "");
            if (!url)
                goto out;
            text = url;
            break;
        case SIG_PART_TIMESTAMP:
            text = ts;
            break;
        case SIG_PART_LITERAL:
            text = s->parts[n].text;
            break;
        case SIG_PART_END:
        default:
            goto out;
        }
        parts[n] = text ? text : "";
        lens[n] = text ? strlen(text) : 0;
    }
    maclen = crypto_hmac(s->alg, key, strlen(key), parts, lens, n, mac);
out:
    free(url);
    return maclen;
}

/* Strips the prefix and decodes the received signature into out. Returns its length,
 * or -1 (reason in why) if it is malformed. */
static long decode_signature(const struct sig_spec *s, const char *value, unsigned char *out, size_t cap,
                             char *why, size_t whylen)
{
    size_t plen = s->prefix ? strlen(s->prefix) : 0;
    if (plen && strncmp(value, s->prefix, plen) != 0) {
        say(why, whylen, "%s lacks the \"%s\" prefix", s->header, s->prefix);
        return -1;
    }
    value += plen;
    size_t len = strlen(value);
    long n = s->encoding == SIG_ENC_HEX ? crypto_unhex(value, len, out, cap) : crypto_unbase64(value, len, out, cap);
    if (n <= 0) {
        say(why, whylen, "%s is not a well-formed %s signature", s->header,
            s->encoding == SIG_ENC_HEX ? "hex" : "base64");
        return -1;
    }
    return n;
}

/* Parses a timestamp of 1..TS_MAX_DIGITS decimal digits. Returns 0 or -1. */
static int parse_timestamp(const char *text, long long *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > TS_MAX_DIGITS || strspn(text, "0123456789") != len)
        return -1;
    *out = strtoll(text, NULL, 10);
    return 0;
}

static bool timestamp_ok(const struct sig_spec *s, const char *text, time_t now, char *why, size_t whylen)
{
    long long ts;
    if (parse_timestamp(text, &ts) < 0) {
        say(why, whylen, "%s is not a unix timestamp", s->ts_header);
        return false;
    }
    long long secs = s->ts_unit == SIG_TS_MILLIS ? ts / 1000 : ts;
    long long diff = (long long)now - secs;
    if (diff > s->ts_tolerance || diff < -(long long)s->ts_tolerance) {
        say(why, whylen, "timestamp outside the %d s window", s->ts_tolerance);
        return false;
    }
    return true;
}

/* The first scheme whose signature header the request carries, or NULL. */
static const struct sig_spec *pick_scheme(const struct provider *p, const struct webhook_request *req)
{
    for (size_t i = 0; i < PROVIDER_MAX_SCHEMES && p->sigs[i].header; i++)
        if (webhook_header(req, p->sigs[i].header))
            return &p->sigs[i];
    return NULL;
}

/* Checks the present signature of scheme s (timestamp, format, MAC) with key. */
static enum verify_result check(const struct sig_spec *s, const struct webhook_request *req, const char *key,
                                char *why, size_t whylen)
{
    const char *ts = NULL;
    if (s->ts_header) {
        ts = webhook_header(req, s->ts_header);
        if (!ts) {
            say(why, whylen, "%s header absent", s->ts_header);
            return VERIFY_MISSING;
        }
    }
    unsigned char got[MAC_MAX], want[MAC_MAX];
    long gotlen = decode_signature(s, webhook_header(req, s->header), got, sizeof got, why, whylen);
    if (gotlen < 0)
        return VERIFY_INVALID;
    if (ts && !timestamp_ok(s, ts, req->now, why, whylen))
        return VERIFY_INVALID;
    size_t wantlen = compute_mac(s, req, ts, key, want);
    if (wantlen == 0) {
        say(why, whylen, "could not compute the HMAC");
        return VERIFY_INVALID;
    }
    if (!crypto_equal(got, (size_t)gotlen, want, wantlen)) {
        say(why, whylen, "%s does not match", s->header);
        return VERIFY_INVALID;
    }
    say(why, whylen, "%s valid", s->header);
    return VERIFY_VALID;
}

enum verify_result signature_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, char *why, size_t whylen)
{
    if (!p->sigs[0].header) {
        say(why, whylen, "%s does not sign requests", p->name);
        return VERIFY_UNSUPPORTED;
    }
    const struct sig_spec *s = pick_scheme(p, req);
    const char *key = secret_of(s ? s : &p->sigs[0], secrets);
    if (!key) {
        say(why, whylen, "the integration has no %s", secret_label(s ? s : &p->sigs[0]));
        return VERIFY_NO_SECRET;
    }
    if (!s) {
        say(why, whylen, "%s header absent", p->sigs[0].header);
        return VERIFY_MISSING;
    }
    return check(s, req, key, why, whylen);
}

/* "<prefix><encoded mac>" as a new string, or NULL when out of memory. */
static char *encode_signature(const struct sig_spec *s, const unsigned char *mac, size_t maclen)
{
    char text[MAC_TEXT_MAX];
    if (s->encoding == SIG_ENC_HEX)
        crypto_hex(mac, maclen, text);
    else
        crypto_base64(mac, maclen, text);
    const char *prefix = s->prefix ? s->prefix : "";
    size_t len = strlen(prefix) + strlen(text) + 1;
    char *value = malloc(len);
    if (value)
        snprintf(value, len, "%s%s", prefix, text);
    return value;
}

int signature_sign(const struct provider *p, const struct webhook_request *req,
                   const struct provider_secrets *secrets, struct http_header *out, size_t max)
{
    const struct sig_spec *s = &p->sigs[0];
    const char *key = s->header ? secret_of(s, secrets) : NULL;
    size_t need = s->ts_header ? 2 : 1;
    if (!key || max < need)
        return -1;

    char ts[32] = "";
    if (s->ts_header)
        snprintf(ts, sizeof ts, "%lld", (long long)req->now * (s->ts_unit == SIG_TS_MILLIS ? 1000 : 1));
    unsigned char mac[MAC_MAX];
    size_t maclen = compute_mac(s, req, s->ts_header ? ts : NULL, key, mac);
    if (maclen == 0)
        return -1;

    char *names[2] = {strdup(s->header), s->ts_header ? strdup(s->ts_header) : NULL};
    char *values[2] = {encode_signature(s, mac, maclen), s->ts_header ? strdup(ts) : NULL};
    for (size_t i = 0; i < need; i++) {
        if (!names[i] || !values[i]) {
            for (size_t j = 0; j < 2; j++) {
                free(names[j]);
                free(values[j]);
            }
            return -1;
        }
    }
    for (size_t i = 0; i < need; i++) {
        out[i].name = names[i];
        out[i].value = values[i];
    }
    return (int)need;
}
