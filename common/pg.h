/*
 * pg: libpq with every wait bounded. A database that stops answering (a frozen server,
 * a network that drops packets) must not hang a daemon: connecting gives up after
 * PG_CONNECT_TIMEOUT_S, TCP keepalives notice a peer that is gone, and a statement is
 * abandoned at its deadline on the client side (a server-side statement_timeout cannot
 * help when the server itself does not run).
 */
#ifndef HOOKLINE_PG_H
#define HOOKLINE_PG_H

#include <stdbool.h>

#include <libpq-fe.h>

#define PG_CONNECT_TIMEOUT_S "3"

/* Connects to conninfo (a URL or key=value string; its own settings win over these
 * defaults). Never NULL unless out of memory; check PQstatus. */
PGconn *pg_connect(const char *conninfo, const char *application_name);

/* PQexecParams with a deadline: the result (caller PQclear()s; it may be an error
 * result), or NULL. Past timeout_ms the connection is shut down, so PQstatus(c) is
 * CONNECTION_BAD afterwards and the caller reconnects. */
PGresult *pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params, const int *lengths,
                  const int *formats, int timeout_ms);

/* Whether a failed statement could ever succeed with the same parameters.
 * PG_PERMANENT: the server answered and refused the values themselves (SQLSTATE class
 * 22 data exception, e.g. 22021 bytes that are not UTF-8 or 22P02 a malformed uuid;
 * 23 integrity constraint violation; 54 program limit exceeded): retrying the same
 * message forever would stop its stage, so the caller quarantines it.
 * PG_TRANSIENT: anything else (no result, a lost connection, a timeout, a server
 * shutting down, a lock or serialization failure): wait and retry, never skip. */
enum pg_failure { PG_TRANSIENT = 0, PG_PERMANENT = 1 };
enum pg_failure pg_classify(const PGresult *res, const PGconn *c);

/* The value at (row, col) of res as a new string (caller frees), or NULL when it is SQL
 * NULL or out of memory. */
char *pg_value_dup(const PGresult *res, int row, int col);

/* A session: one reconnecting connection and the verdict on its last statement, for the
 * store, the syncer's run queue and the forwarder's attempt log alike. One thread at a
 * time uses a session (each owner says which). */
struct pg_session;
enum {
    PG_SESSION_RETRY_ONCE = 1, /* a statement whose connection died under it quickly (a
                                  server restart) is run once more on a new one; only for
                                  statements that are safe to repeat outside a transaction */
    PG_SESSION_QUIET = 2,      /* the caller logs failures itself (pg_session_error) */
};
/* conninfo and application_name are copied; statements are abandoned after timeout_ms.
 * NULL when out of memory. Nothing is connected until it is needed. */
struct pg_session *pg_session_new(const char *conninfo, const char *application_name, int timeout_ms, int flags);
void pg_session_free(struct pg_session *s);
/* The live connection, reconnecting a broken one, or NULL when the server cannot be
 * reached now (pg_session_error says why). Borrowed: valid until the next call on s. */
PGconn *pg_session_conn(struct pg_session *s);
/* The live connection if there is one, without connecting (NULL otherwise). */
PGconn *pg_session_peek(const struct pg_session *s);
/* How many connections were made so far: a change means session state (LISTEN, a
 * transaction) was lost with the previous one. */
unsigned long pg_session_generation(const struct pg_session *s);
/* Runs one statement (text parameters unless formats says binary). The result when it
 * succeeded (PGRES_TUPLES_OK or PGRES_COMMAND_OK; the caller PQclear()s it), else NULL:
 * logged unless PG_SESSION_QUIET, and pg_session_refused / pg_session_ok say what it was. */
PGresult *pg_session_exec(struct pg_session *s, const char *sql, int nparams, const char *const *params,
                          const int *lengths, const int *formats);
/* The last statement failed for good (pg_classify: PG_PERMANENT). */
bool pg_session_refused(const struct pg_session *s);
/* The last statement reached a live connection (succeeded, or failed with the
 * connection still up); false after a connection failure. */
bool pg_session_ok(const struct pg_session *s);
/* Why the last connection or statement failed ("" if it did not); its SQLSTATE, or "". */
const char *pg_session_error(const struct pg_session *s);
const char *pg_session_sqlstate(const struct pg_session *s);

#endif
