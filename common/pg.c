/* pg: see pg.h. */
#include "common/pg.h"

#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"

PGconn *pg_connect(const char *conninfo, const char *application_name)
{
    /* Defaults first: the expanded conninfo (dbname, last) overrides any of them. */
    const char *const keys[] = {"application_name", "connect_timeout", "keepalives", "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "dbname", NULL};
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
