/*
 * cmd_import: `hookline import nango`, moving a Nango environment's integrations and
 * connections here, so that its webhooks can be pointed at hookline unchanged.
 *
 * The input is what Nango's public API returns, gathered in one JSON object (the
 * export file; README.md, "Importing from Nango"):
 *   {"integrations": <GET /integrations: {"data": [{"unique_key", "provider"}, ...]}
 *                     or the array itself>,
 *    "connections":  [<GET /connection/{id}?provider_config_key=K: {"connection_id",
 *                     "provider_config_key", "connection_config", "metadata"}>, ...]}
 * With --api-url it is fetched from those endpoints with the secret key read from an
 * environment variable (never from the command line, where `ps` shows it).
 *
 * Each integration whose provider hookline has is created with its key and provider;
 * one with a provider hookline lacks is listed and skipped with its connections. Each
 * connection is created with its connection_config and metadata as the JSON values Nango
 * returned. What exists already is left as it is, so a second run creates nothing.
 * Nango's API does not return webhook or client secrets: the integrations that need
 * one are listed with the command that sets it. --dry-run prints the same plan and
 * writes nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "common/ident.h"
#include "common/outbound.h"
#include "providers/provider.h"

#define EXPORT_MAX_BYTES (64L * 1024 * 1024) /* an export, or one API answer */
#define API_TIMEOUT_S 30L

static const char usage[] =
    "Usage: hookline import nango (--file EXPORT.json | --api-url URL --secret-key-env VAR\n"
    "                              [--allow-cidr CIDRS]) --env UUID [--dry-run] [--json]\n"
    "\n"
    "Creates a Nango environment's integrations and connections in a hookline environment,\n"
    "with their connection_config and metadata unchanged. What exists already is left as\n"
    "it is (running it again creates nothing). Integrations whose provider hookline lacks\n"
    "are listed and skipped. Secrets Nango does not return are listed with the command\n"
    "that sets them.\n"
    "\n"
    "  --file PATH           an export: {\"integrations\": <GET /integrations>,\n"
    "                        \"connections\": [<GET /connection/{id}>, ...]} (README.md)\n"
    "  --api-url URL         Nango's API (e.g. https://api.nango.dev), read with\n"
    "  --secret-key-env VAR  the environment variable that holds the Nango secret key\n"
    "  --allow-cidr CIDRS    addresses the API may be at although private or loopback\n"
    "                        (e.g. a self-hosted Nango: 10.0.0.0/8); default none\n"
    "  --env UUID            the hookline environment to create them in\n"
    "  --dry-run             print what would be created, create nothing\n"
    "  --json                print a JSON object\n"
    "  --help                show this help\n";

/* ---- the Nango API ---------------------------------------------------------------- */

struct buf {
    char *data;
    size_t len;
};

static size_t buf_write(char *p, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    size_t add = size * n;
    if (b->len + add > (size_t)EXPORT_MAX_BYTES)
        return 0; /* curl fails the transfer */
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, p, add);
    b->data = grown;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

struct api {
    CURL *curl;
    const char *base;
    struct curl_slist *headers;
    struct ssrf_policy policy;
    struct outbound_guard guard;
};

/* GET base+path (path already escaped) as JSON: a new reference, or NULL (printed). */
static json_t *api_get(struct api *a, const char *path)
{
    char url[OUTBOUND_URL_MAX + 1];
    if (snprintf(url, sizeof url, "%s%s", a->base, path) >= (int)sizeof url) {
        cli_error("the Nango API URL for %s is too long", path);
        return NULL;
    }
    struct buf b = {0};
    curl_easy_reset(a->curl);
    outbound_guard(a->curl, &a->guard, &a->policy);
    curl_easy_setopt(a->curl, CURLOPT_URL, url);
    curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, API_TIMEOUT_S);
    curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(a->curl);
    long status = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    json_t *out = NULL;
    json_error_t jerr;
    if (rc != CURLE_OK)
        cli_error("GET %s: %s%s%s", path, curl_easy_strerror(rc), a->guard.refused[0] ? ": refused " : "",
                  a->guard.refused);
    else if (status != 200)
        cli_error("GET %s: Nango answered HTTP %ld (is the secret key right?)", path, status);
    else if (!(out = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &jerr)))
        cli_error("GET %s: the answer is not JSON: %s", path, jerr.text);
    free(b.data);
    return out;
}

/* The export assembled from the API: GET /integrations, GET /connection, then each
 * connection's GET /connection/{id}?provider_config_key= (the list has no
 * connection_config). A new reference, or NULL (printed). */
static json_t *export_from_api(const char *base, const char *key_env, const char *allow)
{
    const char *key = getenv(key_env);
    if (!key || !*key) {
        cli_error("the environment variable %s (--secret-key-env) is not set", key_env);
        return NULL;
    }
    struct api a = {.base = base};
    char err[128], auth[1024];
    if (ssrf_policy_parse(allow ? allow : "", &a.policy, err, sizeof err) < 0) {
        cli_error("--allow-cidr: %s", err);
        return NULL;
    }
    if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) >= (int)sizeof auth) {
        cli_error("the secret key in %s is too long", key_env);
        return NULL;
    }
    json_t *out = NULL, *integrations = NULL, *list = NULL, *connections = json_array();
    a.curl = curl_easy_init();
    a.headers = curl_slist_append(NULL, auth);
    explicit_bzero(auth, sizeof auth);
    if (!a.curl || !a.headers || !connections)
        goto out;
    if (!(integrations = api_get(&a, "/integrations")) || !(list = api_get(&a, "/connection")))
        goto out;
    json_t *conns = json_object_get(list, "connections"), *c;
    size_t i;
    json_array_foreach(conns, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "connection_id"));
        const char *pck = json_string_value(json_object_get(c, "provider_config_key"));
        if (!id || !pck)
            continue;
        char *eid = curl_easy_escape(a.curl, id, 0), *ekey = curl_easy_escape(a.curl, pck, 0);
        char path[2048];
        json_t *one = NULL;
        if (eid && ekey &&
            snprintf(path, sizeof path, "/connection/%s?provider_config_key=%s", eid, ekey) < (int)sizeof path)
            one = api_get(&a, path);
        curl_free(eid);
        curl_free(ekey);
        if (!one)
            goto out;
        json_array_append_new(connections, one);
    }
    out = json_pack("{s:O, s:O}", "integrations", integrations, "connections", connections);
out:
    json_decref(integrations);
    json_decref(list);
    json_decref(connections);
    curl_slist_free_all(a.headers);
    if (a.curl)
        curl_easy_cleanup(a.curl);
    return out;
}

/* ---- the plan ----------------------------------------------------------------------- */

/* One line of the report: printed as text now, or kept for --json. */
struct report {
    bool json, dry_run;
    json_t *integrations, *connections, *secrets;
    int created, existing, skipped;
};

static void say(struct report *r, json_t *list, json_t *item, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(struct report *r, json_t *list, json_t *item, const char *fmt, ...)
{
    if (!r->json) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
    }
    json_array_append_new(list, item);
}

static const char *verb(const struct report *r)
{
    return r->dry_run ? "would create" : "created";
}

/* 1 when the query finds a row, 0 when not, -1 on error (printed). */
static int exists(PGconn *db, const char *what, const char *sql, int n, const char *const *params, char *first,
                  size_t firstlen)
{
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, sql, n, params, &err);
    if (!res)
        return cli_db_fail(what, &err), -1;
    int found = PQntuples(res) > 0;
    if (found && first)
        snprintf(first, firstlen, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found;
}

static int run_sql(PGconn *db, const char *what, const char *sql, int n, const char *const *params)
{
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, sql, n, params, &err);
    if (!res)
        return cli_db_fail(what, &err), -1;
    PQclear(res);
    return 0;
}

/* The integration key's state here: 1 importable (created or already there with the
 * same provider), 0 skipped (listed), -1 error. */
static int import_integration(PGconn *db, const char *env, json_t *integ, struct report *r)
{
    const char *key = json_string_value(json_object_get(integ, "unique_key"));
    const char *nango_provider = json_string_value(json_object_get(integ, "provider"));
    if (!key || !nango_provider)
        return 0;
    const struct provider *p = provider_find(nango_provider);
    const char *why = !ident_is_integration_key(key) ? "its key is not one hookline accepts"
                      : !p                           ? "hookline has no such provider (see 'hookline providers')"
                                                     : NULL;
    if (why) {
        r->skipped++;
        say(r, r->integrations,
            json_pack("{s:s, s:s, s:s, s:s}", "key", key, "provider", nango_provider, "action", "skipped", "reason",
                      why),
            "skip integration %s (provider %s): %s", key, nango_provider, why);
        return 0;
    }
    char have[128] = "";
    const char *params[] = {env, key, nango_provider};
    int found = exists(db, "looking up the integration",
                       "SELECT provider FROM integrations WHERE environment_id = $1::uuid AND key = $2", 2, params,
                       have, sizeof have);
    if (found < 0)
        return -1;
    if (found && strcmp(have, nango_provider) != 0) {
        r->skipped++;
        say(r, r->integrations,
            json_pack("{s:s, s:s, s:s, s:s}", "key", key, "provider", nango_provider, "action", "skipped", "reason",
                      "the key exists here with another provider"),
            "skip integration %s: it exists here with provider %s, not %s", key, have, nango_provider);
        return 0;
    }
    if (found) {
        r->existing++;
        say(r, r->integrations,
            json_pack("{s:s, s:s, s:s}", "key", key, "provider", nango_provider, "action", "exists"),
            "integration %s (%s) exists", key, nango_provider);
    } else {
        if (!r->dry_run && run_sql(db, "creating the integration",
                                   "INSERT INTO integrations (environment_id, key, provider) VALUES ($1::uuid, $2, $3)"
                                   " ON CONFLICT DO NOTHING",
                                   3, params) < 0)
            return -1;
        r->created++;
        say(r, r->integrations,
            json_pack("{s:s, s:s, s:s}", "key", key, "provider", nango_provider, "action",
                      r->dry_run ? "would_create" : "created"),
            "%s integration %s (%s)", verb(r), key, nango_provider);
    }
    const char *field = provider_secret_field(p);
    if (field) { /* Nango's API never returns it */
        const char *opt = strcmp(field, "client_secret") == 0 ? "--client-secret" : "--secret";
        char cmd[512];
        snprintf(cmd, sizeof cmd, "hookline integration update --env %s --key %s %s VALUE", env, key, opt);
        json_array_append_new(r->secrets,
                              json_pack("{s:s, s:s, s:s}", "integration", key, "secret", field, "command", cmd));
    }
    return 1;
}

/* A connection's JSON value as text for jsonb ({} for null or absent). New string. */
static char *json_text(json_t *v)
{
    return json_is_object(v) ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("{}");
}

static int import_connection(PGconn *db, const char *env, json_t *conn, json_t *importable, struct report *r)
{
    const char *id = json_string_value(json_object_get(conn, "connection_id"));
    const char *key = json_string_value(json_object_get(conn, "provider_config_key"));
    if (!id || !key)
        return 0;
    if (!json_is_string(json_object_get(importable, key))) {
        r->skipped++;
        say(r, r->connections,
            json_pack("{s:s, s:s, s:s, s:s}", "integration", key, "connection_id", id, "action", "skipped", "reason",
                      "its integration is not imported"),
            "skip connection %s/%s: its integration is not imported", key, id);
        return 0;
    }
    if (!ident_valid(id, strlen(id))) {
        r->skipped++;
        say(r, r->connections,
            json_pack("{s:s, s:s, s:s, s:s}", "integration", key, "connection_id", id, "action", "skipped", "reason",
                      "the id is not one hookline accepts"),
            "skip connection %s/%s: the id is not one hookline accepts", key, id);
        return 0;
    }
    const char *params4[] = {env, key, id};
    int found = exists(db, "looking up the connection",
                       "SELECT 1 FROM connections c JOIN integrations i ON i.id = c.integration_id"
                       " WHERE i.environment_id = $1::uuid AND i.key = $2 AND c.connection_id = $3",
                       3, params4, NULL, 0);
    if (found < 0)
        return -1;
    if (found) {
        r->existing++;
        say(r, r->connections,
            json_pack("{s:s, s:s, s:s}", "integration", key, "connection_id", id, "action", "exists"),
            "connection %s/%s exists", key, id);
        return 0;
    }
    int rc = 0;
    char *config = json_text(json_object_get(conn, "connection_config"));
    char *metadata = json_text(json_object_get(conn, "metadata"));
    if (!config || !metadata) {
        cli_error("out of memory");
        rc = -1;
    } else if (!r->dry_run) {
        const char *params[] = {env, key, id, config, metadata};
        rc = run_sql(db, "creating the connection",
                     "INSERT INTO connections (integration_id, connection_id, connection_config, metadata)"
                     " SELECT i.id, $3, $4::jsonb, $5::jsonb FROM integrations i"
                     " WHERE i.environment_id = $1::uuid AND i.key = $2 ON CONFLICT DO NOTHING",
                     5, params);
    }
    const struct provider *p = provider_find(json_string_value(json_object_get(importable, key)));
    const char *where = NULL, *place = p ? provider_unsigned_locator(p, 0, &where) : NULL;
    if (rc == 0 && place) {
        /* Nango routes on a name its check does not cover (the URL's ?nangoConnectionId=, a
         * header outside the HMAC, a body a plain token does not sign); hookline asks the
         * connection to prove it with its own secret (docs/providers.md, "Per-connection
         * secrets"). */
        char cmd[640];
        snprintf(cmd, sizeof cmd,
                 "hookline connection update --env %s --integration %s --id %s --secret VALUE"
                 "   (webhooks name this connection by %s %s, which their signature does not cover)",
                 env, key, id, where, place);
        json_array_append_new(r->secrets, json_pack("{s:s, s:s, s:s, s:s}", "integration", key, "connection_id", id,
                                                    "secret", "connection_secret", "command", cmd));
    }
    if (rc == 0) {
        r->created++;
        say(r, r->connections,
            json_pack("{s:s, s:s, s:s}", "integration", key, "connection_id", id, "action",
                      r->dry_run ? "would_create" : "created"),
            "%s connection %s/%s", verb(r), key, id);
    }
    free(config);
    free(metadata);
    return rc;
}

/* The integrations array of an export: GET /integrations's answer or its "data". */
static json_t *export_integrations(json_t *ex)
{
    json_t *v = json_object_get(ex, "integrations");
    return json_is_array(v) ? v : json_object_get(v, "data");
}

static int import_all(PGconn *db, const char *env, json_t *ex, struct report *r)
{
    json_t *integrations = export_integrations(ex), *connections = json_object_get(ex, "connections");
    if (!json_is_array(integrations) || (connections && !json_is_array(connections))) {
        cli_error(
            "the export is not {\"integrations\": [...], \"connections\": [...]} (see 'hookline import nango "
            "--help')");
        return -1;
    }
    json_t *importable = json_object(), *v;
    size_t i;
    int rc = importable ? 0 : -1;
    json_array_foreach(integrations, i, v)
    {
        int got = rc < 0 ? -1 : import_integration(db, env, v, r);
        if (got < 0)
            rc = -1;
        else if (got > 0)
            json_object_set_new(importable, json_string_value(json_object_get(v, "unique_key")),
                                json_string(json_string_value(json_object_get(v, "provider"))));
    }
    json_array_foreach(connections, i, v)
    {
        if (rc == 0 && import_connection(db, env, v, importable, r) < 0)
            rc = -1;
    }
    json_decref(importable);
    return rc;
}

static int print_summary(struct report *r)
{
    if (r->json) {
        json_t *out = json_pack("{s:b, s:O, s:O, s:O, s:i, s:i, s:i}", "dry_run", r->dry_run, "integrations",
                                r->integrations, "connections", r->connections, "secrets_to_set", r->secrets, "created",
                                r->created, "existing", r->existing, "skipped", r->skipped);
        int rc = out ? cli_print(out, true, NULL) : -1;
        json_decref(out);
        return rc < 0 ? CLI_FAIL : CLI_OK;
    }
    printf("%d %s, %d already here, %d skipped%s\n", r->created, r->dry_run ? "to create" : "created", r->existing,
           r->skipped, r->created == 0 && !r->dry_run ? " (nothing new)" : "");
    if (json_array_size(r->secrets))
        printf("Secrets Nango does not export; set them before pointing the webhooks here:\n");
    json_t *s;
    size_t i;
    json_array_foreach(r->secrets, i, s)
    {
        printf("  %s\n", json_string_value(json_object_get(s, "command")));
    }
    return CLI_OK;
}

int cmd_import_nango(int argc, char **argv)
{
    const char *file = NULL, *api_url = NULL, *key_env = NULL, *allow = NULL, *env = NULL;
    bool dry_run = false, json = false;
    const struct cli_opt opts[] = {
        {"file", CLI_OPT_STRING, &file, false},
        {"api-url", CLI_OPT_URL, &api_url, false},
        {"secret-key-env", CLI_OPT_STRING, &key_env, false},
        {"allow-cidr", CLI_OPT_STRING, &allow, false},
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"dry-run", CLI_OPT_FLAG, &dry_run, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (!file == !api_url)
        return cli_usage_error("import nango", "give either --file or --api-url");
    if (api_url && !key_env)
        return cli_usage_error("import nango", "--api-url needs --secret-key-env");

    json_t *ex = NULL;
    json_error_t jerr;
    if (file && !(ex = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr))) {
        cli_error("%s: %s (line %d)", file, jerr.text, jerr.line);
        return CLI_FAIL;
    }
    if (api_url && !(ex = export_from_api(api_url, key_env, allow)))
        return CLI_FAIL;
    struct report r = {.json = json,
                       .dry_run = dry_run,
                       .integrations = json_array(),
                       .connections = json_array(),
                       .secrets = json_array()};
    int status = CLI_FAIL;
    PGconn *db = cli_db_connect_env(env);
    if (db && r.integrations && r.connections && r.secrets) {
        /* One transaction: an error leaves nothing half-imported. */
        bool ok = dry_run || run_sql(db, "starting the import", "BEGIN", 0, NULL) == 0;
        ok = ok && import_all(db, env, ex, &r) == 0;
        if (!dry_run && ok)
            ok = run_sql(db, "committing the import", "COMMIT", 0, NULL) == 0;
        status = ok ? print_summary(&r) : CLI_FAIL;
    }
    json_decref(r.integrations);
    json_decref(r.connections);
    json_decref(r.secrets);
    json_decref(ex);
    PQfinish(db);
    return status;
}
