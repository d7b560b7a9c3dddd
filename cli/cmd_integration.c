/*
 * cmd_integration: `hookline integration create|list|show|update`.
 *
 * An integration is an environment's use of one provider under a key; providers call
 * <HOOKLINE_PUBLIC_URL>/webhook/<environment uuid>/<key>. Its secrets are stored
 * encrypted (cli_seal, bound to the column and to "<environment uuid>/<key>") and
 * printed only by `integration show --show-secrets`: other output says whether each
 * one is set. Rotation (`update --rotate`) moves the current secret to previous_*,
 * which the ingress still accepts until `update --clear-previous`. `--forward false`
 * makes an integration sync-only: its webhooks are routed but not forwarded.
 * Arguments are checked before the database sees them (UUID, the key's CHECK
 * constraint, a known provider, JSON objects), so mistakes get a message that says
 * what to fix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/ident.h"
#include "common/secretbox.h"
#include "common/store.h"
#include "providers/provider.h"

#define SECRET_MAX_LEN 4096
#define VERIFY_CONFIG_MAX_LEN 1024 /* the ingress keeps the text of the jsonb in 2 KiB */

/* The columns every command prints; P is the parameter holding the public base URL. */
#define INTEGRATION_COLUMNS(P)                                                                                         \
    "environment_id, key, provider,"                                                                                   \
    " " P                                                                                                              \
    "::text || '/webhook/' || environment_id || '/' || key AS webhook_url,"                                            \
    " coalesce(webhook_secret, '') <> '' AS has_webhook_secret,"                                                       \
    " coalesce(client_secret, '') <> '' AS has_client_secret, allow_unverified,"                                       \
    " (coalesce(previous_webhook_secret, '') <> '' OR coalesce(previous_client_secret, '') <> '')"                     \
    " AS previous_secret_active, forward_enabled"
/* What one integration's record adds (show, create, update); the secret columns are
 * replaced by cli_reveal_secrets. */
#define INTEGRATION_RECORD(P)                                                                                          \
    INTEGRATION_COLUMNS(P)                                                                                             \
    ", verify_config, created_at, updated_at,"                                                                         \
    " webhook_secret, client_secret, previous_webhook_secret, previous_client_secret"

static const char *const secret_columns[] = {STORE_COL_WEBHOOK_SECRET, STORE_COL_CLIENT_SECRET,
                                             STORE_COL_PREVIOUS_WEBHOOK_SECRET, STORE_COL_PREVIOUS_CLIENT_SECRET};
#define NSECRET_COLUMNS (sizeof secret_columns / sizeof secret_columns[0])

static const char create_usage[] =
    "Usage: hookline integration create --env UUID --key KEY --provider PROVIDER\n"
    "                                   [--secret S] [--client-secret S] [--allow-unverified]\n"
    "                                   [--verify-config JSON] [--forward true|false] [--json]\n"
    "\n"
    "Adds an integration of PROVIDER to an environment and prints its webhook URL, the\n"
    "one to configure at the provider. Secrets are stored encrypted with\n"
    "HOOKLINE_ENCRYPTION_KEY (required to store one) and never printed here.\n"
    "\n"
    "  --env UUID            the environment (see 'hookline env list')\n"
    "  --key KEY             the integration key in the URL: letters, digits, '.', '_', '-'\n"
    "                        (first a letter or digit), at most 128\n"
    "  --provider PROVIDER   see 'hookline providers'\n"
    "  --secret S            the provider's webhook signing secret (webhook_secret)\n"
    "  --client-secret S     the OAuth app's client secret (client_secret)\n"
    "  --allow-unverified    accept webhooks while the needed secret is not set, or from a\n"
    "                        provider that signs nothing (affinity, streak); they are\n"
    "                        forwarded marked unverified; otherwise they are rejected\n"
    "  --verify-config JSON  verification settings (a JSON object): generic-hmac's scheme,\n"
    "                        or {\"allow_legacy_signature\": true} for the other providers\n"
    "                        (docs/providers.md)\n"
    "  --forward true|false  forward its webhooks to the environment's app (default true;\n"
    "                        false: sync-only)\n"
    "  --json                print a JSON object\n"
    "  --help                show this help\n";

static const char list_usage[] =
    "Usage: hookline integration list --env UUID [--json]\n"
    "\n"
    "Lists an environment's integrations with their webhook URLs, whether their secrets\n"
    "are set (never the secrets), whether unverified webhooks are allowed, whether a\n"
    "previous (rotated) secret is still accepted and whether webhooks are forwarded.\n"
    "\n"
    "  --env UUID   the environment\n"
    "  --json       print a JSON array\n"
    "  --help       show this help\n";

static const char show_usage[] =
    "Usage: hookline integration show --env UUID --key KEY [--show-secrets] [--json]\n"
    "\n"
    "Prints one integration. Its secrets only with --show-secrets (decrypted with\n"
    "HOOKLINE_ENCRYPTION_KEY); otherwise whether each one is set.\n"
    "\n"
    "  --env UUID       the environment\n"
    "  --key KEY        the integration key\n"
    "  --show-secrets   also print webhook_secret, client_secret and the previous ones\n"
    "  --json           print a JSON object\n"
    "  --help           show this help\n";

static const char update_usage[] =
    "Usage: hookline integration update --env UUID --key KEY [--secret S] [--client-secret S]\n"
    "                                   [--rotate | --clear-previous]\n"
    "                                   [--allow-unverified true|false] [--verify-config JSON|null]\n"
    "                                   [--forward true|false] [--json]\n"
    "\n"
    "Changes an integration and prints it (without secrets). Only what is given changes.\n"
    "\n"
    "  --env UUID                      the environment\n"
    "  --key KEY                       the integration key\n"
    "  --secret S                      new webhook secret ('' removes it)\n"
    "  --client-secret S               new client secret ('' removes it)\n"
    "  --rotate                        with --secret / --client-secret: the current secret\n"
    "                                  becomes the previous one, still accepted, so the\n"
    "                                  provider can switch over without failures\n"
    "  --clear-previous                stop accepting the previous secrets (end of rotation)\n"
    "  --allow-unverified true|false   accept webhooks while the needed secret is not set,\n"
    "                                  or from a provider that signs nothing\n"
    "  --verify-config JSON|null       verification settings object (null removes them)\n"
    "  --forward true|false            forward its webhooks (false: sync-only)\n"
    "  --json                          print a JSON object\n"
    "  --help                          show this help\n";

/* HOOKLINE_PUBLIC_URL without trailing slashes, in out. */
static void public_base(char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", g_common.public_url);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

/* Prints "unknown provider" with the list of known ones. */
static void unknown_provider(const char *name)
{
    fprintf(stderr, "hookline: unknown provider '%s'; known providers:", name);
    const struct provider *p;
    for (size_t i = 0; (p = provider_at(i)) != NULL; i++)
        fprintf(stderr, "%s %s", i ? "," : "", provider_name(p));
    const char *alias;
    for (size_t i = 0; (alias = provider_alias_at(i, NULL)) != NULL; i++)
        fprintf(stderr, ", %s", alias);
    fputc('\n', stderr);
}

/* Warns when the integration (a printed record) lacks the secret its provider verifies
 * with: its webhooks are rejected, or forwarded unverified if it allows that. */
static void warn_missing_secret(const json_t *integ)
{
    const struct provider *p = provider_find(json_string_value(json_object_get(integ, "provider")));
    const char *field = p ? provider_secret_field(p) : NULL;
    bool allowed = json_is_true(json_object_get(integ, "allow_unverified"));
    if (p && provider_signs_nothing(p) && !allowed && !provider_unverified_by_choice(p)) {
        cli_warn(
            "provider '%s' does not sign its webhooks: they will be rejected until the integration allows "
            "unverified webhooks (--allow-unverified true)",
            provider_name(p));
        return;
    }
    if (!field)
        return;
    bool webhook = !strcmp(field, "webhook_secret");
    if (json_is_true(json_object_get(integ, webhook ? "has_webhook_secret" : "has_client_secret")))
        return;
    cli_warn(
        "provider '%s' verifies webhooks with the %s (%s), which is not set: its webhooks will be %s until it "
        "is",
        provider_name(p), field, webhook ? "--secret" : "--client-secret",
        allowed ? "forwarded as unverified" : "rejected");
}

/* Checks a secret option's value: NULL stays NULL; at most SECRET_MAX_LEN. 0 or -1. */
static int check_secret(const char *opt, const char *value)
{
    if (value && strlen(value) > SECRET_MAX_LEN) {
        cli_error("%s is limited to %d characters", opt, SECRET_MAX_LEN);
        return -1;
    }
    return 0;
}

/* A flag as the text of a boolean parameter. */
static const char *sql_bool(bool b)
{
    return b ? "true" : "false";
}

/* Checks --key against the schema's CHECK constraint; 0 or -1 (printed). */
static int check_key(const char *key)
{
    if (ident_is_integration_key(key))
        return 0;
    cli_error(
        "--key '%s' is not a valid integration key: 1 to 128 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit",
        key);
    return -1;
}

/* Prints row 0 of res (an INTEGRATION_RECORD of integration row) with its secrets
 * decrypted (show) or left out. CLI_OK or CLI_FAIL (printed). With warn, warns when
 * the provider's secret is missing. */
static int print_integration(const PGresult *res, const char *row, bool show, bool json, bool warn)
{
    int status = CLI_FAIL;
    json_t *out = cli_db_row(res, 0);
    if (!out)
        cli_error("out of memory");
    else if (cli_reveal_secrets(out, res, secret_columns, NSECRET_COLUMNS, row, show) == 0 &&
             cli_print(out, json, "") == 0)
        status = CLI_OK;
    if (status == CLI_OK && warn)
        warn_missing_secret(out);
    json_decref(out);
    return status;
}

/* Prints that the environment has no integration key; returns CLI_FAIL. */
static int no_integration(const char *env, const char *key)
{
    cli_error("environment %s has no integration '%s' (see 'hookline integration list --env %s')", env, key, env);
    return CLI_FAIL;
}

/* Refuses a verification config the provider would not understand (the daemons would
 * refuse every webhook with it), before it is stored. 0 or -1 (printed). */
static int check_verify_config(const char *provider, const char *verify_config)
{
    char why[256] = "";
    if (provider_check_verify_config(provider_find(provider), verify_config, why, sizeof why) < 0) {
        cli_error("--verify-config: %s", why);
        return -1;
    }
    return 0;
}

int cmd_integration_create(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *provider = NULL, *secret = NULL, *client_secret = NULL;
    const char *verify_config = NULL, *forward = "true";
    bool json = false, allow_unverified = false;
    char base[1024], row[STORE_SECRET_ROW_MAX];
    char *sealed_secret = NULL, *sealed_client = NULL;
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"key", CLI_OPT_STRING, &key, true},
        {"provider", CLI_OPT_STRING, &provider, true},
        {"secret", CLI_OPT_STRING, &secret, false},
        {"client-secret", CLI_OPT_STRING, &client_secret, false},
        {"allow-unverified", CLI_OPT_FLAG, &allow_unverified, false},
        {"verify-config", CLI_OPT_STRING, &verify_config, false},
        {"forward", CLI_OPT_BOOL, &forward, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, create_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    if (check_key(key) < 0)
        return CLI_FAIL;
    const struct provider *p = provider_find(provider);
    if (!p) {
        unknown_provider(provider);
        return CLI_FAIL;
    }
    if (secret && !*secret)
        secret = NULL;
    if (client_secret && !*client_secret)
        client_secret = NULL;
    if (check_secret("--secret", secret) < 0 || check_secret("--client-secret", client_secret) < 0)
        return CLI_FAIL;
    if (verify_config && (cli_check_json_object("--verify-config", verify_config, VERIFY_CONFIG_MAX_LEN) < 0 ||
                          check_verify_config(provider, verify_config) < 0))
        return CLI_FAIL;
    public_base(base, sizeof base);
    store_secret_row_integration(row, env, key);
    if ((secret && !(sealed_secret = cli_seal(secret, STORE_COL_WEBHOOK_SECRET, row))) ||
        (client_secret && !(sealed_client = cli_seal(client_secret, STORE_COL_CLIENT_SECRET, row))))
        goto out;

    db = cli_db_connect_env(env);
    if (!db)
        goto out;
    const char *params[] = {
        env, key, provider, sealed_secret, sealed_client, base, sql_bool(allow_unverified), verify_config, forward};
    res = cli_db_query(db,
                       "INSERT INTO integrations (environment_id, key, provider, webhook_secret, client_secret,"
                       " allow_unverified, verify_config, forward_enabled)"
                       " VALUES ($1::uuid, $2, $3, $4, $5, $7::boolean, $8::jsonb, $9::boolean)"
                       " RETURNING " INTEGRATION_RECORD("$6"),
                       9, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("environment %s already has an integration with key '%s'", env, key);
        else if (!strcmp(err.sqlstate, CLI_SQLSTATE_FOREIGN_KEY_VIOLATION))
            cli_error("no environment with id %s (see 'hookline env list')", env);
        else
            cli_db_fail("creating the integration", &err);
        goto out;
    }
    status = print_integration(res, row, false, json, true);
out:
    secretbox_free_str(sealed_secret);
    secretbox_free_str(sealed_client);
    PQclear(res);
    PQfinish(db);
    return status;
}

int cmd_integration_list(int argc, char **argv)
{
    const char *env = NULL;
    bool json = false;
    char base[1024];

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    public_base(base, sizeof base);

    PGconn *db = cli_db_connect_env(env);
    if (!db)
        return CLI_FAIL;
    const char *params[] = {env, base};
    int status = cli_db_print(db, "listing integrations",
                              "SELECT " INTEGRATION_COLUMNS("$2") " FROM integrations"
                              " WHERE environment_id = $1::uuid ORDER BY key",
                              2, params, json, "no integrations in this environment");
    PQfinish(db);
    return status;
}

int cmd_integration_show(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL;
    bool json = false, show = false;
    char base[1024], row[STORE_SECRET_ROW_MAX];
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"key", CLI_OPT_STRING, &key, true},
        {"show-secrets", CLI_OPT_FLAG, &show, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, show_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    public_base(base, sizeof base);
    store_secret_row_integration(row, env, key);

    db = cli_db_connect_env(env);
    if (!db)
        goto out;
    const char *params[] = {env, key, base};
    res = cli_db_query(db,
                       "SELECT " INTEGRATION_RECORD("$3") " FROM integrations"
                       " WHERE environment_id = $1::uuid AND key = $2",
                       3, params, &err);
    if (!res)
        cli_db_fail("reading the integration", &err);
    else if (PQntuples(res) == 0)
        no_integration(env, key);
    else
        status = print_integration(res, row, show, json, false);
out:
    PQclear(res);
    PQfinish(db);
    return status;
}

/* What `integration update` was asked to change. NULL strings: unchanged. */
struct update_request {
    const char *secret, *client_secret; /* "" removes */
    bool rotate, clear_previous;
    const char *allow_unverified; /* "true" / "false" */
    const char *verify_config;    /* JSON text, or "null" */
    const char *forward;          /* "true" / "false" */
};

/* The new value of a current secret column: plain sealed for it, or NULL for "" (the
 * secret is removed). 0 or -1 (printed). */
static int seal_current(const char *plain, const char *column, const char *row, char **out)
{
    *out = NULL;
    if (!*plain)
        return 0;
    *out = cli_seal(plain, column, row);
    return *out ? 0 : -1;
}

/* Applies req to integration (env, key) inside the caller's transaction and prints the
 * result. CLI_OK or CLI_FAIL (printed). */
static int apply_update(PGconn *db, const char *env, const char *key, const struct update_request *req, bool json)
{
    int status = CLI_FAIL;
    char base[1024], row[STORE_SECRET_ROW_MAX];
    char *ws = NULL, *cs = NULL, *pws = NULL, *pcs = NULL;
    PGresult *cur = NULL, *res = NULL;
    struct cli_db_error err;

    const char *find[] = {env, key};
    cur = cli_db_query(db,
                       "SELECT webhook_secret, client_secret, provider FROM integrations"
                       " WHERE environment_id = $1::uuid AND key = $2 FOR UPDATE",
                       2, find, &err);
    if (!cur) {
        cli_db_fail("reading the integration", &err);
        goto out;
    }
    if (PQntuples(cur) == 0) {
        no_integration(env, key);
        goto out;
    }
    if (req->verify_config && strcmp(req->verify_config, "null") &&
        check_verify_config(PQgetvalue(cur, 0, 2), req->verify_config) < 0)
        goto out;
    store_secret_row_integration(row, env, key);
    if ((req->secret && seal_current(req->secret, STORE_COL_WEBHOOK_SECRET, row, &ws) < 0) ||
        (req->client_secret && seal_current(req->client_secret, STORE_COL_CLIENT_SECRET, row, &cs) < 0))
        goto out;
    bool rotate_ws = req->rotate && req->secret, rotate_cs = req->rotate && req->client_secret;
    /* Rotation: the current value (SQL NULL or text) moves to the previous column. */
    if ((rotate_ws && cli_reseal(PQgetisnull(cur, 0, 0) ? NULL : PQgetvalue(cur, 0, 0), STORE_COL_WEBHOOK_SECRET,
                                 STORE_COL_PREVIOUS_WEBHOOK_SECRET, row, &pws) < 0) ||
        (rotate_cs && cli_reseal(PQgetisnull(cur, 0, 1) ? NULL : PQgetvalue(cur, 0, 1), STORE_COL_CLIENT_SECRET,
                                 STORE_COL_PREVIOUS_CLIENT_SECRET, row, &pcs) < 0))
        goto out;

    public_base(base, sizeof base);
    bool config_null = req->verify_config && !strcmp(req->verify_config, "null");
    /* Each column changes only when its flag ($4, $6, ...) is true. */
    const char *params[] = {env,
                            key,
                            base,
                            sql_bool(req->secret),
                            ws,
                            sql_bool(req->client_secret),
                            cs,
                            sql_bool(rotate_ws || req->clear_previous),
                            pws,
                            sql_bool(rotate_cs || req->clear_previous),
                            pcs,
                            req->allow_unverified,
                            sql_bool(req->verify_config),
                            config_null ? NULL : req->verify_config,
                            req->forward};
    res = cli_db_query(db,
                       "UPDATE integrations SET"
                       " webhook_secret = CASE WHEN $4::boolean THEN $5 ELSE webhook_secret END,"
                       " client_secret = CASE WHEN $6::boolean THEN $7 ELSE client_secret END,"
                       " previous_webhook_secret = CASE WHEN $8::boolean THEN $9 ELSE previous_webhook_secret END,"
                       " previous_client_secret = CASE WHEN $10::boolean THEN $11 ELSE previous_client_secret END,"
                       " allow_unverified = coalesce($12::boolean, allow_unverified),"
                       " verify_config = CASE WHEN $13::boolean THEN $14::jsonb ELSE verify_config END,"
                       " forward_enabled = coalesce($15::boolean, forward_enabled),"
                       " updated_at = now()"
                       " WHERE environment_id = $1::uuid AND key = $2"
                       " RETURNING " INTEGRATION_RECORD("$3"),
                       15, params, &err);
    if (!res) {
        cli_db_fail("updating the integration", &err);
        goto out;
    }
    if (cli_db_exec(db, "committing the update", "COMMIT") < 0)
        goto out;
    status = print_integration(res, row, false, json, true);
out:
    secretbox_free_str(ws);
    secretbox_free_str(cs);
    secretbox_free_str(pws);
    secretbox_free_str(pcs);
    PQclear(cur);
    PQclear(res);
    return status;
}

int cmd_integration_update(int argc, char **argv)
{
    const char *env = NULL, *key = NULL;
    struct update_request req = {0};
    bool json = false;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"key", CLI_OPT_STRING, &key, true},
        {"secret", CLI_OPT_STRING, &req.secret, false},
        {"client-secret", CLI_OPT_STRING, &req.client_secret, false},
        {"rotate", CLI_OPT_FLAG, &req.rotate, false},
        {"clear-previous", CLI_OPT_FLAG, &req.clear_previous, false},
        {"allow-unverified", CLI_OPT_BOOL, &req.allow_unverified, false},
        {"verify-config", CLI_OPT_STRING, &req.verify_config, false},
        {"forward", CLI_OPT_BOOL, &req.forward, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, update_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (!req.secret && !req.client_secret && !req.clear_previous && !req.allow_unverified && !req.verify_config &&
        !req.forward)
        return cli_usage_error(argv[0],
                               "nothing to update: give --secret, --client-secret, --clear-previous, "
                               "--allow-unverified, --verify-config or --forward");
    if (req.rotate && !req.secret && !req.client_secret)
        return cli_usage_error(argv[0], "--rotate needs the new --secret or --client-secret");
    if (req.rotate && req.clear_previous)
        return cli_usage_error(argv[0], "--rotate and --clear-previous contradict each other");
    if (req.rotate && ((req.secret && !*req.secret) || (req.client_secret && !*req.client_secret))) {
        cli_error("--rotate needs a new secret, not an empty one");
        return CLI_FAIL;
    }
    if (check_secret("--secret", req.secret) < 0 || check_secret("--client-secret", req.client_secret) < 0)
        return CLI_FAIL;
    if (req.verify_config && strcmp(req.verify_config, "null") &&
        cli_check_json_object("--verify-config", req.verify_config, VERIFY_CONFIG_MAX_LEN) < 0)
        return CLI_FAIL;

    PGconn *db = cli_db_connect_env(env);
    if (!db)
        return CLI_FAIL;
    int status = CLI_FAIL;
    if (cli_db_exec(db, "starting a transaction", "BEGIN") == 0)
        status = apply_update(db, env, key, &req, json);
    PQfinish(db); /* without COMMIT (a failure) the transaction is rolled back */
    return status;
}
