/* db: PostgreSQL for the API. Each HTTP worker thread keeps its own connection (a
 * thread-specific key closes it when the thread ends), so requests never wait for one
 * another's statements; every statement has a deadline (common/pg.h). Handlers build
 * their JSON in SQL (json_build_object, json_agg), so C only passes it through. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pg.h"

static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static atomic_bool reachable = true;

static void conn_free(void *c)
{
    if (c)
        PQfinish(c);
}

static void make_key(void)
{
    pthread_key_create(&conn_key, conn_free);
}

PGconn *db_thread(void)
{
    pthread_once(&conn_once, make_key);
    PGconn *c = pthread_getspecific(conn_key);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    if (c)
        PQfinish(c);
    c = pg_connect(g_common.database_url, "hookline-api");
    if (c && PQstatus(c) != CONNECTION_OK) {
        if (atomic_exchange(&reachable, false))
            log_warn(NULL, "database unreachable: %s", PQerrorMessage(c));
        PQfinish(c);
        c = NULL;
    } else if (c) {
        atomic_store(&reachable, true);
    }
    pthread_setspecific(conn_key, c);
    return c;
}

void db_thread_done(void)
{
    pthread_once(&conn_once, make_key);
    PGconn *c = pthread_getspecific(conn_key);
    pthread_setspecific(conn_key, NULL);
    conn_free(c);
}

bool db_ready(void)
{
    return atomic_load(&reachable);
}

PGresult *db_query(PGconn *db, struct api_response *rs, const char *sql, int n, const char *const *params)
{
    PGresult *res = pg_exec(db, sql, n, params, NULL, NULL, (int)g_api.db_timeout_ms);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (state && !strcmp(state, "23505"))
        api_problem(rs, 409, "Conflict", "it exists already");
    else if (state && (!strncmp(state, "22", 2) || !strncmp(state, "23", 2)))
        api_problem(rs, 400, "Bad Request", "a value was refused: %s", msg ? msg : state);
    else {
        log_error(NULL, "statement failed: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(db));
        if (PQstatus(db) != CONNECTION_OK) {
            atomic_store(&reachable, false);
            snprintf(rs->retry_after, sizeof rs->retry_after, "5");
            api_problem(rs, 503, "Service Unavailable", "the configuration database cannot be reached");
        } else {
            api_problem(rs, 500, "Internal Server Error", "the database could not answer");
        }
    }
    PQclear(res);
    return NULL;
}

unsigned db_json(PGconn *db, struct api_response *rs, unsigned status, const char *not_found, const char *sql, int n,
                 const char *const *params)
{
    PGresult *res = db_query(db, rs, sql, n, params);
    if (!res)
        return rs->status;
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return api_problem(rs, 404, "Not Found", "%s", not_found);
    }
    if (status == 204) {
        PQclear(res);
        rs->status = 204;
        return 204;
    }
    api_json_text(rs, status, PQgetvalue(res, 0, 0));
    PQclear(res);
    return rs->status;
}

#define PAGE_MAX_PARAMS 16

long db_page_limit(const struct api_request *rq)
{
    const char *l = api_query(rq, "limit");
    if (!l)
        return 50;
    char *end;
    long limit = strtol(l, &end, 10);
    return *end || limit < 1 || limit > 500 ? -1 : limit;
}

unsigned db_page(PGconn *db, const struct api_request *rq, struct api_response *rs, const char *inner, int n,
                 const char *const *params, bool desc)
{
    long limit = db_page_limit(rq);
    if (limit < 0)
        return api_problem(rs, 400, "Bad Request", "limit must be a number from 1 to 500");
    if (n > PAGE_MAX_PARAMS - 2)
        return api_problem(rs, 500, "Internal Server Error", "too many parameters");
    const char *all[PAGE_MAX_PARAMS];
    for (int i = 0; i < n; i++)
        all[i] = params[i];
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    all[n] = api_query(rq, "cursor");
    all[n + 1] = lim;
    const char *cmp = desc ? "<" : ">", *dir = desc ? "DESC" : "ASC";
    char *sql = NULL;
    if (asprintf(
            &sql,
            "WITH base AS (%s), page AS (SELECT * FROM base WHERE ($%d::text IS NULL OR _cursor %s $%d::text)"
            " ORDER BY _cursor %s LIMIT $%d::int + 1)"
            " SELECT json_build_object('data', coalesce((SELECT json_agg(to_jsonb(p) - '_cursor' ORDER BY _cursor %s)"
            " FROM (SELECT * FROM page ORDER BY _cursor %s LIMIT $%d::int) p), '[]'::json),"
            " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $%d::int THEN"
            " (SELECT _cursor FROM page ORDER BY _cursor %s OFFSET $%d::int - 1 LIMIT 1) END)::text",
            inner, n + 1, cmp, n + 1, dir, n + 2, dir, dir, n + 2, n + 2, dir, n + 2) < 0)
        return api_problem(rs, 500, "Internal Server Error", "out of memory");
    unsigned st = db_json(db, rs, 200, "nothing", sql, n + 2, all);
    free(sql);
    return st;
}
