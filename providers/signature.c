/*
 * signature: the generic signature engine. It verifies and produces signatures
 * described by a row's sig_spec list (provider_impl.h): the signed message is built
 * from the spec's parts over the raw request, turned into a MAC (HMAC or plain digest),
 * an Ed25519 signature or the bare secret (token schemes), and compared with every
 * signature the header carries, for every active secret (current and previous, during
 * a rotation), in constant time (crypto_equal).
 *
 * Anything wrong with the request (missing or malformed header, wrong prefix, bad
 * hex or base64, wrong length, stale timestamp) is VERIFY_INVALID or VERIFY_MISSING,
 * never an error. Reasons written to `why` name headers and rules only: never a
 * secret, never a computed or received signature.
 */
#include "providers/provider_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAC_MAX 64                     /* SHA-512 and Ed25519 signatures */
#define SIG_TEXT_MAX (2 * MAC_MAX + 1) /* hex is the longer encoding */
#define TS_MAX_DIGITS 18               /* fits a long long with room to multiply by 1000 */
#define ENTRIES_MAX 16                 /* signatures checked in one header */
#define KEY_MAX 512                    /* a decoded base64 secret */
#define ED25519_SEED_LEN 32
#define ED25519_SIGN_PREFIX "whsk_"  /* Standard Webhooks' private keys (signing only) */
#define EMIT_MAX (3 + SIG_MAX_PARTS) /* signature, timestamp, version, header parts */

/* What request_part says for a SIG_PART_FORM_SORTED body that is no form. */
static const char NOT_A_FORM[] = "the body is not a form";

struct text {
    const char *p;
    size_t len;
};

/* A secret turned into the key bytes one scheme uses. */
struct key {
    const unsigned char *bytes; /* into the secret (raw) or buf (decoded) */
    size_t len;
    unsigned char buf[KEY_MAX];
};

/* What a signature header carries. */
struct received {
    struct text sigs[ENTRIES_MAX];
    size_t n;
    struct text ts; /* the list's timestamp entry; p NULL when none */
};

/* The signed message as parts (nothing copied but a decoded URL). */
struct message {
    const void *p[SIG_MAX_PARTS];
    size_t len[SIG_MAX_PARTS];
    size_t n;
    char *url;  /* owned */
    char *form; /* owned: SIG_PART_FORM_SORTED's text */
};

static const char *secret_label(const struct sig_spec *s)
{
    return s->secret == SIG_SECRET_CLIENT ? "client secret" : "webhook secret";
}

/* ---- secrets and keys ------------------------------------------------------------ */

static const char *current_secret(enum sig_secret which, const struct provider_secrets *s)
{
    const char *v = !s                            ? NULL
                    : which == SIG_SECRET_CLIENT  ? s->client_secret
                    : which == SIG_SECRET_WEBHOOK ? s->webhook_secret
                                                  : NULL;
    return v && v[0] ? v : NULL;
}

size_t signature_secrets(enum sig_secret which, const struct provider_secrets *s, const char *out[2])
{
    size_t n = 0;
    const char *cur = current_secret(which, s);
    const char *prev = !s                            ? NULL
                       : which == SIG_SECRET_CLIENT  ? s->previous_client_secret
                       : which == SIG_SECRET_WEBHOOK ? s->previous_webhook_secret
                                                     : NULL;
    if (cur)
        out[n++] = cur;
    if (prev && prev[0] && (!cur || strcmp(prev, cur) != 0))
        out[n++] = prev;
    return n;
}

/* The key secret gives after prefix (stripped; required or not) and decoding. */
static bool key_from(const char *secret, const char *prefix, bool required, enum sig_key_form form, struct key *k)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    const char *rest = secret;
    if (plen && strncmp(secret, prefix, plen) == 0)
        rest += plen;
    else if (plen && required)
        return false;
    if (form == SIG_KEY_RAW) {
        k->bytes = (const unsigned char *)rest;
        k->len = strlen(rest);
        return k->len > 0;
    }
    long n = form == SIG_KEY_HEX ? crypto_unhex(rest, strlen(rest), k->buf, sizeof k->buf)
                                 : crypto_unbase64(rest, strlen(rest), k->buf, sizeof k->buf);
    k->bytes = k->buf;
    k->len = n > 0 ? (size_t)n : 0;
    return n > 0;
}

static bool verify_key(const struct sig_spec *s, const char *secret, struct key *k)
{
    if (!key_from(secret, s->key_prefix, s->key_prefix_required, s->key_form, k))
        return false;
    return s->kind != SIG_ED25519 || k->len == ED25519_SEED_LEN;
}

/* Signing needs the private half for Ed25519: a whsk_ key (seed, or seed + public). */
static bool sign_key(const struct sig_spec *s, const char *secret, struct key *k)
{
    if (s->kind != SIG_ED25519)
        return verify_key(s, secret, k);
    if (!key_from(secret, ED25519_SIGN_PREFIX, true, SIG_KEY_BASE64, k) || (k->len != 32 && k->len != 64))
        return false;
    k->len = ED25519_SEED_LEN;
    return true;
}

static bool suits(const struct sig_spec *s, const char *const *secrets, size_t n)
{
    struct key k;
    for (size_t i = 0; i < n; i++)
        if (verify_key(s, secrets[i], &k))
            return true;
    return false;
}

/* ---- the signed message ---------------------------------------------------------- */

/* url with the percent-encodings of the RFC 3986 sub-delimiters HubSpot v3 lists
 * decoded; everything else (including %25) kept. A new string, or NULL (no memory). */
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

static void message_free(struct message *m)
{
    free(m->url);
    free(m->form);
    m->url = NULL;
    m->form = NULL;
}

static void message_add(struct message *m, const void *p, size_t len)
{
    m->p[m->n] = len ? p : "";
    m->len[m->n++] = len;
}

/* The text of one part that comes from the request (not body, secret or timestamp).
 * Returns 0, or -1 with *missing set to an absent header's name (NULL: no memory). */
static int request_part(const struct sig_part *part, const struct webhook_request *req, struct message *m,
                        const char **missing)
{
    const char *text = "";
    switch (part->kind) {
    case SIG_PART_METHOD:
        text = req->method;
        break;
    case SIG_PART_URL:
        text = req->url;
        break;
    case SIG_PART_URL_RESERVED:
        free(m->url);
        if (!(m->url = url_reserved_decode(req->url ? req->url : "")))
            return -1;
        text = m->url;
        break;
    case SIG_PART_HEADER:
        if (!(text = webhook_header(req, part->text))) {
            *missing = part->text;
            return -1;
        }
        break;
    case SIG_PART_LITERAL:
        text = part->text;
        break;
    case SIG_PART_FORM_SORTED:
        free(m->form);
        m->form = provider_form_sorted(req->body, req->body ? req->body_len : 0);
        if (!m->form) {
            *missing = NOT_A_FORM;
            return -1;
        }
        text = m->form;
        break;
    default:
        break;
    }
    message_add(m, text ? text : "", text ? strlen(text) : 0);
    return 0;
}

/* The message s signs over req, with timestamp ts and key k (SIG_PART_SECRET).
 * Returns 0, or -1 with *missing as in request_part. */
static int message_build(const struct sig_spec *s, const struct webhook_request *req, struct text ts,
                         const struct key *k, struct message *m, const char **missing)
{
    *m = (struct message){.n = 0};
    *missing = NULL;
    for (size_t i = 0; i < SIG_MAX_PARTS && s->parts[i].kind != SIG_PART_END; i++) {
        const struct sig_part *part = &s->parts[i];
        if (part->kind == SIG_PART_BODY)
            message_add(m, req->body, req->body ? req->body_len : 0);
        else if (part->kind == SIG_PART_TIMESTAMP)
            message_add(m, ts.p, ts.p ? ts.len : 0);
        else if (part->kind == SIG_PART_SECRET)
            message_add(m, k->bytes, k->len);
        else if (request_part(part, req, m, missing) < 0) {
            message_free(m);
            return -1;
        }
    }
    return 0;
}

/* The parts in one new buffer (Ed25519 signs a contiguous message); NULL: no memory. */
static unsigned char *message_join(const struct message *m, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < m->n; i++)
        total += m->len[i];
    unsigned char *buf = malloc(total ? total : 1);
    size_t o = 0;
    for (size_t i = 0; buf && i < m->n; i++) {
        memcpy(buf + o, m->p[i], m->len[i]);
        o += m->len[i];
    }
    *len = total;
    return buf;
}

static size_t message_mac(const struct sig_spec *s, const struct message *m, const struct key *k, unsigned char *out)
{
    if (s->kind == SIG_HASH)
        return scheme_digest(s->alg, m->p, m->len, m->n, out);
    return crypto_hmac(s->alg, k->bytes, k->len, m->p, m->len, m->n, out);
}

/* ---- the received header ----------------------------------------------------------- */

static struct text trim(const char *p, size_t len)
{
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    return (struct text){p, len};
}

static bool text_is(struct text t, const char *s)
{
    return s && strlen(s) == t.len && memcmp(t.p, s, t.len) == 0;
}

/* One entry "tag<pair>value" of a signature list. */
static int list_entry(const struct sig_spec *s, struct text e, struct received *r, char *why, size_t whylen)
{
    const char *pair = memchr(e.p, s->list.pair, e.len);
    if (!pair)
        return 0;
    struct text tag = trim(e.p, (size_t)(pair - e.p)), value = trim(pair + 1, e.len - (size_t)(pair + 1 - e.p));
    if (text_is(tag, s->list.ts_tag)) {
        r->ts = value;
    } else if (text_is(tag, s->list.tag)) {
        if (r->n == ENTRIES_MAX) {
            provider_say(why, whylen, "%s carries more than %d signatures", s->header, ENTRIES_MAX);
            return -1;
        }
        r->sigs[r->n++] = value;
    }
    return 0;
}

/* Splits the header value into signatures (and a list's timestamp). Returns 0, or -1
 * with a reason. */
static int parse_received(const struct sig_spec *s, const char *value, struct received *r, char *why, size_t whylen)
{
    *r = (struct received){.n = 0};
    if (!s->list.sep) {
        size_t plen = s->prefix ? strlen(s->prefix) : 0;
        if (plen && strncmp(value, s->prefix, plen) != 0) {
            provider_say(why, whylen, "%s lacks the \"%s\" prefix", s->header, s->prefix);
            return -1;
        }
        r->sigs[r->n++] = (struct text){value + plen, strlen(value + plen)};
        return 0;
    }
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, (char[]){s->list.sep, '\0'});
        if (list_entry(s, trim(p, n), r, why, whylen) < 0)
            return -1;
        p += n + (p[n] != '\0');
    }
    if (r->n == 0) {
        provider_say(why, whylen, "%s carries no %s signature", s->header, s->list.tag);
        return -1;
    }
    return 0;
}

static long decode(const struct sig_spec *s, struct text t, unsigned char *out, size_t cap)
{
    if (t.len == 0)
        return -1;
    return s->encoding == SIG_ENC_HEX ? crypto_unhex(t.p, t.len, out, cap) : crypto_unbase64(t.p, t.len, out, cap);
}

/* How many bytes a signature of s has: its digest's or Ed25519's; 0 (any) for tokens. */
static size_t sig_length(const struct sig_spec *s)
{
    if (s->kind == SIG_TOKEN)
        return 0;
    if (s->kind == SIG_ED25519)
        return MAC_MAX;
    return s->alg == HMAC_SHA1 ? 20 : s->alg == HMAC_SHA512 ? 64 : 32;
}

/* Whether at least one received signature decodes to the scheme's length (token
 * schemes: any), so that a signature in the wrong encoding or cut short is told apart
 * from one made with another key. */
static bool well_formed(const struct sig_spec *s, const struct received *r)
{
    unsigned char buf[MAC_MAX];
    for (size_t i = 0; i < r->n; i++)
        if (s->kind == SIG_TOKEN || decode(s, r->sigs[i], buf, sizeof buf) == (long)sig_length(s))
            return true;
    return false;
}

/* ---- timestamps -------------------------------------------------------------------- */

static bool in_window(const struct sig_spec *s, long long ts, time_t now)
{
    long long secs = s->ts_unit == SIG_TS_MILLIS ? ts / 1000 : ts;
    long long diff = (long long)now - secs;
    return diff <= s->ts_tolerance && diff >= -(long long)s->ts_tolerance;
}

/* n digits at p as a number, or -1. */
static int digits_at(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* An RFC 3339 date-time (seconds precision kept) as unix seconds; false when t is not
 * exactly one. */
static bool iso8601_seconds(struct text t, long long *out)
{
    char buf[48];
    if (t.len < 20 || t.len >= sizeof buf)
        return false;
    memcpy(buf, t.p, t.len);
    buf[t.len] = '\0';
    const char *p = buf;
    int y = digits_at(p, 4), mo = digits_at(p + 5, 2), d = digits_at(p + 8, 2);
    int h = digits_at(p + 11, 2), mi = digits_at(p + 14, 2), sec = digits_at(p + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') || p[13] != ':' || p[16] != ':')
        return false;
    p += 19;
    if (*p == '.') {
        size_t n = strspn(++p, "0123456789");
        if (n == 0 || n > 9)
            return false;
        p += n;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && digits_at(p + 1, 2) >= 0 && p[3] == ':' && digits_at(p + 4, 2) >= 0) {
        int oh = digits_at(p + 1, 2), om = digits_at(p + 4, 2);
        if (oh > 23 || om > 59)
            return false;
        offset = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *out = (long long)timegm(&tm) - offset;
    return true;
}

static bool timestamp_ok(const struct sig_spec *s, struct text t, time_t now, char *why, size_t whylen)
{
    if (s->ts_unit == SIG_TS_ISO8601) {
        long long secs;
        if (!iso8601_seconds(t, &secs)) {
            provider_say(why, whylen, "the timestamp is not an ISO 8601 date-time");
            return false;
        }
        if (!in_window(s, secs, now)) {
            provider_say(why, whylen, "timestamp outside the %d s window", s->ts_tolerance);
            return false;
        }
        return true;
    }
    char digits[TS_MAX_DIGITS + 1];
    if (t.len == 0 || t.len > TS_MAX_DIGITS) {
        provider_say(why, whylen, "the timestamp is not a unix timestamp");
        return false;
    }
    memcpy(digits, t.p, t.len);
    digits[t.len] = '\0';
    /* Canonical digits only: with a leading zero allowed, HubSpot's body + timestamp
     * (no separator) would sign "...0" + "17..." and "..." + "017..." alike. */
    if (strspn(digits, "0123456789") != t.len || (digits[0] == '0' && t.len > 1)) {
        provider_say(why, whylen, "the timestamp is not a unix timestamp");
        return false;
    }
    if (!in_window(s, strtoll(digits, NULL, 10), now)) {
        provider_say(why, whylen, "timestamp outside the %d s window", s->ts_tolerance);
        return false;
    }
    return true;
}

bool signature_timestamp_ok(const struct sig_spec *s, const char *ts, time_t now, char *why, size_t whylen)
{
    return timestamp_ok(s, (struct text){ts, strlen(ts)}, now, why, whylen);
}

/* The body's own timestamp (ts_path), checked when the body is JSON and has one; the
 * body is signed, so a replay of an old request carries its old time. */
static bool body_time_ok(const struct sig_spec *s, const struct webhook_request *req, char *why, size_t whylen)
{
    json_t *root = provider_parse_json(req, NULL, 0);
    json_t *v = root ? provider_json_path(root, s->ts_path) : NULL;
    bool ok = !v || (json_is_integer(v) && in_window(s, json_integer_value(v), req->now));
    if (!ok)
        provider_say(why, whylen, "body %s outside the %d s window", s->ts_path, s->ts_tolerance);
    json_decref(root);
    return ok;
}

/* ---- verification ------------------------------------------------------------------- */

static bool match_mac(const struct sig_spec *s, const struct message *m, const struct key *k, const struct received *r)
{
    unsigned char want[MAC_MAX], got[MAC_MAX];
    size_t wantlen = message_mac(s, m, k, want);
    bool ok = false;
    for (size_t i = 0; wantlen && i < r->n; i++) {
        long n = decode(s, r->sigs[i], got, sizeof got);
        ok |= n > 0 && crypto_equal(got, (size_t)n, want, wantlen);
    }
    return ok;
}

static bool match_ed25519(const struct sig_spec *s, const struct message *m, const struct key *k,
                          const struct received *r)
{
    size_t len;
    unsigned char *msg = message_join(m, &len), sig[MAC_MAX];
    bool ok = false;
    for (size_t i = 0; msg && i < r->n; i++) {
        long n = decode(s, r->sigs[i], sig, sizeof sig);
        ok |= n > 0 && scheme_ed25519_verify(k->bytes, k->len, msg, len, sig, (size_t)n);
    }
    free(msg);
    return ok;
}

static bool match_token(const struct key *k, const struct received *r)
{
    bool ok = false;
    for (size_t i = 0; i < r->n; i++)
        ok |= crypto_equal(r->sigs[i].p, r->sigs[i].len, k->bytes, k->len);
    return ok;
}

/* Whether one key verifies one of the received signatures: VERIFY_VALID, _INVALID, or
 * VERIFY_MISSING when a header the message needs is absent. */
static enum verify_result match_key(const struct sig_spec *s, const struct webhook_request *req, struct text ts,
                                    const struct key *k, const struct received *r, char *why, size_t whylen)
{
    if (s->kind == SIG_TOKEN)
        return match_token(k, r) ? VERIFY_VALID : VERIFY_INVALID;
    struct message m;
    const char *missing;
    if (message_build(s, req, ts, k, &m, &missing) < 0) {
        if (missing == NOT_A_FORM) {
            provider_say(why, whylen, "%s", NOT_A_FORM);
            return VERIFY_INVALID;
        }
        provider_say(why, whylen, missing ? "%s header absent" : "out of memory%s", missing ? missing : "");
        return missing ? VERIFY_MISSING : VERIFY_INVALID;
    }
    bool ok = s->kind == SIG_ED25519 ? match_ed25519(s, &m, k, r) : match_mac(s, &m, k, r);
    message_free(&m);
    return ok ? VERIFY_VALID : VERIFY_INVALID;
}

/* The timestamp of s in req (header or list entry); VERIFY_VALID when fine or none. */
static enum verify_result check_time(const struct sig_spec *s, const struct webhook_request *req,
                                     const struct received *r, struct text *ts, char *why, size_t whylen)
{
    *ts = (struct text){NULL, 0};
    if (s->ts_header) {
        const char *v = webhook_header(req, s->ts_header);
        if (!v) {
            provider_say(why, whylen, "%s header absent", s->ts_header);
            return VERIFY_MISSING;
        }
        *ts = (struct text){v, strlen(v)};
    } else if (s->list.ts_tag) {
        if (!r->ts.p) {
            provider_say(why, whylen, "%s carries no %s= timestamp", s->header, s->list.ts_tag);
            return VERIFY_INVALID;
        }
        *ts = r->ts;
    }
    if (ts->p && !timestamp_ok(s, *ts, req->now, why, whylen))
        return VERIFY_INVALID;
    if (s->ts_path && !body_time_ok(s, req, why, whylen))
        return VERIFY_INVALID;
    return VERIFY_VALID;
}

/* Whether a scheme that signs the form's fields (Twilio) has a form to read: refused
 * once, with its reason, rather than as a mismatch with every key. */
static bool form_readable(const struct sig_spec *s, const struct webhook_request *req)
{
    for (size_t i = 0; i < SIG_MAX_PARTS && s->parts[i].kind != SIG_PART_END; i++) {
        if (s->parts[i].kind != SIG_PART_FORM_SORTED)
            continue;
        json_t *form = provider_form_object(req->body, req->body ? req->body_len : 0);
        json_decref(form);
        return form != NULL;
    }
    return true;
}

/* Verifies the present signature of scheme s with each of the secrets. */
static enum verify_result check_spec(const struct sig_spec *s, const struct webhook_request *req,
                                     const char *const *secrets, size_t nsecrets, const char **used, char *why,
                                     size_t whylen)
{
    struct received r;
    struct text ts;
    if (parse_received(s, webhook_header(req, s->header), &r, why, whylen) < 0)
        return VERIFY_INVALID;
    enum verify_result v = check_time(s, req, &r, &ts, why, whylen);
    if (v != VERIFY_VALID)
        return v;
    if (!well_formed(s, &r)) {
        provider_say(why, whylen, "%s is not a well-formed %s signature of %zu bytes", s->header,
                     s->encoding == SIG_ENC_HEX ? "hex" : "base64", sig_length(s));
        return VERIFY_INVALID;
    }
    if (!form_readable(s, req)) {
        provider_say(why, whylen, "%s", NOT_A_FORM);
        return VERIFY_INVALID;
    }
    for (size_t i = 0; i < nsecrets; i++) {
        struct key k;
        if (!verify_key(s, secrets[i], &k))
            continue;
        v = match_key(s, req, ts, &k, &r, why, whylen);
        if (v == VERIFY_VALID) {
            if (used)
                *used = secrets[i];
            provider_say(why, whylen, "%s valid", s->header);
            return v;
        }
        if (v == VERIFY_MISSING)
            return v;
    }
    provider_say(why, whylen, "%s does not match", s->header);
    return VERIFY_INVALID;
}

static bool applies(const struct sig_spec *s, const struct webhook_request *req)
{
    if (!webhook_header(req, s->header))
        return false;
    const char *v = s->when_header ? webhook_header(req, s->when_header) : NULL;
    return !s->when_header || (v && strcasecmp(v, s->when_value) == 0);
}

/* The first scheme of the list that is not legacy and that the integration's current
 * secret can check (whether or not the request carries it), or NULL. The current secret
 * alone says what the sender is expected to use: a previous one kept during a rotation
 * (say a signing token replaced by a plain token) must not refuse what the current one
 * signs. */
static const struct sig_spec *preferred(const struct sig_spec *specs, size_t n, const struct provider_secrets *secrets)
{
    for (size_t i = 0; i < n && specs[i].header; i++) {
        const char *cur = specs[i].legacy ? NULL : current_secret(specs[i].secret, secrets);
        if (cur && suits(&specs[i], &cur, 1))
            return &specs[i];
    }
    return NULL;
}

enum verify_result signature_verify_specs(const struct sig_spec *specs, size_t n, const char *provider,
                                          const struct webhook_request *req, const struct provider_secrets *secrets,
                                          bool allow_legacy, const char **used, char *why, size_t whylen)
{
    if (used)
        *used = NULL;
    if (n == 0 || !specs[0].header) {
        provider_say(why, whylen, "%s does not sign requests", provider);
        return VERIFY_UNSUPPORTED;
    }
    const struct sig_spec *first = NULL, *strong; /* the first scheme the request uses */
    const struct sig_spec *tried = NULL;          /* an or_next scheme that did not match */
    const char *keys[2];
    for (size_t i = 0; i < n && specs[i].header; i++) {
        if (!applies(&specs[i], req))
            continue;
        first = first ? first : &specs[i];
        size_t nk = signature_secrets(specs[i].secret, secrets, keys);
        if (!nk || !suits(&specs[i], keys, nk))
            continue;
        /* Refused before it is checked: no answer about a downgraded request. */
        if (specs[i].legacy && !allow_legacy && (strong = preferred(specs, n, secrets)) != NULL) {
            provider_say(why, whylen, "%s header absent; the legacy %s alone is refused (allow_legacy_signature)",
                         strong->header, specs[i].header);
            return VERIFY_MISSING;
        }
        enum verify_result v = check_spec(&specs[i], req, keys, nk, used, why, whylen);
        if (v != VERIFY_INVALID || !specs[i].or_next)
            return v;
        tried = &specs[i];
    }
    if (tried) /* every signature of a several-key sender was checked: none matched */
        return VERIFY_INVALID;
    const struct sig_spec *ref = first ? first : &specs[0];
    if (signature_secrets(ref->secret, secrets, keys) == 0) {
        provider_say(why, whylen, "the integration has no %s", secret_label(ref));
        return VERIFY_NO_SECRET;
    }
    if (first) {
        provider_say(why, whylen, "the %s is not a key for %s", secret_label(first), first->header);
        return VERIFY_INVALID;
    }
    provider_say(why, whylen, "%s header absent", specs[0].header);
    return VERIFY_MISSING;
}

enum verify_result signature_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, const char **used, char *why, size_t whylen)
{
    struct verify_options o;
    if (used)
        *used = NULL;
    if (verify_options_load(p, secrets, &o, why, whylen) < 0)
        return VERIFY_INVALID;
    return signature_verify_specs(p->sigs, PROVIDER_MAX_SCHEMES, p->name, req, secrets, o.allow_legacy, used, why,
                                  whylen);
}

/* ---- signing ---------------------------------------------------------------------- */

/* The headers a signed request carries, and the values used while signing. */
struct emit {
    struct http_header h[EMIT_MAX];
    size_t n;
    char ts[32];
    char id[40];
};

static void emit_add(struct emit *e, const char *name, const char *value)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcasecmp(e->h[i].name, name) == 0)
            return;
    if (e->n < EMIT_MAX)
        e->h[e->n++] = (struct http_header){name, value};
}

/* A message id for a header part the request lacks: derived from the body, so that
 * signing the same body twice gives the same headers. */
static void make_id(const struct webhook_request *req, char *id)
{
    unsigned char digest[32];
    char hex[65];
    crypto_sha256(req->body ? (const void *)req->body : "", req->body ? req->body_len : 0, digest);
    snprintf(id, 40, "msg_%.24s", crypto_hex(digest, sizeof digest, hex));
}

/* Everything but the signature: timestamp, version selector, header parts. */
static void emit_context(const struct sig_spec *s, const struct webhook_request *req, struct emit *e)
{
    if (s->ts_header || s->list.ts_tag)
        snprintf(e->ts, sizeof e->ts, "%lld", (long long)req->now * (s->ts_unit == SIG_TS_MILLIS ? 1000 : 1));
    if (s->ts_unit == SIG_TS_ISO8601) {
        struct tm tm;
        time_t now = req->now;
        strftime(e->ts, sizeof e->ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    }
    if (s->ts_header)
        emit_add(e, s->ts_header, e->ts);
    if (s->when_header)
        emit_add(e, s->when_header, s->when_value);
    make_id(req, e->id);
    for (size_t i = 0; i < SIG_MAX_PARTS && s->parts[i].kind != SIG_PART_END; i++) {
        if (s->parts[i].kind != SIG_PART_HEADER)
            continue;
        const char *have = webhook_header(req, s->parts[i].text);
        emit_add(e, s->parts[i].text, have ? have : e->id);
    }
}

/* The raw signature of s over req (whose headers include the context) into out.
 * Returns its length, 0 on failure. */
static size_t raw_signature(const struct sig_spec *s, const struct webhook_request *req, const char *ts,
                            const struct key *k, unsigned char *out)
{
    struct message m;
    const char *missing;
    size_t len = 0;
    if (message_build(s, req, (struct text){ts, strlen(ts)}, k, &m, &missing) < 0)
        return 0;
    if (s->kind == SIG_ED25519) {
        size_t mlen;
        unsigned char *msg = message_join(&m, &mlen);
        if (msg && scheme_ed25519_sign(k->bytes, k->len, msg, mlen, out) == 0)
            len = 64;
        free(msg);
    } else {
        len = message_mac(s, &m, k, out);
    }
    message_free(&m);
    return len;
}

/* The signature header's value as a new string (list layout, prefix, encoding). */
static char *signature_value(const struct sig_spec *s, const struct webhook_request *req, const char *ts,
                             const struct key *k)
{
    unsigned char raw[MAC_MAX];
    char enc[SIG_TEXT_MAX], *value = NULL;
    if (s->kind == SIG_TOKEN) {
        if (k->len >= sizeof enc)
            return NULL;
        memcpy(enc, k->bytes, k->len);
        enc[k->len] = '\0';
    } else {
        size_t len = raw_signature(s, req, ts, k, raw);
        if (len == 0)
            return NULL;
        if (s->encoding == SIG_ENC_HEX)
            crypto_hex(raw, len, enc);
        else
            crypto_base64(raw, len, enc);
    }
    int rc;
    if (!s->list.sep)
        rc = asprintf(&value, "%s%s", s->prefix ? s->prefix : "", enc);
    else if (s->list.ts_tag)
        rc = asprintf(&value, "%s%c%s%c%s%c%s", s->list.ts_tag, s->list.pair, ts, s->list.sep, s->list.tag,
                      s->list.pair, enc);
    else
        rc = asprintf(&value, "%s%c%s", s->list.tag, s->list.pair, enc);
    return rc < 0 ? NULL : value;
}

/* Copies e's headers into out as new strings. Returns the count, or -1. */
static int emit_out(const struct emit *e, struct http_header *out, size_t max)
{
    if (e->n > max)
        return -1;
    for (size_t i = 0; i < e->n; i++) {
        char *name = strdup(e->h[i].name), *value = strdup(e->h[i].value);
        if (!name || !value) {
            free(name);
            free(value);
            for (size_t j = 0; j < i; j++) {
                free((void *)(uintptr_t)out[j].name);
                free((void *)(uintptr_t)out[j].value);
            }
            return -1;
        }
        out[i] = (struct http_header){name, value};
    }
    return (int)e->n;
}

static int sign_spec(const struct sig_spec *s, const struct webhook_request *req, const struct key *k,
                     struct http_header *out, size_t max)
{
    struct emit e = {.n = 0};
    emit_add(&e, s->header, ""); /* first, filled in below */
    emit_context(s, req, &e);
    /* The context goes before the request's own headers so that it wins lookups. */
    struct http_header *all = calloc(e.n + req->nheaders, sizeof *all);
    if (!all)
        return -1;
    memcpy(all, e.h + 1, (e.n - 1) * sizeof *all);
    if (req->nheaders)
        memcpy(all + e.n - 1, req->headers, req->nheaders * sizeof *all);
    struct webhook_request signed_req = *req;
    signed_req.headers = all;
    signed_req.nheaders = e.n - 1 + req->nheaders;
    char *value = signature_value(s, &signed_req, e.ts, k);
    free(all);
    if (!value)
        return -1;
    e.h[0].value = value;
    int n = emit_out(&e, out, max);
    free(value);
    return n;
}

int signature_sign_specs(const struct sig_spec *specs, size_t n, const struct webhook_request *req,
                         const struct provider_secrets *secrets, struct http_header *out, size_t max)
{
    for (size_t i = 0; i < n && specs[i].header; i++) {
        const char *secret = current_secret(specs[i].secret, secrets);
        struct key k;
        if (secret && sign_key(&specs[i], secret, &k))
            return sign_spec(&specs[i], req, &k, out, max);
    }
    return -1;
}

int signature_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                   struct http_header *out, size_t max)
{
    return signature_sign_specs(p->sigs, PROVIDER_MAX_SCHEMES, req, secrets, out, max);
}
