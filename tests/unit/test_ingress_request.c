/* Unit tests of the ingress's decision (ingress/request.c's request_decide): each kind
 * of refusal it can make carries its own reason (hookline_ingress_refused_total's
 * label), decided with the answer; what it stores, resolves or answers 2xx carries
 * none. The integration comes from the view's resolver answer; the cache is a stub that
 * knows nothing. No MHD, Kafka or database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_depth.h"
#include "ingress/ingress.h"

struct ingress_config g_ingress = {.max_body = 1048576}; /* main.c's, which is not linked here */

#define TARGET "/webhook/0f0e0d0c-0b0a-4908-8706-050403020100/"

/* The cache behind request.c: nothing is cached, so a request without a resolver's
 * answer is sent to the resolver. */
enum lookup_status lookup_cached(const char *env_id, const char *key, struct integration_entry *entry)
{
    (void)env_id;
    (void)key;
    (void)entry;
    return LOOKUP_MISS;
}

/* The integration as the resolver answered (status LOOKUP_FOUND when provider is set). */
struct row {
    enum lookup_status status;
    const char *provider, *webhook_secret;
    bool allow_unverified, unreadable;
};

struct request_case {
    const char *name;
    const char *method, *uri, *body; /* uri: the raw target; the path is it without the query */
    const char *signature;           /* X-Hub-Signature-256, if any */
    bool too_large, over_budget, unresolved;
    struct row row;
    enum request_action action;
    unsigned status; /* REQUEST_ANSWER, REQUEST_HANDSHAKE */
    enum refusal refusal;
};

static char deep[JSON_NESTING_MAX + 2]; /* one array deeper than the router reads */

static void decide(const struct request_case *c, struct request_verdict *out)
{
    char path[512];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(c->uri, "?"), c->uri);
    struct lookup_answer resolved = {.status = c->row.status};
    if (c->row.provider) {
        resolved.status = LOOKUP_FOUND;
        resolved.entry = (struct integration_entry){
            .found = true, .allow_unverified = c->row.allow_unverified, .secrets_unreadable = c->row.unreadable};
        snprintf(resolved.entry.provider, sizeof resolved.entry.provider, "%s", c->row.provider);
        snprintf(resolved.entry.webhook_secret, sizeof resolved.entry.webhook_secret, "%s",
                 c->row.webhook_secret ? c->row.webhook_secret : "");
    }
    const char *body = c->body ? c->body : "";
    const struct http_header sig = {"X-Hub-Signature-256", c->signature};
    struct request_view v = {
        .method = c->method,
        .path = path,
        .uri = c->uri,
        .headers = &sig,
        .nheaders = c->signature ? 1 : 0,
        .body = (const unsigned char *)body,
        .body_len = strlen(body),
        .too_large = c->too_large,
        .over_budget = c->over_budget,
        .resolved = c->unresolved ? NULL : &resolved,
    };
    request_decide(&v, out);
}

static const struct row GITHUB = {.provider = "github-app", .webhook_secret = "gh-webhook-secret-9f8e7d"};

static const struct request_case cases[] = {
    /* Refusals, one reason each. */
    {"path naming nothing", "POST", "/webhook/not-a-uuid/github", "{}", .row = GITHUB, .action = REQUEST_ANSWER,
     .status = 404, .refusal = REFUSED_UNKNOWN_TARGET},
    {"unknown integration", "POST", TARGET "github", "{}", .row = {.status = LOOKUP_UNKNOWN}, .action = REQUEST_ANSWER,
     .status = 404, .refusal = REFUSED_UNKNOWN_TARGET},
    {"method nobody accepts", "PUT", TARGET "github", "{}", .row = GITHUB, .action = REQUEST_ANSWER, .status = 405,
     .refusal = REFUSED_METHOD},
    {"GET that is no handshake", "GET", TARGET "github", NULL, .row = GITHUB, .action = REQUEST_ANSWER, .status = 405,
     .refusal = REFUSED_METHOD},
    {"body over max_body", "POST", TARGET "github", NULL, .too_large = true, .row = GITHUB, .action = REQUEST_ANSWER,
     .status = 413, .refusal = REFUSED_BODY_TOO_LARGE},
    {"body memory full", "POST", TARGET "github", "{}", .over_budget = true, .row = GITHUB, .action = REQUEST_ANSWER,
     .status = 503, .refusal = REFUSED_BUSY},
    {"lookup queue full", "POST", TARGET "github", "{}", .row = {.status = LOOKUP_BUSY}, .action = REQUEST_ANSWER,
     .status = 503, .refusal = REFUSED_BUSY},
    {"store unavailable (or a fence without an answer)", "POST", TARGET "github", "{}",
     .row = {.status = LOOKUP_UNAVAILABLE}, .action = REQUEST_ANSWER, .status = 503,
     .refusal = REFUSED_STORE_UNAVAILABLE},
    {"unknown provider", "POST", TARGET "github", "{}", .row = {.provider = "no-such-provider"},
     .action = REQUEST_ANSWER, .status = 404, .refusal = REFUSED_MISCONFIGURED},
    {"undecryptable secrets", "POST", TARGET "github", "{}",
     .row = {.provider = "github-app", .webhook_secret = "x", .unreadable = true}, .action = REQUEST_ANSWER,
     .status = 503, .refusal = REFUSED_MISCONFIGURED},
    {"too deep", "POST", TARGET "github", deep, .row = GITHUB, .action = REQUEST_ANSWER, .status = 400,
     .refusal = REFUSED_TOO_DEEP},
    {"missing signature", "POST", TARGET "github", "{}", .row = GITHUB, .action = REQUEST_ANSWER, .status = 401,
     .refusal = REFUSED_BAD_SIGNATURE},
    {"forged signature", "POST", TARGET "github", "{}",
     "sha256=0000000000000000000000000000000000000000000000000000000000000000", .row = GITHUB, .action = REQUEST_ANSWER,
     .status = 401, .refusal = REFUSED_BAD_SIGNATURE},
    {"no secret, unverified not allowed", "POST", TARGET "github", "{}", .row = {.provider = "github-app"},
     .action = REQUEST_ANSWER, .status = 401, .refusal = REFUSED_BAD_SIGNATURE},
    {"provider signing nothing, unverified not allowed", "POST", TARGET "affinity", "{}",
     .row = {.provider = "affinity"}, .action = REQUEST_ANSWER, .status = 401, .refusal = REFUSED_UNSIGNED_NOT_ALLOWED},
    {"handshake refused", "GET", TARGET "graph?validationToken=a%01b", NULL,
     .row = {.provider = "microsoft-oauth2-cc", .webhook_secret = "x"}, .action = REQUEST_HANDSHAKE, .status = 400,
     .refusal = REFUSED_HANDSHAKE},
    /* Not refused: no reason. */
    {"handshake answered", "GET", TARGET "graph?validationToken=abc", NULL,
     .row = {.provider = "microsoft-oauth2-cc", .webhook_secret = "x"}, .action = REQUEST_HANDSHAKE, .status = 200,
     .refusal = REFUSAL_NONE},
    {"not cached", "POST", TARGET "github", "{}", .unresolved = true, .action = REQUEST_RESOLVE,
     .refusal = REFUSAL_NONE},
    {"stored unverified by choice", "POST", TARGET "anyone", "{}", .row = {.provider = "unauthenticated"},
     .action = REQUEST_STORE, .refusal = REFUSAL_NONE},
    {"stored unverified where allowed", "POST", TARGET "affinity", "{}",
     .row = {.provider = "affinity", .allow_unverified = true}, .action = REQUEST_STORE, .refusal = REFUSAL_NONE},
};

static void every_decision_carries_its_reason(void **state)
{
    (void)state;
    memset(deep, '[', sizeof deep - 1);
    g_common.public_url = "https://hooks.example.com";
    struct request_verdict *v = malloc(sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct request_case *c = &cases[i];
        decide(c, v);
        print_message("%s: action %d, status %u, refusal %d\n", c->name, v->action,
                      v->action == REQUEST_HANDSHAKE ? v->hs.status : v->status, v->refusal);
        assert_int_equal(v->action, c->action);
        if (c->action == REQUEST_ANSWER)
            assert_int_equal(v->status, c->status);
        if (c->action == REQUEST_HANDSHAKE)
            assert_int_equal(v->hs.status, c->status);
        assert_int_equal(v->refusal, c->refusal);
        /* An answer is always a refusal; a handshake is one when it is a 4xx or 5xx. */
        if (v->action == REQUEST_ANSWER)
            assert_true(v->status >= 400 && v->refusal != REFUSAL_NONE);
        if (v->action == REQUEST_HANDSHAKE)
            assert_int_equal(v->hs.status >= 400, v->refusal != REFUSAL_NONE);
        request_verdict_clear(v);
    }
    free(v);
}

/* Every reason request_decide can give has a case above, but REFUSED_INTERNAL (no memory
 * or no randomness, which nothing here can cause); draining and Kafka's are http.c's. */
static void the_cases_cover_every_reason_request_decide_gives(void **state)
{
    (void)state;
    static const enum refusal decided_here[] = {
        REFUSED_UNKNOWN_TARGET, REFUSED_BAD_SIGNATURE, REFUSED_UNSIGNED_NOT_ALLOWED,
        REFUSED_BODY_TOO_LARGE, REFUSED_TOO_DEEP,      REFUSED_METHOD,
        REFUSED_HANDSHAKE,      REFUSED_MISCONFIGURED, REFUSED_STORE_UNAVAILABLE,
        REFUSED_BUSY,
    };
    for (size_t r = 0; r < sizeof decided_here / sizeof decided_here[0]; r++) {
        bool seen = false;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            seen |= cases[i].refusal == decided_here[r];
        assert_true(seen);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_decision_carries_its_reason),
        cmocka_unit_test(the_cases_cover_every_reason_request_decide_gives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
