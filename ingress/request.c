/* request: what the ingress answers a whole request, decided without MHD or Kafka so
 * that tests/fuzz/fuzz_ingress.c can drive it with a stub lookup. Identifiers are
 * checked before anything is looked up: a URL that cannot name an integration is a
 * 404 that never reaches the database (PostgreSQL refuses bytes that are not UTF-8,
 * and a stranger's request must not count as the database being down). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/ident.h"
#include "common/ids.h"
#include "common/json_depth.h"
#include "common/log.h"
#include "ingress/ingress.h"

#define WEBHOOK_PREFIX "/webhook/"

int request_target(const char *path, char env[ID_LEN + 1], char key[IDENT_INTEGRATION_KEY_MAX_LEN + 1])
{
    size_t plen = strlen(WEBHOOK_PREFIX);
    if (strncmp(path, WEBHOOK_PREFIX, plen) != 0)
        return -1;
    const char *e = path + plen;
    const char *slash = strchr(e, '/');
    if (!slash || slash - e != ID_LEN)
        return -1;
    memcpy(env, e, ID_LEN);
    env[ID_LEN] = '\0';
    const char *k = slash + 1;
    size_t klen = strlen(k);
    if (klen && k[klen - 1] == '/') /* tolerate a trailing slash */
        klen--;
    if (klen == 0 || klen > IDENT_INTEGRATION_KEY_MAX_LEN)
        return -1;
    memcpy(key, k, klen);
    key[klen] = '\0';
    return id_is_uuid(env) && ident_is_integration_key(key) ? 0 : -1;
}

static void answer(struct request_verdict *out, unsigned status, const char *json, enum refusal why)
{
    out->action = REQUEST_ANSWER;
    out->status = status;
    out->json = json;
    out->refusal = why;
}

/* A JSON body nested deeper than the router's parser reads (common/json_depth.h) is
 * refused here: answered 200, it could never be attributed. A body that does not start
 * like JSON is not scanned (most providers send JSON; forms and text are left alone). */
static bool body_too_deep(const struct webhook_request *wr)
{
    return json_depth_looks_json(wr->body, wr->body_len) &&
           !json_depth_within(wr->body, wr->body_len, JSON_NESTING_MAX);
}

/* The integration is known: answer a handshake, verify, then store. */
static void decide_known(const struct integration_entry *integ, struct request_verdict *out)
{
    const struct webhook_request *wr = &out->wr;
    const char *env = out->env, *key = out->key, *wid = out->webhook_id;
    const struct provider *p = provider_find(integ->provider);
    if (!p) {
        log_error(wid, "integration %s/%s names unknown provider '%s'", env, key, integ->provider);
        return answer(out, MHD_HTTP_NOT_FOUND, "{\"error\":\"integration has an unknown provider\"}",
                      REFUSED_MISCONFIGURED);
    }
    struct provider_secrets secrets = {
        .webhook_secret = integ->webhook_secret,
        .client_secret = integ->client_secret,
        .previous_webhook_secret = integ->previous_webhook_secret,
        .previous_client_secret = integ->previous_client_secret,
        .verify_config = integ->verify_config[0] ? integ->verify_config : NULL,
    };
    if (body_too_deep(wr)) {
        log_warn(wid, "400: %s/%s (%s): JSON body nested deeper than %d", env, key, integ->provider, JSON_NESTING_MAX);
        return answer(out, MHD_HTTP_BAD_REQUEST,
                      "{\"error\":\"JSON body nested deeper than " JSON_NESTING_MAX_TEXT " arrays and objects\"}",
                      REFUSED_TOO_DEEP);
    }
    out->provider = p;
    snprintf(out->provider_key, sizeof out->provider_key, "%s", integ->provider);
    int hs = provider_handshake(p, wr, &secrets, &out->hs);
    if (hs < 0)
        return answer(out, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"out of memory\"}", REFUSED_INTERNAL);
    if (hs > 0 && !out->hs.store) {
        out->refusal = out->hs.status >= 400 ? REFUSED_HANDSHAKE : REFUSAL_NONE;
        log_info(wid, "handshake of %s/%s (%s) answered %u%s%s", env, key, integ->provider, out->hs.status,
                 out->hs.why[0] ? ": " : "", out->hs.why);
        out->action = REQUEST_HANDSHAKE;
        return;
    }
    request_verdict_clear(out);
    if (hs > 0) { /* a handshake that the app must also see (e.g. a verification token) */
        log_info(wid, "handshake of %s/%s (%s) stored for the app", env, key, integ->provider);
        out->action = REQUEST_STORE;
        out->verified = false;
        return;
    }
    if (strcmp(wr->method, "POST") != 0)
        return answer(out, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method not allowed\"}", REFUSED_METHOD);
    if (integ->secrets_unreadable) {
        log_error(wid, "503: the secrets of %s/%s cannot be decrypted (HOOKLINE_ENCRYPTION_KEY?)", env, key);
        return answer(out, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"integration misconfigured\"}",
                      REFUSED_MISCONFIGURED);
    }
    char why[200] = "";
    enum verify_result v = provider_verify(p, wr, &secrets, why, sizeof why);
    /* Unverified webhooks pass only where the operator opted in: by choosing the
     * unauthenticated provider, or by allowing them on an integration that has no secret
     * or whose provider signs nothing (affinity, streak). */
    bool unverified_ok = (v == VERIFY_UNSUPPORTED && (provider_unverified_by_choice(p) || integ->allow_unverified)) ||
                         (v == VERIFY_NO_SECRET && integ->allow_unverified);
    if (v == VERIFY_UNSUPPORTED && !unverified_ok) {
        log_warn(wid, "401: %s/%s (%s) signs nothing and the integration does not allow unverified webhooks", env, key,
                 integ->provider);
        return answer(out, MHD_HTTP_UNAUTHORIZED,
                      "{\"error\":\"this provider does not sign its webhooks: the integration must allow unverified "
                      "webhooks (integration update --allow-unverified true)\"}",
                      REFUSED_UNSIGNED_NOT_ALLOWED);
    }
    if (v != VERIFY_VALID && !unverified_ok) {
        log_warn(wid, "401: %s/%s (%s): %s", env, key, integ->provider, why[0] ? why : "invalid signature");
        return answer(out, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"invalid or missing signature\"}",
                      REFUSED_BAD_SIGNATURE);
    }
    out->action = REQUEST_STORE;
    out->verified = v == VERIFY_VALID;
}

/* The integration as the cache or the resolver knows it; false when out is answered. */
static bool known_integration(const struct request_view *v, struct request_verdict *out,
                              struct integration_entry *integ)
{
    enum lookup_status st;
    if (v->resolved) {
        st = v->resolved->status;
        if (st == LOOKUP_FOUND)
            *integ = v->resolved->entry;
    } else {
        st = lookup_cached(out->env, out->key, integ);
    }
    switch (st) {
    case LOOKUP_FOUND:
        return true;
    case LOOKUP_MISS:
    case LOOKUP_FENCE:
        out->action = REQUEST_RESOLVE;
        out->fence = st == LOOKUP_FENCE;
        return false;
    case LOOKUP_UNAVAILABLE:
        answer(out, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"configuration store unavailable\"}",
               REFUSED_STORE_UNAVAILABLE);
        return false;
    case LOOKUP_BUSY:
        answer(out, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"busy, retry later\"}", REFUSED_BUSY);
        return false;
    case LOOKUP_UNKNOWN:
    default:
        log_info(NULL, "404: unknown integration %s/%s", out->env, out->key);
        answer(out, MHD_HTTP_NOT_FOUND, "{\"error\":\"unknown environment or integration\"}", REFUSED_UNKNOWN_TARGET);
        return false;
    }
}

void request_decide(const struct request_view *v, struct request_verdict *out)
{
    memset(out, 0, sizeof *out);
    if (request_target(v->path, out->env, out->key) < 0)
        return answer(out, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}", REFUSED_UNKNOWN_TARGET);
    if (strcmp(v->method, "POST") != 0 && strcmp(v->method, "GET") != 0)
        return answer(out, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method not allowed\"}", REFUSED_METHOD);
    if (v->too_large) {
        log_warn(NULL, "413: body over %ld bytes for %s/%s", g_ingress.max_body, out->env, out->key);
        return answer(out, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}", REFUSED_BODY_TOO_LARGE);
    }
    if (v->over_budget) {
        log_warn(NULL, "503: request bodies in memory reached HOOKLINE_INGRESS_MAX_BUFFERED_BYTES (%s/%s)", out->env,
                 out->key);
        return answer(out, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"busy, retry later\"}", REFUSED_BUSY);
    }
    struct integration_entry integ;
    if (!known_integration(v, out, &integ))
        return;
    if (id_new(out->webhook_id) < 0)
        return answer(out, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"no randomness\"}", REFUSED_INTERNAL);
    const char *q = strchr(v->uri, '?');
    snprintf(out->url, sizeof out->url, "%s%s", g_common.public_url, v->uri);
    out->wr = (struct webhook_request){
        .method = v->method,
        .url = out->url,
        .path = v->path,
        .query = q ? q + 1 : "",
        .headers = v->headers,
        .nheaders = v->nheaders,
        .body = v->body ? v->body : (const unsigned char *)"",
        .body_len = v->body_len,
        .now = time(NULL),
    };
    decide_known(&integ, out);
    explicit_bzero(&integ, sizeof integ);
}

void request_verdict_clear(struct request_verdict *out)
{
    free(out->hs.body);
    out->hs.body = NULL;
    out->hs.body_len = 0;
}
