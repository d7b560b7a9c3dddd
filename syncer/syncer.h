/*
 * syncer: webhooks start real-time syncs, exactly once in effect.
 *
 * Kafka is the input, PostgreSQL the run queue (an outbox):
 *   main.c      configuration, threads, drain; reads like a table of contents
 *   intake.c    webhooks.routed -> sync runs (one transaction per batch, then offsets)
 *   match.c     which sync a webhook starts: the first subscription equal to its event
 *               type or "*" (pure)
 *   runs.c      every SQL statement on syncs / sync_runs (one connection per caller)
 *   dispatch.c  worker threads: claim a due run, send it to its runner, record it
 *   runner.c    the transports: a signed HTTP POST (libcurl, SSRF rules) or a Kafka
 *               message acknowledged by the broker
 *   job.c       the job and notification bodies and the retry backoff (pure)
 *   janitor.c   leases of runs whose process died, expiry, notifications to re-send
 *
 * Threads: the main thread runs the intake, HOOKLINE_SYNCER_WORKERS threads dispatch,
 * one janitor thread sweeps; each owns its own database connection. The producer
 * (runner topics, notifications) is shared: librdkafka is thread-safe.
 */
#ifndef HOOKLINE_SYNCER_H
#define HOOKLINE_SYNCER_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/ids.h"
#include "common/metrics.h"
#include "common/traceparent.h"

struct syncer_config {
    const char *group_id;
    const char *topic_replay;
    long batch_size;
    long workers;
    long max_per_env;
    long backoff_ms;
    long backoff_max_ms;
    long run_timeout_ms;
    long max_age_s;
    long http_timeout_ms;
    long connect_timeout_ms;
    long poll_ms;
    const char *allow_cidrs;
};
extern struct syncer_config g_syncer;

struct syncer_metrics {
    struct metric *created, *started, *succeeded, *failed, *expired, *retried, *released, *notified,
        *skipped_unattributed, *skipped_unmatched, *dispatch_seconds, *quarantined;
};
extern struct syncer_metrics g_sm;

/* ---- match.c (pure) --------------------------------------------------------------- */

/* Index of the first of the n subscriptions that matches, -1 if none. A subscription
 * matches when it is "*", or equal to event_type (hookline's type, "issues.opened") or to
 * nango_type (the type Nango matches, "issues"), or is "prefix.*" and one of them starts
 * with "prefix.". Either type may be NULL or "" (none): then only "*" matches it. */
int sync_match(const char *const *subs, size_t n, const char *event_type, const char *nango_type);

/* A sync as the intake needs it. */
#define SYNC_MAX_SUBSCRIPTIONS 64
struct sync_def {
    long long id;
    char *name;                         /* owned */
    char *subs[SYNC_MAX_SUBSCRIPTIONS]; /* owned */
    size_t nsubs;
};
/* Fills def->subs from a JSON array of strings (array_to_json of the column). 0, or -1
 * when it is not one (def then holds what was read; free with sync_def_clear). */
int sync_def_parse_subscriptions(struct sync_def *def, const char *json) __attribute__((warn_unused_result));
void sync_def_clear(struct sync_def *def);

/* ---- job.c (pure) ----------------------------------------------------------------- */

/* What a run sends its runner; every string borrowed. */
struct job_fields {
    const char *run_id, *sync_name, *connection_id, *integration, *provider, *subscription, *webhook_id;
    long attempt;
    const void *payload;
    size_t payload_len;
};
/* The job body, compact, this key order:
 *   {"type":"sync.webhook","runId":..,"syncName":..,"connectionId":..,"providerConfigKey":..,
 *    "provider":..,"subscription":..,"webhookId":..,"attempt":N,"payload":X}
 * where X is encoded exactly as the forwarder's envelope encodes a payload (spliced
 * when JSON, a string when other UTF-8, base64 plus "payloadEncoding":"base64"
 * otherwise). A new malloc'ed NUL-terminated body (caller frees), or NULL on failure. */
char *job_build(const struct job_fields *f, size_t *len);

/* The `sync` webhook for the environment's app after a run succeeded:
 *   {"from":"hookline","type":"sync","syncType":"WEBHOOK","syncName":..,"connectionId":..,
 *    "providerConfigKey":..,"success":true,"modifiedAfter":<started_iso>,
 *    "responseResults":{"added":N,"updated":N,"deleted":N}}
 * counts from result_json (the runner's answer, may be NULL), 0 when absent. A new
 * malloc'ed body (caller frees) or NULL. */
char *job_notification(const char *sync_name, const char *connection_id, const char *integration,
                       const char *started_iso, const char *result_json, size_t *len);

/* ---- runs.c ------------------------------------------------------------------------ */

struct runs_db;
/* conninfo is copied; connects on first use, re-connects after a loss. NULL on ENOMEM. */
struct runs_db *runs_db_new(const char *conninfo);
void runs_db_free(struct runs_db *db);
bool runs_db_ok(const struct runs_db *db); /* did the last statement reach the database */
/* Did the last statement fail because the database refused its values for good
 * (pg_classify: PG_PERMANENT, e.g. bytes that are not UTF-8)? Then retrying the same
 * message can never succeed: the intake quarantines it. */
bool runs_db_refused(const struct runs_db *db);
void runs_ping(struct runs_db *db); /* a trivial statement, for runs_db_ok */

/* Intake. All return -1 on a database error (logged): the caller rolls back and
 * retries the batch. */
int runs_begin(struct runs_db *db) __attribute__((warn_unused_result));
int runs_commit(struct runs_db *db) __attribute__((warn_unused_result));
void runs_rollback(struct runs_db *db);
/* Inside a transaction: marks the state before one message, so a message the database
 * refuses can be undone alone. 0 or -1. */
int runs_savepoint(struct runs_db *db) __attribute__((warn_unused_result));
int runs_rollback_to_savepoint(struct runs_db *db) __attribute__((warn_unused_result));
/* The enabled syncs of (env_id, integration), by id: *defs a new array (free with
 * runs_syncs_free). 0 or -1. */
int runs_syncs_of(struct runs_db *db, const char *env_id, const char *integration, struct sync_def **defs, size_t *n)
    __attribute__((warn_unused_result));
void runs_syncs_free(struct sync_def *defs, size_t n);

struct new_run {
    char id[ID_LEN + 1];
    long long sync_id;
    const char *env_id, *connection_id, *webhook_id, *routed_id, *event_type, *subscription, *provider;
    const char *received_at_ms; /* decimal unix ms or NULL */
    const char *traceparent;    /* the routed message's (the router's span), "" or NULL: none */
    const void *payload;
    size_t payload_len;
};
/* INSERT ... ON CONFLICT DO NOTHING: 1 created, 0 it existed, -1 error. */
int runs_insert(struct runs_db *db, const struct new_run *r) __attribute__((warn_unused_result));

/* A claimed run, with what sending it and notifying about it need (owned copies). */
struct run {
    char id[ID_LEN + 1];
    char env_id[ID_LEN + 1];
    long long sync_id;
    char *sync_name, *connection_id, *integration, *provider, *subscription, *webhook_id;
    char *runner_url, *runner_topic; /* exactly one is set */
    long attempt, max_attempts;
    unsigned char *payload;
    size_t payload_len;
    char started_iso[40];
    char *result;                      /* the stored result JSON (notifications), or NULL */
    char traceparent[TRACEPARENT_BUF]; /* the router's span of the webhook's trace, or "" */
};
void run_clear(struct run *r);

/* Claims the earliest due queued run whose (sync, connection) has no earlier run
 * queued or running, in an environment with fewer than max_per_env running: marks it
 * running (attempts + 1, started_at). Serialised across processes (an advisory lock
 * and SKIP LOCKED), so the bound holds for any number of syncers. 1 claimed, 0 none,
 * -1 error. */
int runs_claim(struct runs_db *db, long max_per_env, struct run *out) __attribute__((warn_unused_result));
/* Records success (result_json: a JSON object or NULL). *notify: the environment wants
 * a notification (it is then due until runs_notified). 1 recorded, 0 the run was no
 * longer this attempt's (lease lost), -1 error. */
int runs_succeed(struct runs_db *db, const struct run *r, const char *result_json, bool *notify)
    __attribute__((warn_unused_result));
/* Records a failed attempt: queued again after backoff_ms, or failed when it was the
 * last. *final: it failed for good. 1 / 0 / -1 as runs_succeed. */
int runs_fail(struct runs_db *db, const struct run *r, const char *error, long backoff_ms, bool *final)
    __attribute__((warn_unused_result));
/* Gives an attempt back uncounted (shutdown interrupted it). */
int runs_release(struct runs_db *db, const struct run *r) __attribute__((warn_unused_result));
int runs_notified(struct runs_db *db, const char *run_id) __attribute__((warn_unused_result));

/* Janitor: how many runs each statement changed, or -1. */
int runs_reclaim_leases(struct runs_db *db, long timeout_ms);
int runs_expire(struct runs_db *db, long max_age_s);
/* Succeeded runs whose notification is still due at least min_age_s after they
 * finished: *out a new array of at most max (free each with run_clear, then free). */
int runs_pending_notifications(struct runs_db *db, long min_age_s, size_t max, struct run **out, size_t *n)
    __attribute__((warn_unused_result));

/* ---- runner.c ---------------------------------------------------------------------- */

int runner_init(void) __attribute__((warn_unused_result));
bool runner_kafka_ready(void);
void runner_watch(void);
void runner_shutdown(void);

/* The outcome of one attempt. */
struct runner_result {
    bool ok;
    bool interrupted; /* a stop was requested mid-attempt: release, do not count */
    long status;      /* HTTP status, 0 if none */
    char error[256];  /* why it failed */
    char *body;       /* owned: the 2xx answer when it is a JSON object, else NULL */
};
void runner_result_clear(struct runner_result *res);

/* A per-thread HTTP client (curl handle). */
struct runner_http;
struct runner_http *runner_http_new(void);
void runner_http_free(struct runner_http *h);

/* Signature headers of one attempt, for both transports. */
struct job_signature {
    char nango[65];
    char standard[160];
    char timestamp[24];
};

/* traceparent: the syncer's span of the webhook's trace, sent as `traceparent` ("" none). */
void runner_post(struct runner_http *h, const char *url, const struct job_signature *sig, const char *run_id,
                 const char *webhook_id, long attempt, const char *traceparent, const char *body, size_t len,
                 struct runner_result *out);
void runner_produce(const char *topic, const char *key, const struct job_signature *sig, const char *run_id,
                    const char *traceparent, const char *body, size_t len, struct runner_result *out);

/* Produces value to topic with headers (taken) and waits for Kafka's acknowledgement
 * for at most timeout_ms. 0 acknowledged, -1 failed (reason in err), RUNNER_REFUSED:
 * Kafka refused the message itself (kafka_err_refuses_message: too large for the topic,
 * or for the batch it went in). */
#define RUNNER_REFUSED (-2)
int runner_produce_wait(const char *topic, const char *key, const void *value, size_t len, rd_kafka_headers_t *headers,
                        long timeout_ms, char *err, size_t errlen) __attribute__((warn_unused_result));

/* ---- dispatch.c / janitor.c / intake.c ------------------------------------------------ */

int dispatch_start(void) __attribute__((warn_unused_result));
void dispatch_join(void);
/* Sends run r's success notification and records it. 0 sent, -1 not (left due). */
int dispatch_notify(struct runs_db *db, const struct run *r, const char *result_json);

int janitor_start(void) __attribute__((warn_unused_result));
void janitor_join(void);

int intake_init(void) __attribute__((warn_unused_result));
/* One batch: consume, create runs in one transaction, store offsets. -1 a stop was
 * requested before the batch could be committed (offsets not stored). */
int intake_batch(rd_kafka_t *consumer, rd_kafka_message_t **batch);
bool intake_db_ok(void);
void intake_watch(void); /* re-checks the database (readiness) */
void intake_shutdown(void);

#endif
