/*
 * fuzz_signed_mutation: a property that judges verification, not just survives it.
 *
 * Each input names a provider, a body and up to three mutations. The harness signs the
 * body for that provider with known secrets (provider_sign: the preferred scheme; and,
 * where the row has one, its legacy scheme next to it), then applies the mutations to
 * what a signature covers: the body, the timestamp, the message id header, the
 * signature's decoded bytes (preferred or legacy), or drops the preferred signature
 * header. It then computes, from the row's own description of the signed message
 * (sig_spec.parts), whether the signed bytes of the scheme that must be checked
 * changed, and abort()s when:
 *   - the signed bytes or the signature changed, yet the request verifies;
 *   - only the legacy signature is left, the integration does not allow legacy
 *     schemes, yet the request verifies (a downgrade);
 *   - nothing the checked scheme covers changed, yet the request does not verify (so
 *     the property can never hold vacuously: the harness's requests are really valid).
 *
 * Input: byte 0 picks the provider (rows that sign with a MAC or Ed25519, and
 * generic-hmac), byte 1 = flags (below), then 4 bytes per mutation {target, op, pos,
 * value}, the rest is the body.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/provider_impl.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

enum {
    F_NMUT = 3,         /* bits 0-1: how many mutations (0..3) */
    F_ALLOW = 4,        /* the integration allows legacy schemes alone */
    F_ED25519 = 8,      /* standard-webhooks: sign v1a with an Ed25519 key */
    F_LEGACY_NEXT = 16, /* sign with the row's second legacy scheme (HubSpot v1) */
};
enum target { T_BODY, T_TS, T_MAC, T_ID, T_LEGACY_MAC, T_DROP, T_COUNT };
enum op { OP_FLIP, OP_INSERT, OP_DELETE, OP_TRUNCATE };

#define MAX_MUT 3
#define MAX_HEADERS 16
#define FIELD_MAX 512
#define NOW 1700000000
#define URL "https://h.example/webhook/env/key?q=a%3Ab"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define B64_KEY "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define CLIENT "hs-client-secret-1a2b3c"
#define ED_PRIV "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
#define ED_PUB "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define ED_PUB_HEX "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define GENERIC_CONFIG                                                                                                 \
    "{\"header\":\"X-Signature\",\"template\":\"{timestamp}.{body}\",\"timestamp_header\":\"X-Timestamp\"}"
#define ALLOW_CONFIG "{\"allow_legacy_signature\":true}"

/* generic-hmac's scheme for GENERIC_CONFIG, as a row would say it (to find the parts). */
static const struct sig_spec generic_spec = {
    .header = "X-Signature",
    .alg = HMAC_SHA256,
    .encoding = SIG_ENC_HEX,
    .parts = {{SIG_PART_TIMESTAMP, NULL}, {SIG_PART_LITERAL, "."}, {SIG_PART_BODY, NULL}},
    .ts_header = "X-Timestamp",
    .ts_tolerance = 300,
    .secret = SIG_SECRET_WEBHOOK};

/* A byte string (mutable part of a request). */
struct bytes {
    unsigned char b[FIELD_MAX + 1];
    size_t n;
};

/* One signature and what it covers: a scheme, its decoded signature, its timestamp. */
struct signature {
    const struct sig_spec *spec;
    struct bytes mac; /* decoded (the token itself for SIG_TOKEN) */
    struct bytes ts;  /* as sent; from the timestamp header or the list's t= entry */
};

struct request {
    struct http_header h[MAX_HEADERS]; /* as signed: names and values owned */
    size_t nh;
    struct signature strong, legacy; /* legacy.spec NULL: none */
    struct bytes id;                 /* the value of the message's header part, if any */
    const char *id_header;
    unsigned char *body;
    size_t body_len, body_cap; /* body_cap: what the buffer holds */
    bool dropped;              /* the preferred signature header is left out */
};

/* ---- the providers this property applies to ----------------------------------------- */

static const struct provider *eligible[64];
static size_t neligible;

/* Twilio signs the decoded form fields, not the body's bytes: "a=b" and "a=%62" sign
 * alike, so "the bytes changed" does not mean "the signed text changed" (fuzz_form_sig
 * covers that parser). */
static bool signs_form_fields(const struct provider *p)
{
    for (size_t i = 0; i < SIG_MAX_PARTS; i++)
        if (p->sigs[0].parts[i].kind == SIG_PART_FORM_SORTED)
            return true;
    return false;
}

static void find_providers(void)
{
    const struct provider *p;
    for (size_t i = 0; (p = provider_at(i)) != NULL && neligible < 64; i++)
        if ((p->sigs[0].header && p->sigs[0].kind != SIG_TOKEN && !p->verify && !signs_form_fields(p)) ||
            p->verify == generic_hmac_verify)
            eligible[neligible++] = p;
    CHECK(neligible >= 20);
}

/* ---- signature header layout (as signature.c writes it) ----------------------------- */

static const char *find_header(const struct request *r, const char *name)
{
    for (size_t i = 0; i < r->nh; i++)
        if (strcasecmp(r->h[i].name, name) == 0)
            return r->h[i].value;
    return NULL;
}

static bool decode(const struct sig_spec *s, const char *text, size_t len, struct bytes *out)
{
    if (s->kind == SIG_TOKEN) {
        if (len > FIELD_MAX)
            return false;
        memcpy(out->b, text, len);
        out->n = len;
        return true;
    }
    long n = s->encoding == SIG_ENC_HEX ? crypto_unhex(text, len, out->b, FIELD_MAX)
                                        : crypto_unbase64(text, len, out->b, FIELD_MAX);
    out->n = n > 0 ? (size_t)n : 0;
    return n > 0;
}

/* The header value for signature sig (encoding, prefix, list layout): a new string. */
static char *render(const struct signature *sig)
{
    const struct sig_spec *s = sig->spec;
    char enc[2 * FIELD_MAX + 4];
    if (s->kind == SIG_TOKEN) {
        memcpy(enc, sig->mac.b, sig->mac.n);
        enc[sig->mac.n] = '\0';
    } else if (s->encoding == SIG_ENC_HEX) {
        crypto_hex(sig->mac.b, sig->mac.n, enc);
    } else {
        crypto_base64(sig->mac.b, sig->mac.n, enc);
    }
    size_t len = strlen(enc) + sig->ts.n + 64;
    char *v = malloc(len);
    if (!s->list.sep)
        snprintf(v, len, "%s%s", s->prefix ? s->prefix : "", enc);
    else if (s->list.ts_tag)
        snprintf(v, len, "%s%c%.*s%c%s%c%s", s->list.ts_tag, s->list.pair, (int)sig->ts.n, (const char *)sig->ts.b,
                 s->list.sep, s->list.tag, s->list.pair, enc);
    else
        snprintf(v, len, "%s%c%s", s->list.tag, s->list.pair, enc);
    return v;
}

static void set_text(struct bytes *out, const char *text)
{
    out->n = strlen(text);
    CHECK(out->n <= FIELD_MAX);
    memcpy(out->b, text, out->n);
}

/* Reads signature sig of scheme s from the signed headers; false when they do not
 * carry it (another scheme of the row signed). Checks that render() gives the header
 * back byte for byte, so the harness and the signer agree on the layout. */
static bool read_signature(const struct request *r, const struct sig_spec *s, struct signature *sig)
{
    const char *v = find_header(r, s->header);
    if (!v)
        return false;
    *sig = (struct signature){.spec = s};
    const char *enc = v;
    if (!s->list.sep) {
        size_t plen = s->prefix ? strlen(s->prefix) : 0;
        CHECK(strncmp(v, s->prefix ? s->prefix : "", plen) == 0);
        enc = v + plen;
    } else {
        char tag[16];
        snprintf(tag, sizeof tag, "%c%s%c", s->list.sep, s->list.tag, s->list.pair);
        const char *at = s->list.ts_tag ? strstr(v, tag) : v;
        size_t taglen = strlen(s->list.tag) + 1;
        if (!at || (!s->list.ts_tag && strncmp(v, tag + 1, taglen) != 0))
            return false;
        if (s->list.ts_tag) {
            const char *ts = v + strlen(s->list.ts_tag) + 1;
            sig->ts.n = (size_t)(at - ts);
            memcpy(sig->ts.b, ts, sig->ts.n);
            at++;
        }
        enc = at + taglen;
    }
    CHECK(decode(s, enc, strlen(enc), &sig->mac));
    if (s->ts_header)
        set_text(&sig->ts, find_header(r, s->ts_header));
    char *again = render(sig);
    CHECK(strcmp(again, v) == 0);
    free(again);
    return true;
}

/* ---- signing ------------------------------------------------------------------------ */

struct keys {
    struct provider_secrets sign, verify;
};

static void sign_into(struct request *r, int n, struct http_header *h)
{
    CHECK(n > 0 && r->nh + (size_t)n <= MAX_HEADERS);
    for (int i = 0; i < n; i++)
        r->h[r->nh++] = h[i];
}

/* Signs r's body with p's preferred scheme, and its legacy one when the row has one.
 * false when p cannot sign with these keys. */
static bool sign_request(const struct provider *p, unsigned flags, const struct keys *k, struct request *r)
{
    struct http_header h[MAX_HEADERS];
    struct webhook_request req = {.method = "POST",
                                  .url = URL,
                                  .path = "/webhook/env/key",
                                  .query = "q=a%3Ab",
                                  .body = r->body,
                                  .body_len = r->body_len,
                                  .now = NOW};
    int n = provider_sign(p, &req, &k->sign, h, MAX_HEADERS);
    if (n <= 0)
        return false;
    sign_into(r, n, h);
    const struct sig_spec *specs = p->verify == generic_hmac_verify ? &generic_spec : p->sigs;
    size_t nspecs = p->verify == generic_hmac_verify ? 1 : PROVIDER_MAX_SCHEMES, first_legacy = nspecs;
    bool found = false;
    for (size_t i = 0; i < nspecs && specs[i].header && !found; i++)
        found = !specs[i].legacy && read_signature(r, &specs[i], &r->strong);
    CHECK(found);
    for (size_t i = 0; i < nspecs && specs[i].header; i++)
        if (specs[i].legacy && first_legacy == nspecs)
            first_legacy = i;
    for (size_t i = 0; i < SIG_MAX_PARTS; i++)
        if (r->strong.spec->parts[i].kind == SIG_PART_HEADER) {
            r->id_header = r->strong.spec->parts[i].text;
            set_text(&r->id, find_header(r, r->id_header));
        }
    if (first_legacy == nspecs)
        return true;
    size_t l = first_legacy + ((flags & F_LEGACY_NEXT) && first_legacy + 1 < nspecs && specs[first_legacy + 1].header &&
                               specs[first_legacy + 1].legacy);
    req.headers = r->h;
    req.nheaders = r->nh;
    n = signature_sign_specs(&specs[l], 1, &req, &k->sign, h, MAX_HEADERS);
    sign_into(r, n, h);
    CHECK(read_signature(r, &specs[l], &r->legacy));
    return true;
}

/* ---- what the checked scheme covers --------------------------------------------------- */

static void append(unsigned char **m, size_t *len, const void *p, size_t n)
{
    *m = realloc(*m, *len + n + 1);
    if (n)
        memcpy(*m + *len, p, n);
    *len += n;
}

/* The bytes scheme s signs in r, from the row's parts (method, URL and secret are not
 * mutated, so they stand as constants). A new buffer; its length in *len. */
static unsigned char *signed_bytes(const struct request *r, const struct signature *sig, size_t *len)
{
    unsigned char *m = NULL;
    *len = 0;
    append(&m, len, "", 0);
    for (size_t i = 0; i < SIG_MAX_PARTS && sig->spec->parts[i].kind != SIG_PART_END; i++) {
        const struct sig_part *part = &sig->spec->parts[i];
        switch (part->kind) {
        case SIG_PART_BODY:
            append(&m, len, r->body, r->body_len);
            break;
        case SIG_PART_TIMESTAMP:
            append(&m, len, sig->ts.b, sig->ts.n);
            break;
        case SIG_PART_HEADER:
            append(&m, len, r->id.b, r->id.n);
            break;
        case SIG_PART_LITERAL:
            append(&m, len, part->text, strlen(part->text));
            break;
        default:
            append(&m, len, "|const|", 7);
            break;
        }
    }
    return m;
}

static bool same_bytes(const struct bytes *a, const struct bytes *b)
{
    return a->n == b->n && memcmp(a->b, b->b, a->n) == 0;
}

/* Whether signature sig of request r covers the same bytes as in the signed original o
 * (and carries the same signature). */
static bool covers_same(const struct request *o, const struct signature *os, const struct request *r,
                        const struct signature *sig)
{
    size_t la, lb;
    unsigned char *a = signed_bytes(o, os, &la), *b = signed_bytes(r, sig, &lb);
    bool same = la == lb && memcmp(a, b, la) == 0 && same_bytes(&os->mac, &sig->mac);
    free(a);
    free(b);
    return same;
}

/* Whether nothing the signature covers differs, to the byte (body, ts, id, mac). */
static bool untouched(const struct request *o, const struct signature *os, const struct request *r,
                      const struct signature *sig)
{
    return covers_same(o, os, r, sig) && same_bytes(&os->ts, &sig->ts) && same_bytes(&o->id, &r->id) &&
           o->body_len == r->body_len && (!r->body_len || memcmp(o->body, r->body, r->body_len) == 0);
}

/* ---- mutations --------------------------------------------------------------------------- */

static void mutate(unsigned char *b, size_t *n, size_t cap, enum op op, uint8_t pos, uint8_t value)
{
    size_t at = *n ? pos % (*n + 1) : 0;
    switch (op) {
    case OP_FLIP:
        if (*n)
            b[at % *n] ^= value | 1;
        break;
    case OP_INSERT:
        if (*n < cap) {
            memmove(b + at + 1, b + at, *n - at);
            b[at] = value;
            (*n)++;
        }
        break;
    case OP_DELETE:
        if (*n) {
            at %= *n;
            memmove(b + at, b + at + 1, *n - at - 1);
            (*n)--;
        }
        break;
    case OP_TRUNCATE:
        *n = at;
        break;
    }
}

/* Header text cannot hold a NUL, and a list's timestamp ends at its separator: keep
 * mutated text to what the header can carry, so the harness knows what is sent. */
static void as_header_text(struct bytes *t, const struct sig_spec *s)
{
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = t->b[i];
        if (!c || (s && s->list.sep &&
                   (c == (unsigned char)s->list.sep || c == (unsigned char)s->list.pair || c == ' ' || c == '\t')))
            t->b[i] = 'x';
    }
}

static void apply(struct request *r, const uint8_t *m)
{
    enum target t = (enum target)(m[0] % T_COUNT);
    enum op op = (enum op)(m[1] % 4);
    bool timed = r->strong.spec->ts_header || r->strong.spec->list.ts_tag;
    struct bytes *field = t == T_TS && timed                    ? &r->strong.ts
                          : t == T_MAC                          ? &r->strong.mac
                          : t == T_ID && r->id_header           ? &r->id
                          : t == T_LEGACY_MAC && r->legacy.spec ? &r->legacy.mac
                                                                : NULL;
    if (t == T_DROP) {
        r->dropped = true;
    } else if (t == T_BODY) {
        mutate(r->body, &r->body_len, r->body_cap, op, m[2], m[3]);
    } else if (field) {
        mutate(field->b, &field->n, FIELD_MAX, op, m[2], m[3]);
        if (t == T_TS || t == T_ID || (t == T_LEGACY_MAC && r->legacy.spec->kind == SIG_TOKEN))
            as_header_text(field, t == T_TS ? r->strong.spec : NULL);
    }
}

/* ---- the request as sent ---------------------------------------------------------------- */

static char *text_of(const struct bytes *b)
{
    char *s = malloc(b->n + 1);
    memcpy(s, b->b, b->n);
    s[b->n] = '\0';
    return s;
}

/* r's headers with the (mutated) parts in place; values in owned[] (free them). */
static size_t headers_of(const struct request *r, struct http_header *out, char **owned)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nh; i++) {
        const char *name = r->h[i].name;
        char *v = NULL;
        if (strcasecmp(name, r->strong.spec->header) == 0 && r->dropped)
            continue;
        if (strcasecmp(name, r->strong.spec->header) == 0)
            v = render(&r->strong);
        else if (r->legacy.spec && strcasecmp(name, r->legacy.spec->header) == 0)
            v = render(&r->legacy);
        else if (r->strong.spec->ts_header && strcasecmp(name, r->strong.spec->ts_header) == 0)
            v = text_of(&r->strong.ts);
        else if (r->id_header && strcasecmp(name, r->id_header) == 0)
            v = text_of(&r->id);
        owned[n] = v;
        out[n++] = (struct http_header){name, v ? v : r->h[i].value};
    }
    return n;
}

static enum verify_result verify(const struct provider *p, const struct request *r, const struct keys *k, bool allow)
{
    struct http_header h[MAX_HEADERS];
    char *owned[MAX_HEADERS], why[256];
    size_t n = headers_of(r, h, owned);
    struct provider_secrets s = k->verify;
    if (allow && p->verify != generic_hmac_verify)
        s.verify_config = ALLOW_CONFIG;
    struct webhook_request req = {.method = "POST",
                                  .url = URL,
                                  .path = "/webhook/env/key",
                                  .query = "q=a%3Ab",
                                  .headers = h,
                                  .nheaders = n,
                                  .body = r->body,
                                  .body_len = r->body_len,
                                  .now = NOW};
    enum verify_result v = provider_verify(p, &req, &s, why, sizeof why);
    CHECK(memchr(why, '\0', sizeof why));
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    return v;
}

/* ---- the property -------------------------------------------------------------------------- */

static void judge(const struct provider *p, const struct request *o, const struct request *r, const struct keys *k,
                  bool allow)
{
    enum verify_result v = verify(p, r, k, allow);
    if (!r->dropped) { /* the preferred signature is there: it alone is checked */
        if (!covers_same(o, &o->strong, r, &r->strong))
            CHECK(v != VERIFY_VALID);
        else if (untouched(o, &o->strong, r, &r->strong))
            CHECK(v == VERIFY_VALID);
        return;
    }
    if (!r->legacy.spec || !allow) { /* nothing left to check, or a downgrade */
        CHECK(v != VERIFY_VALID);
        return;
    }
    if (!covers_same(o, &o->legacy, r, &r->legacy))
        CHECK(v != VERIFY_VALID);
    else if (same_bytes(&o->legacy.mac, &r->legacy.mac) && o->body_len == r->body_len &&
             (!r->body_len || memcmp(o->body, r->body, r->body_len) == 0))
        CHECK(v == VERIFY_VALID);
}

static bool has_ed25519(const struct provider *p)
{
    bool ed = false;
    for (size_t i = 0; i < PROVIDER_MAX_SCHEMES; i++)
        ed |= p->sigs[i].header && p->sigs[i].kind == SIG_ED25519;
    return ed;
}

/* The keys of attempt 0 (the usual secrets, or an Ed25519 pair where the row has the
 * scheme and the input asks) and attempt 1 (a bare base64 secret, for Airtable). */
static struct keys keys_for(const struct provider *p, unsigned flags, int attempt)
{
    struct keys k = {.sign = {.webhook_secret = WHSEC, .client_secret = CLIENT, .verify_config = GENERIC_CONFIG}};
    if (attempt == 1)
        k.sign.webhook_secret = B64_KEY;
    if (attempt == 0 && (flags & F_ED25519) && has_ed25519(p))
        k.sign.webhook_secret = ED_PRIV;
    if (has_ed25519(p) && p->sigs[0].key_form == SIG_KEY_HEX)
        k.sign.webhook_secret = ED_PRIV; /* Discord: Ed25519 only, its public key in hex */
    k.verify = k.sign;
    if (strcmp(k.sign.webhook_secret, ED_PRIV) == 0)
        k.verify.webhook_secret = p->sigs[0].key_form == SIG_KEY_HEX ? ED_PUB_HEX : ED_PUB;
    return k;
}

static void request_free(struct request *r)
{
    for (size_t i = 0; i < r->nh; i++) {
        free((void *)(uintptr_t)r->h[i].name);
        free((void *)(uintptr_t)r->h[i].value);
    }
    free(r->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!neligible)
        find_providers();
    if (size < 2)
        return 0;
    const struct provider *p = eligible[data[0] % neligible];
    unsigned flags = data[1];
    size_t nmut = flags & F_NMUT, off = 2 + 4 * nmut;
    if (size < off)
        return 0;
    struct request o = {.body = NULL};
    struct keys k = keys_for(p, flags, 0);
    bool ok = false;
    for (int attempt = 0; attempt < 2 && !ok; attempt++) {
        request_free(&o);
        o = (struct request){.body_len = size - off, .body = malloc(size - off + 1)};
        memcpy(o.body, data + off, o.body_len);
        k = keys_for(p, flags, attempt);
        ok = sign_request(p, flags, &k, &o);
    }
    CHECK(ok);
    /* The original verifies, unless its body carries a stale time of its own (Linear). */
    if (verify(p, &o, &k, false) != VERIFY_VALID) {
        CHECK(p->sigs[0].ts_path != NULL);
        request_free(&o);
        return 0;
    }
    struct request r = o;
    r.body_cap = o.body_len + MAX_MUT;
    r.body = malloc(r.body_cap + 1);
    memcpy(r.body, o.body, o.body_len);
    for (size_t i = 0; i < nmut; i++)
        apply(&r, data + 2 + 4 * i);
    judge(p, &o, &r, &k, (flags & F_ALLOW) != 0);
    free(r.body);
    request_free(&o);
    return 0;
}
