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

#endif
