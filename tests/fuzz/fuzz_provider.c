/*
 * fuzz_provider: every provider in the table (provider_at) on one fuzzed request:
 * provider_verify, provider_ordering_key, provider_attribute (+ attribution_free), and
 * a provider_sign -> provider_verify round trip. abort() on any broken invariant:
 *   - verify returns a verify_result value; `why` is NUL-terminated, names no secret;
 *     a request signed by provider_sign verifies VERIFY_VALID;
 *   - the ordering key is NUL-terminated, strlen == returned length < outlen;
 *   - attribute returns 0 exactly when the body is acceptable (valid JSON without
 *     duplicate keys, array or object as the row's id_path wants; anything when the
 *     row reads nothing from the body), else -1 with no groups and a reason; on 0
 *     there is >= 1 group, every payload is non-NULL and NUL-terminated, non-empty
 *     when the body is, config_key/value are both set (key = the provider's) or both
 *     NULL;
 *   - non-batch providers: one group whose payload is the body byte for byte;
 *   - batch providers (id_path "[]." ...: hubspot): a payload that differs from the
 *     body re-parses (jansson) as an array, each element carries its group's
 *     identifier, and the groups' element counts add up to the body array's length.
 *
 * Input: byte 0 = selector flags (below), then four '\n'-terminated fields: signature
 * header value, timestamp header value, event header value, URL; the rest is the body.
 * Header names are the called provider's own (sigs[0].header, ts_header, event_header).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider_impl.h"

enum {
    F_NO_SIG = 1, F_NO_TS = 2, F_NO_EVENT = 4, /* leave that header out */
    F_NO_SECRETS = 8,                          /* integration has no secrets */
    F_NULL_BODY = 16,                          /* body pointer NULL when empty */
    F_SIGN = 32,                               /* sign with provider_sign, expect VALID */
};
#define NFIELDS 4
#define WEBHOOK_SECRET "gh-webhook-secret-9f8e7d" /* the tests/providers cases' secrets, */
#define CLIENT_SECRET "hs-client-secret-1a2b3c"   /* so seeds from them verify */

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_why(const char *why, size_t whylen)
{
    CHECK(memchr(why, '\0', whylen));
    CHECK(!strstr(why, WEBHOOK_SECRET) && !strstr(why, CLIENT_SECRET));
}

/* The identifier of elem at a dotted key path, as attribution.c reads it, or NULL. */
static char *elem_id(json_t *elem, const char *path)
{
    while (elem && *path) {
        size_t n = strcspn(path, ".");
        elem = json_object_getn(elem, path, n);
        path += n + (path[n] == '.');
    }
    if (json_is_string(elem) && json_string_length(elem) > 0)
        return strndup(json_string_value(elem), json_string_length(elem));
    if (json_is_integer(elem)) {
        char *s = malloc(32);
        snprintf(s, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(elem));
        return s;
    }
    return NULL;
}

static void check_batch(const struct provider *p, const struct webhook_request *req, const struct attribution *a)
{
    json_t *body = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    CHECK(json_is_array(body));
    const char *path = p->attr.id_path + 3;
    size_t total = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct attribution_group *g = &a->groups[i];
        if (g->payload_len == req->body_len && memcmp(g->payload, req->body, req->body_len) == 0) {
            total += json_array_size(body);
            continue;
        }
        json_t *arr = json_loadb(g->payload, g->payload_len, 0, NULL);
        CHECK(json_is_array(arr) && json_array_size(arr) > 0);
        total += json_array_size(arr);
        if (!strchr(path, '[')) {
            for (size_t k = 0; k < json_array_size(arr); k++) {
                char *id = elem_id(json_array_get(arr, k), path);
                CHECK(g->value ? id && strcmp(id, g->value) == 0 : !id);
                free(id);
            }
        }
        json_decref(arr);
    }
    CHECK(total == json_array_size(body));
    json_decref(body);
}

/* Whether attribution must accept the body: valid JSON without duplicate keys, of the
 * shape the row's id_path wants; anything goes when the row reads nothing from it. */
static int acceptable(const struct provider *p, const struct webhook_request *req)
{
    const char *id_path = p->attr.id_path;
    if (!id_path && !p->attr.event_path)
        return 1;
    json_t *root = json_loadb(req->body ? (const char *)req->body : "", req->body_len, JSON_REJECT_DUPLICATES, NULL);
    int ok = root && (!id_path || json_is_array(root) == (id_path[0] == '['));
    json_decref(root);
    return ok;
}

static void check_attribution(const struct provider *p, const struct webhook_request *req)
{
    struct attribution a = {(struct attribution_group *)1, 99};
    char err[256];
    int rc = provider_attribute(p, req, &a, err, sizeof err);
    CHECK(rc == (acceptable(p, req) ? 0 : -1));
    CHECK(memchr(err, '\0', sizeof err));
    if (rc < 0) {
        CHECK(a.n == 0 && a.groups == NULL && err[0]);
        return;
    }
    CHECK(a.n > 0 && a.groups);
    for (size_t i = 0; i < a.n; i++) {
        const struct attribution_group *g = &a.groups[i];
        CHECK(g->payload && g->payload[g->payload_len] == '\0');
        CHECK(g->payload_len > 0 || req->body_len == 0);
        CHECK(!g->config_key == !g->value);
        if (g->config_key)
            CHECK(strcmp(g->config_key, provider_attribution_key(p)) == 0 && g->value[0]);
    }
    const char *id_path = p->attr.id_path;
    if (id_path && strncmp(id_path, "[].", 3) == 0)
        check_batch(p, req, &a);
    else
        CHECK(a.n == 1 && a.groups[0].payload_len == req->body_len &&
              (req->body_len == 0 || memcmp(a.groups[0].payload, req->body, req->body_len) == 0));
    attribution_free(&a);
    CHECK(a.n == 0 && a.groups == NULL);
}

static void run(const struct provider *p, unsigned flags, char *const *field, const uint8_t *body, size_t body_len)
{
    const struct sig_spec *s = &p->sigs[0];
    struct http_header h[8];
    size_t nh = 0;
    h[nh++] = (struct http_header){"Content-Type", "application/json"};
    if (s->header && !(flags & F_NO_SIG))
        h[nh++] = (struct http_header){s->header, field[0]};
    if (s->ts_header && !(flags & F_NO_TS))
        h[nh++] = (struct http_header){s->ts_header, field[1]};
    if (p->attr.event_header && !(flags & F_NO_EVENT))
        h[nh++] = (struct http_header){p->attr.event_header, field[2]};
    const char *q = strchr(field[3], '?');
    struct webhook_request req = {
        .method = "POST", .url = field[3], .path = "/webhook/env/key", .query = q ? q + 1 : "",
        .headers = h, .nheaders = nh, .body = body_len || !(flags & F_NULL_BODY) ? body : NULL,
        .body_len = body_len, .now = 1700000000,
    };
    struct provider_secrets secrets = {.webhook_secret = WEBHOOK_SECRET, .client_secret = CLIENT_SECRET}, none = {.webhook_secret = NULL, .client_secret = ""};
    const struct provider_secrets *sec = flags & F_NO_SECRETS ? &none : &secrets;
    char why[128];

    enum verify_result v = provider_verify(p, &req, sec, why, sizeof why);
    CHECK(v == VERIFY_VALID || v == VERIFY_INVALID || v == VERIFY_MISSING || v == VERIFY_NO_SECRET ||
          v == VERIFY_UNSUPPORTED);
    check_why(why, sizeof why);

    char key[256];
    memset(key, 'x', sizeof key);
    size_t klen = provider_ordering_key(p, &req, key, sizeof key);
    CHECK(klen < sizeof key && key[klen] == '\0' && strlen(key) == klen);

    check_attribution(p, &req);

    if (flags & F_SIGN) {
        struct http_header signed_h[8] = {{"Content-Type", "text/plain"}};
        int ns = provider_sign(p, &req, sec, signed_h + 1, 7);
        CHECK(ns >= -1 && ns <= 7);
        if (ns > 0) {
            req.headers = signed_h;
            req.nheaders = (size_t)ns + 1;
            CHECK(provider_verify(p, &req, sec, why, sizeof why) == VERIFY_VALID);
            check_why(why, sizeof why);
            for (int i = 1; i <= ns; i++) {
                free((void *)(uintptr_t)signed_h[i].name);
                free((void *)(uintptr_t)signed_h[i].value);
            }
        }
    }
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
