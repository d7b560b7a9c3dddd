/* pg: see pg.h. */
#include "common/pg.h"

#include <errno.h> /* program_invocation_short_name */
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"

PGconn *pg_connect(const char *conninfo, const char *application_name)
{
    /* Shared code (the store, the config cache) asks for plain "hookline": it gets the
     * program's name (hookline-router, ...; the CLI's stays "hookline"), so that operators
     * and tests tell the daemons apart in pg_stat_activity. */
    if (!application_name || strcmp(application_name, "hookline") == 0)
        application_name = program_invocation_short_name;
    /* Defaults first: the expanded conninfo (dbname, last) overrides any of them. */
    const char *const keys[] = {"application_name",    "connect_timeout",  "keepalives", "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "dbname",     NULL};
    const char *const vals[] = {application_name, PG_CONNECT_TIMEOUT_S, "1", "10", "5", "3", conninfo, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

PGresult *pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params, const int *lengths,
                  const int *formats, int timeout_ms)
{
    /* Non-blocking, so that sending a large statement cannot block either. */
    if (PQsetnonblocking(c, 1) != 0 || !PQsendQueryParams(c, sql, nparams, NULL, params, lengths, formats, 0))
        return PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR); /* PQerrorMessage(c) says why */
    double deadline = clock_mono_s() + (double)timeout_ms / 1000;
    int flushing = 1;
    while (flushing == 1 || PQisBusy(c)) {
        int left = (int)((deadline - clock_mono_s()) * 1000);
        if (left <= 0) {
            log_warn(NULL, "database: no answer within %d ms: dropping the connection", timeout_ms);
            shutdown(PQsocket(c), SHUT_RDWR); /* libpq sees the connection end and fails the query */
            PQconsumeInput(c);
            break;
        }
        struct pollfd p = {.fd = PQsocket(c), .events = (short)(POLLIN | (flushing == 1 ? POLLOUT : 0))};
        if (poll(&p, 1, left) < 0)
            break;
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c))
            break;
        if (flushing == 1 && (flushing = PQflush(c)) < 0)
            break;
    }
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(c))) { /* the last result is the statement's */
        PQclear(last);
        last = r;
    }
    return last;
}

enum pg_failure pg_classify(const PGresult *res, const PGconn *c)
{
    if (!res || !c || PQstatus(c) != CONNECTION_OK || PQresultStatus(res) != PGRES_FATAL_ERROR)
        return PG_TRANSIENT;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state || strlen(state) != 5)
        return PG_TRANSIENT; /* an error libpq made up itself: the connection's, not the data's */
    return !strncmp(state, "22", 2) || !strncmp(state, "23", 2) || !strncmp(state, "54", 2) ? PG_PERMANENT
                                                                                            : PG_TRANSIENT;
}

char *pg_value_dup(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

/* ---- sessions --------------------------------------------------------------------------- */

struct pg_session {
    char *conninfo, *application_name;
    int timeout_ms, flags;
    PGconn *conn;
    unsigned long generation;
    bool ok, refused;
    char error[512], sqlstate[6];
};

struct pg_session *pg_session_new(const char *conninfo, const char *application_name, int timeout_ms, int flags)
{
    struct pg_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->conninfo = strdup(conninfo);
    s->application_name = strdup(application_name);
    s->timeout_ms = timeout_ms;
    s->flags = flags;
    if (!s->conninfo || !s->application_name) {
        pg_session_free(s);
        return NULL;
    }
    return s;
}

void pg_session_free(struct pg_session *s)
{
    if (!s)
        return;
    PQfinish(s->conn);
    free(s->conninfo);
    free(s->application_name);
    free(s);
}

/* Keeps what c says went wrong (its message, without the trailing newline). */
static void keep_error(struct pg_session *s, const PGresult *res, const PGconn *c)
{
    snprintf(s->error, sizeof s->error, "%s", c ? PQerrorMessage(c) : "out of memory");
    s->error[strcspn(s->error, "\n")] = '\0';
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
}

PGconn *pg_session_conn(struct pg_session *s)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return s->conn;
    PQfinish(s->conn);
    s->conn = pg_connect(s->conninfo, s->application_name);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        keep_error(s, NULL, s->conn);
        PQfinish(s->conn);
        s->conn = NULL;
        s->ok = false;
        return NULL;
    }
    s->generation++;
    return s->conn;
}

PGconn *pg_session_peek(const struct pg_session *s)
{
    return s->conn && PQstatus(s->conn) == CONNECTION_OK ? s->conn : NULL;
}

unsigned long pg_session_generation(const struct pg_session *s)
{
    return s->generation;
}

PGresult *pg_session_exec(struct pg_session *s, const char *sql, int nparams, const char *const *params,
                          const int *lengths, const int *formats)
{
    s->refused = false;
    s->error[0] = s->sqlstate[0] = '\0';
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = pg_session_conn(s);
        if (!c) {
            if (!(s->flags & PG_SESSION_QUIET))
                log_warn(NULL, "database: cannot connect: %s", s->error);
            return NULL;
        }
        double started = clock_mono_s();
        PGresult *res = pg_exec(c, sql, nparams, params, lengths, formats, s->timeout_ms);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            s->ok = true;
            return res;
        }
        s->refused = pg_classify(res, c) == PG_PERMANENT;
        s->ok = PQstatus(c) == CONNECTION_OK;
        keep_error(s, res, c);
        if (!(s->flags & PG_SESSION_QUIET))
            log_warn(NULL, "database: statement %s: %s", s->refused ? "refused its parameters" : "failed", s->error);
        PQclear(res);
        /* Refused, or timed out (a second wait would only double it): no second try. */
        if (s->ok || !(s->flags & PG_SESSION_RETRY_ONCE) || clock_mono_s() - started >= s->timeout_ms / 1000.0 * 0.9)
            return NULL;
    }
    return NULL;
}

bool pg_session_refused(const struct pg_session *s)
{
    return s->refused;
}

bool pg_session_ok(const struct pg_session *s)
{
    return s->ok;
}

const char *pg_session_error(const struct pg_session *s)
{
    return s->error;
}

const char *pg_session_sqlstate(const struct pg_session *s)
{
    return s->sqlstate;
}
