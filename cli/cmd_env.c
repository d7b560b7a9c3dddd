/*
 * cmd_env: `hookline env create|list|show|update|rotate-key`.
 *
 * An environment is one tenant: its UUID appears in inbound webhook URLs, it owns the
 * URLs hookline forwards to, the format of forwards (the Nango envelope or the
 * provider's raw request) and the key it signs forwards with. The signing key is 32
 * random bytes written as 64 hex characters; the HMAC key is the bytes of that text
 * (what Nango's X-Nango-Hmac-Sha256 users expect). It is stored encrypted
 * (environments.signing_key, see cli_seal); `env create` and `env rotate-key` print it
 * once, also in Standard Webhooks form ("whsec_" + base64 of the same bytes), and only
 * `env show --show-secrets` prints it again. `env rotate-key` keeps the previous key
 * signing (a second webhook-signature entry) until the end of a grace period, so
 * receivers can switch keys without rejecting a webhook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/crypto.h"
#include "common/outbound.h"
#include "common/secretbox.h"
#include "common/store.h"

#define SIGNING_KEY_BYTES 32
#define SIGNING_KEY_HEX (2 * SIGNING_KEY_BYTES)
#define WHSEC_PREFIX "whsec_"
#define NAME_MAX_LEN 200
#define GRACE_HOURS_DEFAULT "24"
#define GRACE_HOURS_MAX 8760 /* a year */

/* What `env list` prints. */
#define ENV_ACTIVE_PREVIOUS "(previous_signing_key IS NOT NULL AND previous_signing_key_until > now())"
#define ENV_COLUMNS                                                                                                          \
    "id, name, webhook_url, secondary_webhook_url, forward_mode, legacy_signature, sync_notifications, " ENV_ACTIVE_PREVIOUS \
    " AS previous_signing_key_active"
/* What every command that prints one environment prints (besides the secrets). */
#define ENV_RECORD                                                                                                     \
    ENV_COLUMNS ", CASE WHEN " ENV_ACTIVE_PREVIOUS                                                                     \
                " THEN previous_signing_key_until END"                                                                 \
                " AS previous_signing_key_until, created_at, updated_at"

/* The options create and update share, as usage lines. */
#define FORWARD_OPTIONS_HELP                                                                                           \
    "  --forward-mode MODE         envelope (default): the Nango-compatible JSON envelope;\n"                          \
    "                              raw: the provider's body and headers unchanged (with the\n"                         \
    "                              X-Hookline-* and signature headers)\n"                                              \
    "  --legacy-signature BOOL     also send Nango's legacy X-Nango-Signature header\n"                                \
    "                              (hex SHA-256 of signing key + body; default false)\n"

static const char create_usage[] =
    "Usage: hookline env create --name NAME --webhook-url URL [--secondary-url URL]\n"
    "                           [--forward-mode envelope|raw] [--legacy-signature true|false]\n"
    "                           [--json]\n"
    "\n"
    "Creates an environment and prints its id and signing key, which is stored encrypted\n"
    "(HOOKLINE_ENCRYPTION_KEY is required) and shown again only by 'hookline env show\n"
    "--show-secrets': store it in the receiving app (X-Nango-Hmac-Sha256 /\n"
    "webhook-signature).\n"
    "\n"
    "  --name NAME                 unique name, e.g. prod\n"
    "  --webhook-url URL           where webhooks are forwarded (http or https); a\n"
    "                              connection's --webhook-url replaces it for that connection\n"
    "  --secondary-url URL         a second destination that also receives every webhook\n" FORWARD_OPTIONS_HELP
    "  --json                      print a JSON object (the environment, signing_key,\n"
    "                              signing_key_whsec)\n"
    "  --help                      show this help\n";

static const char list_usage[] =
    "Usage: hookline env list [--json]\n"
    "\n"
    "Lists environments: id, name, webhook URLs, forward mode, whether the legacy signature\n"
    "is sent and whether a previous signing key still signs (never the keys).\n"
    "\n"
    "  --json   print a JSON array\n"
    "  --help   show this help\n";

static const char show_usage[] =
    "Usage: hookline env show --env UUID [--show-secrets] [--json]\n"
    "\n"
    "Prints an environment, with whether a previous (rotated) signing key still signs and\n"
    "until when. Its signing keys only with --show-secrets (decrypted with\n"
    "HOOKLINE_ENCRYPTION_KEY).\n"
    "\n"
    "  --env UUID       the environment (see 'hookline env list')\n"
    "  --show-secrets   also print signing_key and previous_signing_key (and their whsec_\n"
    "                   forms)\n"
    "  --json           print a JSON object\n"
    "  --help           show this help\n";

static const char update_usage[] =
    "Usage: hookline env update --env UUID [--webhook-url URL] [--secondary-url URL|none]\n"
    "                           [--forward-mode envelope|raw] [--legacy-signature true|false]\n"
    "                           [--sync-notifications true|false] [--json]\n"
    "\n"
    "Changes how an environment's webhooks are forwarded and prints it. Only what is\n"
    "given changes. The forwarder picks the change up within a moment.\n"
    "\n"
    "  --env UUID                  the environment\n"
    "  --webhook-url URL           the primary destination (http or https)\n"
    "  --secondary-url URL|none    the second destination (none removes it)\n" FORWARD_OPTIONS_HELP
    "  --sync-notifications BOOL   send the app a `sync` webhook when a webhook-started sync\n"
    "                              run succeeds (default false)\n"
    "  --json                      print a JSON object\n"
    "  --help                      show this help\n";

static const char rotate_usage[] =
    "Usage: hookline env rotate-key --env UUID [--grace-hours N] [--json]\n"
    "\n"
    "Replaces the environment's signing key with a new random one and prints it once\n"
    "(plain and whsec_). During the grace period the previous key keeps signing: forwards\n"
    "carry two webhook-signature entries (new key first), so receivers verify with either\n"
    "key while they switch. X-Nango-Hmac-Sha256 (and X-Nango-Signature) use the new key\n"
    "at once. Rotating again ends the grace period of the key before.\n"
    "\n"
    "  --env UUID        the environment\n"
    "  --grace-hours N   how long the previous key keeps signing: 0 (not at all) to 8760\n"
    "                    (default " GRACE_HOURS_DEFAULT
    ")\n"
    "  --json            print a JSON object\n"
    "  --help            show this help\n";

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

/* Checks --forward-mode (NULL: not given). -1 when fine, else CLI_USAGE (printed). */
static int check_forward_mode(const char *cmd, const char *mode)
{
    if (!mode || !strcmp(mode, "envelope") || !strcmp(mode, "raw"))
        return -1;
    return cli_usage_error(cmd, "--forward-mode takes envelope or raw, not '%s'", mode);
}

/* Prints row 0 of res (an ENV_RECORD) with the new signing key key, in plain and whsec_
 * form, and (in text) a reminder that it is shown only now. lost says what happened
 * when printing fails. 0, or -1 (printed). */
static int print_with_key(const PGresult *res, const char *key, bool json, const char *lost)
{
    int rc = -1;
    json_t *out = cli_db_row(res, 0);
    char *whsec = whsec_of(key);
    if (!out || !whsec || json_object_set_new(out, "signing_key", json_string(key)) < 0 ||
        json_object_set_new(out, "signing_key_whsec", json_string(whsec)) < 0)
        cli_error("out of memory (%s)", lost);
    else if (cli_print(out, json, "") == 0)
        rc = 0;
    if (rc == 0 && !json)
        fprintf(stderr, "hookline: the signing key is shown only now: store it where your app can read it.\n");
    json_decref(out);
    secretbox_free_str(whsec);
    return rc;
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

/* The URL options' length, checked before anything else, so that a URL past the one
 * limit every stage holds (OUTBOUND_URL_MAX: the forwarder's buffers, its retry and
 * dead-letter headers, the attempt log) is refused for what it is. -1 when fine. */
static int check_url_lengths(int argc, char **argv)
{
    static const char *const names[] = {"--webhook-url", "--secondary-url"};
    for (int i = 1; i < argc; i++) {
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            size_t n = strlen(names[k]);
            const char *v = NULL;
            if (!strcmp(argv[i], names[k]) && i + 1 < argc)
                v = argv[i + 1];
            else if (!strncmp(argv[i], names[k], n) && argv[i][n] == '=')
                v = argv[i] + n + 1;
            if (v && strlen(v) > OUTBOUND_URL_MAX) {
                cli_error("%s is %zu bytes long: a URL may have at most %d", names[k], strlen(v), OUTBOUND_URL_MAX);
                return CLI_FAIL;
            }
        }
    }
    return -1;
}

int cmd_env_create(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *name = NULL, *url = NULL, *secondary = NULL, *mode = NULL, *legacy = NULL;
    bool json = false;
    char key[SIGNING_KEY_HEX + 1] = "", id[STORE_SECRET_ROW_MAX], row[STORE_SECRET_ROW_MAX];
    char *sealed = NULL;
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"name", CLI_OPT_STRING, &name, true},
        {"webhook-url", CLI_OPT_URL, &url, true},
        {"secondary-url", CLI_OPT_URL_OR_NONE, &secondary, false},
        {"forward-mode", CLI_OPT_STRING, &mode, false},
        {"legacy-signature", CLI_OPT_BOOL, &legacy, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = check_url_lengths(argc, argv);
    if (parsed < 0)
        parsed = cli_parse_options(argc, argv, create_usage, opts, CLI_OPTS_N(opts));
    if (parsed < 0)
        parsed = check_forward_mode(argv[0], mode);
    if (parsed >= 0)
        return parsed;

    if (!valid_name(name)) {
        cli_error("--name must be 1 to %d characters without control characters", NAME_MAX_LEN);
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
    const char *params[] = {id, name, url, secondary, sealed, mode, legacy};
    res = cli_db_query(db,
                       "INSERT INTO environments (id, name, webhook_url, secondary_webhook_url, signing_key,"
                       " forward_mode, legacy_signature)"
                       " VALUES ($1::uuid, $2, $3, nullif($4, ''), $5, coalesce($6, 'envelope'),"
                       " coalesce($7::boolean, false))"
                       " RETURNING " ENV_RECORD,
                       7, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("an environment named '%s' already exists", name);
        else
            cli_db_fail("creating the environment", &err);
        goto out;
    }
    if (print_with_key(res, key, json, "the environment was created; its key is lost: create another") < 0)
        goto out;
    status = CLI_OK;
out:
    PQclear(res);
    PQfinish(db);
    explicit_bzero(key, sizeof key);
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
    int status = cli_db_print(db, "listing environments", "SELECT " ENV_COLUMNS " FROM environments ORDER BY name", 0,
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
    static const char *const names[][2] = {{"signing_key", "signing_key_whsec"},
                                           {"previous_signing_key", "previous_signing_key_whsec"}};
    for (size_t i = 0; i < 2; i++) {
        const char *key = json_string_value(json_object_get(obj, names[i][0]));
        if (!key)
            continue;
        char *whsec = whsec_of(key);
        int rc = whsec ? json_object_set_new(obj, names[i][1], json_string(whsec)) : -1;
        secretbox_free_str(whsec);
        if (rc < 0) {
            cli_error("out of memory");
            return -1;
        }
    }
    return 0;
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
    res = cli_db_query(db,
                       "SELECT " ENV_RECORD
                       ", signing_key, previous_signing_key FROM environments"
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

int cmd_env_update(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL, *url = NULL, *secondary = NULL, *mode = NULL, *legacy = NULL, *notify = NULL;
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"sync-notifications", CLI_OPT_BOOL, &notify, false},
        {"webhook-url", CLI_OPT_URL, &url, false},
        {"secondary-url", CLI_OPT_URL_OR_NONE, &secondary, false},
        {"forward-mode", CLI_OPT_STRING, &mode, false},
        {"legacy-signature", CLI_OPT_BOOL, &legacy, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = check_url_lengths(argc, argv);
    if (parsed < 0)
        parsed = cli_parse_options(argc, argv, update_usage, opts, CLI_OPTS_N(opts));
    if (parsed < 0)
        parsed = check_forward_mode(argv[0], mode);
    if (parsed >= 0)
        return parsed;
    if (!url && !secondary && !mode && !legacy && !notify)
        return cli_usage_error(argv[0],
                               "nothing to update: give --webhook-url, --secondary-url, --forward-mode, "
                               "--legacy-signature or --sync-notifications");

    db = cli_db_connect();
    if (!db)
        goto out;
    /* NULL parameters leave their column as it is; secondary "" removes it. */
    const char *params[] = {env, url, secondary, mode, legacy, notify};
    res = cli_db_query(db,
                       "UPDATE environments SET webhook_url = coalesce($2, webhook_url),"
                       " secondary_webhook_url = CASE WHEN $3::text IS NULL THEN secondary_webhook_url"
                       "  ELSE nullif($3, '') END,"
                       " forward_mode = coalesce($4, forward_mode),"
                       " legacy_signature = coalesce($5::boolean, legacy_signature),"
                       " sync_notifications = coalesce($6::boolean, sync_notifications),"
                       " updated_at = now()"
                       " WHERE id = $1::uuid RETURNING " ENV_RECORD,
                       6, params, &err);
    if (!res)
        cli_db_fail("updating the environment", &err);
    else if (PQntuples(res) == 0)
        cli_error("no environment with id %s (see 'hookline env list')", env);
    else
        status = cli_print_row(res, json);
out:
    PQclear(res);
    PQfinish(db);
    return status;
}

/* Rotates env's signing key inside the caller's transaction and prints the new key.
 * grace: hours the previous key keeps signing (text of a number; "0": it does not).
 * CLI_OK or CLI_FAIL (printed). */
static int rotate_key(PGconn *db, const char *env, const char *grace, bool json)
{
    int status = CLI_FAIL;
    char key[SIGNING_KEY_HEX + 1] = "", row[STORE_SECRET_ROW_MAX];
    char *sealed = NULL, *previous = NULL;
    PGresult *cur = NULL, *res = NULL;
    struct cli_db_error err;

    const char *find[] = {env};
    cur = cli_db_query(db, "SELECT id::text, signing_key FROM environments WHERE id = $1::uuid FOR UPDATE", 1, find,
                       &err);
    if (!cur) {
        cli_db_fail("reading the environment", &err);
        goto out;
    }
    if (PQntuples(cur) == 0) {
        cli_error("no environment with id %s (see 'hookline env list')", env);
        goto out;
    }
    store_secret_row_environment(row, PQgetvalue(cur, 0, 0));
    if (new_signing_key(key) < 0) {
        cli_error("cannot generate a signing key (no randomness available)");
        goto out;
    }
    if (!(sealed = cli_seal(key, STORE_COL_SIGNING_KEY, row)) ||
        (strcmp(grace, "0") &&
         cli_reseal(PQgetvalue(cur, 0, 1), STORE_COL_SIGNING_KEY, STORE_COL_PREVIOUS_SIGNING_KEY, row, &previous) < 0))
        goto out;
    const char *params[] = {env, sealed, previous, grace};
    res = cli_db_query(db,
                       "UPDATE environments SET signing_key = $2, previous_signing_key = $3,"
                       " previous_signing_key_until = CASE WHEN $3::text IS NULL THEN NULL"
                       "  ELSE now() + make_interval(hours => $4::int) END,"
                       " updated_at = now()"
                       " WHERE id = $1::uuid RETURNING " ENV_RECORD,
                       4, params, &err);
    if (!res) {
        cli_db_fail("storing the new signing key", &err);
        goto out;
    }
    if (cli_db_exec(db, "committing the new signing key", "COMMIT") < 0)
        goto out;
    status = CLI_OK;
    if (print_with_key(res, key, json, "the key was rotated; the new key is lost: rotate again") < 0)
        status = CLI_FAIL;
out:
    explicit_bzero(key, sizeof key);
    secretbox_free_str(sealed);
    secretbox_free_str(previous);
    PQclear(cur);
    PQclear(res);
    return status;
}

int cmd_env_rotate_key(int argc, char **argv)
{
    const char *env = NULL, *grace = GRACE_HOURS_DEFAULT;
    bool json = false;
    long hours;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"grace-hours", CLI_OPT_STRING, &grace, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, rotate_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (cli_parse_long(grace, 0, GRACE_HOURS_MAX, &hours) < 0)
        return cli_usage_error(argv[0], "--grace-hours takes a number of hours from 0 to %d, not '%s'", GRACE_HOURS_MAX,
                               grace);
    char hours_text[16];
    snprintf(hours_text, sizeof hours_text, "%ld", hours);

    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int status = CLI_FAIL;
    if (cli_db_exec(db, "starting a transaction", "BEGIN") == 0)
        status = rotate_key(db, env, hours_text, json);
    PQfinish(db); /* without COMMIT (a failure) the transaction is rolled back */
    return status;
}
