/*
 * cmd_migrate: `hookline migrate` brings the database schema up to date with the
 * migrations compiled into the binary (cli/migrations.h).
 *
 * Applied versions are recorded in schema_migrations. Each missing migration runs in
 * its own transaction together with its schema_migrations row, so a failure leaves the
 * database at the previous version, never half-migrated. A session advisory lock
 * serialises concurrent runs (two pods starting at once): the second waits, then finds
 * nothing left to do. Running it again is always safe.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/migrations.h"

/* pg_advisory_lock key: "hookline" in ASCII, as a bigint. */
#define MIGRATE_LOCK_KEY "7526403566541221477"

static const char usage[] =
    "Usage: hookline migrate [--json]\n"
    "\n"
    "Applies the migrations compiled into this binary that the database (HOOKLINE_DATABASE_URL)\n"
    "has not applied yet, each in one transaction, and records them in schema_migrations.\n"
    "Safe to run again and from several places at once.\n"
    "\n"
    "  --json   print {\"applied\": [...], \"version\": N}\n"
    "  --help   show this help\n";

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* The versions already applied, as a new array (caller frees) of *n entries. -1 on
 * error (printed). */
static int applied_versions(PGconn *db, int **out, size_t *n)
{
    struct cli_db_error err;
    PGresult *res = cli_db_query(db, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL, &err);
    if (!res) {
        cli_db_fail("reading schema_migrations", &err);
        return -1;
    }
    size_t rows = (size_t)PQntuples(res);
    int *v = calloc(rows ? rows : 1, sizeof *v);
    if (!v) {
        PQclear(res);
        cli_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < rows; i++)
        v[i] = atoi(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    *out = v;
    *n = rows;
    return 0;
}

static bool contains(const int *v, size_t n, int x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static bool embedded(int version)
{
    for (size_t i = 0; i < embedded_migrations_count; i++)
        if (embedded_migrations[i].version == version)
            return true;
    return false;
}

/* Runs one migration and records it, in one transaction. 0, or -1 (printed, rolled back). */
static int apply_one(PGconn *db, const struct embedded_migration *m)
{
    int rc = -1;
    struct cli_db_error err;
    PGresult *res = NULL;
    char what[128];
    char version[16];
    snprintf(what, sizeof what, "migration %s", m->name);
    snprintf(version, sizeof version, "%d", m->version);

    res = cli_db_query(db, "BEGIN", 0, NULL, &err);
    if (!res) {
        cli_db_fail(what, &err);
        goto out;
    }
    PQclear(res);

    /* The file may hold several statements (and $$-quoted bodies): only the simple
     * query protocol runs those. It is compiled-in text, not input. */
    res = PQexec(db, m->sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        cli_error("%s failed: %s", what, msg ? msg : PQerrorMessage(db));
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (PQtransactionStatus(db) != PQTRANS_INTRANS) {
        cli_error("%s ends the transaction itself (COMMIT/ROLLBACK in the file?): not recorded", what);
        goto out;
    }

    const char *params[] = {version, m->name};
    res = cli_db_query(db, "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", 2, params, &err);
    if (!res) {
        cli_db_fail(what, &err);
        goto out;
    }
    PQclear(res);
    res = cli_db_query(db, "COMMIT", 0, NULL, &err);
    if (!res) {
        cli_db_fail(what, &err);
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    if (rc < 0 && PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    return rc;
}

int cmd_migrate(int argc, char **argv)
{
    int status = CLI_FAIL;
    bool json = false;
    PGconn *db = NULL;
    PGresult *res = NULL;
    int *done = NULL;
    size_t ndone = 0;
    json_t *applied = NULL;
    json_t *out = NULL;
    struct cli_db_error err;
    const char *lock_params[] = {MIGRATE_LOCK_KEY};

    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    applied = json_array();
    if (!applied) {
        cli_error("out of memory");
        goto out;
    }
    db = cli_db_connect();
    if (!db)
        goto out;
    /* Waits while another migrate runs; released by the unlock below or on disconnect. */
    res = cli_db_query(db, "SELECT pg_advisory_lock($1::bigint)", 1, lock_params, &err);
    if (!res) {
        cli_db_fail("taking the migration lock", &err);
        goto out;
    }
    PQclear(res);
    res = cli_db_query(db, create_table_sql, 0, NULL, &err);
    if (!res) {
        cli_db_fail("creating schema_migrations", &err);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (applied_versions(db, &done, &ndone) < 0)
        goto out;
    for (size_t i = 0; i < ndone; i++)
        if (!embedded(done[i]))
            cli_warn("the database has migration %d, which this hookline does not know (an older binary?)", done[i]);

    int version = ndone ? done[ndone - 1] : 0;
    for (size_t i = 0; i < embedded_migrations_count; i++) {
        const struct embedded_migration *m = &embedded_migrations[i];
        if (contains(done, ndone, m->version))
            continue;
        if (apply_one(db, m) < 0)
            goto out;
        if (!json)
            printf("applied %s\n", m->name);
        if (json_array_append_new(applied, json_string(m->name)) < 0) {
            cli_error("out of memory");
            goto out;
        }
        if (m->version > version)
            version = m->version;
    }
    res = cli_db_query(db, "SELECT pg_advisory_unlock($1::bigint)", 1, lock_params, &err);
    if (!res) {
        cli_db_fail("releasing the migration lock", &err);
        goto out;
    }

    if (json) {
        out = json_pack("{s:O, s:i}", "applied", applied, "version", version);
        if (!out) {
            cli_error("out of memory");
            goto out;
        }
        if (cli_print(out, true, "") < 0)
            goto out;
    } else if (json_array_size(applied) == 0) {
        printf("up to date (version %d)\n", version);
    } else {
        printf("now at version %d\n", version);
    }
    status = CLI_OK;
out:
    json_decref(out);
    free(done);
    PQclear(res);
    PQfinish(db);
    json_decref(applied);
    return status;
}
