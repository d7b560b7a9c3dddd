/* routes: the /v1 handlers. A key sees only its environments: every statement filters
 * on the key's environment list ($1, NULL for an all-environments key), so another
 * environment's resource is simply not found (404, never 403: ids do not leak), and so
 * is a list of such an environment, by path or ?env= (api_env_visible). Rows
 * become JSON in SQL; secrets are written (encrypted, common/secretbox.h) and never
 * read back. Lists are paginated by db_page. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/ident.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/outbound.h"
#include "common/secretbox.h"
#include "common/store.h"
#include "providers/provider.h"
#include "providers/provider_info.h"

#define SCOPE(rq) ((rq)->key->all_envs ? NULL : (rq)->key->envs)
#define ENV_OK(col) "($1::uuid[] IS NULL OR " col " = ANY($1::uuid[]))"
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* ---- small helpers ------------------------------------------------------------------ */

static bool env_param_ok(struct api_response *rs, const char *env)
{
    if (id_is_uuid(env))
        return true;
    api_problem(rs, 404, "Not Found", "no such environment");
    return false;
}

static unsigned bad_request(struct api_response *rs, const char *what);

int api_env_visible(PGconn *db, const struct api_request *rq, struct api_response *rs, const char *env, bool path)
{
    if (!env && !path)
        return 0;
    if (!env || !id_is_uuid(env)) {
        if (path)
            api_problem(rs, 404, "Not Found", "no such environment");
        else
            bad_request(rs, "env must be an environment id");
        return -1;
    }
    const char *p[] = {SCOPE(rq), env};
    PGresult *res = db_query(db, rs, "SELECT 1 FROM environments e WHERE e.id = $2::uuid AND " ENV_OK("e.id"), 2, p);
    if (!res)
        return -1;
    bool found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        api_problem(rs, 404, "Not Found", "no such environment");
        return -1;
    }
    return 0;
}

/* The body as a JSON object (new reference), or NULL after filling rs (400). */
static json_t *body_object(const struct api_request *rq, struct api_response *rs)
{
    json_error_t err;
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        api_problem(rs, 400, "Bad Request", "the body must be a JSON object%s%s", v ? "" : ": ", v ? "" : err.text);
        return NULL;
    }
    return v;
}

/* A string member, NULL when absent or null; *bad set when present but not a string. */
static const char *str_member(json_t *o, const char *name, bool *bad)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* "true"/"false" for a boolean member, NULL when absent; *bad when not a boolean. */
static const char *bool_member(json_t *o, const char *name, bool *bad)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_boolean(v)) {
        *bad = true;
        return NULL;
    }
    return json_is_true(v) ? "true" : "false";
}

/* An optional URL member: absent or "" (removes the URL), else outbound_url_valid. */
static bool is_http_url(const char *s)
{
    return !s || !*s || outbound_url_valid(s);
}

static unsigned bad_request(struct api_response *rs, const char *what)
{
    return api_problem(rs, 400, "Bad Request", "%s", what);
}

/* Runs a write that must touch one row: 0 when it did, else rs holds the answer (the
 * database's problem, or 404 not_found when no row matched: absent, or another
 * environment's). */
static int write_one(PGconn *db, struct api_response *rs, const char *not_found, const char *sql, int n,
                     const char *const *params)
{
    PGresult *res = db_query(db, rs, sql, n, params);
    if (!res)
        return -1;
    bool one = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    if (!one) {
        api_problem(rs, 404, "Not Found", "%s", not_found);
        return -1;
    }
    return 0;
}

/* max_attempts (1..100) as text into out, left as it is when absent; *bad otherwise. */
static void attempts_member(json_t *o, char out[24], bool *bad)
{
    json_t *ma = json_object_get(o, "max_attempts");
    if (!ma || json_is_null(ma))
        return;
    if (!json_is_integer(ma) || json_integer_value(ma) < 1 || json_integer_value(ma) > 100)
        *bad = true;
    else
        snprintf(out, 24, "%lld", (long long)json_integer_value(ma));
}

/* The environment id as secretbox rows name it (lower case). */
static void env_lower(char out[40], const char *env)
{
    snprintf(out, 40, "%s", env);
    for (char *c = out; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
}

/* ---- environments -------------------------------------------------------------------- */

#define ENV_JSON                                                                                                       \
    "json_build_object('id', e.id, 'name', e.name, 'webhook_url', e.webhook_url, 'secondary_webhook_url',"             \
    " e.secondary_webhook_url, 'forward_mode', e.forward_mode, 'legacy_signature', e.legacy_signature,"                \
    " 'sync_notifications', e.sync_notifications, 'created_at', " TS("e.created_at") ", 'updated_at', " TS(            \
        "e.updated_at") ")"

static unsigned env_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *p[] = {SCOPE(rq)};
    return db_page(db, rq, rs,
                   "SELECT e.name AS _cursor, e.id, e.name, e.webhook_url, e.secondary_webhook_url, e.forward_mode,"
                   " e.legacy_signature, e.sync_notifications, " TS("e.created_at") " AS created_at, " TS(
                       "e.updated_at") " AS updated_at FROM environments e WHERE " ENV_OK("e.id"),
                   1, p, false);
}

static unsigned env_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    const char *p[] = {SCOPE(rq), rq->params[0]};
    return db_json(db, rs, 200, "no such environment",
                   "SELECT " ENV_JSON "::text FROM environments e WHERE e.id = $2::uuid AND " ENV_OK("e.id"), 2, p);
}

static unsigned env_patch(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s", rq->params[0]);
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *url = str_member(o, "webhook_url", &bad), *url2 = str_member(o, "secondary_webhook_url", &bad);
    const char *mode = str_member(o, "forward_mode", &bad), *legacy = bool_member(o, "legacy_signature", &bad);
    const char *notify = bool_member(o, "sync_notifications", &bad);
    if (bad || !is_http_url(url) || !is_http_url(url2) || (mode && strcmp(mode, "envelope") && strcmp(mode, "raw"))) {
        json_decref(o);
        return bad_request(rs,
                           "webhook_url and secondary_webhook_url must be http(s) URLs (\"\" removes one), "
                           "forward_mode envelope or raw, legacy_signature and sync_notifications booleans");
    }
    const char *p[] = {SCOPE(rq), rq->params[0], url, url2, mode, legacy, notify};
    unsigned st = db_json(db, rs, 200, "no such environment",
                          "UPDATE environments e SET webhook_url = nullif(coalesce($3, e.webhook_url), ''),"
                          " secondary_webhook_url = nullif(coalesce($4, e.secondary_webhook_url), ''),"
                          " forward_mode = coalesce($5, e.forward_mode),"
                          " legacy_signature = coalesce($6::boolean, e.legacy_signature),"
                          " sync_notifications = coalesce($7::boolean, e.sync_notifications), updated_at = now()"
                          " WHERE e.id = $2::uuid AND " ENV_OK("e.id") " RETURNING " ENV_JSON "::text",
                          7, p);
    json_decref(o);
    return st;
}

/* ---- integrations --------------------------------------------------------------------- */

#define INTEGRATION_COLS(url)                                                                                          \
    "i.key, i.provider, i.environment_id, " url                                                                        \
    " || '/webhook/' || i.environment_id || '/' || i.key AS webhook_url,"                                              \
    " i.webhook_secret IS NOT NULL AS has_webhook_secret, i.client_secret IS NOT NULL AS has_client_secret,"           \
    " i.allow_unverified, i.forward_enabled, i.verify_config, " TS("i.created_at") " AS created_at, " TS(              \
        "i.updated_at") " AS updated_at"

static unsigned integration_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (api_env_visible(db, rq, rs, rq->params[0], true) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq), rq->params[0], g_common.public_url};
    return db_page(
        db, rq, rs,
        "SELECT i.key AS _cursor, " INTEGRATION_COLS(
            "$3::text") " FROM integrations i WHERE i.environment_id = $2::uuid AND " ENV_OK("i.environment_id"),
        3, p, false);
}

static unsigned integration_one(PGconn *db, struct api_request *rq, struct api_response *rs, unsigned status)
{
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], g_common.public_url};
    return db_json(
        db, rs, status, "no such integration",
        "SELECT to_json(t)::text FROM (SELECT " INTEGRATION_COLS(
            "$4::text") " FROM integrations i WHERE i.environment_id = $2::uuid AND i.key = $3 AND " ENV_OK("i.environment_id") ") t",
        4, p);
}

static unsigned integration_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    return integration_one(db, rq, rs, 200);
}

static const struct secretbox *keyring;
static pthread_once_t keyring_once = PTHREAD_ONCE_INIT;

static void keyring_load(void)
{
    char err[256];
    struct secretbox *kr = NULL;
    if (secretbox_from_env(&kr, err, sizeof err) < 0)
        log_error(NULL, "%s", err);
    keyring = kr;
}

/* Encrypts plain for (column, row): a new string, or NULL after filling rs. */
static char *seal(struct api_response *rs, const char *plain, const char *column, const char *row)
{
    pthread_once(&keyring_once, keyring_load);
    if (!keyring) {
        api_problem(rs, 503, "Service Unavailable",
                    "HOOKLINE_ENCRYPTION_KEY is not set for hookline-api: secrets cannot be stored");
        return NULL;
    }
    char err[256];
    char *s = secretbox_encrypt(keyring, plain, column, row, err, sizeof err);
    if (!s)
        api_problem(rs, 400, "Bad Request", "the secret cannot be stored: %s", err);
    return s;
}

static bool secret_ok(const char *s)
{
    return !s || (*s && strlen(s) <= 4096 && ident_utf8_valid(s, strlen(s)));
}

/* POST /v1/environments: only for a write key of all environments (a key bound to
 * some environments could not see the new one). Like `hookline env create`, the new
 * signing key is returned once, here, in plain and whsec_ form; never again. */
static unsigned env_create(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!rq->key->all_envs)
        return api_problem(rs, 403, "Forbidden",
                           "only a key of all environments (api-key create --all) may create one");
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *name = str_member(o, "name", &bad), *url = str_member(o, "webhook_url", &bad);
    const char *url2 = str_member(o, "secondary_webhook_url", &bad), *mode = str_member(o, "forward_mode", &bad);
    const char *legacy = bool_member(o, "legacy_signature", &bad);
    snprintf(rq->target, sizeof rq->target, "environment %s", name ? name : "");
    unsigned st;
    char *sealed = NULL;
    unsigned char raw[32];
    char key[65], id[40], row[STORE_SECRET_ROW_MAX];
    if (bad || !name || !*name || strlen(name) > 200 || !ident_valid_str(name) || !url || !*url || !is_http_url(url) ||
        !is_http_url(url2) || (mode && strcmp(mode, "envelope") && strcmp(mode, "raw"))) {
        st = bad_request(rs,
                         "name (1 to 200 characters) and webhook_url (http/https) are required; "
                         "secondary_webhook_url an http(s) URL, forward_mode envelope or raw");
        goto out;
    }
    if (crypto_random(raw, sizeof raw) < 0) {
        st = api_problem(rs, 503, "Service Unavailable", "no randomness");
        goto out;
    }
    crypto_hex(raw, sizeof raw, key);
    explicit_bzero(raw, sizeof raw);
    /* The id is made first (gen_random_uuid, like the column's default) so that the key
     * can be sealed for its row before the row exists. */
    PGresult *res = db_query(db, rs, "SELECT gen_random_uuid()::text", 0, NULL);
    if (!res) {
        st = rs->status;
        goto out;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    store_secret_row_environment(row, id);
    if (!(sealed = seal(rs, key, STORE_COL_SIGNING_KEY, row))) {
        st = rs->status;
        goto out;
    }
    const char *p[] = {id, name, url, url2, sealed, mode, legacy};
    res = db_query(
        db, rs,
        "INSERT INTO environments AS e (id, name, webhook_url, secondary_webhook_url, signing_key, forward_mode,"
        " legacy_signature) VALUES ($1::uuid, $2, $3, nullif($4, ''), $5, coalesce($6, 'envelope'),"
        " coalesce($7::boolean, false)) RETURNING " ENV_JSON "::text",
        7, p);
    if (!res) {
        st = rs->status;
        goto out;
    }
    json_t *env = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    char whsec[8 + 4 * sizeof key / 3 + 8];
    memcpy(whsec, "whsec_", 6);
    crypto_base64((const unsigned char *)key, strlen(key), whsec + 6);
    if (env) {
        json_object_set_new(env, "signing_key", json_string(key));
        json_object_set_new(env, "signing_key_whsec", json_string(whsec));
    }
    explicit_bzero(key, sizeof key);
    explicit_bzero(whsec, sizeof whsec);
    snprintf(rs->location, sizeof rs->location, "/v1/environments/%s", id);
    st = api_json(rs, 201, env);
out:
    secretbox_free_str(sealed);
    json_decref(o);
    return st;
}

static unsigned integration_create(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *key = str_member(o, "key", &bad), *provider = str_member(o, "provider", &bad);
    const char *ws = str_member(o, "webhook_secret", &bad), *cs = str_member(o, "client_secret", &bad);
    const char *unverified = bool_member(o, "allow_unverified", &bad);
    const char *forward = bool_member(o, "forward_enabled", &bad);
    snprintf(rq->target, sizeof rq->target, "%s/%s", rq->params[0], key ? key : "");
    unsigned st;
    char *sws = NULL, *scs = NULL, *config = NULL;
    bool config_given;
    if (bad || !ident_is_integration_key(key) || !provider || !secret_ok(ws) || !secret_ok(cs)) {
        st = bad_request(rs,
                         "key (letters, digits, '.', '_', '-'; at most 128) and provider are required strings; "
                         "webhook_secret and client_secret non-empty strings");
        goto out;
    }
    if (!provider_find(provider)) {
        st = api_problem(rs, 400, "Bad Request", "unknown provider '%s' (GET /v1/providers)", provider);
        goto out;
    }
    if (unverified && !strcmp(unverified, "true") && (ws || cs)) {
        st = bad_request(rs, "allow_unverified is only for an integration without secrets");
        goto out;
    }
    if (api_verify_config(o, provider_find(provider), true, rs, &config, &config_given) < 0) {
        st = rs->status;
        goto out;
    }
    char row[STORE_SECRET_ROW_MAX], env[40];
    env_lower(env, rq->params[0]);
    store_secret_row_integration(row, env, key);
    if ((ws && !(sws = seal(rs, ws, STORE_COL_WEBHOOK_SECRET, row))) ||
        (cs && !(scs = seal(rs, cs, STORE_COL_CLIENT_SECRET, row)))) {
        st = rs->status;
        goto out;
    }
    const char *p[] = {SCOPE(rq),
                       env,
                       key,
                       provider, /* as given: an alias is what its webhooks are forwarded "from" */
                       sws,
                       scs,
                       unverified ? unverified : "false",
                       forward ? forward : "true",
                       config};
    if (write_one(db, rs, "no such environment",
                  "INSERT INTO integrations (environment_id, key, provider, webhook_secret, client_secret,"
                  " allow_unverified, forward_enabled, verify_config) SELECT e.id, $3, $4, $5, $6, $7::boolean,"
                  " $8::boolean, $9::jsonb FROM environments e WHERE e.id = $2::uuid AND " ENV_OK("e.id"),
                  9, p) < 0) {
        st = rs->status;
        goto out;
    }
    rq->params[1] = key;
    snprintf(rs->location, sizeof rs->location, "/v1/environments/%s/integrations/%s", env, key);
    st = integration_one(db, rq, rs, 201);
out:
    secretbox_free_str(sws);
    secretbox_free_str(scs);
    free(config);
    json_decref(o);
    return st;
}

/* The provider name of the integration rq names (404 when it is not one of the key's
 * environments') in buf: 200, or the status of the problem rs holds. */
static unsigned integration_provider(PGconn *db, struct api_request *rq, struct api_response *rs, char *buf, size_t len)
{
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1]};
    PGresult *res = db_query(db, rs,
                             "SELECT i.provider FROM integrations i WHERE i.environment_id = $2::uuid AND i.key = $3"
                             " AND " ENV_OK("i.environment_id"),
                             3, p);
    if (!res)
        return rs->status;
    bool found = PQntuples(res) == 1;
    if (found)
        snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found ? 200 : api_problem(rs, 404, "Not Found", "no such integration");
}

static unsigned integration_patch(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s/%s", rq->params[0], rq->params[1]);
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *unverified = bool_member(o, "allow_unverified", &bad);
    const char *forward = bool_member(o, "forward_enabled", &bad);
    if (bad) {
        json_decref(o);
        return bad_request(rs, "allow_unverified and forward_enabled must be booleans");
    }
    char *config = NULL;
    bool config_given = false;
    if (json_object_get(o, "verify_config")) { /* checked against the integration's provider */
        char provider[64];
        unsigned st = integration_provider(db, rq, rs, provider, sizeof provider);
        if (st != 200 || api_verify_config(o, provider_find(provider), false, rs, &config, &config_given) < 0) {
            json_decref(o);
            return rs->status;
        }
    }
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], unverified, forward, config_given ? "true" : "false",
                       config};
    PGresult *res = db_query(db, rs,
                             "UPDATE integrations i SET allow_unverified = coalesce($4::boolean, i.allow_unverified),"
                             " forward_enabled = coalesce($5::boolean, i.forward_enabled),"
                             " verify_config = CASE WHEN $6::boolean THEN $7::jsonb ELSE i.verify_config END,"
                             " updated_at = now()"
                             " WHERE i.environment_id = $2::uuid AND i.key = $3 AND " ENV_OK("i.environment_id")
                             " AND NOT (coalesce($4::boolean, false) AND (i.webhook_secret IS NOT NULL OR"
                             " i.client_secret IS NOT NULL))",
                             7, p);
    free(config);
    json_decref(o);
    if (!res)
        return rs->status;
    bool updated = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    if (!updated) {
        /* Not found, or allow_unverified asked for an integration with a secret. */
        unsigned st = integration_one(db, rq, rs, 200);
        if (st == 200)
            return bad_request(rs, "allow_unverified is only for an integration without secrets");
        return st;
    }
    return integration_one(db, rq, rs, 200);
}

/* PUT .../secrets: sets (rotating) the webhook and/or client secret; answers 204 and
 * never returns a secret. The previous secret stays valid until the CLI clears it. */
static unsigned integration_secrets(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s/%s", rq->params[0], rq->params[1]);
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *ws = str_member(o, "webhook_secret", &bad), *cs = str_member(o, "client_secret", &bad);
    unsigned st;
    char *sws = NULL, *scs = NULL;
    if (bad || (!ws && !cs) || !secret_ok(ws) || !secret_ok(cs)) {
        st = bad_request(rs, "give webhook_secret and/or client_secret (non-empty strings)");
        goto out;
    }
    char env[40], row[STORE_SECRET_ROW_MAX];
    env_lower(env, rq->params[0]);
    store_secret_row_integration(row, env, rq->params[1]);
    if ((ws && !(sws = seal(rs, ws, STORE_COL_WEBHOOK_SECRET, row))) ||
        (cs && !(scs = seal(rs, cs, STORE_COL_CLIENT_SECRET, row)))) {
        st = rs->status;
        goto out;
    }
    /* Setting a secret ends allow_unverified (it is only for integrations without one). */
    const char *p[] = {SCOPE(rq), env, rq->params[1], sws, scs};
    st = db_json(db, rs, 204, "no such integration",
                 "UPDATE integrations i SET webhook_secret = coalesce($4, i.webhook_secret),"
                 " client_secret = coalesce($5, i.client_secret), allow_unverified = false, updated_at = now()"
                 " WHERE i.environment_id = $2::uuid AND i.key = $3 AND " ENV_OK("i.environment_id") " RETURNING 'ok'",
                 5, p);
out:
    secretbox_free_str(sws);
    secretbox_free_str(scs);
    json_decref(o);
    return st;
}

/* ---- connections ------------------------------------------------------------------------ */

#define CONNECTION_COLS                                                                                                \
    "i.key AS integration, c.connection_id, c.connection_config AS config, c.metadata,"                                \
    " c.webhook_url_override, " TS("c.created_at") " AS created_at, " TS("c.updated_at") " AS updated_at"
#define CONNECTION_FROM " FROM connections c JOIN integrations i ON i.id = c.integration_id"

static unsigned connection_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (api_env_visible(db, rq, rs, rq->params[0], true) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq), rq->params[0], api_query(rq, "integration")};
    return db_page(
        db, rq, rs,
        "SELECT i.key || '/' || c.connection_id AS _cursor, " CONNECTION_COLS CONNECTION_FROM
        " WHERE i.environment_id = $2::uuid AND " ENV_OK("i.environment_id") " AND ($3::text IS NULL OR i.key = $3)",
        3, p, false);
}

static unsigned connection_one(PGconn *db, struct api_request *rq, struct api_response *rs, unsigned status)
{
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], rq->params[2]};
    return db_json(db, rs, status, "no such connection",
                   "SELECT to_json(t)::text FROM (SELECT " CONNECTION_COLS CONNECTION_FROM
                   " WHERE i.environment_id = $2::uuid AND i.key = $3 AND c.connection_id = $4 AND " ENV_OK(
                       "i.environment_id") ") t",
                   4, p);
}

static unsigned connection_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    return connection_one(db, rq, rs, 200);
}

/* A JSON object member as compact text (new string), NULL when absent; *bad when not
 * an object. */
static char *object_member(json_t *o, const char *name, bool *bad)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        *bad = true;
        return NULL;
    }
    return json_dumps(v, JSON_COMPACT);
}

static unsigned connection_create(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *integ = str_member(o, "integration", &bad), *cid = str_member(o, "connection_id", &bad);
    const char *override = str_member(o, "webhook_url_override", &bad);
    char *config = object_member(o, "config", &bad), *meta = object_member(o, "metadata", &bad);
    snprintf(rq->target, sizeof rq->target, "%s/%s/%s", rq->params[0], integ ? integ : "", cid ? cid : "");
    unsigned st;
    if (bad || !integ || !cid || !ident_valid_str(cid) || !is_http_url(override)) {
        st = bad_request(rs,
                         "integration and connection_id are required strings (connection_id: UTF-8 without "
                         "control characters, at most 1,024 bytes); config and metadata objects; "
                         "webhook_url_override an http(s) URL");
        goto out;
    }
    const char *p[] = {SCOPE(rq), rq->params[0], integ, cid, config ? config : "{}", meta ? meta : "{}", override};
    if (write_one(
            db, rs, "no such integration",
            "INSERT INTO connections (integration_id, connection_id, connection_config, metadata,"
            " webhook_url_override) SELECT i.id, $4, $5::jsonb, $6::jsonb, nullif($7, '')"
            " FROM integrations i WHERE i.environment_id = $2::uuid AND i.key = $3 AND " ENV_OK("i.environment_id"),
            7, p) < 0) {
        st = rs->status;
        goto out;
    }
    rq->params[1] = integ;
    rq->params[2] = cid;
    st = connection_one(db, rq, rs, 201);
out:
    free(config);
    free(meta);
    json_decref(o);
    return st;
}

static unsigned connection_patch(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s/%s/%s", rq->params[0], rq->params[1], rq->params[2]);
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *override = str_member(o, "webhook_url_override", &bad);
    char *config = object_member(o, "config", &bad), *meta = object_member(o, "metadata", &bad);
    unsigned st;
    if (bad || !is_http_url(override)) {
        st = bad_request(rs,
                         "config and metadata must be objects, webhook_url_override an http(s) URL (\"\" removes it)");
    } else {
        const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], rq->params[2], config, meta, override};
        PGresult *res = db_query(
            db, rs,
            "UPDATE connections c SET connection_config = coalesce($5::jsonb, c.connection_config),"
            " metadata = coalesce($6::jsonb, c.metadata),"
            " webhook_url_override = nullif(coalesce($7, c.webhook_url_override), ''),"
            " updated_at = now() FROM integrations i WHERE i.id = c.integration_id"
            " AND i.environment_id = $2::uuid AND i.key = $3 AND c.connection_id = $4 AND " ENV_OK("i.environment_id"),
            7, p);
        if (res) {
            PQclear(res);
            st = connection_one(db, rq, rs, 200);
        } else {
            st = rs->status;
        }
    }
    free(config);
    free(meta);
    json_decref(o);
    return st;
}

static unsigned connection_delete(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s/%s/%s", rq->params[0], rq->params[1], rq->params[2]);
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], rq->params[2]};
    return db_json(db, rs, 204, "no such connection",
                   "DELETE FROM connections c USING integrations i WHERE i.id = c.integration_id"
                   " AND i.environment_id = $2::uuid AND i.key = $3 AND c.connection_id = $4 AND " ENV_OK(
                       "i.environment_id") " RETURNING 'ok'",
                   4, p);
}

/* ---- syncs ------------------------------------------------------------------------------ */

#define SYNC_COLS                                                                                                      \
    "i.key AS integration, s.name, to_json(s.subscriptions) AS subscriptions, s.runner_url, s.runner_topic,"           \
    " s.enabled, s.max_attempts, " TS("s.created_at") " AS created_at, " TS("s.updated_at") " AS updated_at"
#define SYNC_FROM " FROM syncs s JOIN integrations i ON i.id = s.integration_id"

static unsigned sync_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (api_env_visible(db, rq, rs, rq->params[0], true) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq), rq->params[0]};
    return db_page(db, rq, rs,
                   "SELECT i.key || '/' || s.name AS _cursor, " SYNC_COLS SYNC_FROM
                   " WHERE i.environment_id = $2::uuid AND " ENV_OK("i.environment_id"),
                   2, p, false);
}

static unsigned sync_one(PGconn *db, struct api_request *rq, struct api_response *rs, unsigned status)
{
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], rq->params[2]};
    return db_json(
        db, rs, status, "no such sync",
        "SELECT to_json(t)::text FROM (SELECT " SYNC_COLS SYNC_FROM
        " WHERE i.environment_id = $2::uuid AND i.key = $3 AND s.name = $4 AND " ENV_OK("i.environment_id") ") t",
        4, p);
}

static unsigned sync_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    return sync_one(db, rq, rs, 200);
}

/* subscriptions as the text of a JSON array of 1..64 identifier strings (new), or NULL. */
static char *subscriptions_member(json_t *o, bool *bad)
{
    json_t *v = json_object_get(o, "subscriptions");
    if (!v || json_is_null(v))
        return NULL;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > 64) {
        *bad = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || !*json_string_value(s) || !ident_valid_str(json_string_value(s))) {
            *bad = true;
            return NULL;
        }
    }
    return json_dumps(v, JSON_COMPACT);
}

static unsigned sync_create(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *integ = str_member(o, "integration", &bad), *name = str_member(o, "name", &bad);
    const char *url = str_member(o, "runner_url", &bad), *topic = str_member(o, "runner_topic", &bad);
    const char *enabled = bool_member(o, "enabled", &bad);
    char *subs = subscriptions_member(o, &bad);
    char attempts[24] = "5";
    attempts_member(o, attempts, &bad);
    snprintf(rq->target, sizeof rq->target, "%s/%s/%s", rq->params[0], integ ? integ : "", name ? name : "");
    unsigned st;
    if (bad || !integ || !ident_is_integration_key(name) || !subs || (!url == !topic) || (url && !*url) ||
        !is_http_url(url) || (topic && !*topic)) {
        st = bad_request(rs,
                         "integration, name and subscriptions (1 to 64 event types, '*' for all) are required, "
                         "and exactly one of runner_url (http/https) and runner_topic; max_attempts 1..100");
        goto out;
    }
    const char *p[] = {SCOPE(rq), rq->params[0], integ, name, subs, url, topic, attempts, enabled ? enabled : "true"};
    if (write_one(db, rs, "no such integration",
                  "INSERT INTO syncs (integration_id, name, subscriptions, runner_url, runner_topic,"
                  " max_attempts, enabled) SELECT i.id, $4, ARRAY(SELECT json_array_elements_text($5::json)),"
                  " $6, $7, $8::int, $9::boolean FROM integrations i WHERE i.environment_id = $2::uuid"
                  " AND i.key = $3 AND " ENV_OK("i.environment_id"),
                  9, p) < 0) {
        st = rs->status;
        goto out;
    }
    rq->params[1] = integ;
    rq->params[2] = name;
    st = sync_one(db, rq, rs, 201);
out:
    free(subs);
    json_decref(o);
    return st;
}

static unsigned sync_patch(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s/%s/%s", rq->params[0], rq->params[1], rq->params[2]);
    json_t *o = body_object(rq, rs);
    if (!o)
        return rs->status;
    bool bad = false;
    const char *enabled = bool_member(o, "enabled", &bad);
    char *subs = subscriptions_member(o, &bad);
    char attempts[24] = "";
    attempts_member(o, attempts, &bad);
    unsigned st;
    if (bad) {
        st = bad_request(rs, "enabled is a boolean, subscriptions 1 to 64 event types, max_attempts 1..100");
    } else {
        const char *p[] = {
            SCOPE(rq), rq->params[0], rq->params[1], rq->params[2], enabled, subs, attempts[0] ? attempts : NULL};
        PGresult *res = db_query(
            db, rs,
            "UPDATE syncs s SET enabled = coalesce($5::boolean, s.enabled),"
            " subscriptions = CASE WHEN $6::json IS NULL THEN s.subscriptions"
            " ELSE ARRAY(SELECT json_array_elements_text($6::json)) END, max_attempts = coalesce($7::int, s.max_attempts),"
            " updated_at = now() FROM integrations i WHERE i.id = s.integration_id"
            " AND i.environment_id = $2::uuid AND i.key = $3 AND s.name = $4 AND " ENV_OK("i.environment_id"),
            7, p);
        if (res) {
            PQclear(res);
            st = sync_one(db, rq, rs, 200);
        } else {
            st = rs->status;
        }
    }
    free(subs);
    json_decref(o);
    return st;
}

static unsigned sync_delete(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!env_param_ok(rs, rq->params[0]))
        return rs->status;
    snprintf(rq->target, sizeof rq->target, "%s/%s/%s", rq->params[0], rq->params[1], rq->params[2]);
    const char *p[] = {SCOPE(rq), rq->params[0], rq->params[1], rq->params[2]};
    return db_json(db, rs, 204, "no such sync",
                   "DELETE FROM syncs s USING integrations i WHERE i.id = s.integration_id"
                   " AND i.environment_id = $2::uuid AND i.key = $3 AND s.name = $4 AND " ENV_OK(
                       "i.environment_id") " RETURNING 'ok'",
                   4, p);
}

/* ---- sync runs -------------------------------------------------------------------------- */

#define RUN_COLS                                                                                                       \
    "r.id, r.environment_id, i.key AS integration, s.name AS sync, r.connection_id, r.webhook_id, r.event_type,"       \
    " r.status, r.attempts, r.last_error, r.result, " TS("r.created_at") " AS created_at, " TS(                        \
        "r.started_at") " AS started_at, " TS("r.finished_at") " AS finished_at, " TS("r.next_attempt_at") " AS next_attempt_at"
#define RUN_FROM " FROM sync_runs r JOIN syncs s ON s.id = r.sync_id JOIN integrations i ON i.id = s.integration_id"

static unsigned run_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *env = api_query(rq, "env");
    if (api_env_visible(db, rq, rs, env, false) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq),
                       env,
                       api_query(rq, "sync"),
                       api_query(rq, "connection"),
                       api_query(rq, "status"),
                       api_query(rq, "webhook_id")};
    return db_page(db, rq, rs,
                   "SELECT " TS("r.created_at") " || r.id AS _cursor, " RUN_COLS RUN_FROM " WHERE "
                   ENV_OK("r.environment_id") " AND ($2::uuid IS NULL OR r.environment_id = $2::uuid)"
                   " AND ($3::text IS NULL OR s.name = $3) AND ($4::text IS NULL OR r.connection_id = $4)"
                   " AND ($5::text IS NULL OR r.status = $5) AND ($6::text IS NULL OR r.webhook_id = $6)",
                   6, p, true);
}

static unsigned run_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!id_is_uuid(rq->params[0]))
        return api_problem(rs, 404, "Not Found", "no such sync run");
    const char *p[] = {SCOPE(rq), rq->params[0]};
    return db_json(db, rs, 200, "no such sync run",
                   "SELECT to_json(t)::text FROM (SELECT " RUN_COLS RUN_FROM
                   " WHERE r.id = $2::uuid AND " ENV_OK("r.environment_id") ") t",
                   2, p);
}

static unsigned run_retry(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    snprintf(rq->target, sizeof rq->target, "%s", rq->params[0]);
    if (!id_is_uuid(rq->params[0]))
        return api_problem(rs, 404, "Not Found", "no such sync run");
    const char *p[] = {SCOPE(rq), rq->params[0]};
    PGresult *res = db_query(
        db, rs,
        "UPDATE sync_runs r SET status = 'queued', attempts = 0, queued_at = now(),"
        " next_attempt_at = now(), started_at = NULL, finished_at = NULL,"
        " last_error = 'retried: ' || coalesce(r.last_error, '')"
        " WHERE r.id = $2::uuid AND r.status IN ('failed', 'expired') AND " ENV_OK("r.environment_id"),
        2, p);
    if (!res)
        return rs->status;
    bool done = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    unsigned st = run_get(db, rq, rs);
    if (st == 200 && !done)
        return api_problem(rs, 409, "Conflict", "only a failed or expired run can be retried");
    if (st == 200)
        rs->status = 202;
    return rs->status;
}

/* ---- providers -------------------------------------------------------------------------- */

static unsigned providers_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    (void)db;
    (void)rq;
    json_t *arr = json_array();
    for (size_t i = 0; arr && provider_at(i); i++) {
        const struct provider *p = provider_at(i);
        char attribution[512];
        provider_attribution(p, attribution, sizeof attribution);
        const char *hs = provider_handshakes(p);
        json_array_append_new(arr, json_pack("{s:s, s:n, s:s, s:s?}", "name", provider_name(p), "alias_of",
                                             "attribution", attribution, "handshakes", hs));
    }
    /* Aliases: other keys for a row (providers/aliases.c), listed with the row they map onto. */
    const char *alias, *row;
    for (size_t i = 0; arr && (alias = provider_alias_at(i, &row)) != NULL; i++) {
        const struct provider *p = provider_find(alias);
        char attribution[512];
        provider_attribution(p, attribution, sizeof attribution);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s?}", "name", alias, "alias_of", row, "attribution",
                                             attribution, "handshakes", provider_handshakes(p)));
    }
    return api_json(rs, 200, json_pack("{s:o, s:n}", "data", arr, "next_cursor"));
}

/* ---- destinations ------------------------------------------------------------------------ */

static unsigned destinations_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *env = api_query(rq, "env");
    if (api_env_visible(db, rq, rs, env, false) < 0)
        return rs->status;
    const char *hours = api_query(rq, "hours");
    long h = hours ? strtol(hours, NULL, 10) : 24;
    if (h < 1 || h > 24 * 30)
        return bad_request(rs, "hours must be from 1 to 720");
    char hs[16];
    snprintf(hs, sizeof hs, "%ld", h);
    const char *p[] = {SCOPE(rq), env, hs};
    /* The destinations of the key's environments: their URLs and every URL attempted. */
    return db_page(db, rq, rs,
                   "WITH urls AS (SELECT webhook_url AS url, id AS env FROM environments WHERE webhook_url IS NOT NULL"
                   " UNION SELECT secondary_webhook_url, id FROM environments WHERE secondary_webhook_url IS NOT NULL"
                   " UNION SELECT c.webhook_url_override, i.environment_id FROM connections c JOIN integrations i"
                   " ON i.id = c.integration_id WHERE c.webhook_url_override IS NOT NULL"
                   " UNION SELECT DISTINCT destination, environment_id FROM delivery_attempts"
                   " WHERE attempted_at > now() - $3::int * interval '1 hour'),"
                   " mine AS (SELECT url, array_agg(DISTINCT env) AS envs FROM urls WHERE env IS NOT NULL AND "
                   ENV_OK("env") " AND ($2::uuid IS NULL OR env = $2::uuid) GROUP BY url)"
                   " SELECT m.url AS _cursor, m.url, m.envs AS environment_ids, g.url IS NOT NULL AS gone, "
                   TS("g.flagged_at") " AS gone_since, g.status AS gone_status,"
                   " coalesce(a.attempts, 0) AS attempts, coalesce(a.delivered, 0) AS delivered,"
                   " CASE WHEN a.attempts > 0 THEN round(a.delivered::numeric / a.attempts, 4) END AS success_rate,"
                   " round(a.avg_ms::numeric, 1) AS avg_latency_ms, round(a.p95_ms::numeric, 1) AS p95_latency_ms, "
                   TS("a.last_at") " AS last_attempt_at, a.last_status, a.last_error, $3::int AS window_hours,"
                   " c.state AS circuit, " TS("c.since") " AS circuit_since, c.failures AS circuit_failures,"
                   " c.forwarders AS circuit_forwarders"
                   " FROM mine m LEFT JOIN gone_destinations g ON g.url = m.url"
                   /* The circuit is the forwarders' (per scheme://host:port, as they key it):
                    * open when one live forwarder has it open, half-open when one probes.
                    * Rows not refreshed for 2 minutes were left by a killed process. */
                   " LEFT JOIN LATERAL (SELECT CASE WHEN count(*) = 0 THEN 'closed' WHEN bool_or(dc.state = 'open')"
                   "  THEN 'open' ELSE 'half-open' END AS state, min(dc.changed_at) AS since,"
                   "  max(dc.failures) AS failures, count(*) AS forwarders FROM destination_circuits dc"
                   "  WHERE dc.endpoint = (SELECT r[1] || r[2] FROM regexp_match(m.url,"
                   "  '^([^:/?#]+://)(?:[^/?#@]*@)?([^/?#]*)') r) AND dc.seen_at > now() - interval '2 minutes') c ON true"
                   " LEFT JOIN LATERAL ("
                   "  SELECT count(*) FILTER (WHERE result <> 'parked') AS attempts,"
                   "  count(*) FILTER (WHERE result = 'delivered') AS delivered,"
                   "  avg(latency_ms) FILTER (WHERE result <> 'parked') AS avg_ms,"
                   "  percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms, max(attempted_at) AS last_at,"
                   "  (array_agg(status ORDER BY attempted_at DESC))[1] AS last_status,"
                   "  (array_agg(error ORDER BY attempted_at DESC))[1] AS last_error"
                   "  FROM delivery_attempts d WHERE d.destination = m.url"
                   "  AND d.attempted_at > now() - $3::int * interval '1 hour'"
                   "  AND (d.environment_id IS NULL OR d.environment_id = ANY(m.envs))) a ON true",
                   3, p, false);
}

/* ---- dead letters ------------------------------------------------------------------------ */

#define DL_COLS                                                                                                        \
    "w.kafka_partition || '-' || w.kafka_offset AS id, w.webhook_id, w.environment_id, w.integration,"          \
    " w.connection_id, w.detail->>'delivery_id' AS delivery_id, w.detail->>'destination' AS destination,"       \
    " (w.detail->>'status')::int AS status, w.detail->>'error' AS error, (w.detail->>'attempts')::int AS attempts," \
    " " TS("w.at") " AS dead_lettered_at,"                                                                     \
    " (SELECT " TS("max(r.at)") " FROM webhook_events r WHERE r.kind = 'redriven' AND r.webhook_id = w.webhook_id" \
    "  AND r.detail->>'dead_letter' = w.kafka_partition || '-' || w.kafka_offset) AS redriven_at"

static unsigned dead_letter_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *env = api_query(rq, "env");
    if (api_env_visible(db, rq, rs, env, false) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq), env, api_query(rq, "webhook_id"), api_query(rq, "destination")};
    return db_page(db, rq, rs,
                   "SELECT " TS("w.at") " || lpad(w.id::text, 20, '0') AS _cursor, " DL_COLS
                   " FROM webhook_events w WHERE w.kind = 'dead-lettered' AND " ENV_OK("w.environment_id")
                   " AND ($2::uuid IS NULL OR w.environment_id = $2::uuid) AND ($3::text IS NULL OR w.webhook_id = $3)"
                   " AND ($4::text IS NULL OR w.detail->>'destination' = $4)",
                   4, p, true);
}

/* The optional body of a redrive, {"url": "https://..."}: 0 with *to the URL (NULL: the
 * destination that failed; empty body, {} or null), else rs holds the 400. The URL is
 * checked as the CLI's --to is, and by the forwarder's address rules. */
static int redrive_body(struct api_request *rq, struct api_response *rs, json_t **o, const char **to)
{
    *o = NULL;
    *to = NULL;
    if (rq->body_len == strspn(rq->body, " \t\r\n"))
        return 0;
    if (!(*o = body_object(rq, rs)))
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach(*o, key, v)
    {
        if (strcmp(key, "url")) {
            api_problem(rs, 400, "Bad Request", "unknown member '%.64s': the body may have only \"url\"", key);
            return -1;
        }
    }
    bool bad = false;
    *to = str_member(*o, "url", &bad);
    if (bad || (*to && !outbound_url_valid(*to))) {
        api_problem(rs, 400, "Bad Request",
                    "url must be an http:// or https:// URL with a host, at most %d bytes, without spaces",
                    OUTBOUND_URL_MAX);
        return -1;
    }
    /* The audit row names the new URL, refused or not (who tried to send what where). */
    if (*to)
        snprintf(rq->target, sizeof rq->target, "dead-letter %s to %s", rq->params[0], *to);
    const char *why = *to ? redrive_url_refused(*to) : NULL;
    if (why) {
        api_problem(rs, 400, "Bad Request",
                    "url's host is a %s address, which the forwarder may not reach (HOOKLINE_FORWARDER_ALLOW_CIDRS)",
                    why);
        return -1;
    }
    return 0;
}

/* The redrive itself, to the URL to (NULL: the destination that failed). */
static unsigned redrive_to(PGconn *db, struct api_request *rq, struct api_response *rs, int partition, long long offset,
                           const char *to)
{
    /* The key must see the dead letter's environment (else: not found). */
    /* Compared column by column (an index serves it); the id written back is the
     * canonical one, which the list's redriven_at matches ("01-5" names 1-5). */
    char part[16], off[24], dl_id[48];
    snprintf(part, sizeof part, "%d", partition);
    snprintf(off, sizeof off, "%lld", offset);
    snprintf(dl_id, sizeof dl_id, "%d-%lld", partition, offset);
    const char *p[] = {SCOPE(rq), part, off};
    PGresult *res = db_query(
        db, rs,
        "SELECT w.webhook_id, w.environment_id, w.integration, w.connection_id FROM webhook_events w"
        " WHERE w.kind = 'dead-lettered' AND w.kafka_partition = $2::int"
        " AND w.kafka_offset = $3::bigint AND " ENV_OK("w.environment_id"),
        3, p);
    if (!res)
        return rs->status;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return api_problem(rs, 404, "Not Found", "no such dead letter");
    }
    char env[40], integ[160], conn[1100];
    snprintf(env, sizeof env, "%s", PQgetvalue(res, 0, 1));
    snprintf(integ, sizeof integ, "%s", PQgetvalue(res, 0, 2));
    snprintf(conn, sizeof conn, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    char wid[64], dest[2100], errstr[512];
    /* The redrive is dated when it is sent, not when Kafka acknowledged it: the forwarder
     * may deliver the copy before the acknowledgement is back, and the timeline must not
     * show the delivery before the redrive that caused it. */
    char asked[24];
    snprintf(asked, sizeof asked, "%lld", clock_unix_ms());
    int rc = redrive_dead_letter(partition, offset, to, wid, sizeof wid, dest, sizeof dest, errstr, sizeof errstr);
    if (rc == 1)
        return api_problem(rs, 404, "Not Found", "the dead letter is no longer on the topic (retention)");
    if (rc < 0) {
        snprintf(rs->retry_after, sizeof rs->retry_after, "5");
        return api_problem(rs, 503, "Service Unavailable", "cannot redrive: %s", errstr);
    }
    /* The redrive joins the webhook's timeline (best effort: the copy is already sent):
     * destination is where the copy goes, original_destination the one that failed. */
    json_t *detail = json_pack("{s:s, s:s}", "dead_letter", dl_id, "destination", to ? to : dest);
    if (detail && to)
        json_object_set_new(detail, "original_destination", json_string(dest));
    char *dtext = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    const char *ip[] = {wid, env, integ, conn, dtext ? dtext : "{}", rq->key->id, asked};
    res = db_query(db, rs,
                   "INSERT INTO webhook_events (webhook_id, kind, at, environment_id, integration, connection_id,"
                   " detail) VALUES ($1, 'redriven', to_timestamp($7::bigint / 1000.0), nullif($2, '')::uuid, $3,"
                   " nullif($4, ''), $5::jsonb || jsonb_build_object('key_id', $6::text))",
                   7, ip);
    free(dtext);
    PQclear(res);
    /* The answer is the timeline's detail plus the webhook. */
    if (detail) {
        json_object_set_new(detail, "webhook_id", json_string(wid));
        json_object_set_new(detail, "redriven", json_true());
    }
    return api_json(rs, 202, detail);
}

static unsigned dead_letter_redrive(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    snprintf(rq->target, sizeof rq->target, "dead-letter %s", rq->params[0]);
    int partition;
    long long offset;
    char tail;
    if (sscanf(rq->params[0], "%d-%lld%c", &partition, &offset, &tail) != 2 || partition < 0 || offset < 0)
        return api_problem(rs, 404, "Not Found", "no such dead letter");
    json_t *body;
    const char *to;
    if (redrive_body(rq, rs, &body, &to) < 0) {
        json_decref(body);
        return rs->status;
    }
    unsigned st = redrive_to(db, rq, rs, partition, offset, to);
    json_decref(body);
    return st;
}

/* ---- the webhook log ----------------------------------------------------------------------- */

/* Status of a webhook, from what the log and the attempts say. */
#define WEBHOOK_STATUS                                                                                                 \
    "CASE WHEN l.quarantined_at IS NOT NULL THEN 'quarantined'"                                                        \
    " WHEN EXISTS (SELECT 1 FROM delivery_attempts d WHERE d.webhook_id = l.webhook_id AND d.result = 'delivered'"     \
    "  AND (l.dead_lettered_at IS NULL OR d.attempted_at > l.dead_lettered_at)) THEN 'delivered'"                      \
    " WHEN l.dead_lettered_at IS NOT NULL THEN 'dead-lettered'"                                                        \
    " WHEN EXISTS (SELECT 1 FROM delivery_attempts d WHERE d.webhook_id = l.webhook_id) THEN 'retrying'"               \
    " WHEN l.attributed IS NULL AND EXISTS (SELECT 1 FROM dropped_duplicates x WHERE x.webhook_id = l.webhook_id)"     \
    "  THEN 'dropped-duplicate'"                                                                                       \
    " WHEN l.attributed IS NULL THEN 'received'"                                                                       \
    " WHEN NOT l.attributed THEN 'unattributed' ELSE 'routed' END"

static unsigned webhook_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *env = api_query(rq, "env");
    if (api_env_visible(db, rq, rs, env, false) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq),
                       env,
                       api_query(rq, "integration"),
                       api_query(rq, "connection"),
                       api_query(rq, "event_type"),
                       api_query(rq, "status"),
                       api_query(rq, "since"),
                       api_query(rq, "until"),
                       api_query(rq, "webhook_id")};
    long limit = db_page_limit(rq);
    if (limit < 0)
        return bad_request(rs, "limit must be a number from 1 to 500");
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *all[] = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], api_query(rq, "cursor"), lim};
    /* Keyset pagination on (received_at, webhook_id), newest first, so a page reads only
     * its rows through webhook_log's indexes however long the log is; the cursor is the
     * last row's "<received_at to the microsecond>|<webhook id>". */
    return db_json(db, rs, 200, "nothing",
                   "WITH page AS (SELECT l.webhook_id, l.environment_id, l.integration, l.provider, l.verified,"
                   " l.event_type, to_json(l.connections) AS connections, " TS("l.received_at") " AS received_at, "
                   WEBHOOK_STATUS " AS status, l.received_at AS _t, to_char(l.received_at AT TIME ZONE 'UTC',"
                   " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '|' || l.webhook_id AS _cursor"
                   " FROM webhook_log l WHERE " ENV_OK("l.environment_id")
                   " AND ($2::uuid IS NULL OR l.environment_id = $2::uuid) AND ($3::text IS NULL OR l.integration = $3)"
                   " AND ($4::text IS NULL OR l.connections @> ARRAY[$4::text]) AND ($5::text IS NULL OR l.event_type = $5)"
                   " AND ($7::timestamptz IS NULL OR l.received_at >= $7::timestamptz)"
                   " AND ($8::timestamptz IS NULL OR l.received_at < $8::timestamptz)"
                   " AND ($9::text IS NULL OR l.webhook_id = $9)"
                   " AND ($10::text IS NULL OR (l.received_at, l.webhook_id) <"
                   " (split_part($10, '|', 1)::timestamptz, split_part($10, '|', 2)))"
                   " AND ($6::text IS NULL OR " WEBHOOK_STATUS " = $6)"
                   /* What the rare statuses imply, in terms their partial indexes serve
                    * (the planner drops the terms of the other statuses). */
                   " AND (coalesce($6, '') <> 'quarantined' OR l.quarantined_at IS NOT NULL)"
                   " AND (coalesce($6, '') <> 'dead-lettered' OR l.dead_lettered_at IS NOT NULL)"
                   " ORDER BY l.received_at DESC, l.webhook_id DESC LIMIT $11::int + 1)"
                   " SELECT json_build_object('data', coalesce((SELECT json_agg(to_jsonb(p) - '_t' - '_cursor'"
                   " ORDER BY p._t DESC, p.webhook_id DESC) FROM (SELECT * FROM page ORDER BY _t DESC, webhook_id DESC"
                   " LIMIT $11::int) p), '[]'::json), 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $11::int"
                   " THEN (SELECT _cursor FROM page ORDER BY _t DESC, webhook_id DESC OFFSET $11::int - 1 LIMIT 1)"
                   " END)::text",
                   11, all);
}

static unsigned webhook_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *p[] = {SCOPE(rq), rq->params[0]};
    /* The whole timeline, oldest first: what the log recorded, every delivery attempt
     * (pass > 0: a retry), every sync run it started. */
    return db_json(db, rs, 200, "no such webhook (or not logged yet)",
                   "SELECT json_build_object('webhook_id', l.webhook_id, 'environment_id', l.environment_id,"
                   " 'integration', l.integration, 'provider', l.provider, 'verified', l.verified, 'event_type',"
                   " l.event_type, 'connections', l.connections, 'received_at', " TS("l.received_at") ","
                   " 'status', " WEBHOOK_STATUS ", 'timeline', coalesce((SELECT json_agg(to_jsonb(t) - 'ts' - 'seq' ORDER BY t.ts, t.seq) FROM ("
                   /* A dead letter sorts after the forwarder's own record of giving up (same
                    * millisecond, or a few later: two clocks' readings of one moment); a
                    * redrive before the attempt it causes, should they share a millisecond. */
                   "  SELECT CASE WHEN e.kind = 'dead-lettered' THEN greatest(e.at, (SELECT max(d.attempted_at)"
                   "  FROM delivery_attempts d WHERE d.webhook_id = e.webhook_id AND d.result = 'dead-lettered'"
                   "  AND d.destination = e.detail->>'destination' AND d.attempted_at BETWEEN e.at - interval '5 s'"
                   "  AND e.at + interval '5 s')) ELSE e.at END AS ts,"
                   "  CASE WHEN e.kind IN ('received', 'routed', 'redriven') THEN 0 ELSE 2 END AS seq, e.kind, " TS("e.at") " AS at, e.connection_id, e.event_type,"
                   "  e.detail, NULL::text AS destination, NULL::int AS pass, NULL::int AS attempt, NULL::int AS http_status,"
                   "  NULL::float8 AS latency_ms, NULL::text AS error, NULL::text AS result, NULL::uuid AS sync_run_id"
                   "  FROM webhook_events e WHERE e.webhook_id = l.webhook_id"
                   "  UNION ALL SELECT d.attempted_at, 1, CASE WHEN d.pass > 0 THEN 'retry' ELSE 'attempt' END,"
                   "  " TS("d.attempted_at") ", d.connection_id, NULL, json_build_object('delivery_id', d.routed_id)::jsonb,"
                   "  d.destination, d.pass, d.attempt, d.status, d.latency_ms, d.error, d.result, NULL"
                   "  FROM delivery_attempts d WHERE d.webhook_id = l.webhook_id"
                   "  UNION ALL SELECT r.created_at, 2, 'sync-run', " TS("r.created_at") ", r.connection_id, r.event_type,"
                   "  json_build_object('sync', s.name, 'status', r.status, 'attempts', r.attempts, 'last_error',"
                   "  r.last_error)::jsonb, NULL, NULL, NULL, NULL, NULL, NULL, r.status, r.id"
                   "  FROM sync_runs r JOIN syncs s ON s.id = r.sync_id WHERE r.webhook_id = l.webhook_id"
                   /* Provider events the router dropped as copies: the whole webhook, or
                    * some events of its batch. */
                   "  UNION ALL SELECT x.dropped_at, 0, 'dropped-duplicate', " TS("x.dropped_at") ", NULL, NULL,"
                   "  json_build_object('duplicate_of', x.original_webhook, 'provider_event_id', x.event_id)::jsonb,"
                   "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM dropped_duplicates x"
                   "  WHERE x.webhook_id = l.webhook_id"
                   " ) t), '[]'::json))::text FROM webhook_log l WHERE l.webhook_id = $2 AND "
                   ENV_OK("l.environment_id"),
                   2, p);
}

/* ---- the rest ---------------------------------------------------------------------------- */

static unsigned audit_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *p[] = {rq->key->id};
    return db_page(db, rq, rs,
                   "SELECT lpad(a.id::text, 20, '0') AS _cursor, a.id, a.key_id, a.action, a.target, a.status, " TS(
                       "a.at") " AS at FROM api_audit a WHERE a.key_id = $1",
                   1, p, true);
}

static unsigned openapi(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    (void)db;
    (void)rq;
    for (size_t i = 0; i < api_assets_count; i++)
        if (!strcmp(api_assets[i].path, "/v1/openapi.json")) {
            char *s = malloc(api_assets[i].len + 1);
            if (!s)
                return api_problem(rs, 500, "Internal Server Error", "out of memory");
            memcpy(s, api_assets[i].data, api_assets[i].len);
            s[api_assets[i].len] = '\0';
            free(rs->body);
            rs->body = s;
            rs->status = 200;
            rs->type = "application/json";
            return 200;
        }
    return api_problem(rs, 404, "Not Found", "no document");
}

static unsigned whoami(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    (void)db;
    json_t *envs = json_array();
    if (!rq->key->all_envs) {
        /* "{a,b}": each id up to the next ',' or the closing '}' */
        for (const char *e = rq->key->envs + 1; *e && *e != '}';) {
            size_t n = strcspn(e, ",}");
            json_array_append_new(envs, json_stringn(e, n));
            e += n + (e[n] == ',');
        }
    }
    return api_json(rs, 200,
                    json_pack("{s:s, s:s, s:b, s:o}", "key_id", rq->key->id, "scope", rq->key->write ? "write" : "read",
                              "all_environments", rq->key->all_envs, "environment_ids", envs));
}

const struct api_route api_routes[] = {
    {"GET", "/v1/openapi.json", openapi, false},
    {"GET", "/v1/me", whoami, false},
    {"GET", "/v1/environments", env_list, false},
    {"POST", "/v1/environments", env_create, true},
    {"GET", "/v1/environments/{}", env_get, false},
    {"PATCH", "/v1/environments/{}", env_patch, true},
    {"GET", "/v1/environments/{}/integrations", integration_list, false},
    {"POST", "/v1/environments/{}/integrations", integration_create, true},
    {"GET", "/v1/environments/{}/integrations/{}", integration_get, false},
    {"PATCH", "/v1/environments/{}/integrations/{}", integration_patch, true},
    {"PUT", "/v1/environments/{}/integrations/{}/secrets", integration_secrets, true},
    {"GET", "/v1/environments/{}/connections", connection_list, false},
    {"POST", "/v1/environments/{}/connections", connection_create, true},
    {"GET", "/v1/environments/{}/connections/{}/{}", connection_get, false},
    {"PATCH", "/v1/environments/{}/connections/{}/{}", connection_patch, true},
    {"DELETE", "/v1/environments/{}/connections/{}/{}", connection_delete, true},
    {"GET", "/v1/environments/{}/syncs", sync_list, false},
    {"POST", "/v1/environments/{}/syncs", sync_create, true},
    {"GET", "/v1/environments/{}/syncs/{}/{}", sync_get, false},
    {"PATCH", "/v1/environments/{}/syncs/{}/{}", sync_patch, true},
    {"DELETE", "/v1/environments/{}/syncs/{}/{}", sync_delete, true},
    {"GET", "/v1/sync-runs", run_list, false},
    {"GET", "/v1/sync-runs/{}", run_get, false},
    {"POST", "/v1/sync-runs/{}/retry", run_retry, true},
    {"GET", "/v1/providers", providers_list, false},
    {"GET", "/v1/destinations", destinations_list, false},
    {"GET", "/v1/dead-letters", dead_letter_list, false},
    {"POST", "/v1/dead-letters/{}/redrive", dead_letter_redrive, true},
    {"GET", "/v1/webhooks", webhook_list, false},
    {"GET", "/v1/webhooks/{}", webhook_get, false},
    {"GET", "/v1/replays", replay_list, false},
    {"POST", "/v1/replays", replay_create, true},
    {"GET", "/v1/replays/{}", replay_get, false},
    {"POST", "/v1/replays/{}/cancel", replay_cancel, true},
    {"GET", "/v1/audit", audit_list, false},
};
const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
