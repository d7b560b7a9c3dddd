/*
 * cmd_integration: `hookline integration create` and `hookline integration list`.
 *
 * An integration is an environment's use of one provider under a key; providers call
 * <HOOKLINE_PUBLIC_URL>/webhook/<environment uuid>/<key>. Its secrets are written
 * here and never printed back: output only says whether each one is set.
 * Arguments are checked before the database sees them (UUID, the key's CHECK
 * constraint, a known provider), so mistakes get a message that says what to fix.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/ids.h"
#include "providers/provider.h"

#define SECRET_MAX_LEN 4096

/* The columns both commands print; P is the parameter holding the public base URL. */
#define INTEGRATION_COLUMNS(P)                                                     \
    "environment_id, key, provider,"                                               \
    " " P "::text || '/webhook/' || environment_id || '/' || key AS webhook_url,"  \
    " coalesce(webhook_secret, '') <> '' AS has_webhook_secret,"                   \
    " coalesce(client_secret, '') <> '' AS has_client_secret"

static const char create_usage[] =
    "Usage: hookline integration create --env UUID --key KEY --provider PROVIDER\n"
    "                                   [--secret S] [--client-secret S] [--json]\n"
    "\n"
    "Adds an integration of PROVIDER to an environment and prints its webhook URL, the\n"
    "one to configure at the provider.\n"
    "\n"
    "  --env UUID           the environment (see 'hookline env list')\n"
    "  --key KEY            the integration key in the URL: letters, digits, '.', '_', '-'\n"
    "                       (first a letter or digit), at most 128\n"
    "  --provider PROVIDER  see 'hookline providers'\n"
    "  --secret S           the provider's webhook signing secret (webhook_secret)\n"
    "  --client-secret S    the OAuth app's client secret (client_secret)\n"
    "  --json               print a JSON object\n"
    "  --help               show this help\n";

static const char list_usage[] =
    "Usage: hookline integration list --env UUID [--json]\n"
    "\n"
    "Lists an environment's integrations with their webhook URLs and whether their\n"
    "secrets are set (never the secrets).\n"
    "\n"
    "  --env UUID   the environment\n"
    "  --json       print a JSON array\n"
    "  --help       show this help\n";

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
    fputc('\n', stderr);
}

/* Warns when the provider verifies with a secret that was not given. */
static void warn_missing_secret(const struct provider *p, const char *secret, const char *client_secret)
{
    const char *field = provider_secret_field(p);
    if (!field)
        return;
    bool webhook = !strcmp(field, "webhook_secret");
    if (webhook ? secret != NULL : client_secret != NULL)
        return;
    cli_warn("provider '%s' verifies webhooks with the %s (%s), which is not set: its webhooks will be "
             "rejected until it is",
             provider_name(p), field, webhook ? "--secret" : "--client-secret");
}

int cmd_integration_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"env", required_argument, NULL, 'e'},
        {"key", required_argument, NULL, 'k'},
        {"provider", required_argument, NULL, 'p'},
        {"secret", required_argument, NULL, 's'},
        {"client-secret", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *provider = NULL, *secret = NULL, *client_secret = NULL;
    bool json = false;
    char base[1024];
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
        case 'k':
            key = optarg;
            break;
        case 'p':
            provider = optarg;
            break;
        case 's':
            secret = optarg;
            break;
        case 'c':
            client_secret = optarg;
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
    if (!env || !key || !provider)
        return cli_usage_error(argv[0], "--env, --key and --provider are required");

    if (!id_is_uuid(env)) {
        cli_error("--env '%s' is not an environment id (a UUID, see 'hookline env list')", env);
        return CLI_FAIL;
    }
    if (!cli_is_integration_key(key)) {
        cli_error("--key '%s' is not a valid integration key: 1 to 128 letters, digits, '.', '_' or '-', "
                  "starting with a letter or digit",
                  key);
        return CLI_FAIL;
    }
    const struct provider *p = provider_find(provider);
    if (!p) {
        unknown_provider(provider);
        return CLI_FAIL;
    }
    if (secret && !*secret)
        secret = NULL;
    if (client_secret && !*client_secret)
        client_secret = NULL;
    if ((secret && strlen(secret) > SECRET_MAX_LEN) || (client_secret && strlen(client_secret) > SECRET_MAX_LEN)) {
        cli_error("secrets are limited to %d characters", SECRET_MAX_LEN);
        return CLI_FAIL;
    }
    public_base(base, sizeof base);

    db = cli_db_connect();
    if (!db)
        goto out;
    if (cli_db_env_exists(db, env) <= 0)
        goto out;
    const char *params[] = {env, key, provider, secret, client_secret, base};
    res = cli_db_query(db,
                       "INSERT INTO integrations (environment_id, key, provider, webhook_secret, client_secret)"
                       " VALUES ($1::uuid, $2, $3, $4, $5)"
                       " RETURNING " INTEGRATION_COLUMNS("$6"),
                       6, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("environment %s already has an integration with key '%s'", env, key);
        else if (!strcmp(err.sqlstate, CLI_SQLSTATE_FOREIGN_KEY_VIOLATION))
            cli_error("no environment with id %s (see 'hookline env list')", env);
        else
            cli_db_fail("creating the integration", &err);
        goto out;
    }
    out = cli_db_row(res, 0);
    if (!out) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(out, json, "") < 0)
        goto out;
    warn_missing_secret(p, secret, client_secret);
    status = CLI_OK;
out:
    json_decref(out);
    PQclear(res);
    PQfinish(db);
    return status;
}

int cmd_integration_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"env", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    const char *env = NULL;
    bool json = false;
    char base[1024];
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
    public_base(base, sizeof base);

    db = cli_db_connect();
    if (!db)
        goto out;
    if (cli_db_env_exists(db, env) <= 0)
        goto out;
    const char *params[] = {env, base};
    res = cli_db_query(db,
                       "SELECT " INTEGRATION_COLUMNS("$2") " FROM integrations"
                       " WHERE environment_id = $1::uuid ORDER BY key",
                       2, params, &err);
    if (!res) {
        cli_db_fail("listing integrations", &err);
        goto out;
    }
    rows = cli_db_rows(res);
    if (!rows) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(rows, json, "no integrations in this environment") < 0)
        goto out;
    status = CLI_OK;
out:
    json_decref(rows);
    PQclear(res);
    PQfinish(db);
    return status;
}
