/*
 * fuzz_provider: every provider in the table (provider_at) on one fuzzed request:
 * provider_handshake, provider_verify, provider_ordering_key, provider_attribute
 * (+ attribution_free), and a provider_sign -> provider_verify round trip. abort() on
 * any broken invariant:
 *   - handshake returns 0 or 1 (never -1 here: no allocation fails); an answer has a
 *     status 200..599, a NUL-terminated content type, body_len 0 without a body,
 *     X-Content-Type-Options: nosniff with one, and a reason exactly when refused;
 *   - verify returns a verify_result value; `why` is NUL-terminated and names no
 *     secret; a request signed by provider_sign verifies VERIFY_VALID (unless its body
 *     carries a stale timestamp of its own, Linear's);
 *   - the ordering key is NUL-terminated, strlen == returned length < outlen;
 *   - attribute: -1 leaves no groups and gives a reason; rows that do not read the body
 *     accept anything, JSON rows refuse bodies jansson refuses; on 0 there is >= 1
 *     group, every payload is non-NULL and NUL-terminated, non-empty when the body is,
 *     config_key/value are both set (a key and source of the row's) or both NULL, and so
 *     is every alternative's;
 *   - non-batch rows: one group whose payload is the body byte for byte;
 *   - batch rows: a payload that differs from the body re-parses (jansson) with the
 *     events array where the row says, each event carries its group's identifier, and
 *     the groups' event counts add up to the body's.
 *
 * Input: byte 0 = flags (below), then five '\n'-terminated fields: signature header
 * value, timestamp header value, event header value, URL (its query is the query), and
 * an auxiliary value for the other headers a row reads (webhook-id, signature version,
 * shop domain, channel id); the rest is the body. Header names are the called
 * provider's own.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/provider_impl.h"

enum {
    F_NO_SIG = 1,
    F_NO_TS = 2,
    F_NO_EVENT = 4,   /* leave those headers out */
    F_NO_SECRETS = 8, /* integration has no secrets */
    F_NULL_BODY = 16, /* body pointer NULL when empty */
    F_SIGN = 32,      /* sign with provider_sign, expect VALID */
    F_ALT = 64,       /* GET, form content type, base64 (whsec_) secrets */
    F_ROTATE = 128,   /* the secrets are the previous ones */
};
#define NFIELDS 5
#define MAX_HEADERS 32
#define WEBHOOK_SECRET "gh-webhook-secret-9f8e7d" /* the tests/providers cases' secrets, */
#define CLIENT_SECRET "hs-client-secret-1a2b3c"   /* so seeds from them verify */
#define WHSEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define GENERIC_CONFIG                                                                                                 \
    "{\"header\":\"X-Signature\",\"template\":\"{timestamp}.{body}\",\"timestamp_header\":\"X-Timestamp\"}"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static void check_why(const char *why, size_t whylen)
{
    CHECK(memchr(why, '\0', whylen));
    CHECK(!strstr(why, WEBHOOK_SECRET) && !strstr(why, CLIENT_SECRET) && !strstr(why, WHSEC_SECRET));
}

/* ---- an independent reading of identifiers -------------------------------------- */

static json_t *walk(json_t *node, const char *path)
{
    while (node && *path) {
        size_t n = strcspn(path, ".");
        if (path[0] == '[' && n > 2)
            node = json_array_get(node, strtoul(path + 1, NULL, 10));
        else
            node = json_object_getn(node, path, n);
        path += n + (path[n] == '.');
    }
    return node;
}

/* The identifier of an event by the row's body paths, or NULL. */
static char *event_id(const struct provider *p, json_t *event)
{
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++) {
        if (p->attr.ids[i].from != ATTR_FROM_BODY)
            continue;
        json_t *v = walk(event, p->attr.ids[i].name);
        if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 512)
            return strndup(json_string_value(v), json_string_length(v));
        if (json_is_integer(v)) {
            char *s = malloc(32);
            snprintf(s, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            return s;
        }
    }
    return NULL;
}

static json_t *events_of(const struct provider *p, json_t *root)
{
    return p->attr.batch[0] ? json_object_get(root, p->attr.batch) : root;
}

static void check_batch(const struct provider *p, const struct webhook_request *req, const struct attribution *a)
{
    json_t *body = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    json_t *all = events_of(p, body);
    if (!json_is_array(all)) { /* a request-level identifier */
        CHECK(a->n == 1 && a->groups[0].payload_len == req->body_len);
        json_decref(body);
        return;
    }
    if (a->n == 1) { /* one group: every event names its connection, or none does (unless
                        * the connection is named by the URL or a header, for all at once) */
        const struct attribution_group *g = &a->groups[0];
        bool from_body = !g->config_key;
        for (int i = 0; g->config_key && i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
            from_body |= p->attr.ids[i].from == ATTR_FROM_BODY && !strcmp(p->attr.ids[i].key, g->config_key);
        for (size_t k = 0; from_body && k < json_array_size(all); k++) {
            char *id = event_id(p, json_array_get(all, k));
            CHECK(g->value ? id && strcmp(id, g->value) == 0 : !id);
            free(id);
        }
        json_decref(body);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct attribution_group *g = &a->groups[i];
        json_t *part = json_loadb(g->payload, g->payload_len, 0, NULL), *arr = events_of(p, part);
        CHECK(json_is_array(arr) && json_array_size(arr) > 0);
        total += json_array_size(arr);
        for (size_t k = 0; k < json_array_size(arr); k++) {
            char *id = event_id(p, json_array_get(arr, k));
            CHECK(g->value ? id && strcmp(id, g->value) == 0 : !id);
            free(id);
        }
        json_decref(part);
    }
    CHECK(total == json_array_size(all));
    json_decref(body);
}

/* ---- invariants ----------------------------------------------------------------- */

static bool reads_body(const struct provider *p)
{
    bool body_id = false;
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
        body_id |= p->attr.ids[i].from == ATTR_FROM_BODY;
    return p->attr.body != ATTR_BODY_NONE &&
           (body_id || p->attr.batch || p->attr.event_paths[0] || p->attr.event_detail);
}

static bool json_ok(const struct webhook_request *req)
{
    json_t *root = json_loadb(req->body ? (const char *)req->body : "", req->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_decref(root);
    return root != NULL;
}

/* The group's key and source are one of the row's identifiers. */
static void check_key(const struct provider *p, const struct attribution_group *g)
{
    CHECK(!g->config_key == !g->value);
    if (!g->config_key)
        return;
    bool found = false;
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
        found |= strcmp(p->attr.ids[i].key, g->config_key) == 0 && p->attr.ids[i].source == g->source;
    CHECK(found && g->value[0]);
    CHECK(g->nalts <= ATTRIBUTION_MAX_ALTS);
    for (size_t k = 0; k < g->nalts; k++) { /* alternatives too, each a field of the row's */
        const struct attribution_key *alt = &g->alts[k];
        found = false;
        for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
            found |= strcmp(p->attr.ids[i].key, alt->config_key) == 0 && p->attr.ids[i].source == alt->source &&
                     p->attr.ids[i].match == alt->match;
        CHECK(found && alt->value && alt->value[0]);
    }
}

static void check_attribution(const struct provider *p, const struct webhook_request *req)
{
    struct attribution a = {(struct attribution_group *)1, 99};
    char err[256];
    int rc = provider_attribute(p, req, &a, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err));
    if (!reads_body(p) || p->attr.body == ATTR_BODY_OPTIONAL)
        CHECK(rc == 0);
    else if (p->attr.body == ATTR_BODY_JSON && !json_ok(req))
        CHECK(rc == -1);
    if (rc < 0) {
        CHECK(a.n == 0 && a.groups == NULL && err[0]);
        return;
    }
    CHECK(rc == 0 && a.n > 0 && a.groups);
    for (size_t i = 0; i < a.n; i++) {
        const struct attribution_group *g = &a.groups[i];
        CHECK(g->payload && g->payload[g->payload_len] == '\0');
        CHECK(g->payload_len > 0 || req->body_len == 0);
        check_key(p, g);
    }
    if (p->attr.batch)
        check_batch(p, req, &a);
    else
        CHECK(a.n == 1 && a.groups[0].payload_len == req->body_len &&
              (req->body_len == 0 || memcmp(a.groups[0].payload, req->body, req->body_len) == 0));
    attribution_free(&a);
    CHECK(a.n == 0 && a.groups == NULL);
}

static void check_handshake(const struct provider *p, const struct webhook_request *req,
                            const struct provider_secrets *sec)
{
    struct handshake_answer ans;
    memset(&ans, 0x5a, sizeof ans);
    int rc = provider_handshake(p, req, sec, &ans);
    CHECK(rc == 0 || rc == 1);
    if (rc == 0)
        return;
    CHECK(ans.status >= 200 && ans.status <= 599);
    CHECK(memchr(ans.content_type, '\0', sizeof ans.content_type));
    CHECK(ans.body || ans.body_len == 0);
    CHECK(!ans.store || ans.status == 200);
    /* An echo is never sniffed; a refusal says why, naming no secret. */
    bool nosniff = false;
    for (size_t i = 0; i < HANDSHAKE_MAX_HEADERS && ans.headers[i].name; i++)
        nosniff |= strcasecmp(ans.headers[i].name, "X-Content-Type-Options") == 0 &&
                   strcmp(ans.headers[i].value, "nosniff") == 0;
    CHECK(!ans.body || nosniff);
    check_why(ans.why, sizeof ans.why);
    CHECK(ans.status < 400 ? ans.why[0] == '\0' : ans.why[0] != '\0');
    free(ans.body);
}

static void check_ordering_key(const struct provider *p, const struct webhook_request *req)
{
    char key[256];
    memset(key, 'x', sizeof key);
    size_t klen = provider_ordering_key(p, req, key, sizeof key);
    CHECK(klen < sizeof key && key[klen] == '\0' && strlen(key) == klen);
}

static void check_round_trip(const struct provider *p, struct webhook_request req, const struct provider_secrets *sec)
{
    struct http_header signed_h[MAX_HEADERS] = {{"Content-Type", "text/plain"}};
    char why[128];
    int ns = provider_sign(p, &req, sec, signed_h + 1, MAX_HEADERS - 1);
    CHECK(ns >= -1 && ns <= MAX_HEADERS - 1);
    if (ns <= 0)
        return;
    req.headers = signed_h;
    req.nheaders = (size_t)ns + 1;
    enum verify_result v = provider_verify(p, &req, sec, why, sizeof why);
    /* A timestamp the body carries (Linear) is not the signer's to set: a stale one is
     * refused however the request is signed. */
    const char *ts_path = p->sigs[0].ts_path;
    bool body_stamped = ts_path && req.body && memmem(req.body, req.body_len, ts_path, strlen(ts_path));
    CHECK(v == VERIFY_VALID || (body_stamped && v == VERIFY_INVALID));
    check_why(why, sizeof why);
    for (int i = 1; i <= ns; i++) {
        free((void *)(uintptr_t)signed_h[i].name);
        free((void *)(uintptr_t)signed_h[i].value);
    }
}

/* ---- the request ------------------------------------------------------------------- */

static void add(struct http_header *h, size_t *n, const char *name, const char *value)
{
    for (size_t i = 0; i < *n; i++)
        if (strcasecmp(h[i].name, name) == 0)
            return;
    if (name && *n < MAX_HEADERS)
        h[(*n)++] = (struct http_header){name, value};
}

/* The headers the row reads, valued from the fields. */
static size_t build_headers(const struct provider *p, unsigned flags, char *const *field, struct http_header *h)
{
    size_t n = 0;
    add(h, &n, "Content-Type", flags & F_ALT ? "application/x-www-form-urlencoded" : "application/json");
    for (int i = 0; i < PROVIDER_MAX_SCHEMES && p->sigs[i].header; i++) {
        const struct sig_spec *s = &p->sigs[i];
        if (!(flags & F_NO_SIG))
            add(h, &n, s->header, field[0]);
        if (s->ts_header && !(flags & F_NO_TS))
            add(h, &n, s->ts_header, field[1]);
        if (s->when_header)
            add(h, &n, s->when_header, field[4]);
        for (int k = 0; k < SIG_MAX_PARTS; k++)
            if (s->parts[k].kind == SIG_PART_HEADER)
                add(h, &n, s->parts[k].text, field[4]);
    }
    if (!(flags & F_NO_SIG))
        add(h, &n, "X-Signature", field[0]); /* generic-hmac's configured header */
    if (p->attr.event_header && !(flags & F_NO_EVENT))
        add(h, &n, p->attr.event_header, field[2]);
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
        if (p->attr.ids[i].from == ATTR_FROM_HEADER)
            add(h, &n, p->attr.ids[i].name, field[4]);
    return n;
}

static void run(const struct provider *p, unsigned flags, char *const *field, const uint8_t *body, size_t body_len)
{
    struct http_header h[MAX_HEADERS];
    size_t nh = build_headers(p, flags, field, h);
    const char *q = strchr(field[3], '?');
    struct webhook_request req = {
        .method = flags & F_ALT ? "GET" : "POST",
        .url = field[3],
        .path = "/webhook/env/key",
        .query = q ? q + 1 : "",
        .headers = h,
        .nheaders = nh,
        .body = body_len || !(flags & F_NULL_BODY) ? body : NULL,
        .body_len = body_len,
        .now = 1700000000,
    };
    const char *whsec = flags & F_ALT ? WHSEC_SECRET : WEBHOOK_SECRET;
    struct provider_secrets secrets = {
        .webhook_secret = whsec, .client_secret = CLIENT_SECRET, .verify_config = GENERIC_CONFIG};
    if (flags & F_ROTATE)
        secrets = (struct provider_secrets){.webhook_secret = "new-webhook-secret",
                                            .client_secret = "new-client",
                                            .previous_webhook_secret = whsec,
                                            .previous_client_secret = CLIENT_SECRET,
                                            .verify_config = GENERIC_CONFIG};
    struct provider_secrets none = {.webhook_secret = NULL, .client_secret = ""};
    const struct provider_secrets *sec = flags & F_NO_SECRETS ? &none : &secrets;
    char why[128];

    check_handshake(p, &req, sec);
    enum verify_result v = provider_verify(p, &req, sec, why, sizeof why);
    CHECK(v == VERIFY_VALID || v == VERIFY_INVALID || v == VERIFY_MISSING || v == VERIFY_NO_SECRET ||
          v == VERIFY_UNSUPPORTED);
    check_why(why, sizeof why);
    check_ordering_key(p, &req);
    check_attribution(p, &req);
    if (flags & F_SIGN)
        check_round_trip(p, req, sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    size_t off = 1;
    char *field[NFIELDS];
    for (int i = 0; i < NFIELDS; i++) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : 0;
        field[i] = strndup((const char *)data + off, n);
        off += nl ? n + 1 : 0;
    }
    /* A copy of exactly body_len bytes, so ASan sees any read past the end. */
    size_t body_len = size - off;
    uint8_t *body = malloc(body_len ? body_len : 1);
    memcpy(body, data + off, body_len);
    const struct provider *p;
    for (size_t i = 0; (p = provider_at(i)) != NULL; i++)
        run(p, flags, field, body, body_len);
    free(body);
    for (int i = 0; i < NFIELDS; i++)
        free(field[i]);
    return 0;
}
