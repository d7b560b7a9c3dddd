/*
 * cmd_secrets: `hookline secrets new-key` and `hookline secrets reencrypt`.
 *
 * Secrets at rest are encrypted with HOOKLINE_ENCRYPTION_KEY (common/secretbox.h).
 * `new-key` prints a fresh key value. `reencrypt` brings every stored secret to the
 * current key: values in plain text (written before encryption existed, or by hand)
 * and values under an old key (HOOKLINE_ENCRYPTION_OLD_KEYS) are encrypted again, all
 * in one transaction, and values already under the current key are checked to
 * decrypt. A value that cannot be decrypted is left as it is and named on stderr (it
 * is unusable either way: setting it again is the fix), and the command then exits 1,
 * so that one bad row does not hold up a key rotation. Only counts are printed, never
 * a value.
 *
 * Once every value is encrypted, `reencrypt` also turns plain text away for good: in
 * the same transaction it adds a CHECK constraint per table (<table>_secrets_encrypted:
 * every secret column NULL or "hl1:..."), so from then on the database refuses a plain
 * text secret however it is written (by hand, by an old tool, by someone with SQL
 * access planting a key they know), and a daemon can never find one to use. Running
 * `reencrypt` again re-creates them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/secretbox.h"
#include "common/store.h"

static const char new_key_usage[] =
    "Usage: hookline secrets new-key [--id ID] [--json]\n"
    "\n"
    "Prints a new random encryption key as HOOKLINE_ENCRYPTION_KEY takes it:\n"
    "<key id>:<base64 of 32 bytes>. Give the same value to the CLI and the daemons, e.g.\n"
    "  export HOOKLINE_ENCRYPTION_KEY=\"$(hookline secrets new-key)\"\n"
    "To rotate: make the new key current, move the old one to\n"
    "HOOKLINE_ENCRYPTION_OLD_KEYS (comma-separated), run 'hookline secrets reencrypt',\n"
    "then drop the old key.\n"
    "\n"
    "  --id ID   the key id: 1 to 32 letters, digits, '.', '_', '-' (default k<UTC date>)\n"
    "  --json    print {\"id\": ..., \"key\": ...}\n"
    "  --help    show this help\n";

static const char reencrypt_usage[] =
    "Usage: hookline secrets reencrypt [--dry-run] [--json]\n"
    "\n"
    "Encrypts with the current HOOKLINE_ENCRYPTION_KEY every stored secret (integration\n"
    "secrets, environment signing keys, connection secrets) that is in plain text or under an old key\n"
    "(HOOKLINE_ENCRYPTION_OLD_KEYS), in one transaction, and checks that the others\n"
    "decrypt. Values that cannot be decrypted are left as they are and listed on stderr\n"
    "(exit status 1): set them again with 'hookline integration update'. Prints counts\n"
    "only. From then on the database refuses secrets in plain text (CHECK constraints\n"
    "integrations_secrets_encrypted, environments_secrets_encrypted and\n"
    "connections_secrets_encrypted).\n"
    "\n"
    "  --dry-run   count what would change, change nothing\n"
    "  --json      print a JSON object\n"
    "  --help      show this help\n";

/* The tables that hold secrets. select returns, per row: the primary key as text, the
 * environment id, the integration key (NULL for environments), for connections the
 * connection id, then the columns. */
struct secret_table {
    const char *select;
    const char *id_type;
    const char *const *columns; /* secretbox column names, "<table>.<column>" */
    size_t ncolumns;
    bool connection; /* a row of connections: its secrets are bound to the connection id too */
};

static const char *const integration_columns[] = {STORE_COL_WEBHOOK_SECRET, STORE_COL_CLIENT_SECRET,
                                                  STORE_COL_PREVIOUS_WEBHOOK_SECRET, STORE_COL_PREVIOUS_CLIENT_SECRET};
static const char *const environment_columns[] = {STORE_COL_SIGNING_KEY, STORE_COL_PREVIOUS_SIGNING_KEY};
static const char *const connection_columns[] = {STORE_COL_CONNECTION_SECRET};

static const struct secret_table tables[] = {
    {"SELECT id::text, environment_id::text, key, webhook_secret, client_secret, previous_webhook_secret,"
     " previous_client_secret FROM integrations ORDER BY id FOR UPDATE",
     "bigint", integration_columns, sizeof integration_columns / sizeof integration_columns[0], false},
    {"SELECT id::text, id::text, NULL, signing_key, previous_signing_key FROM environments ORDER BY id FOR UPDATE",
     "uuid", environment_columns, sizeof environment_columns / sizeof environment_columns[0], false},
    {"SELECT c.id::text, i.environment_id::text, i.key, c.connection_id, c.webhook_secret FROM connections c"
     " JOIN integrations i ON i.id = c.integration_id ORDER BY c.id FOR UPDATE OF c",
     "bigint", connection_columns, sizeof connection_columns / sizeof connection_columns[0], true},
};

struct reencrypt_counts {
    long checked, current, plaintext, old_key, emptied, unreadable;
};

int cmd_secrets_new_key(int argc, char **argv)
{
    const char *id = NULL;
    bool json = false;

    const struct cli_opt opts[] = {
        {"id", CLI_OPT_STRING, &id, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, new_key_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    char default_id[16], key[SECRETBOX_KEY_TEXT_MAX], err[200];
    if (!id) {
        time_t now = time(NULL);
        struct tm tm;
        strftime(default_id, sizeof default_id, "k%Y%m%d", gmtime_r(&now, &tm));
        id = default_id;
    }
    if (secretbox_new_key(id, key, err, sizeof err) < 0) {
        cli_error("--id: %s", err);
        return CLI_FAIL;
    }
    int status = CLI_OK;
    json_t *out = json ? json_pack("{s:s, s:s}", "id", id, "key", key) : json_string(key);
    if (!out || cli_print(out, json, "") < 0)
        status = CLI_FAIL;
    json_decref(out);
    explicit_bzero(key, sizeof key);
    if (status == CLI_OK && !json && isatty(STDOUT_FILENO))
        fprintf(stderr, "hookline: give this value as %s to the CLI and the daemons; keep it secret.\n",
                SECRETBOX_ENV_KEY);
    return status;
}

/* Writes value (NULL = SQL NULL) to column of the row whose primary key is id. */
static int write_secret(PGconn *db, const struct secret_table *t, const char *column, const char *id, const char *value)
{
    const char *dot = strchr(column, '.');
    char sql[200];
    /* Table and column names come from the constant table above, never from input. */
    snprintf(sql, sizeof sql, "UPDATE %.*s SET %s = $1 WHERE id = $2::%s", (int)(dot - column), column, dot + 1,
             t->id_type);
    const char *params[] = {value, id};
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, sql, 2, params, &err);
    if (!res) {
        cli_db_fail("writing a re-encrypted secret", &err);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* Re-encrypts one stored value (row r, result column col of res) if it needs it. */
static int reencrypt_value(PGconn *db, const struct secret_table *t, const PGresult *res, int r, size_t i,
                           struct reencrypt_counts *n)
{
    int col = 3 + t->connection + (int)i;
    if (PQgetisnull(res, r, col))
        return 0;
    const char *stored = PQgetvalue(res, r, col), *id = PQgetvalue(res, r, 0);
    char fixed[STORE_SECRET_ROW_MAX], *conn_row = NULL, *row = fixed, *plain = NULL, *sealed = NULL;
    if (t->connection) {
        if (!(row = conn_row = store_secret_row_connection(PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
                                                           PQgetvalue(res, r, 3)))) {
            cli_error("out of memory");
            return -1;
        }
    } else if (PQgetisnull(res, r, 2)) {
        store_secret_row_environment(fixed, PQgetvalue(res, r, 1));
    } else {
        store_secret_row_integration(fixed, PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
    }
    n->checked++;
    int rc = cli_unseal(stored, t->columns[i], row, &plain);
    if (rc < 0) {
        n->unreadable++;
        free(conn_row);
        return 0; /* reported; go on so that one run lists every problem */
    }
    if (rc == SECRETBOX_OK) {
        n->current++;
    } else if (!*plain) { /* '' means "not set" everywhere: store it as NULL */
        n->emptied++;
        rc = write_secret(db, t, t->columns[i], id, NULL);
    } else {
        rc = -1;
        sealed = cli_seal(plain, t->columns[i], row);
        if (sealed && write_secret(db, t, t->columns[i], id, sealed) == 0) {
            rc = 0;
            if (stored[0] && !strncmp(stored, SECRETBOX_PREFIX, strlen(SECRETBOX_PREFIX)))
                n->old_key++;
            else
                n->plaintext++;
        }
    }
    secretbox_free_str(plain);
    secretbox_free_str(sealed);
    free(conn_row);
    return rc < 0 ? -1 : 0;
}

/* After every plain-text value of table t was encrypted: a constraint that refuses new
 * ones (replacing the one an earlier run added). */
static int refuse_plaintext(PGconn *db, const struct secret_table *t)
{
    const char *dot = strchr(t->columns[0], '.');
    int tlen = (int)(dot - t->columns[0]);
    char sql[1024];
    /* Names come from the constant table above, never from input. */
    int len = snprintf(sql, sizeof sql,
                       "ALTER TABLE %.*s DROP CONSTRAINT IF EXISTS %.*s_secrets_encrypted,"
                       " ADD CONSTRAINT %.*s_secrets_encrypted CHECK (",
                       tlen, t->columns[0], tlen, t->columns[0], tlen, t->columns[0]);
    for (size_t i = 0; i < t->ncolumns && len > 0 && (size_t)len < sizeof sql; i++) {
        const char *col = strchr(t->columns[i], '.') + 1;
        len += snprintf(sql + len, sizeof sql - (size_t)len, "%s(%s IS NULL OR left(%s, %zu) = '%s')", i ? " AND " : "",
                        col, col, strlen(SECRETBOX_PREFIX), SECRETBOX_PREFIX);
    }
    if (len < 0 || (size_t)len + 2 > sizeof sql)
        return -1;
    snprintf(sql + len, sizeof sql - (size_t)len, ")");
    return cli_db_exec(db, "refusing plain-text secrets from now on", sql);
}

static int reencrypt_all(PGconn *db, struct reencrypt_counts *n)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        struct cli_db_error err;
        PGresult *res = cli_db_query(db, tables[t].select, 0, NULL, &err);
        if (!res) {
            cli_db_fail("reading the stored secrets", &err);
            return -1;
        }
        int rc = 0;
        for (int r = 0; rc == 0 && r < PQntuples(res); r++)
            for (size_t i = 0; rc == 0 && i < tables[t].ncolumns; i++)
                rc = reencrypt_value(db, &tables[t], res, r, i, n);
        PQclear(res);
        if (rc < 0 || refuse_plaintext(db, &tables[t]) < 0)
            return -1;
    }
    return 0;
}

int cmd_secrets_reencrypt(int argc, char **argv)
{
    bool json = false, dry_run = false;

    const struct cli_opt opts[] = {
        {"dry-run", CLI_OPT_FLAG, &dry_run, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, reencrypt_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    const struct secretbox *kr;
    if (cli_keyring(&kr) < 0)
        return CLI_FAIL;
    if (!kr) {
        cli_error("%s is not set: there is no key to encrypt with (see 'hookline secrets new-key')", SECRETBOX_ENV_KEY);
        return CLI_FAIL;
    }
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int status = CLI_FAIL;
    struct reencrypt_counts n = {0};
    json_t *out = NULL;
    if (cli_db_exec(db, "starting a transaction", "BEGIN") < 0 || reencrypt_all(db, &n) < 0)
        goto out;
    if (cli_db_exec(db, dry_run ? "rolling back" : "committing", dry_run ? "ROLLBACK" : "COMMIT") < 0)
        goto out;
    out = json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "key_id", secretbox_current_id(kr), "dry_run",
                    dry_run, "plaintext_refused", !dry_run, "checked", (json_int_t)n.checked, "already_current",
                    (json_int_t)n.current, "encrypted_from_plaintext", (json_int_t)n.plaintext,
                    "reencrypted_from_old_key", (json_int_t)n.old_key, "empty_cleared", (json_int_t)n.emptied,
                    "unreadable", (json_int_t)n.unreadable);
    if (!out) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(out, json, "") < 0)
        goto out;
    if (n.unreadable > 0) {
        cli_error(
            "%ld stored secret(s) cannot be decrypted (named above) and were left as they are: add the key "
            "they were encrypted with to %s, or set them again with 'hookline integration update'",
            n.unreadable, SECRETBOX_ENV_OLD_KEYS);
        goto out;
    }
    status = CLI_OK;
out:
    json_decref(out);
    PQfinish(db); /* an open transaction (failure, unreadable values) is rolled back */
    return status;
}
