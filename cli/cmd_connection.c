/*
 * cmd_connection: `hookline connection create` and `hookline connection list`.
 *
 * A connection is one end customer's account on an integration. Its connection_config
 * and metadata JSON objects carry the identifiers the router attributes webhooks by
 * (e.g. {"portalId": "123"} for HubSpot, see `hookline providers`), so they are checked
 * here to be JSON objects without duplicate keys before they are stored.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/ids.h"

#define CONNECTION_ID_MAX_LEN 1024
#define JSON_ARG_MAX_LEN (1024 * 1024)

static const char create_usage[] =
    "Usage: hookline connection create --env UUID --integration KEY --id ID\n"
    "                                  [--config JSON] [--metadata JSON] [--json]\n"
    "\n"
    "Adds a customer connection to an integration.\n"
    "\n"
    "  --env UUID          the environment\n"
    "  --integration KEY   the integration key (see 'hookline integration list')\n"
    "  --id ID             the connection id your app uses for this customer\n"
    "  --config JSON       connection_config object, e.g. '{\"portalId\": \"123\"}' (default {})\n"
    "  --metadata JSON     metadata object (default {})\n"
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

static bool valid_connection_id(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CONNECTION_ID_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* Checks that the environment has integration key. 1 yes, 0 no (printed), -1 error (printed). */
static int integration_exists(PGconn *db, const char *env, const char *key)
{
    struct cli_db_error err;
    const char *params[] = {env, key};
    PGresult *res =
        cli_db_query(db, "SELECT 1 FROM integrations WHERE environment_id = $1::uuid AND key = $2", 2, params, &err);
    if (!res) {
        cli_db_fail("looking up the integration", &err);
        return -1;
    }
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (!found)
        cli_error("environment %s has no integration '%s' (see 'hookline integration list --env %s')", env, key,
                  env);
    return found;
}

int cmd_connection_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"env", required_argument, NULL, 'e'},
        {"integration", required_argument, NULL, 'i'},
        {"id", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'C'},
        {"metadata", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *id = NULL, *config = "{}", *metadata = "{}";
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    json_t *out = NULL;
    struct cli_db_error err;

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'e':
            env = optarg;
            break;
        case 'i':
            key = optarg;
            break;
        case 'c':
            id = optarg;
            break;
        case 'C':
            config = optarg;
            break;
        case 'm':
            metadata = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            return cli_help(create_usage);
        default:
            return cli_usage_hint(argv[0]);
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!env || !key || !id)
        return cli_usage_error(argv[0], "--env, --integration and --id are required");

    if (!id_is_uuid(env)) {
        cli_error("--env '%s' is not an environment id (a UUID, see 'hookline env list')", env);
        return CLI_FAIL;
    }
    if (!valid_connection_id(id)) {
        cli_error("--id must be 1 to %d characters without control characters", CONNECTION_ID_MAX_LEN);
        return CLI_FAIL;
    }
    if (cli_check_json_object("--config", config, JSON_ARG_MAX_LEN) < 0 ||
        cli_check_json_object("--metadata", metadata, JSON_ARG_MAX_LEN) < 0)
        return CLI_FAIL;

    db = cli_db_connect();
    if (!db)
        goto out;
    if (cli_db_env_exists(db, env) <= 0)
        goto out;
    /* One statement: the integration is looked up and the row inserted atomically. */
    const char *params[] = {env, key, id, config, metadata};
    res = cli_db_query(db,
                       "INSERT INTO connections (integration_id, connection_id, connection_config, metadata)"
                       " SELECT i.id, $3, $4::jsonb, $5::jsonb FROM integrations i"
                       " WHERE i.environment_id = $1::uuid AND i.key = $2::text"
                       " RETURNING connection_id, $2::text AS integration, connection_config, metadata",
                       5, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("integration '%s' already has a connection with id '%s'", key, id);
        else
            cli_db_fail("creating the connection", &err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        cli_error("environment %s has no integration '%s' (see 'hookline integration list --env %s')", env, key,
                  env);
        goto out;
    }
    out = cli_db_row(res, 0);
    if (!out) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(out, json, "") < 0)
        goto out;
    status = CLI_OK;
out:
    json_decref(out);
    PQclear(res);
    PQfinish(db);
    return status;
}

int cmd_connection_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"env", required_argument, NULL, 'e'},
        {"integration", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL;
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    json_t *rows = NULL;
    struct cli_db_error err;

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'e':
            env = optarg;
            break;
        case 'i':
            key = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            return cli_help(list_usage);
        default:
            return cli_usage_hint(argv[0]);
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!env)
        return cli_usage_error(argv[0], "--env is required");
    if (!id_is_uuid(env)) {
        cli_error("--env '%s' is not an environment id (a UUID, see 'hookline env list')", env);
        return CLI_FAIL;
    }

    db = cli_db_connect();
    if (!db)
        goto out;
    if (cli_db_env_exists(db, env) <= 0)
        goto out;
    if (key && integration_exists(db, env, key) <= 0)
        goto out;
    const char *params[] = {env, key};
    res = cli_db_query(db,
                       "SELECT c.connection_id, i.key AS integration, c.connection_config, c.metadata"
                       " FROM connections c JOIN integrations i ON i.id = c.integration_id"
                       " WHERE i.environment_id = $1::uuid AND ($2::text IS NULL OR i.key = $2::text)"
                       " ORDER BY i.key, c.connection_id",
                       2, params, &err);
    if (!res) {
        cli_db_fail("listing connections", &err);
        goto out;
    }
    rows = cli_db_rows(res);
    if (!rows) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(rows, json, "no connections") < 0)
        goto out;
    status = CLI_OK;
out:
    json_decref(rows);
    PQclear(res);
    PQfinish(db);
    return status;
}
