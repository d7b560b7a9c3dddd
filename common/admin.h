/*
 * admin: the operator's HTTP port of every daemon: GET /healthz (the process is
 * alive), /readyz (it can do its work: 200 or 503 with the reason) and /metrics
 * (Prometheus). Runs on its own libmicrohttpd thread, on 127.0.0.1 unless
 * HOOKLINE_ADMIN_BIND says otherwise.
 */
#ifndef HOOKLINE_ADMIN_H
#define HOOKLINE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

/* Called on the admin thread for /readyz: returns true when ready; else writes a short
 * reason into why. Must be cheap and thread-safe (read flags the daemon maintains). */
typedef bool (*admin_ready_fn)(void *ctx, char *why, size_t whylen);

struct admin;

/* Starts serving on bind_addr:port. NULL (logged) if the port cannot be bound. */
struct admin *admin_start(const char *bind_addr, int port, admin_ready_fn ready, void *ctx);
void admin_stop(struct admin *a);

#endif
