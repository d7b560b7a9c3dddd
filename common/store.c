/* store: see store.h. All queries are parameterised; results are copied out so no
 * PGresult outlives a call. */
#include "common/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/log.h"

struct store {
    char *conninfo;
    PGconn *conn;
    bool listening;
};

struct store *store_new(const char *conninfo)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->conninfo = strdup(conninfo);
    if (!st->conninfo) {
        free(st);
        return NULL;
    }
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    if (st->conn)
        PQfinish(st->conn);
    free(st->conninfo);
    free(st);
}

/* Returns a live connection or NULL (logged). Re-opens a broken one. */
static PGconn *store_conn(struct store *st)
{
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK)
        return st->conn;
    if (st->conn) {
        PQfinish(st->conn);
        st->conn = NULL;
        st->listening = false;
    }
    PGconn *c = PQconnectdb(st->conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        log_warn(NULL, "database: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    st->conn = c;
    return c;
}

/* Runs a parameterised query that returns rows. NULL on error (logged). The caller
 * PQclear()s the result. */
static PGresult *store_query(struct store *st, const char *sql, int nparams, const char *const *params)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = store_conn(st);
        if (!c)
            return NULL;
        PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
            return res;
        bool broken = PQstatus(c) != CONNECTION_OK;
        log_warn(NULL, "database: query failed: %s", PQerrorMessage(c));
        PQclear(res);
        if (!broken)
            return NULL;
        /* The connection died under us (server restart): try once on a new one. */
    }
    return NULL;
}

int store_ping(struct store *st)
{
    PGresult *res = store_query(st, "SELECT 1", 0, NULL);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int store_listen(struct store *st)
{
    PGresult *res = store_query(st, "LISTEN hookline_config", 0, NULL);
    if (!res)
        return -1;
    PQclear(res);
    st->listening = true;
    return 0;
}

int store_changes(struct store *st)
{
    if (!st->conn || PQstatus(st->conn) != CONNECTION_OK || !st->listening)
        return -1;
    if (!PQconsumeInput(st->conn))
        return -1;
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(st->conn)) != NULL) {
        n++;
        PQfreemem(note);
    }
    return n;
}

static char *dup_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

static void copy_field(char *dst, size_t cap, const PGresult *res, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

void integration_row_clear(struct integration_row *row)
{
    if (!row)
        return;
    free(row->webhook_secret);
    free(row->client_secret);
    memset(row, 0, sizeof *row);
}

int store_integration(struct store *st, const char *env_id, const char *key, struct integration_row *out)
{
    memset(out, 0, sizeof *out);
    const char *params[2] = {env_id, key};
    PGresult *res = store_query(st,
                                "SELECT i.environment_id, i.key, i.provider, i.webhook_secret, i.client_secret "
                                "FROM integrations i WHERE i.environment_id = $1::uuid AND i.key = $2",
                                2, params);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples(res) == 1) {
        copy_field(out->environment_id, sizeof out->environment_id, res, 0, 0);
        copy_field(out->key, sizeof out->key, res, 0, 1);
        copy_field(out->provider, sizeof out->provider, res, 0, 2);
        out->webhook_secret = dup_or_null(res, 0, 3);
        out->client_secret = dup_or_null(res, 0, 4);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

void environment_row_clear(struct environment_row *row)
{
    if (!row)
        return;
    free(row->name);
    free(row->webhook_url);
    free(row->secondary_webhook_url);
    free(row->signing_key);
    memset(row, 0, sizeof *row);
}

int store_environment(struct store *st, const char *env_id, struct environment_row *out)
{
    memset(out, 0, sizeof *out);
    const char *params[1] = {env_id};
    PGresult *res = store_query(st,
                                "SELECT id, name, webhook_url, secondary_webhook_url, signing_key "
                                "FROM environments WHERE id = $1::uuid",
                                1, params);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples(res) == 1) {
        copy_field(out->id, sizeof out->id, res, 0, 0);
        out->name = dup_or_null(res, 0, 1);
        out->webhook_url = dup_or_null(res, 0, 2);
        out->secondary_webhook_url = dup_or_null(res, 0, 3);
        out->signing_key = dup_or_null(res, 0, 4);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

void store_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Containment (@>) uses the GIN indexes; the value may be stored as a string or, when
 * it is all digits, as a number, so both forms are asked for. */
#define MATCH_JSON(col)                                                                                             \
    "  c." col " @> jsonb_build_object($3::text, $4::text) OR "                                                     \
    "  ($4 ~ '^-?[0-9]{1,18}$' AND c." col " @> jsonb_build_object($3::text, "                                     \
    "    CASE WHEN $4 ~ '^-?[0-9]{1,18}$' THEN $4::bigint END))"

int store_connections_by(struct store *st, enum store_match match, const char *env_id, const char *integration_key,
                         const char *key, const char *value, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    static const char *const sql[] = {
        [STORE_MATCH_CONFIG] = "SELECT c.connection_id FROM connections c JOIN integrations i ON i.id = c.integration_id "
                               "WHERE i.environment_id = $1::uuid AND i.key = $2 AND (" MATCH_JSON(
                                   "connection_config") ") ORDER BY c.id",
        [STORE_MATCH_METADATA] = "SELECT c.connection_id FROM connections c JOIN integrations i ON i.id = c.integration_id "
                                 "WHERE i.environment_id = $1::uuid AND i.key = $2 AND (" MATCH_JSON(
                                     "metadata") ") ORDER BY c.id",
        [STORE_MATCH_ID] = "SELECT c.connection_id FROM connections c JOIN integrations i ON i.id = c.integration_id "
                           "WHERE i.environment_id = $1::uuid AND i.key = $2 AND $3::text IS NOT NULL "
                           "AND c.connection_id = $4 ORDER BY c.id",
    };
    const char *params[4] = {env_id, integration_key, key ? key : "", value};
    PGresult *res = store_query(st, sql[match], 4, params);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    int rc = 1;
    if (rows > 0) {
        char **out = calloc((size_t)rows, sizeof *out);
        if (!out) {
            rc = -1;
            goto done;
        }
        for (int r = 0; r < rows; r++) {
            out[r] = strdup(PQgetvalue(res, r, 0));
            if (!out[r]) {
                store_ids_free(out, (size_t)r);
                rc = -1;
                goto done;
            }
        }
        *ids = out;
        *n = (size_t)rows;
        rc = 0;
    }
done:
    PQclear(res);
    return rc;
}
