/*
 * pg: libpq with every wait bounded. A database that stops answering (a frozen server,
 * a network that drops packets) must not hang a daemon: connecting gives up after
 * PG_CONNECT_TIMEOUT_S, TCP keepalives notice a peer that is gone, and a statement is
 * abandoned at its deadline on the client side (a server-side statement_timeout cannot
 * help when the server itself does not run).
 */
#ifndef HOOKLINE_PG_H
#define HOOKLINE_PG_H

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

#endif
