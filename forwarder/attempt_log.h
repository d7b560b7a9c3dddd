/*
 * attempt_log: every delivery attempt of the forwarder, written to PostgreSQL
 * (delivery_attempts, db/migrations/005_delivery_attempts.sql) for
 * `hookline deliveries WEBHOOK_ID`.
 *
 * Observability, never a dependency of delivery: attempt_log_record copies a record
 * into a bounded in-memory queue and returns at once; one writer thread with its own
 * libpq connection inserts the queue in batches (every ATTEMPT_LOG_FLUSH_MS, or as soon
 * as ATTEMPT_LOG_BATCH records wait), one parameterised multi-row INSERT per batch.
 * While the database is unreachable the queue is kept and the writer reconnects with
 * backoff; when the queue is full the oldest records are dropped, counted in
 * hookline_forwarder_attempt_log_dropped_total and reported by a warning at most every
 * ATTEMPT_LOG_WARN_EVERY_S seconds. Written rows: hookline_forwarder_attempt_log_written_total.
 *
 * Threads: init and shutdown from the main thread (init registers metrics, so it runs
 * at startup); record and the two helpers from any thread. Before init (or after
 * shutdown, or when the log is switched off and init never ran) recording does nothing.
 */
#ifndef HOOKLINE_ATTEMPT_LOG_H
#define HOOKLINE_ATTEMPT_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "forwarder/forwarder.h"

#define ATTEMPT_LOG_FLUSH_MS 200
#define ATTEMPT_LOG_BATCH 500
#define ATTEMPT_LOG_WARN_EVERY_S 10

/* Its settings (HOOKLINE_FORWARDER_ATTEMPT_LOG, _MAX_QUEUED), filled by the forwarder's
 * config table. */
struct attempt_log_config {
    bool enabled;
    long max_queued;
};
extern struct attempt_log_config g_attempt_log;

/* The delivery_attempts.result values (the table's CHECK lists the same words). */
enum attempt_result {
    ATTEMPT_DELIVERED = 0, /* 2xx */
    ATTEMPT_FAILED,        /* a retryable failure: transport error, 5xx, 429, ... */
    ATTEMPT_REFUSED,       /* a status not worth retrying, or refused by the SSRF rules */
    ATTEMPT_GONE,          /* 410: refused, recorded apart */
    ATTEMPT_PARKED,        /* not attempted: the destination's circuit was open */
    ATTEMPT_DEAD_LETTERED,
    ATTEMPT_RETRY_SCHEDULED,
    ATTEMPT_RESULT_COUNT
};
/* "delivered", "dead-lettered", ... (static); NULL for a value out of range. */
const char *attempt_result_name(enum attempt_result result);

/* One attempt. Strings are NUL-terminated (longer ones are cut); "" stores NULL for
 * connection (unattributed) and error (none). env must be a UUID or it is stored as
 * NULL. */
struct attempt_record {
    char webhook_id[MSG_ID_BUF], routed_id[MSG_ID_BUF], env[MSG_ID_BUF], integration[MSG_KEY_BUF],
        connection[MSG_ID_BUF];
    char destination[DESTINATION_URL_MAX + 1];
    int pass;     /* 0: first pass; n: the pass of retry topic n */
    long attempt; /* the attempt's number across the whole delivery to destination */
    long status;  /* HTTP status, 0 none */
    char error[256];
    double seconds;  /* how long the attempt took */
    long long at_ms; /* unix ms the attempt started */
    enum attempt_result result;
};

/* Starts the writer thread (it connects to conninfo, copied, in the background: an
 * unreachable database is not an error here) with room for max_queued records (>= 1).
 * 0, or -1 when the thread or memory cannot be had (logged). */
int attempt_log_init(const char *conninfo, size_t max_queued) __attribute__((warn_unused_result));

/* Copies rec (borrowed) into the queue, dropping the oldest record when it is full.
 * Never waits for the database; takes a lock the writer holds only to move pointers. */
void attempt_log_record(const struct attempt_record *rec);

/* The record of one HTTP attempt of r to url, made at pass, numbered attempt: the
 * result is delivered for a 2xx, else gone (410) or refused when refused says the
 * attempt is final, else failed. */
void attempt_log_http(const struct msg_routed *r, const char *url, int pass, long attempt,
                      const struct delivery_result *res, bool refused);
/* A step of the delivery of r to url that made no request: parked by an open circuit,
 * held back because the destination is gone, handed to the next pass or to the
 * dead-letter topic. attempts: made so far; status and error: the last ones (0, NULL
 * when none). */
void attempt_log_step(const struct msg_routed *r, const char *url, int pass, long attempts, enum attempt_result result,
                      long status, const char *error);

/* Stops accepting records, lets the writer insert what it can within flush_timeout_ms
 * (what is left is dropped and counted), then stops it and closes its connection. */
void attempt_log_shutdown(long flush_timeout_ms);

struct attempt_log_stats {
    size_t queued; /* waiting, not counting a batch being inserted */
    long written;  /* rows inserted */
    long dropped;  /* records lost: queue full, rejected batch, or left at shutdown */
};
void attempt_log_stats(struct attempt_log_stats *out);

#endif
