/*
 * contentful: Contentful's request verification. The signature (hex HMAC-SHA256 with
 * the space's signing secret, in x-contentful-signature) covers a canonical request:
 *
 *   <method> "\n" <path> "\n" <name>:<value> ";" ... "\n" <body>
 *
 * where path is the webhook URL's path and query, and the headers are those listed,
 * in order, in x-contentful-signed-headers (names lower-cased), which always include
 * x-contentful-timestamp (unix ms; judged against a 300 s window) and the list itself.
 * A listed header that is absent makes the request invalid.
 */
#include "providers/provider_impl.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGNED_HEADERS "x-contentful-signed-headers"
#define TIMESTAMP "x-contentful-timestamp"
#define SIGNATURE "x-contentful-signature"
#define TOLERANCE_S 300
#define NAMES_MAX 32
#define NAME_MAX_LEN 128

/* The path and query of url ("/" when it has none), borrowed. */
static const char *url_path(const char *url)
{
    const char *s = url ? strstr(url, "://") : NULL;
    const char *p = s ? strchr(s + 3, '/') : url;
    return p && *p ? p : "/";
}

static void grow(char **buf, size_t *len, size_t *cap, const void *p, size_t n, bool *ok)
{
    if (!*ok)
        return;
    if (*len + n + 1 > *cap) {
        size_t ncap = (*len + n + 1) * 2;
        char *nb = realloc(*buf, ncap);
        if (!nb) {
            *ok = false;
            return;
        }
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* The canonical request as a new buffer (*len), or NULL with why (a header listed but
 * absent, a list too long, out of memory). */
static char *canonical(const struct webhook_request *req, const char *list, size_t *len, char *why, size_t whylen)
{
    size_t cap = 0, n = 0, names = 0;
    char *buf = NULL;
    bool ok = true;
    const char *path = url_path(req->url);
    grow(&buf, &n, &cap, req->method, strlen(req->method), &ok);
    grow(&buf, &n, &cap, "\n", 1, &ok);
    grow(&buf, &n, &cap, path, strlen(path), &ok);
    grow(&buf, &n, &cap, "\n", 1, &ok);
    for (const char *p = list; ok && *p;) {
        size_t span = strcspn(p, ","), i = 0;
        char name[NAME_MAX_LEN + 1];
        while (span && isspace((unsigned char)*p)) {
            p++;
            span--;
        }
        while (span && isspace((unsigned char)p[span - 1]))
            span--;
        /* Names only ([a-z0-9-], any case): the reason below echoes one into the log. */
        static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
        bool is_name = span > 0 && span <= NAME_MAX_LEN;
        for (i = 0; is_name && i < span; i++)
            is_name = strchr(name_chars, p[i]) != NULL;
        if (!is_name || ++names > NAMES_MAX) {
            provider_say(why, whylen, "%s is not a list of header names", SIGNED_HEADERS);
            ok = false;
            break;
        }
        for (i = 0; i < span; i++)
            name[i] = (char)tolower((unsigned char)p[i]);
        name[span] = '\0';
        const char *value = webhook_header(req, name);
        if (!value) {
            provider_say(why, whylen, "signed header %s absent", name);
            ok = false;
            break;
        }
        if (names > 1)
            grow(&buf, &n, &cap, ";", 1, &ok);
        grow(&buf, &n, &cap, name, span, &ok);
        grow(&buf, &n, &cap, ":", 1, &ok);
        grow(&buf, &n, &cap, value, strlen(value), &ok);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    grow(&buf, &n, &cap, "\n", 1, &ok);
    grow(&buf, &n, &cap, req->body ? (const char *)req->body : "", req->body ? req->body_len : 0, &ok);
    if (!ok) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool fresh(const char *ts, time_t now)
{
    size_t n = ts ? strlen(ts) : 0;
    if (n == 0 || n > 16 || strspn(ts, "0123456789") != n)
        return false;
    long long diff = (long long)now - strtoll(ts, NULL, 10) / 1000;
    return diff <= TOLERANCE_S && diff >= -TOLERANCE_S;
}

enum verify_result contentful_verify(const struct provider *p, const struct webhook_request *req,
                                     const struct provider_secrets *secrets, char *why, size_t whylen)
{
    (void)p;
    const char *active[2];
    size_t nsecrets = signature_secrets(SIG_SECRET_WEBHOOK, secrets, active);
    if (nsecrets == 0) {
        provider_say(why, whylen, "the integration has no webhook secret");
        return VERIFY_NO_SECRET;
    }
    const char *sig = webhook_header(req, SIGNATURE), *list = webhook_header(req, SIGNED_HEADERS);
    const char *ts = webhook_header(req, TIMESTAMP);
    if (!sig || !list || !ts) {
        provider_say(why, whylen, "%s header absent", !sig ? SIGNATURE : !list ? SIGNED_HEADERS : TIMESTAMP);
        return VERIFY_MISSING;
    }
    unsigned char want[32], mac[64];
    if (crypto_unhex(sig, strlen(sig), want, sizeof want) != sizeof want) {
        provider_say(why, whylen, "%s is not a well-formed hex signature of 32 bytes", SIGNATURE);
        return VERIFY_INVALID;
    }
    if (!fresh(ts, req->now)) {
        provider_say(why, whylen, "%s outside the %d s window", TIMESTAMP, TOLERANCE_S);
        return VERIFY_INVALID;
    }
    if (!strcasestr(list, TIMESTAMP)) {
        provider_say(why, whylen, "%s does not cover %s", SIGNED_HEADERS, TIMESTAMP);
        return VERIFY_INVALID;
    }
    size_t len;
    char *text = canonical(req, list, &len, why, whylen);
    if (!text)
        return VERIFY_INVALID;
    bool ok = false;
    for (size_t i = 0; i < nsecrets; i++) {
        size_t m = crypto_hmac1(HMAC_SHA256, active[i], strlen(active[i]), text, len, mac);
        ok |= m > 0 && crypto_equal(mac, m, want, sizeof want);
    }
    free(text);
    provider_say(why, whylen, ok ? "%s valid" : "%s does not match", SIGNATURE);
    return ok ? VERIFY_VALID : VERIFY_INVALID;
}

int contentful_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                    struct http_header *out, size_t max)
{
    (void)p;
    const char *secret = secrets ? secrets->webhook_secret : NULL;
    if (!secret || !*secret || max < 3 || req->nheaders > 64)
        return -1;
    char ts[32], hex[65];
    snprintf(ts, sizeof ts, "%lld", (long long)req->now * 1000);
    /* The request with the signing headers in front, so that the canonical text reads them. */
    struct http_header all[66] = {{SIGNED_HEADERS, SIGNED_HEADERS "," TIMESTAMP}, {TIMESTAMP, ts}};
    if (req->nheaders)
        memcpy(all + 2, req->headers, req->nheaders * sizeof *all);
    struct webhook_request signed_req = *req;
    signed_req.headers = all;
    signed_req.nheaders = req->nheaders + 2;
    size_t len;
    unsigned char mac[64];
    char *text = canonical(&signed_req, all[0].value, &len, NULL, 0);
    size_t m = text ? crypto_hmac1(HMAC_SHA256, secret, strlen(secret), text, len, mac) : 0;
    free(text);
    if (m == 0)
        return -1;
    crypto_hex(mac, m, hex);
    const char *pairs[3][2] = {{SIGNATURE, hex}, {SIGNED_HEADERS, all[0].value}, {TIMESTAMP, ts}};
    for (int i = 0; i < 3; i++) {
        out[i].name = strdup(pairs[i][0]);
        out[i].value = strdup(pairs[i][1]);
        if (!out[i].name || !out[i].value) {
            for (int j = 0; j <= i; j++) {
                free((void *)(uintptr_t)out[j].name);
                free((void *)(uintptr_t)out[j].value);
            }
            return -1;
        }
    }
    return 3;
}
