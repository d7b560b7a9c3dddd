/*
 * cmd_connection: `hookline connection create|list|update`.
 *
 * A connection is one end customer's account on an integration. Its connection_config
 * and metadata JSON objects carry the identifiers the router attributes webhooks by
 * (e.g. {"portalId": "123"} for HubSpot, see `hookline providers`), so they are checked
 * here to be JSON objects without duplicate keys before they are stored. A connection
 * may have its own webhook URL, which replaces the environment's primary URL for its
 * webhooks (Nango's override); the environment's secondary URL still gets a copy.
 *
 * A connection may also have its own webhook secret (--secret), for providers that sign
 * each customer's webhooks with a secret of their own and for webhooks that name their
 * connection in the URL: the router then attributes a webhook to the connection only
 * when that secret verifies it (docs/providers.md, "Per-connection secrets"). It is
 * stored encrypted (common/secretbox.h) and never printed: output says has_secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/ident.h"
#include "common/secretbox.h"
#include "common/store.h"

#define CONNECTION_ID_MAX_LEN IDENT_MAX_LEN
#define JSON_ARG_MAX_LEN (1024 * 1024)
#define SECRET_MAX_LEN 4096 /* as an integration's */

/* What every command that prints connections prints. */
#define CONNECTION_COLUMNS                                                                                             \
    "c.connection_id, i.key AS integration, c.connection_config, c.metadata, c.webhook_url_override,"                  \
    " c.webhook_secret IS NOT NULL AS has_secret"

static const char create_usage[] =
    "Usage: hookline connection create --env UUID --integration KEY --id ID\n"
    "                                  [--config JSON] [--metadata JSON] [--webhook-url URL]\n"
    "                                  [--secret S] [--json]\n"
    "\n"
    "Adds a customer connection to an integration.\n"
    "\n"
    "  --env UUID          the environment\n"
    "  --integration KEY   the integration key (see 'hookline integration list')\n"
    "  --id ID             the connection id your app uses for this customer\n"
    "  --config JSON       connection_config object, e.g. '{\"portalId\": \"123\"}' (default {})\n"
    "  --metadata JSON     metadata object (default {})\n"
    "  --webhook-url URL   forward this connection's webhooks here instead of the\n"
    "                      environment's webhook URL (http or https)\n"
    "  --secret S          this connection's own webhook secret: its webhooks are attributed\n"
    "                      to it only when this secret verifies them (stored encrypted,\n"
    "                      never printed)\n"
    "  --json              print a JSON object\n"
    "  --help              show this help\n";

static const char list_usage[] =
    "Usage: hookline connection list --env UUID [--integration KEY] [--json]\n"
    "\n"
    "Lists an environment's connections (optionally one integration's).\n"
    "\n"
    "  --env UUID          the environment\n"
    "  --integration KEY   only this integration's connections\n"
    "  --json              print a JSON array\n"
    "  --help              show this help\n";

static const char update_usage[] =
    "Usage: hookline connection update --env UUID --integration KEY --id ID\n"
    "                                  [--webhook-url URL|none] [--secret S] [--json]\n"
    "\n"
    "Changes a connection and prints it (without its secret). Only what is given changes.\n"
    "\n"
    "  --env UUID              the environment\n"
    "  --integration KEY       the integration key\n"
    "  --id ID                 the connection id\n"
    "  --webhook-url URL|none  forward this connection's webhooks here instead of the\n"
    "                          environment's webhook URL; none: to the environment's again\n"
    "  --secret S              this connection's own webhook secret ('' removes it)\n"
    "  --json                  print a JSON object\n"
    "  --help                  show this help\n";

/* The rule every stage applies to identifiers (common/ident.h), so an id accepted here
 * is never refused downstream. */
static bool valid_connection_id(const char *s)
{
    return ident_valid(s, strlen(s));
}

/* Seals secret (NULL or "": none) for connection id of integration key: 0 with *sealed
 * the stored form or NULL, or -1 (printed). */
static int seal_connection_secret(const char *secret, const char *env, const char *key, const char *id, char **sealed)
{
    *sealed = NULL;
    if (!secret || !*secret)
        return 0;
    if (strlen(secret) > SECRET_MAX_LEN) {
        cli_error("--secret is limited to %d characters", SECRET_MAX_LEN);
        return -1;
    }
    char *row = store_secret_row_connection(env, key, id);
    if (!row) {
        cli_error("out of memory");
        return -1;
    }
    *sealed = cli_seal(secret, STORE_COL_CONNECTION_SECRET, row);
    free(row);
    return *sealed ? 0 : -1;
}

/* Prints that the environment has no integration key; returns CLI_FAIL. */
static int no_integration(const char *env, const char *key)
{
    cli_error("environment %s has no integration '%s' (see 'hookline integration list --env %s')", env, key, env);
    return CLI_FAIL;
}

/* Checks that the environment has integration key. 1 yes, 0 no (printed), -1 error (printed). */
static int integration_exists(PGconn *db, const char *env, const char *key)
{
    struct cli_db_error err;
    const char *params[] = {env, key};
    PGresult *res = cli_db_query(db, "SELECT 1 FROM integrations WHERE environment_id = $1::uuid AND key = $2", 2,
                                 params, &err);
    if (!res) {
        cli_db_fail("looking up the integration", &err);
        return -1;
    }
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (!found)
        no_integration(env, key);
    return found;
}

int cmd_connection_create(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *id = NULL, *config = "{}", *metadata = "{}", *url = NULL, *secret = NULL;
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;
    char *sealed = NULL;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"integration", CLI_OPT_STRING, &key, true},
        {"id", CLI_OPT_STRING, &id, true},
        {"config", CLI_OPT_STRING, &config, false},
        {"metadata", CLI_OPT_STRING, &metadata, false},
        {"webhook-url", CLI_OPT_URL, &url, false},
        {"secret", CLI_OPT_STRING, &secret, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, create_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (!valid_connection_id(id)) {
        cli_error("--id must be 1 to %d bytes of UTF-8 without control characters", CONNECTION_ID_MAX_LEN);
        return CLI_FAIL;
    }
    if (cli_check_json_object("--config", config, JSON_ARG_MAX_LEN) < 0 ||
        cli_check_json_object("--metadata", metadata, JSON_ARG_MAX_LEN) < 0 ||
        seal_connection_secret(secret, env, key, id, &sealed) < 0)
        return CLI_FAIL;

    db = cli_db_connect_env(env);
    if (!db)
        goto out;
    /* One statement: the integration is looked up and the row inserted atomically. */
    const char *params[] = {env, key, id, config, metadata, url, sealed};
    res = cli_db_query(db,
                       "WITH c AS (INSERT INTO connections (integration_id, connection_id, connection_config, metadata,"
                       " webhook_url_override, webhook_secret)"
                       " SELECT i.id, $3, $4::jsonb, $5::jsonb, $6, $7 FROM integrations i"
                       " WHERE i.environment_id = $1::uuid AND i.key = $2::text RETURNING *)"
                       " SELECT " CONNECTION_COLUMNS " FROM c, (SELECT $2::text AS key) i",
                       7, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("integration '%s' already has a connection with id '%s'", key, id);
        else
            cli_db_fail("creating the connection", &err);
        goto out;
    }
    if (PQntuples(res) == 0)
        no_integration(env, key);
    else
        status = cli_print_row(res, json);
out:
    secretbox_free_str(sealed);
    PQclear(res);
    PQfinish(db);
    return status;
}

int cmd_connection_list(int argc, char **argv)
{
    const char *env = NULL, *key = NULL;
    bool json = false;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"integration", CLI_OPT_STRING, &key, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    PGconn *db = cli_db_connect_env(env);
    if (!db)
        return CLI_FAIL;
    int status = CLI_FAIL;
    if (!key || integration_exists(db, env, key) > 0) {
        const char *params[] = {env, key};
        status = cli_db_print(db, "listing connections",
                              "SELECT " CONNECTION_COLUMNS
                              " FROM connections c JOIN integrations i ON i.id = c.integration_id"
                              " WHERE i.environment_id = $1::uuid AND ($2::text IS NULL OR i.key = $2::text)"
                              " ORDER BY i.key, c.connection_id",
                              2, params, json, "no connections");
    }
    PQfinish(db);
    return status;
}

int cmd_connection_update(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *id = NULL, *url = NULL, *secret = NULL;
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;
    char *sealed = NULL;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},        {"integration", CLI_OPT_STRING, &key, true},
        {"id", CLI_OPT_STRING, &id, true},          {"webhook-url", CLI_OPT_URL_OR_NONE, &url, false},
        {"secret", CLI_OPT_STRING, &secret, false}, {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, update_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (!url && !secret)
        return cli_usage_error(argv[0], "nothing to update: give --webhook-url and/or --secret");
    if (seal_connection_secret(secret, env, key, id, &sealed) < 0)
        return CLI_FAIL;

    db = cli_db_connect_env(env);
    if (!db || integration_exists(db, env, key) <= 0)
        goto out;
    /* $4 NULL: the URL is kept; $5 false: the secret is kept, else it becomes $6 (NULL
     * for --secret ''). */
    const char *params[] = {env, key, id, url, secret ? "true" : "false", sealed};
    res = cli_db_query(db,
                       "UPDATE connections c SET webhook_url_override = CASE WHEN $4::text IS NULL"
                       " THEN c.webhook_url_override ELSE nullif($4, '') END,"
                       " webhook_secret = CASE WHEN $5::boolean THEN $6::text ELSE c.webhook_secret END,"
                       " updated_at = now()"
                       " FROM integrations i WHERE i.id = c.integration_id"
                       " AND i.environment_id = $1::uuid AND i.key = $2::text AND c.connection_id = $3"
                       " RETURNING " CONNECTION_COLUMNS,
                       6, params, &err);
    if (!res)
        cli_db_fail("updating the connection", &err);
    else if (PQntuples(res) == 0)
        cli_error("integration '%s' has no connection with id '%s' (see 'hookline connection list --env %s')", key, id,
                  env);
    else
        status = cli_print_row(res, json);
out:
    secretbox_free_str(sealed);
    PQclear(res);
    PQfinish(db);
    return status;
}
