/*
 * cmd_env: `hookline env create` and `hookline env list`.
 *
 * An environment is one tenant: its UUID appears in inbound webhook URLs, it owns the
 * URLs hookline forwards to and the key it signs forwards with. The signing key is 32
 * random bytes written as 64 hex characters; the HMAC key is the bytes of that text
 * (what Nango's X-Nango-Hmac-Sha256 users expect). `env create` prints it once, also
 * in Standard Webhooks form ("whsec_" + base64 of the same bytes); nothing else ever
 * prints it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/crypto.h"

#define SIGNING_KEY_BYTES 32
#define SIGNING_KEY_HEX (2 * SIGNING_KEY_BYTES)
#define WHSEC_PREFIX "whsec_"
#define NAME_MAX_LEN 200

static const char create_usage[] =
    "Usage: hookline env create --name NAME --webhook-url URL [--secondary-url URL] [--json]\n"
    "\n"
    "Creates an environment and prints its id and signing key. The key is shown only\n"
    "here: store it in the receiving app (X-Nango-Hmac-Sha256 / webhook-signature).\n"
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

/* Fills key (hex text) and whsec ("whsec_" + base64 of the hex text's bytes). */
static int new_signing_key(char key[SIGNING_KEY_HEX + 1], char *whsec, size_t whseclen)
{
    unsigned char raw[SIGNING_KEY_BYTES];
    char b64[4 * ((SIGNING_KEY_HEX + 2) / 3) + 1];
    if (crypto_random(raw, sizeof raw) < 0)
        return -1;
    crypto_hex(raw, sizeof raw, key);
    crypto_base64((const unsigned char *)key, SIGNING_KEY_HEX, b64);
    snprintf(whsec, whseclen, "%s%s", WHSEC_PREFIX, b64);
    explicit_bzero(raw, sizeof raw);
    explicit_bzero(b64, sizeof b64);
    return 0;
}

int cmd_env_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"webhook-url", required_argument, NULL, 'w'},
        {"secondary-url", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    const char *name = NULL, *url = NULL, *secondary = NULL;
    bool json = false;
    char key[SIGNING_KEY_HEX + 1] = "";
    char whsec[sizeof WHSEC_PREFIX + 4 * ((SIGNING_KEY_HEX + 2) / 3) + 1] = "";
    PGconn *db = NULL;
    PGresult *res = NULL;
    json_t *out = NULL;
    struct cli_db_error err;

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 'w':
            url = optarg;
            break;
        case 's':
            secondary = optarg;
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
    if (!name)
        return cli_usage_error(argv[0], "--name is required");
    if (!url)
        return cli_usage_error(argv[0], "--webhook-url is required");

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

    if (new_signing_key(key, whsec, sizeof whsec) < 0) {
        cli_error("cannot generate a signing key (no randomness available)");
        goto out;
    }
    db = cli_db_connect();
    if (!db)
        goto out;
    const char *params[] = {name, url, secondary, key};
    res = cli_db_query(db,
                       "INSERT INTO environments (name, webhook_url, secondary_webhook_url, signing_key)"
                       " VALUES ($1, $2, $3, $4)"
                       " RETURNING id, name, webhook_url, secondary_webhook_url",
                       4, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("an environment named '%s' already exists", name);
        else
            cli_db_fail("creating the environment", &err);
        goto out;
    }
    out = cli_db_row(res, 0);
    if (!out || json_object_set_new(out, "signing_key", json_string(key)) < 0 ||
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
    explicit_bzero(whsec, sizeof whsec);
    return status;
}

int cmd_env_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    json_t *rows = NULL;
    struct cli_db_error err;

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
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

    db = cli_db_connect();
    if (!db)
        goto out;
    res = cli_db_query(db,
                       "SELECT id, name, webhook_url, secondary_webhook_url FROM environments"
                       " ORDER BY name",
                       0, NULL, &err);
    if (!res) {
        cli_db_fail("listing environments", &err);
        goto out;
    }
    rows = cli_db_rows(res);
    if (!rows) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(rows, json, "no environments (create one with 'hookline env create')") < 0)
        goto out;
    status = CLI_OK;
out:
    json_decref(rows);
    PQclear(res);
    PQfinish(db);
    return status;
}
