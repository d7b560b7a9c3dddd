/*
 * test_providers: the provider interface (providers/provider.h).
 *
 * Data-driven part: every folder tests/providers/<provider>/<case>/ (or under
 * $HOOKLINE_TEST_DATA) is one test. request.json describes the request:
 *   {"method", "url" (its query is req->query), "headers": {name: value},
 *    "body_file": "body.json" | "body": "...", "now": unix seconds,
 *    "secrets": {"webhook_secret", "client_secret", "previous_webhook_secret",
 *                "previous_client_secret", "verify_config": "..." | {...}},
 *    "remote_keys": [{"url", "post" (optional), "file"}]: documents the provider's
 *    published keys are, as if fetched (common/remote_keys.h; nothing is fetched in
 *    unit tests: a key not listed is a remote-key failure)}
 * and expect.json what the provider must say about it:
 *   {"verdict": "valid|invalid|missing|no_secret|unsupported", "why": "substring",
 *    "ordering_key": "" (none) | "...", "event_type": first group's event type,
 *    "event_id": the provider's event id (provider_event_id; "" none), when given,
 *    "groups": [{"key", "value", "source": "connection_config|metadata|connection_id",
 *                "match": "value|key|origin" (default "value"),
 *                "alternatives": [{"key", "value", "source", "match"}] (default none),
 *                "event_type", "payload_file"}]   payload defaults to the body
 *    | "attribution_error": "substring",
 *    "handshake": {"status", "content_type", "body" | "body_contains", "store",
 *                  "headers": {name: value}, "why": "substring"}}
 *    without "handshake" the request must not be one.
 * A rejection must say why it was rejected, so that a request refused for another
 * reason than the case means fails: a verdict other than valid (or unsupported) needs
 * "why", a handshake answered 400 or more needs "handshake.why" (the case fails
 * without them).
 * Every provider needs cases: "valid" (or "any-body" when it cannot sign), and when it
 * verifies "tampered-body", "wrong-secret", "missing-header"; "expired-timestamp" when
 * its scheme has a timestamp; a handshake case when it has handshakes; a case with
 * several groups when it batches.
 * Fixed part: table lookups, header lookup, signing round trips and edge cases.
 * Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json_depth.h"
#include "common/remote_keys.h"
#include "providers/provider.h"
#include "providers/provider_impl.h"

#define NOW 1700000000
#define MAX_HEADERS 32

/* ---- helpers ------------------------------------------------------------------ */

static void free_header(struct http_header *h)
{
    free((void *)(uintptr_t)h->name);
    free((void *)(uintptr_t)h->value);
}

/* Reads dir/name whole. Returns a new NUL-terminated buffer (caller frees). */
static unsigned char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

static const char *opt_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A request built from request.json; strings are borrowed from json. */
struct loaded {
    json_t *json;
    struct http_header headers[MAX_HEADERS];
    unsigned char *body;
    struct webhook_request req;
    struct provider_secrets secrets;
    char *verify_config; /* owned: an object in request.json, dumped */
};

static void load_request(const char *dir, struct loaded *l)
{
    memset(l, 0, sizeof *l);
    l->json = load_json(dir, "request.json");
    l->req.method = opt_string(l->json, "method");
    l->req.url = opt_string(l->json, "url");
    const char *q = l->req.url ? strchr(l->req.url, '?') : NULL;
    l->req.path = "";
    l->req.query = q ? q + 1 : "";
    l->req.now = (time_t)json_integer_value(json_object_get(l->json, "now"));

    const char *name;
    json_t *value;
    json_object_foreach(json_object_get(l->json, "headers"), name, value)
    {
        assert_true(l->req.nheaders < MAX_HEADERS);
        l->headers[l->req.nheaders].name = name;
        l->headers[l->req.nheaders++].value = json_string_value(value);
    }
    l->req.headers = l->headers;

    const char *body_file = opt_string(l->json, "body_file");
    if (body_file) {
        l->body = slurp(dir, body_file, &l->req.body_len);
    } else {
        const char *text = opt_string(l->json, "body");
        assert_non_null(text);
        l->body = (unsigned char *)strdup(text);
        l->req.body_len = strlen(text);
    }
    l->req.body = l->body;

    json_t *secrets = json_object_get(l->json, "secrets");
    l->secrets.webhook_secret = opt_string(secrets, "webhook_secret");
    l->secrets.client_secret = opt_string(secrets, "client_secret");
    l->secrets.previous_webhook_secret = opt_string(secrets, "previous_webhook_secret");
    l->secrets.previous_client_secret = opt_string(secrets, "previous_client_secret");
    json_t *cfg = json_object_get(secrets, "verify_config");
    l->verify_config = json_is_object(cfg) ? json_dumps(cfg, JSON_COMPACT) : NULL;
    l->secrets.verify_config = l->verify_config ? l->verify_config : json_string_value(cfg);

    size_t i;
    json_t *doc;
    json_array_foreach(json_object_get(l->json, "remote_keys"), i, doc)
    {
        size_t len;
        unsigned char *text = slurp(dir, opt_string(doc, "file"), &len);
        assert_int_equal(
            remote_keys_put(opt_string(doc, "url"), opt_string(doc, "post"), (const char *)text, len, 3600), 0);
        free(text);
    }
}

static void unload_request(struct loaded *l)
{
    remote_keys_stop(); /* drops the documents the case stored */
    free(l->verify_config);
    free(l->body);
    json_decref(l->json);
}

static enum verify_result verdict_of(const char *text)
{
    static const char *const names[] = {"valid", "invalid", "missing", "no_secret", "unsupported"};
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i]) == 0)
            return (enum verify_result)i;
    fail_msg("unknown verdict \"%s\" in expect.json", text ? text : "(null)");
    return VERIFY_INVALID;
}

/* Equal strings, where NULL only equals NULL. */
static void assert_same(const char *what, const char *got, const char *want)
{
    if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
        fail_msg("%s: got \"%s\", want \"%s\"", what, got ? got : "(null)", want ? want : "(null)");
}

/* ---- the data-driven cases ---------------------------------------------------- */

struct tcase {
    char provider[256];
    char dir[4096 + 512];
};

static void check_why_is_clean(const struct loaded *l, const char *why)
{
    const char *secrets[] = {l->secrets.webhook_secret, l->secrets.client_secret, l->secrets.previous_webhook_secret,
                             l->secrets.previous_client_secret};
    for (size_t i = 0; i < 4; i++)
        if (secrets[i] && secrets[i][0] && strstr(why, secrets[i]))
            fail_msg("the reason \"%s\" leaks a secret", why);
    for (size_t i = 0; i < l->req.nheaders; i++) {
        const char *v = l->headers[i].value;
        if (v && strlen(v) >= 16 && strstr(why, v))
            fail_msg("the reason \"%s\" repeats a header value", why);
    }
}

static void check_verify(const struct tcase *tc, const struct provider *p, const struct loaded *l, const json_t *expect)
{
    char why[256];
    enum verify_result want = verdict_of(opt_string(expect, "verdict"));
    enum verify_result got = provider_verify(p, &l->req, &l->secrets, why, sizeof why);
    if (got != want)
        fail_msg("%s: verdict %d, want %d (why: %s)", tc->dir, (int)got, (int)want, why);
    assert_int_equal(provider_verify(p, &l->req, &l->secrets, NULL, 0), want);
    const char *why_want = opt_string(expect, "why");
    if (!why_want && want != VERIFY_VALID && want != VERIFY_UNSUPPORTED)
        fail_msg(
            "%s: a rejected request needs the reason it is rejected for (\"why\" in expect.json); "
            "it got \"%s\"",
            tc->dir, why);
    if (why_want && !strstr(why, why_want))
        fail_msg("%s: why \"%s\" lacks \"%s\"", tc->dir, why, why_want);
    check_why_is_clean(l, why);
}

static void check_ordering_key(const struct provider *p, const struct loaded *l, const json_t *expect)
{
    const char *want = opt_string(expect, "ordering_key");
    assert_non_null(want);
    char key[128];
    size_t n = provider_ordering_key(p, &l->req, key, sizeof key);
    assert_int_equal(n, strlen(want));
    assert_string_equal(key, want);
}

static void check_event_id(const struct provider *p, const struct loaded *l, const json_t *expect)
{
    const char *want = opt_string(expect, "event_id");
    if (!want)
        return;
    char id[256];
    size_t n = provider_event_id(p, &l->req, id, sizeof id);
    assert_int_equal(n, strlen(want));
    if (n)
        assert_string_equal(id, want);
}

static const char *const source_names[] = {"connection_config", "metadata", "connection_id"};

/* want: "value" (the default), "key" or "origin" (enum attribution_match). */
static void check_match(const char *what, enum attribution_match got, const char *want)
{
    static const char *const names[] = {"value", "key", "origin"};
    assert_true((size_t)got < 3);
    if (strcmp(names[got], want ? want : "value") != 0)
        fail_msg("%s: %s, want %s", what, names[got], want ? want : "value");
}

/* The group's alternatives, in order: "alternatives" in expect.json, [] when absent. */
static void check_alternatives(const struct tcase *tc, const struct attribution_group *g, const json_t *want)
{
    size_t n = json_array_size(want);
    if (g->nalts != n) {
        char got[2048] = "";
        static const char *const match_names[] = {"value", "key", "origin"};
        for (size_t i = 0, o = 0; i < g->nalts && o < sizeof got; i++) {
            const struct attribution_key *k = &g->alts[i];
            int w = snprintf(got + o, sizeof got - o,
                             "%s{\"key\": \"%s\", \"value\": \"%s\", \"source\": \"%s\"%s%s%s}", i ? ", " : "",
                             k->config_key, k->value, source_names[k->source % 3], k->match ? ", \"match\": \"" : "",
                             k->match ? match_names[k->match % 3] : "", k->match ? "\"" : "");
            o += w > 0 ? (size_t)w : 0;
        }
        fail_msg("%s: %zu alternatives, want %zu (\"alternatives\" in expect.json); got [%s]", tc->dir, g->nalts, n,
                 got);
    }
    for (size_t i = 0; i < n; i++) {
        const struct attribution_key *k = &g->alts[i];
        const json_t *w = json_array_get(want, i);
        assert_same("alternative key", k->config_key, opt_string(w, "key"));
        assert_same("alternative value", k->value, opt_string(w, "value"));
        assert_true((size_t)k->source < 3);
        assert_string_equal(source_names[k->source], opt_string(w, "source"));
        check_match("alternative match", k->match, opt_string(w, "match"));
    }
}

static void check_group(const struct tcase *tc, const struct loaded *l, const struct attribution_group *g,
                        const json_t *want)
{
    assert_same("config_key", g->config_key, opt_string(want, "key"));
    assert_same("value", g->value, opt_string(want, "value"));
    const char *source = opt_string(want, "source");
    if (source) {
        assert_true((size_t)g->source < 3);
        assert_string_equal(source_names[g->source], source);
    }
    check_match("match", g->match, opt_string(want, "match"));
    check_alternatives(tc, g, json_object_get(want, "alternatives"));
    if (json_object_get(want, "event_type"))
        assert_same("event_type", g->event_type, opt_string(want, "event_type"));

    const char *payload_file = opt_string(want, "payload_file");
    size_t len = l->req.body_len;
    unsigned char *file = payload_file ? slurp(tc->dir, payload_file, &len) : NULL;
    const void *bytes = file ? (const void *)file : (const void *)l->req.body;
    assert_non_null(g->payload);
    if (g->payload_len != len || memcmp(g->payload, bytes, len) != 0)
        fail_msg("%s: payload\n  got  %.*s\n  want %.*s", tc->dir, (int)g->payload_len, g->payload, (int)len,
                 (const char *)bytes);
    assert_int_equal(g->payload[g->payload_len], '\0');
    free(file);
}

static void check_attribution(const struct tcase *tc, const struct provider *p, const struct loaded *l,
                              const json_t *expect)
{
    struct attribution a = {(struct attribution_group *)(uintptr_t)1, 99};
    char err[256];
    int rc = provider_attribute(p, &l->req, &a, err, sizeof err);
    const char *err_want = opt_string(expect, "attribution_error");
    if (err_want) {
        if (rc != -1 || !strstr(err, err_want))
            fail_msg("%s: attribution rc %d err \"%s\", want -1 with \"%s\"", tc->dir, rc, err, err_want);
        assert_null(a.groups);
        assert_int_equal(a.n, 0);
        return;
    }
    const json_t *groups = json_object_get(expect, "groups");
    assert_non_null(groups);
    if (rc != 0)
        fail_msg("%s: attribution failed: %s", tc->dir, err);
    assert_int_equal(a.n, json_array_size(groups));
    for (size_t i = 0; i < a.n; i++)
        check_group(tc, l, &a.groups[i], json_array_get(groups, i));
    if (json_object_get(expect, "event_type"))
        assert_same("event_type", a.groups[0].event_type, opt_string(expect, "event_type"));
    attribution_free(&a);
    assert_null(a.groups);
}

/* Each expected header is among the answer's, with that value. */
static void check_handshake_headers(const struct tcase *tc, const struct handshake_answer *a, const json_t *want)
{
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)(uintptr_t)want, name, value)
    {
        const char *got = NULL;
        for (size_t i = 0; i < HANDSHAKE_MAX_HEADERS && a->headers[i].name; i++)
            if (strcasecmp(a->headers[i].name, name) == 0)
                got = a->headers[i].value;
        if (!got || strcmp(got, json_string_value(value)) != 0)
            fail_msg("%s: handshake header %s: got \"%s\", want \"%s\"", tc->dir, name, got ? got : "(none)",
                     json_string_value(value));
    }
}

static void check_handshake(const struct tcase *tc, const struct provider *p, const struct loaded *l,
                            const json_t *expect)
{
    struct handshake_answer a = {.status = 999};
    const json_t *want = json_object_get(expect, "handshake");
    int rc = provider_handshake(p, &l->req, &l->secrets, &a);
    if (!want) {
        if (rc != 0)
            fail_msg("%s: unexpected handshake answer %u", tc->dir, a.status);
        assert_int_equal(a.status, 999);
        return;
    }
    if (rc != 1)
        fail_msg("%s: not answered as a handshake (rc %d)", tc->dir, rc);
    assert_int_equal(a.status, json_integer_value(json_object_get(want, "status")));
    if (json_object_get(want, "content_type"))
        assert_string_equal(a.content_type, opt_string(want, "content_type"));
    assert_int_equal(a.store, json_is_true(json_object_get(want, "store")));
    const char *body = opt_string(want, "body"), *contains = opt_string(want, "body_contains");
    if (body && (a.body_len != strlen(body) || memcmp(a.body, body, a.body_len) != 0))
        fail_msg("%s: handshake body\n  got  %.*s\n  want %s", tc->dir, (int)a.body_len, a.body ? a.body : "", body);
    if (contains && (!a.body || !strstr(a.body, contains)))
        fail_msg("%s: handshake body lacks %s", tc->dir, contains);
    if (json_is_null(json_object_get(want, "body")) && a.body_len != 0)
        fail_msg("%s: handshake body should be empty", tc->dir);
    check_handshake_headers(tc, &a, json_object_get(want, "headers"));
    const char *why = opt_string(want, "why");
    if (a.status >= 400 && !why)
        fail_msg(
            "%s: a refused handshake needs the reason it is refused for (\"handshake.why\"); it got "
            "\"%s\"",
            tc->dir, a.why);
    if (why ? !strstr(a.why, why) : a.why[0] != '\0')
        fail_msg("%s: handshake why \"%s\", want \"%s\"", tc->dir, a.why, why ? why : "");
    free(a.body);
}

static void run_case(void **state)
{
    const struct tcase *tc = *state;
    const struct provider *p = provider_find(tc->provider);
    if (!p)
        fail_msg("no provider \"%s\" for %s", tc->provider, tc->dir);
    struct loaded l;
    load_request(tc->dir, &l);
    json_t *expect = load_json(tc->dir, "expect.json");

    check_verify(tc, p, &l, expect);
    check_ordering_key(p, &l, expect);
    check_event_id(p, &l, expect);
    check_attribution(tc, p, &l, expect);
    check_handshake(tc, p, &l, expect);

    json_decref(expect);
    unload_request(&l);
}

static const char *data_root(void)
{
    const char *env = getenv("HOOKLINE_TEST_DATA");
    return env && env[0] ? env : "tests/providers";
}

static int is_entry(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Appends one test per case folder to *tests. Returns the number of cases. */
static size_t collect_cases(struct CMUnitTest **tests)
{
    struct dirent **providers = NULL, **cases = NULL;
    size_t n = 0;
    int np = scandir(data_root(), &providers, is_entry, alphasort);
    if (np < 0) {
        fprintf(stderr, "cannot read %s (run from the repository root or set HOOKLINE_TEST_DATA)\n", data_root());
        return 0;
    }
    for (int i = 0; i < np; i++) {
        char pdir[4096];
        snprintf(pdir, sizeof pdir, "%s/%s", data_root(), providers[i]->d_name);
        int nc = scandir(pdir, &cases, is_entry, alphasort);
        for (int j = 0; j < nc; j++) {
            struct tcase *tc = calloc(1, sizeof *tc);
            char *name = malloc(512);
            *tests = realloc(*tests, (n + 1) * sizeof **tests);
            if (!tc || !name || !*tests)
                abort();
            snprintf(tc->provider, sizeof tc->provider, "%s", providers[i]->d_name);
            snprintf(tc->dir, sizeof tc->dir, "%s/%s", pdir, cases[j]->d_name);
            snprintf(name, 512, "%s/%s", providers[i]->d_name, cases[j]->d_name);
            (*tests)[n++] = (struct CMUnitTest){name, run_case, NULL, NULL, tc};
            free(cases[j]);
        }
        free(cases);
        free(providers[i]);
    }
    free(providers);
    return n;
}

/* ---- fixed tests -------------------------------------------------------------- */

static void test_table(void **state)
{
    (void)state;
    const struct provider *gh = provider_find("github-app"), *hs = provider_find("hubspot");
    const struct provider *none = provider_find("unauthenticated");
    assert_non_null(gh);
    assert_non_null(hs);
    assert_non_null(none);
    assert_null(provider_find("nope"));
    assert_null(provider_find(NULL));
    assert_null(provider_find("GitHub-App"));
    assert_string_equal(provider_name(gh), "github-app");
    assert_string_equal(provider_attribution_key(gh), "installation_id");
    assert_string_equal(provider_attribution_key(hs), "portalId");
    assert_string_equal(provider_attribution_key(none), "connectionId");
    assert_string_equal(provider_secret_field(gh), "webhook_secret");
    assert_string_equal(provider_secret_field(hs), "client_secret");
    assert_null(provider_secret_field(none));
    assert_string_equal(provider_secret_field(provider_find("outlook")), "webhook_secret");

    size_t n = 0;
    for (const struct provider *p; (p = provider_at(n)); n++) {
        assert_ptr_equal(provider_find(provider_name(p)), p);
        assert_true(strlen(provider_scheme(p)) > 0);
        assert_true(!p->handshake == !p->handshakes);
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(provider_name(provider_at(j)), provider_name(p));
    }
    assert_true(n >= 29);
    assert_null(provider_at(n));
    assert_null(provider_at(SIZE_MAX));
}

/* An alias resolves to its row; it never shadows a row nor repeats. */
static void test_aliases(void **state)
{
    (void)state;
    assert_ptr_equal(provider_find("google-ads"), provider_find("google"));
    assert_ptr_equal(provider_find("cal-com-v2"), provider_find("cal-com"));
    assert_ptr_equal(provider_find("zoom-cc"), provider_find("zoom"));
    assert_string_equal(provider_name(provider_find("gitlab-pat")), "gitlab");
    assert_string_equal(provider_alias_row("microsoft-intune"), "microsoft-oauth2-cc");
    assert_null(provider_alias_row("google"));
    assert_null(provider_find("google-ad"));

    const char *alias, *row;
    size_t n = 0;
    for (; (alias = provider_alias_at(n, &row)) != NULL; n++) {
        const struct provider *p = provider_find(alias);
        if (!p)
            fail_msg("alias %s maps onto %s, which is no row", alias, row);
        assert_string_equal(provider_name(p), row);
        for (size_t i = 0; provider_at(i); i++)
            if (strcmp(provider_name(provider_at(i)), alias) == 0)
                fail_msg("alias %s shadows a row of the same name", alias);
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(provider_alias_at(j, NULL), alias);
    }
    assert_true(n >= 29);
    assert_null(provider_alias_at(SIZE_MAX, &row));
}

/* Nango's routed keys are 75 distinct names; every one resolves here but those another
 * branch adds (they count as missing in `hookline providers` until it is merged). */
static void test_nango_keys(void **state)
{
    (void)state;
    size_t n = 0;
    for (const char *key; (key = provider_nango_key_at(n)) != NULL; n++) {
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(provider_nango_key_at(j), key);
        if (!provider_find(key))
            fail_msg("Nango key %s has no provider", key);
    }
    assert_int_equal(n, 75);
}

static bool has_timestamp(const struct provider *p)
{
    bool ts = false;
    for (size_t i = 0; i < PROVIDER_MAX_SCHEMES; i++)
        ts |= p->sigs[i].ts_header || p->sigs[i].list.ts_tag || p->sigs[i].ts_path;
    return ts;
}

static bool verifies(const struct provider *p)
{
    return p->sigs[0].header || p->verify;
}

static bool case_exists(const char *pdir, const char *name)
{
    char dir[4096 + 256];
    snprintf(dir, sizeof dir, "%s/%s", pdir, name);
    DIR *d = opendir(dir);
    if (d)
        closedir(d);
    return d != NULL;
}

/* Whether some case of the provider expects a handshake / several groups. */
static void scan_expectations(const char *pdir, bool *handshake, bool *batch)
{
    struct dirent **cases = NULL;
    int nc = scandir(pdir, &cases, is_entry, alphasort);
    *handshake = *batch = false;
    for (int j = 0; j < nc; j++) {
        char dir[4096 + 256];
        snprintf(dir, sizeof dir, "%s/%s", pdir, cases[j]->d_name);
        json_t *e = load_json(dir, "expect.json");
        *handshake |= json_object_get(e, "handshake") != NULL;
        *batch |= json_array_size(json_object_get(e, "groups")) > 1;
        json_decref(e);
        free(cases[j]);
    }
    free(cases);
}

/* Every provider in the table has the cases its features call for. */
static void test_every_provider_has_cases(void **state)
{
    (void)state;
    for (size_t i = 0; provider_at(i); i++) {
        const struct provider *p = provider_at(i);
        char pdir[4096];
        snprintf(pdir, sizeof pdir, "%s/%s", data_root(), provider_name(p));
        const char *need[] = {verifies(p) ? "valid" : "any-body", verifies(p) ? "tampered-body" : NULL,
                              verifies(p) ? "wrong-secret" : NULL, verifies(p) ? "missing-header" : NULL,
                              has_timestamp(p) ? "expired-timestamp" : NULL};
        for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
            if (need[k] && !case_exists(pdir, need[k]))
                fail_msg("provider %s has no case %s/%s", provider_name(p), pdir, need[k]);
        bool handshake, batch;
        scan_expectations(pdir, &handshake, &batch);
        if (p->handshake && !handshake)
            fail_msg("provider %s has handshakes but no case expects one", provider_name(p));
        if (p->attr.batch && !batch)
            fail_msg("provider %s batches but no case has several groups", provider_name(p));
    }
}

static void test_header_lookup(void **state)
{
    (void)state;
    struct http_header h[] = {{"Content-Type", "a"}, {"X-Thing", "first"}, {"x-thing", "second"}};
    struct webhook_request req = {.headers = h, .nheaders = 3};
    assert_string_equal(webhook_header(&req, "content-type"), "a");
    assert_string_equal(webhook_header(&req, "X-THING"), "first");
    assert_null(webhook_header(&req, "X-Thin"));
    assert_null(webhook_header(&req, "X-Things"));
    req.nheaders = 0;
    assert_null(webhook_header(&req, "Content-Type"));
}

/* Signs body for p, then checks it verifies, that a changed body does not, and that
 * an hour later only timestamped schemes refuse it. Returns false if p cannot sign. */
static bool round_trip(const struct provider *p, const char *url, const char *body, const struct provider_secrets *s,
                       const struct provider_secrets *check)
{
    struct http_header h[8];
    const char *q = strchr(url, '?');
    struct webhook_request req = {.method = "POST",
                                  .url = url,
                                  .path = "",
                                  .query = q ? q + 1 : "",
                                  .body = (const unsigned char *)body,
                                  .body_len = strlen(body),
                                  .now = NOW};
    int n = provider_sign(p, &req, s, h, 8);
    if (n < 0)
        return false;
    req.headers = h;
    req.nheaders = (size_t)n;
    char why[256];
    if (provider_verify(p, &req, check, why, sizeof why) != VERIFY_VALID)
        fail_msg("%s: a signed request does not verify: %s", provider_name(p), why);

    req.body = (const unsigned char *)"{\"tampered\":1}";
    req.body_len = strlen((const char *)req.body);
    if (p->sigs[0].kind != SIG_TOKEN)
        assert_int_equal(provider_verify(p, &req, check, why, sizeof why), VERIFY_INVALID);
    req.body = (const unsigned char *)body;
    req.body_len = strlen(body);
    req.now += 3600;
    enum verify_result later = provider_verify(p, &req, check, why, sizeof why);
    bool stamped = (has_timestamp(p) && !p->sigs[0].ts_path) || p->verify == generic_hmac_verify;
    assert_int_equal(later, stamped ? VERIFY_INVALID : VERIFY_VALID);
    for (int i = 0; i < n; i++)
        free_header(&h[i]);
    return true;
}

#define GENERIC_CONFIG                                                                                                 \
    "{\"header\":\"X-Sig\",\"algorithm\":\"sha512\",\"encoding\":\"base64\",\"prefix\":\"v1=\","                       \
    "\"template\":\"{timestamp}:{method}:{url}:{header:X-Id}:{body}\",\"timestamp_header\":\"X-Ts\"}"

/* Every provider that can sign, signed by provider_sign, verifies. */
static void test_sign_round_trip(void **state)
{
    (void)state;
    struct provider_secrets s = {.webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                 .client_secret = "a-client-secret",
                                 .verify_config = GENERIC_CONFIG};
    /* Some providers' secrets are base64 (Airtable): the same key without whsec_. */
    struct provider_secrets b64 = s;
    b64.webhook_secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *body = "{\"portalId\":1,\"installation\":{\"id\":1},\"events\":[],\"value\":[]}";
    size_t signed_by = 0;
    for (size_t i = 0; provider_at(i); i++) {
        const struct provider *p = provider_at(i);
        const char *url = "https://h.example/webhook/e/k?u=a%3Ab%2Fc%25d&v=%7E";
        bool ok = round_trip(p, url, body, &s, &s) || round_trip(p, url, body, &b64, &b64);
        signed_by += ok;
        if (!ok && p->sigs[0].header && p->sigs[0].kind != SIG_ED25519)
            fail_msg("%s verifies signatures but cannot make one", provider_name(p));
    }
    assert_true(signed_by >= 25);
    round_trip(provider_find("hubspot"), "https://h.example/webhook/e/hs", "[]", &s, &s);
    round_trip(provider_find("github-app"), "", "", &s, &s);
}

/* Rotation: a request signed with the previous secret still verifies. */
static void test_rotation(void **state)
{
    (void)state;
    struct provider_secrets old = {.webhook_secret = "old-secret", .client_secret = "old-client"};
    struct provider_secrets now = {.webhook_secret = "new-secret",
                                   .client_secret = "new-client",
                                   .previous_webhook_secret = "old-secret",
                                   .previous_client_secret = "old-client"};
    struct provider_secrets gone = {.webhook_secret = "new-secret", .client_secret = "new-client"};
    const char *names[] = {"github-app", "hubspot", "slack", "stripe", "gitlab", "google-drive", "zoom"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct http_header h[8];
        struct webhook_request req = {.method = "POST",
                                      .url = "https://h.example/w",
                                      .query = "",
                                      .body = (const unsigned char *)"{}",
                                      .body_len = 2,
                                      .now = NOW};
        int n = provider_sign(provider_find(names[i]), &req, &old, h, 8);
        assert_true(n > 0);
        req.headers = h;
        req.nheaders = (size_t)n;
        assert_int_equal(provider_verify(provider_find(names[i]), &req, &now, NULL, 0), VERIFY_VALID);
        assert_int_equal(provider_verify(provider_find(names[i]), &req, &gone, NULL, 0), VERIFY_INVALID);
        for (int k = 0; k < n; k++)
            free_header(&h[k]);
    }
}

/* Standard Webhooks v1a: signed with the private key, verified with the public one. */
static void test_ed25519_round_trip(void **state)
{
    (void)state;
    /* RFC 8032 test 1: the seed and its public key. */
    struct provider_secrets priv = {.webhook_secret = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="};
    struct provider_secrets pub = {.webhook_secret = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
    const struct provider *p = provider_find("standard-webhooks");
    assert_true(round_trip(p, "https://h.example/w", "{\"type\":\"a.b\"}", &priv, &pub));
    /* The private key is no verification key, the public one cannot sign. */
    struct http_header h[8];
    struct webhook_request req = {
        .method = "POST", .url = "u", .query = "", .body = (const unsigned char *)"{}", .body_len = 2, .now = NOW};
    assert_int_equal(provider_sign(p, &req, &pub, h, 8), -1);
    int n = provider_sign(p, &req, &priv, h, 8);
    assert_true(n > 0);
    req.headers = h;
    req.nheaders = (size_t)n;
    char why[128];
    assert_int_equal(provider_verify(p, &req, &priv, why, sizeof why), VERIFY_INVALID);
    assert_non_null(strstr(why, "is not a key"));
    for (int k = 0; k < n; k++)
        free_header(&h[k]);
}

/* Signatures against values computed independently (GitHub's docs; python hmac). */
static void test_sign_known_values(void **state)
{
    (void)state;
    struct http_header h[2];
    struct provider_secrets s = {.webhook_secret = "It's a Secret to Everybody",
                                 .client_secret = "hs-client-secret-1a2b3c"};
    struct webhook_request req = {
        .method = "POST", .body = (const unsigned char *)"Hello, World!", .body_len = 13, .now = NOW};
    assert_int_equal(provider_sign(provider_find("github-app"), &req, &s, h, 2), 1);
    assert_string_equal(h[0].name, "X-Hub-Signature-256");
    assert_string_equal(h[0].value, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    free_header(&h[0]);

    req.url = "https://h.example/hs?r=x%3Ay%2Fz%20";
    req.body = (const unsigned char *)"[{\"portalId\":62515}]";
    req.body_len = strlen((const char *)req.body);
    assert_int_equal(provider_sign(provider_find("hubspot"), &req, &s, h, 2), 2);
    assert_string_equal(h[0].name, "X-HubSpot-Signature-v3");
    assert_string_equal(h[0].value, "RFmCbEn33clPOSRi3Vrq2P/1OSQbuDJUKZ9Tx7psHEY=");
    assert_string_equal(h[1].name, "X-HubSpot-Request-Timestamp");
    assert_string_equal(h[1].value, "1700000000000");
    free_header(&h[0]);
    free_header(&h[1]);
}

/* A row's schemes come in order of preference: the preferred ones, then the legacy
 * ones (signature.c checks the first the request carries), and a legacy scheme always
 * has a preferred one to be measured against. */
static void test_legacy_rows(void **state)
{
    (void)state;
    size_t rows_with_legacy = 0;
    for (size_t i = 0; provider_at(i); i++) {
        const struct provider *p = provider_at(i);
        size_t preferred = 0, legacy = 0;
        for (size_t k = 0; k < PROVIDER_MAX_SCHEMES && p->sigs[k].header; k++) {
            if (!p->sigs[k].legacy && legacy)
                fail_msg("%s: a preferred scheme (%s) after a legacy one", provider_name(p), p->sigs[k].header);
            preferred += !p->sigs[k].legacy;
            legacy += p->sigs[k].legacy;
        }
        if (legacy && !preferred)
            fail_msg("%s: legacy schemes only", provider_name(p));
        rows_with_legacy += legacy > 0;
    }
    assert_int_equal(rows_with_legacy, 3); /* hubspot, github, gitlab: docs/providers.md */
}

static void free_headers(struct http_header *h, int n)
{
    for (int i = 0; i < n; i++)
        free_header(&h[i]);
}

/* Signs req with scheme spec alone into h + *n. */
static void sign_with(const struct sig_spec *spec, const struct webhook_request *req, const struct provider_secrets *s,
                      struct http_header *h, int *n)
{
    int got = signature_sign_specs(spec, 1, req, s, h + *n, (size_t)(MAX_HEADERS - *n));
    assert_true(got > 0);
    *n += got;
}

/* A request that carries only a row's legacy scheme is refused unless the integration
 * allows it; next to a wrong preferred signature it is refused even then. */
static void test_no_downgrade(void **state)
{
    (void)state;
    static const struct {
        const char *provider, *secret;
    } rows[] = {{"hubspot", "hs-client-secret-1a2b3c"},
                {"github", "gh-webhook-secret-9f8e7d"},
                {"gitlab", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct provider *p = provider_find(rows[i].provider);
        struct provider_secrets s = {.webhook_secret = rows[i].secret, .client_secret = rows[i].secret};
        struct provider_secrets allowed = s, other = {.webhook_secret = "whsec_b3RoZXI=", .client_secret = "other"};
        allowed.verify_config = "{\"allow_legacy_signature\": true}";
        const struct sig_spec *legacy = &p->sigs[1], *preferred = &p->sigs[0];
        while (legacy < p->sigs + PROVIDER_MAX_SCHEMES - 1 && !legacy->legacy) /* gitlab: webhook-*, svix-*, token */
            legacy++;
        assert_true(legacy->legacy && !preferred->legacy);
        struct http_header h[MAX_HEADERS];
        int n = 0;
        char why[256];
        struct webhook_request req = {.method = "POST",
                                      .url = "https://h.example/w",
                                      .query = "",
                                      .headers = h,
                                      .body = (const unsigned char *)"[{\"a\":1}]",
                                      .body_len = 9,
                                      .now = NOW};
        sign_with(legacy, &req, &s, h, &n);
        req.nheaders = (size_t)n;
        assert_int_equal(provider_verify(p, &req, &s, why, sizeof why), VERIFY_MISSING);
        if (!strstr(why, preferred->header) || !strstr(why, "alone is refused"))
            fail_msg("%s: legacy alone refused for \"%s\"", provider_name(p), why);
        assert_int_equal(provider_verify(p, &req, &allowed, why, sizeof why), VERIFY_VALID);

        int legacy_n = n;
        sign_with(preferred, &req, &other, h, &n); /* a preferred signature with another key */
        req.nheaders = (size_t)n;
        assert_int_equal(provider_verify(p, &req, &allowed, why, sizeof why), VERIFY_INVALID);
        if (!strstr(why, preferred->header) || !strstr(why, "does not match"))
            fail_msg("%s: a wrong preferred signature refused for \"%s\"", provider_name(p), why);

        free_headers(h + legacy_n, n - legacy_n);
        req.nheaders = (size_t)(n = legacy_n);
        sign_with(preferred, &req, &s, h, &n); /* both right: the preferred one is checked */
        req.nheaders = (size_t)n;
        assert_int_equal(provider_verify(p, &req, &s, why, sizeof why), VERIFY_VALID);
        assert_non_null(strstr(why, preferred->header));
        free_headers(h, n);
    }
}

/* What the CLI checks before it stores an integration's verify_config. */
static void test_check_verify_config(void **state)
{
    (void)state;
    const struct provider *gh = provider_find("github"), *generic = provider_find("generic-hmac");
    char why[256];
    assert_int_equal(provider_check_verify_config(gh, NULL, why, sizeof why), 0);
    assert_int_equal(provider_check_verify_config(gh, "{\"allow_legacy_signature\":false}", why, sizeof why), 0);
    assert_int_equal(provider_check_verify_config(gh, "{\"allow_legacy_signatures\":true}", why, sizeof why), -1);
    assert_non_null(strstr(why, "unknown key"));
    assert_int_equal(provider_check_verify_config(gh, "{\"allow_legacy_signature\":1}", why, sizeof why), -1);
    assert_non_null(strstr(why, "must be true or false"));
    assert_int_equal(provider_check_verify_config(gh, "[]", why, sizeof why), -1);
    assert_int_equal(provider_check_verify_config(generic, "{\"header\":\"X-Sig\"}", why, sizeof why), 0);
    assert_int_equal(provider_check_verify_config(generic, "{\"allow_legacy_signature\":true}", why, sizeof why), -1);
    assert_int_equal(provider_check_verify_config(generic, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "no verify_config"));
    /* The signed providers' own settings (strings), for their provider only. */
    const struct provider *gmail = provider_find("google-mail"), *plaid = provider_find("plaid");
    assert_int_equal(provider_check_verify_config(gmail, "{\"audience\":\"a\",\"email\":\"e\"}", why, sizeof why), 0);
    assert_int_equal(provider_check_verify_config(gmail, "{\"audience\":1}", why, sizeof why), -1);
    assert_non_null(strstr(why, "must be a string"));
    assert_int_equal(provider_check_verify_config(gmail, "{\"client_id\":\"c\"}", why, sizeof why), -1);
    assert_non_null(strstr(why, "unknown key"));
    assert_int_equal(provider_check_verify_config(plaid, "{\"client_id\":\"c\"}", why, sizeof why), 0);
    assert_int_equal(provider_check_verify_config(gh, "{\"audience\":\"a\"}", why, sizeof why), -1);
    /* While verifying, a key hookline does not know is ignored (it cannot loosen anything). */
    struct provider_secrets s = {.webhook_secret = "w", .verify_config = "{\"unknown\":1}"};
    struct http_header h[] = {{"X-Hub-Signature", "sha1=0000000000000000000000000000000000000000"}};
    struct webhook_request req = {
        .method = "POST", .headers = h, .nheaders = 1, .body = (const unsigned char *)"{}", .body_len = 2};
    assert_int_equal(provider_verify(gh, &req, &s, why, sizeof why), VERIFY_MISSING);
    assert_non_null(strstr(why, "alone is refused"));
}

static void test_sign_refusals(void **state)
{
    (void)state;
    struct http_header h[2];
    struct provider_secrets s = {.webhook_secret = "w", .client_secret = "c"},
                            empty = {.webhook_secret = "", .client_secret = NULL};
    struct webhook_request req = {.method = "POST", .url = "u", .body = (const unsigned char *)"{}", .body_len = 2};
    assert_int_equal(provider_sign(provider_find("unauthenticated"), &req, &s, h, 2), -1);
    assert_int_equal(provider_sign(provider_find("github-app"), &req, &empty, h, 2), -1);
    assert_int_equal(provider_sign(provider_find("github-app"), &req, NULL, h, 2), -1);
    assert_int_equal(provider_sign(provider_find("hubspot"), &req, &empty, h, 2), -1);
    assert_int_equal(provider_sign(provider_find("hubspot"), &req, &s, h, 1), -1);
    assert_int_equal(provider_sign(provider_find("github-app"), &req, &s, h, 0), -1);
}

static void test_verify_edges(void **state)
{
    (void)state;
    struct http_header h[] = {{"X-Hub-Signature-256", "sha256="}};
    struct webhook_request req = {.method = "POST", .headers = h, .nheaders = 1};
    struct provider_secrets s = {.webhook_secret = "w", .client_secret = "c"};
    char why[8];
    /* NULL body, a tiny why buffer, no secrets struct at all. */
    assert_int_equal(provider_verify(provider_find("github-app"), &req, &s, why, sizeof why), VERIFY_INVALID);
    assert_true(strlen(why) < sizeof why);
    assert_int_equal(provider_verify(provider_find("github-app"), &req, NULL, why, sizeof why), VERIFY_NO_SECRET);
    assert_int_equal(provider_verify(provider_find("unauthenticated"), &req, &s, NULL, 0), VERIFY_UNSUPPORTED);
    h[0].value = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384";
    assert_int_equal(provider_verify(provider_find("github-app"), &req, &s, NULL, 0), VERIFY_INVALID);
}

static void test_ordering_key_buffer(void **state)
{
    (void)state;
    const char *body = "[{\"portalId\":62515},{\"portalId\":1}]";
    struct webhook_request req = {.body = (const unsigned char *)body, .body_len = strlen(body)};
    char out[6];
    const struct provider *hs = provider_find("hubspot");
    assert_int_equal(provider_ordering_key(hs, &req, out, 6), 5);
    assert_string_equal(out, "62515");
    assert_int_equal(provider_ordering_key(hs, &req, out, 5), 0);
    assert_string_equal(out, "");
    assert_int_equal(provider_ordering_key(hs, &req, out, 0), 0);
    req.body_len = 10; /* truncated: not JSON */
    assert_int_equal(provider_ordering_key(hs, &req, out, sizeof out), 0);
    req.body = NULL;
    req.body_len = 0;
    assert_int_equal(provider_ordering_key(hs, &req, out, sizeof out), 0);
    assert_int_equal(provider_ordering_key(provider_find("unauthenticated"), &req, out, sizeof out), 0);
}

static void test_attribute_empty_body(void **state)
{
    (void)state;
    struct webhook_request req = {.method = "POST"};
    struct attribution a;
    char err[128];
    assert_int_equal(provider_attribute(provider_find("hubspot"), &req, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "not valid JSON"));
    assert_int_equal(provider_attribute(provider_find("github-app"), &req, &a, NULL, 0), -1);
    assert_int_equal(provider_attribute(provider_find("unauthenticated"), &req, &a, err, sizeof err), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.groups[0].payload_len, 0);
    assert_null(a.groups[0].config_key);
    attribution_free(&a);
    attribution_free(&a);
    attribution_free(NULL);
}

static void test_attribute_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 100000, len = 0;
    char *body = malloc(2 * depth + 32);
    assert_non_null(body);
    len += (size_t)sprintf(body, "[{\"portalId\":1,\"x\":");
    memset(body + len, '[', depth);
    memset(body + len + depth, ']', depth);
    len += 2 * depth;
    memcpy(body + len, "}]", 2);
    len += 2;
    struct webhook_request req = {.body = (const unsigned char *)body, .body_len = len};
    struct attribution a;
    char err[128];
    assert_int_equal(provider_attribute(provider_find("hubspot"), &req, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested deeper"));
    free(body);
}

/* The router reads what the ingress lets in: JSON_NESTING_MAX levels parse, one more
 * does not (common/json_depth.h). */
static void test_attribute_nesting_limit(void **state)
{
    (void)state;
    for (size_t depth = JSON_NESTING_MAX - 2; depth <= JSON_NESTING_MAX - 1; depth++) {
        size_t len = 0;
        char *body = malloc(2 * depth + 32);
        assert_non_null(body);
        len += (size_t)sprintf(body, "[{\"portalId\":1,\"x\":"); /* 2 levels */
        memset(body + len, '[', depth);
        memset(body + len + depth, ']', depth);
        len += 2 * depth;
        memcpy(body + len, "}]", 2);
        len += 2;
        struct webhook_request req = {.body = (const unsigned char *)body, .body_len = len};
        struct attribution a = {0};
        char err[128] = "";
        int rc = provider_attribute(provider_find("hubspot"), &req, &a, err, sizeof err);
        assert_int_equal(rc, depth + 2 <= JSON_NESTING_MAX ? 0 : -1);
        assert_int_equal(json_depth_within(body, len, JSON_NESTING_MAX), depth + 2 <= JSON_NESTING_MAX);
        if (rc == 0)
            assert_string_equal(a.groups[0].value, "1");
        attribution_free(&a);
        free(body);
    }
}

/* 20,000 events over 1,000 portals: groups in order of first appearance, 20 each. */
static void test_attribute_large_batch(void **state)
{
    (void)state;
    size_t nev = 20000, nportals = 1000, cap = nev * 64, len = 0;
    char *body = malloc(cap);
    assert_non_null(body);
    body[len++] = '[';
    for (size_t i = 0; i < nev; i++)
        len += (size_t)snprintf(body + len, cap - len, "%s{\"portalId\":%zu,\"eventId\":%zu}", i ? "," : "",
                                1000000 + (i * 7) % nportals, i);
    body[len++] = ']';
    struct webhook_request req = {.body = (const unsigned char *)body, .body_len = len};
    struct attribution a;
    assert_int_equal(provider_attribute(provider_find("hubspot"), &req, &a, NULL, 0), 0);
    assert_int_equal(a.n, nportals);
    for (size_t g = 0; g < a.n; g++) {
        char want[32];
        snprintf(want, sizeof want, "%zu", 1000000 + (g * 7) % nportals);
        assert_string_equal(a.groups[g].value, want);
        json_t *arr = json_loadb(a.groups[g].payload, a.groups[g].payload_len, 0, NULL);
        assert_non_null(arr);
        assert_int_equal(json_array_size(arr), nev / nportals);
        for (size_t i = 0; i < json_array_size(arr); i++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, i), "portalId")),
                             (json_int_t)strtoll(want, NULL, 10));
        json_decref(arr);
    }
    attribution_free(&a);
    free(body);
}

/* A URL's origin as ATTR_MATCH_ORIGIN compares it. The same vectors give the same
 * answers from db/migrations/009_lookups.sql's hookline_url_origin (checked against
 * PostgreSQL when the function was written): the two sides must agree. */
static void test_url_origin(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"https://acme.atlassian.net", "https://acme.atlassian.net"},
        {"https://Acme.atlassian.net:443/jira/", "https://acme.atlassian.net"},
        {"HTTPS://User@Acme.Atlassian.net:443/rest", "https://acme.atlassian.net"},
        {"http://h:80", "http://h"},
        {"http://h:8080/x", "http://h:8080"},
        {"http://[::1]:80/x", "http://[::1]"},
        {"acme.atlassian.net/rest", NULL},
        {"https://", NULL},
        {"https://a]b", NULL},
        {"https://user:pw@acme.atlassian.net:8443", "https://acme.atlassian.net:8443"},
        {"http://h:/x", "http://h:"},
        {"ftp://h?q", "ftp://h"},
        {"https://h#f", "https://h"},
        {"https://h:12a", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = attribution_url_origin(cases[i][0], strlen(cases[i][0]));
        if (cases[i][1] ? !got || strcmp(got, cases[i][1]) != 0 : got != NULL)
            fail_msg("origin of %s: %s, want %s", cases[i][0], got ? got : "(none)",
                     cases[i][1] ? cases[i][1] : "(none)");
        free(got);
    }
}

int main(void)
{
    struct CMUnitTest *cases = NULL;
    size_t ncases = collect_cases(&cases);
    int failed = 0;
    if (ncases < 40) {
        fprintf(stderr, "only %zu provider cases found under %s\n", ncases, data_root());
        failed++;
    }
    if (ncases)
        failed += _cmocka_run_group_tests("provider cases", cases, ncases, NULL, NULL);
    for (size_t i = 0; i < ncases; i++) {
        free((void *)(uintptr_t)cases[i].name);
        free(cases[i].initial_state);
    }
    free(cases);

    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_nango_keys),
        cmocka_unit_test(test_url_origin),
        cmocka_unit_test(test_every_provider_has_cases),
        cmocka_unit_test(test_header_lookup),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_ed25519_round_trip),
        cmocka_unit_test(test_sign_known_values),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_legacy_rows),
        cmocka_unit_test(test_no_downgrade),
        cmocka_unit_test(test_check_verify_config),
        cmocka_unit_test(test_verify_edges),
        cmocka_unit_test(test_ordering_key_buffer),
        cmocka_unit_test(test_attribute_empty_body),
        cmocka_unit_test(test_attribute_deep_nesting),
        cmocka_unit_test(test_attribute_nesting_limit),
        cmocka_unit_test(test_attribute_large_batch),
    };
    failed += cmocka_run_group_tests_name("provider interface", fixed, NULL, NULL);
    return failed ? 1 : 0;
}
