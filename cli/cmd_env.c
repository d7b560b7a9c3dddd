/*
 * cmd_env: `hookline env create`, `hookline env list` and `hookline env show`.
 *
 * An environment is one tenant: its UUID appears in inbound webhook URLs, it owns the
 * URLs hookline forwards to and the key it signs forwards with. The signing key is 32
 * random bytes written as 64 hex characters; the HMAC key is the bytes of that text
 * (what Nango's X-Nango-Hmac-Sha256 users expect). It is stored encrypted
 * (environments.signing_key, see cli_seal); `env create` prints it once, also in
 * Standard Webhooks form ("whsec_" + base64 of the same bytes), and only
 * `env show --show-secrets` prints it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/crypto.h"
#include "common/secretbox.h"
#include "common/store.h"

#define SIGNING_KEY_BYTES 32
#define SIGNING_KEY_HEX (2 * SIGNING_KEY_BYTES)
#define WHSEC_PREFIX "whsec_"
#define NAME_MAX_LEN 200

/* What `env show` prints besides the secrets. */
#define ENV_COLUMNS                                                                                   \
    "id, name, webhook_url, secondary_webhook_url,"                                                   \
    " previous_signing_key IS NOT NULL AS has_previous_signing_key, created_at, updated_at"

static const char create_usage[] =
    "Usage: hookline env create --name NAME --webhook-url URL [--secondary-url URL] [--json]\n"
    "\n"
    "Creates an environment and prints its id and signing key, which is stored encrypted\n"
    "(HOOKLINE_ENCRYPTION_KEY is required) and shown again only by 'hookline env show\n"
    "--show-secrets': store it in the receiving app (X-Nango-Hmac-Sha256 /\n"
    "webhook-signature).\n"
    "\n"
    "  --name NAME            unique name, e.g. prod\n"
    "  --webhook-url URL      where webhooks are forwarded (http or https)\n"
    "  --secondary-url URL    a second destination that also receives every webhook\n"
    "  --json                 print a JSON object (id, name, webhook_url,\n"
    "                         secondary_webhook_url, signing_key, signing_key_whsec)\n"
    "  --help                 show this help\n";

static const char list_usage[] =
    "Usage: hookline env list [--json]\n"
    "\n"
    "Lists environments: id, name, webhook URLs (never the signing key).\n"
    "\n"
    "  --json   print a JSON array\n"
    "  --help   show this help\n";

static const char show_usage[] =
    "Usage: hookline env show --env UUID [--show-secrets] [--json]\n"
    "\n"
    "Prints an environment. Its signing key only with --show-secrets (decrypted with\n"
    "HOOKLINE_ENCRYPTION_KEY).\n"
    "\n"
    "  --env UUID       the environment (see 'hookline env list')\n"
    "  --show-secrets   also print signing_key, signing_key_whsec and previous_signing_key\n"
    "  --json           print a JSON object\n"
    "  --help           show this help\n";

static bool valid_name(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* The Standard Webhooks form of a signing key: "whsec_" + base64 of the key text's
 * bytes. A new string (free with secretbox_free_str), NULL on allocation failure. */
static char *whsec_of(const char *key)
{
    size_t len = strlen(key);
    char *out = malloc(sizeof WHSEC_PREFIX + 4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    memcpy(out, WHSEC_PREFIX, sizeof WHSEC_PREFIX - 1);
    crypto_base64((const unsigned char *)key, len, out + sizeof WHSEC_PREFIX - 1);
    return out;
}

/* Fills key with a new random key (hex text). */
static int new_signing_key(char key[SIGNING_KEY_HEX + 1])
{
    unsigned char raw[SIGNING_KEY_BYTES];
    if (crypto_random(raw, sizeof raw) < 0)
        return -1;
    crypto_hex(raw, sizeof raw, key);
    explicit_bzero(raw, sizeof raw);
    return 0;
}

/* A new environment id from the database (gen_random_uuid, like the column default),
 * so the signing key can be encrypted for its row before the row exists. */
static int new_env_id(PGconn *db, char id[STORE_SECRET_ROW_MAX])
{
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, "SELECT gen_random_uuid()::text", 0, NULL, &err);
    if (!res) {
        cli_db_fail("creating an environment id", &err);
        return -1;
    }
    snprintf(id, STORE_SECRET_ROW_MAX, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int cmd_env_create(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *name = NULL, *url = NULL, *secondary = NULL;
    bool json = false;
    char key[SIGNING_KEY_HEX + 1] = "", id[STORE_SECRET_ROW_MAX], row[STORE_SECRET_ROW_MAX];
    char *whsec = NULL, *sealed = NULL;
    PGconn *db = NULL;
    PGresult *res = NULL;
    json_t *out = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"name", CLI_OPT_STRING, &name, true},
        {"webhook-url", CLI_OPT_STRING, &url, true},
        {"secondary-url", CLI_OPT_STRING, &secondary, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, create_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    if (!valid_name(name)) {
        cli_error("--name must be 1 to %d characters without control characters", NAME_MAX_LEN);
        return CLI_FAIL;
    }
    if (!cli_is_http_url(url)) {
        cli_error("--webhook-url '%s' is not an http:// or https:// URL", url);
        return CLI_FAIL;
    }
    if (secondary && !*secondary)
        secondary = NULL;
    if (secondary && !cli_is_http_url(secondary)) {
        cli_error("--secondary-url '%s' is not an http:// or https:// URL", secondary);
        return CLI_FAIL;
    }

    if (new_signing_key(key) < 0) {
        cli_error("cannot generate a signing key (no randomness available)");
        goto out;
    }
    db = cli_db_connect();
    if (!db || new_env_id(db, id) < 0)
        goto out;
    store_secret_row_environment(row, id);
    sealed = cli_seal(key, STORE_COL_SIGNING_KEY, row);
    if (!sealed)
        goto out;
    const char *params[] = {id, name, url, secondary, sealed};
    res = cli_db_query(db,
                       "INSERT INTO environments (id, name, webhook_url, secondary_webhook_url, signing_key)"
                       " VALUES ($1::uuid, $2, $3, $4, $5)"
                       " RETURNING id, name, webhook_url, secondary_webhook_url",
                       5, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("an environment named '%s' already exists", name);
        else
            cli_db_fail("creating the environment", &err);
        goto out;
    }
    out = cli_db_row(res, 0);
    whsec = whsec_of(key);
    if (!out || !whsec || json_object_set_new(out, "signing_key", json_string(key)) < 0 ||
        json_object_set_new(out, "signing_key_whsec", json_string(whsec)) < 0) {
        cli_error("out of memory (the environment was created; its key is lost: create another)");
        goto out;
    }
    if (cli_print(out, json, "") < 0)
        goto out;
    if (!json)
        fprintf(stderr, "hookline: the signing key is shown only now: store it where your app can read it.\n");
    status = CLI_OK;
out:
    json_decref(out);
    PQclear(res);
    PQfinish(db);
    explicit_bzero(key, sizeof key);
    secretbox_free_str(whsec);
    secretbox_free_str(sealed);
    return status;
}

int cmd_env_list(int argc, char **argv)
{
    bool json = false;

    const struct cli_opt opts[] = {
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int status = cli_db_print(db, "listing environments",
                              "SELECT id, name, webhook_url, secondary_webhook_url FROM environments ORDER BY name", 0,
                              NULL, json, "no environments (create one with 'hookline env create')");
    PQfinish(db);
    return status;
}

/* Replaces the stored signing keys in obj (the environment id's row 0 of res) with
 * their decrypted values and the whsec form, or removes them (show false). 0 or -1
 * (printed). */
static int reveal_signing_keys(json_t *obj, const char *id, const PGresult *res, bool show)
{
    static const char *const columns[] = {STORE_COL_SIGNING_KEY, STORE_COL_PREVIOUS_SIGNING_KEY};
    char row[STORE_SECRET_ROW_MAX];
    store_secret_row_environment(row, id);
    if (cli_reveal_secrets(obj, res, columns, 2, row, show) < 0)
        return -1;
    const char *key = json_string_value(json_object_get(obj, "signing_key"));
    if (!key)
        return 0;
    char *whsec = whsec_of(key);
    int rc = whsec ? json_object_set_new(obj, "signing_key_whsec", json_string(whsec)) : -1;
    secretbox_free_str(whsec);
    if (rc < 0)
        cli_error("out of memory");
    return rc;
}

int cmd_env_show(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL;
    bool json = false, secrets = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    json_t *out = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"show-secrets", CLI_OPT_FLAG, &secrets, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, show_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    db = cli_db_connect();
    if (!db)
        goto out;
    const char *params[] = {env};
    res = cli_db_query(db, "SELECT " ENV_COLUMNS ", signing_key, previous_signing_key FROM environments"
                           " WHERE id = $1::uuid",
                       1, params, &err);
    if (!res) {
        cli_db_fail("reading the environment", &err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        cli_error("no environment with id %s (see 'hookline env list')", env);
        goto out;
    }
    out = cli_db_row(res, 0);
    if (!out) {
        cli_error("out of memory");
        goto out;
    }
    if (reveal_signing_keys(out, PQgetvalue(res, 0, 0), res, secrets) < 0)
        goto out;
    if (cli_print(out, json, "") < 0)
        goto out;
    status = CLI_OK;
out:
    json_decref(out);
    PQclear(res);
    PQfinish(db);
    return status;
}
