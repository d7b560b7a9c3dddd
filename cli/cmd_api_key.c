/* cmd_api_key: keys of the admin API (hookline-api). `api-key create` makes a random
 * key "hlk_<key id>_<secret>" (16 hex digits, then 32 random bytes in base64url),
 * prints it once and stores only its SHA-256 (api_keys.key_hash), bound to one or more
 * environments (--env, comma-separated) or to all of them (--all), read-only or
 * read-write (--scope). `api-key list` shows the keys without any secret, `api-key
 * revoke ID` stops one at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/crypto.h"
#include "common/ids.h"

static const char create_usage[] =
    "Usage: hookline api-key create (--env UUID[,UUID...] | --all) --scope read|write [--name NAME] [--json]\n"
    "\n"
    "Creates a key for the admin API (hookline-api) and prints it once: send it as\n"
    "'Authorization: Bearer <key>'. Only its SHA-256 is stored.\n"
    "\n"
    "  --env UUIDS    the environment(s) the key may see (comma-separated)\n"
    "  --all          every environment, present and future\n"
    "  --scope S      read (GET only) or write (also creates, changes, redrives)\n"
    "  --name NAME    a label for people (who holds the key)\n"
    "  --json         print {\"id\", \"key\", \"scope\", ...}\n"
    "  --help         show this help\n";

static const char list_usage[] =
    "Usage: hookline api-key list [--json]\n"
    "\n"
    "Lists the API keys (never their secrets): id, name, scope, environments, when made,\n"
    "when revoked.\n";

static const char revoke_usage[] =
    "Usage: hookline api-key revoke KEY_ID\n"
    "\n"
    "Revokes an API key at once (the id is the 16 hex digits after 'hlk_').\n";

/* base64url without padding of 32 bytes into out (44 bytes). */
static void base64url(const unsigned char *in, size_t len, char *out)
{
    crypto_base64(in, len, out);
    size_t n = strlen(out);
    while (n && out[n - 1] == '=')
        out[--n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* Turns "a,b" into the text of a uuid[] parameter "{a,b}" (new string) after checking
 * each one; NULL after saying why. Sized from envs: a key may name any number of
 * environments (hookline-api keeps the list whole too). */
static char *env_array(const char *envs)
{
    size_t outlen = strlen(envs) + 3; /* '{', '}', NUL around ids and at most as many commas */
    char *copy = strdup(envs), *out = malloc(outlen);
    if (!copy || !out) {
        cli_error("out of memory");
        free(copy);
        free(out);
        return NULL;
    }
    size_t used = (size_t)snprintf(out, outlen, "{");
    char *save = NULL;
    for (char *e = strtok_r(copy, ",", &save); e && out; e = strtok_r(NULL, ",", &save)) {
        if (cli_check_env_id(e) < 0) {
            free(out);
            out = NULL;
        } else {
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used > 1 ? "," : "", e);
        }
    }
    if (out && used == 1) {
        cli_error("--env names no environment");
        free(out);
        out = NULL;
    }
    if (out)
        snprintf(out + used, outlen - used, "}");
    free(copy);
    return out;
}

int cmd_api_key_create(int argc, char **argv)
{
    const char *envs = NULL, *scope = NULL, *name = "";
    bool all = false, json = false;
    const struct cli_opt opts[] = {
        {"env", CLI_OPT_STRING, &envs, false},   {"all", CLI_OPT_FLAG, &all, false},
        {"scope", CLI_OPT_STRING, &scope, true}, {"name", CLI_OPT_STRING, &name, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, create_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (all == (envs != NULL))
        return cli_usage_error(argv[0], "give either --env UUID[,UUID...] or --all");
    if (strcmp(scope, "read") && strcmp(scope, "write"))
        return cli_usage_error(argv[0], "--scope must be read or write");
    char *env_list = envs ? env_array(envs) : strdup("{}");
    if (!env_list)
        return CLI_FAIL;

    unsigned char idbytes[8], secret[32], hash[32];
    char id[17], enc[48], key[80];
    if (crypto_random(idbytes, sizeof idbytes) < 0 || crypto_random(secret, sizeof secret) < 0) {
        cli_error("no randomness");
        free(env_list);
        return CLI_FAIL;
    }
    crypto_hex(idbytes, sizeof idbytes, id);
    base64url(secret, sizeof secret, enc);
    snprintf(key, sizeof key, "hlk_%s_%s", id, enc);
    crypto_sha256(key, strlen(key), hash);
    char hash_hex[65];
    crypto_hex(hash, sizeof hash, hash_hex);
    char hash_param[70];
    snprintf(hash_param, sizeof hash_param, "\\x%s", hash_hex);

    int status = CLI_FAIL;
    PGconn *db = cli_db_connect();
    if (!db)
        goto out;
    struct cli_db_error err;
    /* Every named environment must exist (unnest + count, in the same statement). */
    const char *params[] = {id, hash_param, name, scope, all ? "true" : "false", env_list};
    PGresult *res = cli_db_query(
        db,
        "WITH e AS (SELECT count(*) AS missing FROM unnest($6::uuid[]) u"
        "           WHERE NOT EXISTS (SELECT 1 FROM environments WHERE id = u))"
        " INSERT INTO api_keys (id, key_hash, name, scope, all_environments, environment_ids)"
        " SELECT $1, $2::bytea, $3, $4, $5::boolean, $6::uuid[] FROM e WHERE e.missing = 0"
        " RETURNING id, name, scope, all_environments, environment_ids::text[] AS environment_ids,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at",
        6, params, &err);
    if (!res) {
        cli_db_fail("cannot create the API key", &err);
        goto out;
    }
    if (PQntuples(res) != 1) {
        cli_error("no environment %s", envs);
        PQclear(res);
        goto out;
    }
    json_t *row = cli_db_row(res, 0);
    PQclear(res);
    if (!row)
        goto out;
    json_object_set_new(row, "key", json_string(key));
    if (json) {
        status = cli_print(row, true, "") == 0 ? CLI_OK : CLI_FAIL;
    } else {
        printf("API key %s (%s, %s): %s\n", id, scope, all ? "all environments" : envs, key);
        printf("It is shown once: keep it now. Send it as 'Authorization: Bearer <key>'.\n");
        status = CLI_OK;
    }
    json_decref(row);
out:
    PQfinish(db);
    free(env_list);
    return status;
}

int cmd_api_key_list(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int rc = cli_db_print(db, "cannot list API keys",
                          "SELECT id, name, scope, CASE WHEN all_environments THEN 'all'"
                          " ELSE array_to_string(environment_ids, ',') END AS environments,"
                          " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at,"
                          " to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS revoked_at"
                          " FROM api_keys ORDER BY created_at, id",
                          0, NULL, json, "no API keys");
    PQfinish(db);
    return rc;
}

int cmd_api_key_revoke(int argc, char **argv)
{
    const char *args[1];
    size_t nargs = 1;
    int parsed = cli_parse_options_args(argc, argv, revoke_usage, NULL, 0, args, &nargs);
    if (parsed >= 0)
        return parsed;
    if (nargs != 1)
        return cli_usage_error(argv[0], "name the key: api-key revoke KEY_ID");
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    struct cli_db_error err;
    const char *params[] = {args[0]};
    PGresult *res = cli_db_query(db, "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", 1,
                                 params, &err);
    int status = CLI_FAIL;
    if (!res)
        cli_db_fail("cannot revoke the API key", &err);
    else if (strcmp(PQcmdTuples(res), "1"))
        cli_error("no API key %s", args[0]);
    else {
        printf("revoked API key %s\n", args[0]);
        status = CLI_OK;
    }
    PQclear(res);
    PQfinish(db);
    return status;
}
