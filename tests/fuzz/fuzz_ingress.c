/*
 * fuzz_ingress: the ingress's front door without a network: request_decide (ingress/
 * request.c) on a fuzzed method, path, raw URI, headers and body, with lookups served
 * by an in-memory table (lookup_cached below) and Kafka stubbed at the seam (a STORE
 * verdict is "produced" by computing its ordering key, as produce_webhook does, and
 * counted). abort() on any broken invariant:
 *   - a path that cannot name an integration (an independent reading: /webhook/, a
 *     canonical UUID, a key of 1..128 [A-Za-z0-9._-] not starting with . _ -, an
 *     optional trailing slash) is 404 before any lookup;
 *   - a target the table does not hold is 404; only the "miss" key is RESOLVE (never
 *     when the resolver has already answered), only "down" or a resolver's
 *     UNAVAILABLE/BUSY answer is 503 "configuration store unavailable"/"busy";
 *   - an ANSWER has a status of 401/404/405/413/503 and a static JSON object body, or
 *     400 when the body starts like JSON and nests deeper than JSON_NESTING_MAX (read
 *     here independently of common/json_depth.c); a STORE never carries such a body;
 *     a HANDSHAKE a status 200..599 and a NUL-terminated content type;
 *   - a STORE comes only from a known integration, carries a webhook id (a UUID), a
 *     provider, and a request view that borrows the input's bytes (body, path) with
 *     the public URL in front of the raw URI; an unverified STORE only where the row
 *     allows it (allow_unverified, the unauthenticated provider) or for a handshake
 *     that stores (notion);
 *   - too_large is 413 and over_budget 503 once the target is valid;
 *   - every ANSWER and every HANDSHAKE of 400 or more carries one refusal reason (the
 *     metric's label), and nothing else carries one.
 *
 * Input: byte 0 = flags (below); then '\n'-terminated fields: method, path (decoded,
 * as MHD gives it), raw URI; then "name: value" header lines up to an empty line (at
 * most 32); the rest is the body.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/ident.h"
#include "common/json_depth.h"
#include "common/ids.h"
#include "common/log.h"
#include "ingress/ingress.h"

enum {
    F_TOO_LARGE = 1,
    F_OVER_BUDGET = 2,
    F_RESOLVED = 4, /* the resolver answered: statuses from bits 3..4 */
    F_RESOLVED_SHIFT = 3,
};

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)
#define ENV "0f0e0d0c-0b0a-4908-8706-050403020100"
#define PUBLIC_URL "https://hooks.example.com"

struct ingress_config g_ingress = {.max_body = 1048576};

struct row {
    const char *key, *provider, *webhook_secret, *client_secret, *verify_config;
    bool allow_unverified, unreadable;
};

/* The tests/providers cases' secrets, so that seeds from them verify. */
static const struct row rows[] = {
    {"github", "github-app", "gh-webhook-secret-9f8e7d", NULL, NULL, false, false},
    {"hubspot", "hubspot", NULL, "hs-client-secret-1a2b3c", NULL, false, false},
    {"slack", "slack", "gh-webhook-secret-9f8e7d", NULL, NULL, false, false},
    {"notion", "notion", NULL, NULL, NULL, false, false},
    {"zoom", "zoom", "gh-webhook-secret-9f8e7d", NULL, NULL, false, false},
    {"graph", "microsoft-oauth2-cc", "gh-webhook-secret-9f8e7d", NULL, NULL, false, false},
    {"open", "github-app", NULL, NULL, NULL, true, false},
    {"anyone", "unauthenticated", NULL, NULL, NULL, false, false},
    {"generic", "generic-hmac", "gh-webhook-secret-9f8e7d", NULL,
     "{\"header\":\"X-Signature\",\"template\":\"{timestamp}.{body}\",\"timestamp_header\":\"X-Timestamp\"}", false,
     false},
    {"locked", "github-app", NULL, NULL, NULL, false, true},
    {"gone-provider", "no-such-provider", "x", NULL, NULL, false, false},
};

static const struct row *find_row(const char *env, const char *key)
{
    if (strcasecmp(env, ENV) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].key, key) == 0)
            return &rows[i];
    return NULL;
}

static void fill(struct integration_entry *e, const struct row *r)
{
    memset(e, 0, sizeof *e);
    e->found = true;
    e->allow_unverified = r->allow_unverified;
    e->secrets_unreadable = r->unreadable;
    snprintf(e->provider, sizeof e->provider, "%s", r->provider);
    snprintf(e->webhook_secret, sizeof e->webhook_secret, "%s", r->webhook_secret ? r->webhook_secret : "");
    snprintf(e->client_secret, sizeof e->client_secret, "%s", r->client_secret ? r->client_secret : "");
    snprintf(e->verify_config, sizeof e->verify_config, "%s", r->verify_config ? r->verify_config : "");
}

static int lookups;

/* The stub behind request.c: the table, "miss" not cached, "down" unavailable. */
enum lookup_status lookup_cached(const char *env_id, const char *key, struct integration_entry *entry)
{
    lookups++;
    if (strcmp(key, "miss") == 0)
        return LOOKUP_MISS;
    if (strcmp(key, "down") == 0)
        return LOOKUP_UNAVAILABLE;
    const struct row *r = find_row(env_id, key);
    if (!r)
        return LOOKUP_UNKNOWN;
    fill(entry, r);
    return LOOKUP_FOUND;
}

/* Independent of request_target: can this path name an integration? */
static bool target_ok(const char *path)
{
    static const char prefix[] = "/webhook/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *e = path + sizeof prefix - 1;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? e[i] != '-' : !strchr("0123456789abcdefABCDEF", e[i]) || !e[i])
            return false;
    }
    if (e[36] != '/')
        return false;
    const char *k = e + 37;
    size_t n = strlen(k);
    if (n && k[n - 1] == '/')
        n--;
    if (n == 0 || n > 128 || strchr("._-", k[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !strchr("._-", c))
            return false;
    }
    return true;
}

/* Kafka at the seam: what produce_webhook computes before handing the message over. */
static void produce_stub(const struct request_verdict *v)
{
    char okey[256];
    memset(okey, 'x', sizeof okey);
    size_t n = provider_ordering_key(v->provider, &v->wr, okey, sizeof okey);
    CHECK(n < sizeof okey && (n == 0 || (okey[n] == '\0' && strlen(okey) == n)));
}

/* Independent of json_depth_within: the deepest array/object nesting of a body that
 * starts (after whitespace) with '{' or '[', strings read as strings; 0 otherwise. */
static size_t json_nesting(const uint8_t *s, size_t len)
{
    size_t i = 0, depth = 0, deepest = 0;
    while (i < len && strchr(" \t\r\n", s[i]) && s[i])
        i++;
    if (i == len || (s[i] != '{' && s[i] != '['))
        return 0;
    for (bool in_string = false; i < len; i++) {
        if (in_string) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_string = false;
        } else if (s[i] == '"') {
            in_string = true;
        } else if (s[i] == '{' || s[i] == '[') {
            if (++depth > deepest)
                deepest = depth;
        } else if ((s[i] == '}' || s[i] == ']') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

static void check_answer(const struct request_verdict *v, const uint8_t *body, size_t body_len)
{
    CHECK(v->status == 401 || v->status == 404 || v->status == 405 || v->status == 413 || v->status == 503 ||
          (v->status == 400 && json_nesting(body, body_len) > JSON_NESTING_MAX));
    CHECK(v->json);
    json_t *j = json_loads(v->json, 0, NULL);
    CHECK(json_is_object(j));
    json_decref(j);
}

/* Splits the next '\n'-terminated field off [*p, end); NULL when there is none. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return NULL;
    char *s = strndup((const char *)*p, (size_t)(nl - *p));
    *p = nl + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        log_init("fuzz", "error", "text");
        g_common.public_url = PUBLIC_URL;
        init = true;
    }
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    char *method = field(&p, end), *path = field(&p, end), *uri = field(&p, end);
    struct http_header headers[32];
    char *lines[32];
    size_t nh = 0;
    while (method && path && uri && nh < 32) {
        char *line = field(&p, end);
        if (!line || !line[0]) {
            free(line);
            break;
        }
        char *colon = strchr(line, ':');
        if (!colon) {
            free(line);
            continue;
        }
        *colon = '\0';
        headers[nh] = (struct http_header){line, colon + 1 + (colon[1] == ' ')};
        lines[nh++] = line;
    }
    if (!method || !path || !uri)
        goto out;

    struct lookup_answer resolved;
    memset(&resolved, 0, sizeof resolved);
    static const enum lookup_status answers[] = {LOOKUP_FOUND, LOOKUP_UNKNOWN, LOOKUP_UNAVAILABLE, LOOKUP_BUSY};
    resolved.status = answers[(flags >> F_RESOLVED_SHIFT) & 3];
    char env[ID_LEN + 1] = "", key[IDENT_INTEGRATION_KEY_MAX_LEN + 1] = "";
    bool valid = request_target(path, env, key) == 0;
    CHECK(valid == target_ok(path));
    const struct row *row = valid ? find_row(env, key) : NULL;
    if (resolved.status == LOOKUP_FOUND) {
        if (row)
            fill(&resolved.entry, row);
        else
            resolved.status = LOOKUP_UNKNOWN; /* the resolver says what the database holds */
    }
    const unsigned char *body = p < end ? p : NULL;
    struct request_view view = {
        .method = method,
        .path = path,
        .uri = uri,
        .headers = headers,
        .nheaders = nh,
        .body = body,
        .body_len = (size_t)(end - p),
        .too_large = flags & F_TOO_LARGE,
        .over_budget = flags & F_OVER_BUDGET,
        .resolved = (flags & F_RESOLVED) ? &resolved : NULL,
    };
    struct request_verdict *v = malloc(sizeof *v);
    CHECK(v);
    lookups = 0;
    request_decide(&view, v);

    bool method_ok = strcmp(method, "POST") == 0 || strcmp(method, "GET") == 0;
    if (!valid) {
        CHECK(v->action == REQUEST_ANSWER && v->status == 404 && lookups == 0);
    } else if (!method_ok) {
        CHECK(v->action == REQUEST_ANSWER && v->status == 405 && lookups == 0);
    } else if (view.too_large) {
        CHECK(v->action == REQUEST_ANSWER && v->status == 413 && lookups == 0);
    } else if (view.over_budget) {
        CHECK(v->action == REQUEST_ANSWER && v->status == 503 && lookups == 0);
    } else if (view.resolved) {
        CHECK(lookups == 0 && v->action != REQUEST_RESOLVE);
        if (resolved.status == LOOKUP_UNKNOWN)
            CHECK(v->action == REQUEST_ANSWER && v->status == 404);
        if (resolved.status == LOOKUP_UNAVAILABLE || resolved.status == LOOKUP_BUSY)
            CHECK(v->action == REQUEST_ANSWER && v->status == 503);
    } else {
        CHECK(lookups == 1);
        CHECK((v->action == REQUEST_RESOLVE) == (strcmp(key, "miss") == 0));
        if (strcmp(key, "down") == 0)
            CHECK(v->action == REQUEST_ANSWER && v->status == 503);
        else if (!row && strcmp(key, "miss") != 0)
            CHECK(v->action == REQUEST_ANSWER && v->status == 404);
    }
    CHECK(!v->webhook_id[0] || id_is_uuid(v->webhook_id));
    bool refused = v->action == REQUEST_ANSWER || (v->action == REQUEST_HANDSHAKE && v->hs.status >= 400);
    CHECK(refused ? v->refusal > REFUSAL_NONE && v->refusal < REFUSED_N : v->refusal == REFUSAL_NONE);
    switch (v->action) {
    case REQUEST_ANSWER:
        check_answer(v, body, view.body_len);
        break;
    case REQUEST_HANDSHAKE:
        CHECK(row && v->hs.status >= 200 && v->hs.status <= 599);
        CHECK(memchr(v->hs.content_type, '\0', sizeof v->hs.content_type));
        CHECK(v->hs.body || v->hs.body_len == 0);
        break;
    case REQUEST_STORE:
        CHECK(row && !row->unreadable && v->provider && id_is_uuid(v->webhook_id));
        CHECK(v->verified || row->allow_unverified || strcmp(row->provider, "unauthenticated") == 0 ||
              strcmp(row->provider, "notion") == 0);
        CHECK(v->wr.body_len == view.body_len && (!body || v->wr.body == body) && v->wr.path == path);
        CHECK(strncmp(v->wr.url, PUBLIC_URL, strlen(PUBLIC_URL)) == 0);
        CHECK(strncmp(v->wr.url + strlen(PUBLIC_URL), uri, strlen(v->wr.url) - strlen(PUBLIC_URL)) == 0);
        CHECK(json_nesting(body, view.body_len) <= JSON_NESTING_MAX);
        produce_stub(v);
        break;
    case REQUEST_RESOLVE:
        CHECK(!v->webhook_id[0] && id_is_uuid(v->env) && ident_is_integration_key(v->key));
        break;
    }
    request_verdict_clear(v);
    CHECK(v->hs.body == NULL);
    free(v);
out:
    for (size_t i = 0; i < nh; i++)
        free(lines[i]);
    free(method);
    free(path);
    free(uri);
    return 0;
}
