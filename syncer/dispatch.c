/* dispatch: the worker threads (see syncer.h). Each claims one due run at a time,
 * signs its job with the environment's key, sends it to the runner and records the
 * outcome on the row: succeeded (with the runner's counts), queued again after a
 * backoff, or failed after the sync's last attempt. A stop request ends the loop
 * between runs; an attempt it interrupts is given back uncounted. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/signals.h"
#include "common/store.h"
#include "common/envelope.h"
#include "syncer/syncer.h"

#define NOTIFY_TIMEOUT_MS 10000

static pthread_t *threads;
static size_t nthreads;

int dispatch_notify(struct runs_db *db, const struct run *r, const char *result_json)
{
    size_t len = 0;
    char *body = job_notification(r->sync_name, r->connection_id, r->integration, r->started_iso, result_json, &len);
    if (!body) {
        log_error(r->webhook_id, "run %s: out of memory building its notification", r->id);
        return -1;
    }
    /* A stable id per run: a re-sent notification is recognisably the same one. */
    char nid[ID_LEN + 1];
    const char *parts[] = {"sync-notification", r->id};
    id_derive(nid, parts, 2);
    char *key = msg_routed_key(r->env_id, r->integration, r->connection_id);
    if (!key) {
        free(body);
        log_error(r->webhook_id, "run %s: out of memory building its notification", r->id);
        return -1;
    }
    char trace[TRACEPARENT_BUF]; /* the notification continues the webhook's trace */
    const struct msg_notification n = {
        "sync",           nid,         r->env_id,       r->integration,
        r->connection_id, r->provider, clock_unix_ms(), traceparent_next(r->traceparent, trace)};
    rd_kafka_headers_t *h = msg_notification_encode(&n);
    char err[256];
    int rc = runner_produce_wait(g_common.topic_notifications, key, body, len, h, NOTIFY_TIMEOUT_MS, err, sizeof err);
    free(key);
    free(body);
    if (rc < 0) {
        log_warn(r->webhook_id, "run %s: notification not sent (%s); the janitor re-sends it", r->id, err);
        return -1;
    }
    if (runs_notified(db, r->id) < 0)
        return -1; /* sent; it stays due and is sent again (same id) */
    metric_inc(g_sm.notified);
    log_info(r->webhook_id, "run %s: sync notification %s sent to %s", r->id, nid, g_common.topic_notifications);
    return 0;
}

/* Signs body for run r with the environment's key (and the previous key during its
 * grace period). 0, or -1 when the key cannot be read now. */
static int sign_job(struct store *st, const struct run *r, const char *body, size_t len, struct job_signature *sig)
{
    struct environment_row env;
    if (store_environment(st, r->env_id, &env) != 0)
        return -1; /* unreachable, or deleted since (its syncs and runs go with it) */
    long long now = (long long)time(NULL);
    const char *previous = env.previous_signing_key && now < env.previous_until ? env.previous_signing_key : NULL;
    snprintf(sig->timestamp, sizeof sig->timestamp, "%lld", now);
    envelope_sign_nango(env.signing_key, body, len, sig->nango);
    char standard[ENVELOPE_STANDARD_SIG_MAX];
    envelope_sign_standard(env.signing_key, previous, r->id, now, body, len, standard);
    snprintf(sig->standard, sizeof sig->standard, "%s", standard);
    environment_row_clear(&env);
    return 0;
}

/* One attempt of run r: the job to its runner. */
static void attempt(struct store *st, struct runner_http *http, const struct run *r, struct runner_result *res)
{
    memset(res, 0, sizeof *res);
    struct job_fields f = {r->id,           r->sync_name,  r->connection_id, r->integration, r->provider,
                           r->subscription, r->webhook_id, r->attempt,       r->payload,     r->payload_len};
    size_t len = 0;
    char *body = job_build(&f, &len);
    struct job_signature sig;
    char trace[TRACEPARENT_BUF]; /* this attempt's span: a child of the router's */
    traceparent_next(r->traceparent, trace);
    if (!body) {
        snprintf(res->error, sizeof res->error, "out of memory building the job");
    } else if (sign_job(st, r, body, len, &sig) < 0) {
        snprintf(res->error, sizeof res->error, "the environment's signing key cannot be read now");
    } else if (r->runner_url) {
        runner_post(http, r->runner_url, &sig, r->id, r->webhook_id, r->attempt, trace, body, len, res);
    } else {
        char key[1200];
        snprintf(key, sizeof key, "%lld/%s", r->sync_id, r->connection_id);
        runner_produce(r->runner_topic, key, &sig, r->id, trace, body, len, res);
    }
    free(body);
}

/* Records the outcome of run r's attempt (and notifies on success). */
static void record(struct runs_db *db, const struct run *r, const struct runner_result *res)
{
    const char *wid = r->webhook_id;
    if (res->interrupted) {
        metric_inc(g_sm.released);
        if (runs_release(db, r) < 0)
            log_warn(wid, "run %s: could not give the attempt back; its lease returns it", r->id);
        return;
    }
    bool flag = false;
    int rc;
    if (res->ok) {
        rc = runs_succeed(db, r, res->body, &flag);
        if (rc == 1) {
            metric_inc(g_sm.succeeded);
            log_info(wid, "run %s: sync %s for connection %s succeeded (attempt %ld)", r->id, r->sync_name,
                     r->connection_id, r->attempt);
            if (flag)
                (void)dispatch_notify(db, r, res->body);
        }
    } else {
        long backoff = backoff_ms(g_syncer.backoff_ms, g_syncer.backoff_max_ms, r->attempt);
        rc = runs_fail(db, r, res->error, backoff, &flag);
        if (rc == 1 && flag) {
            metric_inc(g_sm.failed);
            log_warn(wid, "run %s: sync %s failed after %ld attempts: %s", r->id, r->sync_name, r->attempt, res->error);
        } else if (rc == 1) {
            metric_inc(g_sm.retried);
            log_info(wid, "run %s: attempt %ld of %ld failed (%s); next in %ld ms", r->id, r->attempt, r->max_attempts,
                     res->error, backoff);
        }
    }
    if (rc == 0)
        log_warn(wid, "run %s: attempt %ld outlived its lease; another attempt owns the run", r->id, r->attempt);
    else if (rc < 0)
        log_warn(wid, "run %s: outcome not recorded (database); its lease returns it", r->id);
}

static void *worker(void *arg)
{
    (void)arg;
    struct runs_db *db = runs_db_new(g_common.database_url);
    struct store *st = store_new(g_common.database_url);
    struct runner_http *http = runner_http_new();
    if (!db || !st || !http) {
        log_error(NULL, "dispatch: out of memory starting a worker");
        goto out;
    }
    while (!signals_stopping()) {
        struct run r;
        int rc = runs_claim(db, g_syncer.max_per_env, &r);
        if (rc <= 0) {
            usleep((useconds_t)(rc < 0 ? 1000 : g_syncer.poll_ms) * 1000);
            continue;
        }
        metric_inc(g_sm.started);
        log_debug(r.webhook_id, "run %s: attempt %ld of sync %s for %s", r.id, r.attempt, r.sync_name, r.connection_id);
        struct runner_result res;
        double start = clock_mono_s();
        attempt(st, http, &r, &res);
        metric_observe(g_sm.dispatch_seconds, clock_mono_s() - start);
        record(db, &r, &res);
        runner_result_clear(&res);
        run_clear(&r);
    }
out:
    runner_http_free(http);
    store_free(st);
    runs_db_free(db);
    return NULL;
}

int dispatch_start(void)
{
    threads = calloc((size_t)g_syncer.workers, sizeof *threads);
    if (!threads)
        return -1;
    for (long i = 0; i < g_syncer.workers; i++) {
        if (pthread_create(&threads[i], NULL, worker, NULL) != 0)
            return -1;
        nthreads++;
    }
    return 0;
}

void dispatch_join(void)
{
    for (size_t i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    threads = NULL;
    nthreads = 0;
}
