/*
 * cli_db: the CLI's PostgreSQL access (see cli.h).
 *
 * One connection per command, opened from HOOKLINE_DATABASE_URL (never printed: it may
 * hold a password). Every query goes through PQexecParams with text parameters, so
 * values typed by the operator never become SQL text. The only exception is
 * `hookline migrate`, which runs the embedded migration files (multi-statement SQL
 * compiled into the binary, no user input) with PQexec.
 *
 * Secrets are encrypted here before they are stored and decrypted after they are read
 * (cli_seal / cli_unseal): no secret reaches the database in plain text.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/secretbox.h"

/* Type OIDs from pg_type.h (stable across PostgreSQL versions). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700
#define OID_JSONB 3802

/* Shows warnings and worse; drops NOTICE and below ("relation ... already exists,
 * skipping" from CREATE TABLE IF NOT EXISTS is not news to an operator). */
static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (!strcmp(sev, "NOTICE") || !strcmp(sev, "INFO") || !strcmp(sev, "LOG") || !strncmp(sev, "DEBUG", 5)))
        return;
    fprintf(stderr, "hookline: database: %s", PQresultErrorMessage(res));
}

/* Copies msg into out without its trailing newlines. */
static void copy_trimmed(char *out, size_t outlen, const char *msg)
{
    snprintf(out, outlen, "%s", msg ? msg : "");
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

PGconn *cli_db_connect(void)
{
    /* A malformed HOOKLINE_ENCRYPTION_KEY is a configuration error even for commands
     * that do not touch secrets: say so before anything is done. */
    const struct secretbox *kr;
    if (cli_keyring(&kr) < 0)
        return NULL;
    /* application_name and client_encoding come first so that a URL that sets them wins. */
    const char *const keys[] = {"application_name", "client_encoding", "dbname", NULL};
    const char *const vals[] = {"hookline-cli", "UTF8", g_common.database_url, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (!db) {
        cli_error("cannot connect to the database: out of memory");
        return NULL;
    }
    if (PQstatus(db) != CONNECTION_OK) {
        char msg[512];
        copy_trimmed(msg, sizeof msg, PQerrorMessage(db));
        cli_error("cannot connect to the database (HOOKLINE_DATABASE_URL): %s", msg);
        PQfinish(db);
        return NULL;
    }
    PQsetNoticeReceiver(db, notice_receiver, NULL);
    return db;
}

PGresult *cli_db_query(PGconn *db, const char *sql, int n, const char *const *params, struct cli_db_error *err)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    if (err) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
        if (primary && detail) {
            char both[sizeof err->message];
            snprintf(both, sizeof both, "%s (%s)", primary, detail);
            copy_trimmed(err->message, sizeof err->message, both);
        } else {
            copy_trimmed(err->message, sizeof err->message, primary ? primary : PQerrorMessage(db));
        }
    }
    PQclear(res);
    return NULL;
}

int cli_db_fail(const char *what, const struct cli_db_error *err)
{
    /* 42P01 undefined_table: almost always a database that was never migrated. */
    bool unmigrated = !strcmp(err->sqlstate, "42P01");
    cli_error("%s: %s%s", what, err->message, unmigrated ? " (run 'hookline migrate' first?)" : "");
    return CLI_FAIL;
}

/* One field as JSON: a new reference, NULL on allocation failure. */
static json_t *field_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *text = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case OID_BOOL:
        return json_boolean(text[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8: {
        char *end;
        errno = 0;
        long long x = strtoll(text, &end, 10);
        if (!errno && end != text && !*end)
            return json_integer(x);
        break;
    }
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: {
        char *end;
        double x = strtod(text, &end);
        if (end != text && !*end && x == x && x - x == 0) /* not NaN nor infinite: JSON has neither */
            return json_real(x);
        break;
    }
    case OID_JSON:
    case OID_JSONB: {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (v)
            return v;
        break; /* e.g. a number too large for jansson: keep the text */
    }
    default:
        break;
    }
    return json_string(text);
}

json_t *cli_db_row(const PGresult *res, int row)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (int col = 0; col < PQnfields(res); col++) {
        if (json_object_set_new(obj, PQfname(res, col), field_json(res, row, col)) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *cli_db_rows(const PGresult *res)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (int row = 0; row < PQntuples(res); row++) {
        if (json_array_append_new(arr, cli_db_row(res, row)) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int cli_db_env_exists(PGconn *db, const char *env_id)
{
    struct cli_db_error err;
    const char *params[] = {env_id};
    PGresult *res = cli_db_query(db, "SELECT 1 FROM environments WHERE id = $1::uuid", 1, params, &err);
    if (!res) {
        cli_db_fail("looking up the environment", &err);
        return -1;
    }
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (!found)
        cli_error("no environment with id %s (see 'hookline env list')", env_id);
    return found;
}

PGconn *cli_db_connect_env(const char *env_id)
{
    PGconn *db = cli_db_connect();
    if (db && cli_db_env_exists(db, env_id) <= 0) {
        PQfinish(db);
        db = NULL;
    }
    return db;
}

json_t *cli_db_fetch(PGconn *db, const char *what, const char *sql, int n, const char *const *params)
{
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, sql, n, params, &err);
    if (!res) {
        cli_db_fail(what, &err);
        return NULL;
    }
    json_t *rows = cli_db_rows(res);
    PQclear(res);
    if (!rows)
        cli_error("out of memory");
    return rows;
}

int cli_db_print(PGconn *db, const char *what, const char *sql, int n, const char *const *params, bool json,
                 const char *empty)
{
    json_t *rows = cli_db_fetch(db, what, sql, n, params);
    int status = rows && cli_print(rows, json, empty) == 0 ? CLI_OK : CLI_FAIL;
    json_decref(rows);
    return status;
}

int cli_db_exec(PGconn *db, const char *what, const char *sql)
{
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, sql, 0, NULL, &err);
    if (!res) {
        cli_db_fail(what, &err);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* ---- secrets at rest ------------------------------------------------------------ */

static struct secretbox *keyring;
static bool keyring_loaded;

int cli_keyring(const struct secretbox **kr)
{
    *kr = NULL;
    if (!keyring_loaded) {
        char err[256];
        if (secretbox_from_env(&keyring, err, sizeof err) < 0) {
            cli_error("%s", err);
            return -1;
        }
        keyring_loaded = true; /* never freed: it lives as long as the command */
    }
    *kr = keyring;
    return 0;
}

char *cli_seal(const char *plain, const char *column, const char *row)
{
    const struct secretbox *kr;
    if (cli_keyring(&kr) < 0)
        return NULL;
    if (!kr) {
        cli_error(
            "%s is not set: refusing to store a secret unencrypted (generate a key with "
            "'hookline secrets new-key' and give it to the CLI and the daemons)",
            SECRETBOX_ENV_KEY);
        return NULL;
    }
    char err[256];
    char *sealed = secretbox_encrypt(kr, plain, column, row, err, sizeof err);
    if (!sealed)
        cli_error("cannot encrypt %s: %s", column, err);
    return sealed;
}

int cli_unseal(const char *stored, const char *column, const char *row, char **plain)
{
    const struct secretbox *kr;
    *plain = NULL;
    if (cli_keyring(&kr) < 0)
        return -1;
    char err[256];
    enum secretbox_result r = secretbox_decrypt(kr, stored, column, row, plain, err, sizeof err);
    if (!secretbox_readable(r)) {
        cli_error("%s of %s cannot be decrypted: %s", column, row, err);
        return -1;
    }
    return (int)r;
}

int cli_reveal_secrets(json_t *obj, const PGresult *res, const char *const *columns, size_t n, const char *row,
                       bool show)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = strchr(columns[i], '.') + 1;
        int col = PQfnumber(res, name);
        if (!show || col < 0) {
            json_object_del(obj, name);
            continue;
        }
        char *plain = NULL;
        if (!PQgetisnull(res, 0, col) && cli_unseal(PQgetvalue(res, 0, col), columns[i], row, &plain) < 0)
            return -1;
        int rc = json_object_set_new(obj, name, plain ? json_string(plain) : json_null());
        secretbox_free_str(plain);
        if (rc < 0) {
            cli_error("out of memory");
            return -1;
        }
    }
    return 0;
}
