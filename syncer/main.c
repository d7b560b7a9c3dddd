/* hookline-syncer: webhooks start real-time syncs. Consumes webhooks.routed in its own
 * group and turns matching webhooks into sync runs in PostgreSQL (intake), which worker
 * threads send to the syncs' runners (dispatch) while a janitor expires, re-queues and
 * re-notifies. See syncer.h for the modules. */
#include <stdio.h>
#include <stdlib.h>

#include "common/admin.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/store.h"
#include "syncer/syncer.h"

struct syncer_config g_syncer;
struct syncer_metrics g_sm;

static const struct config_item syncer_items[] = {
    {"HOOKLINE_SYNCER_GROUP", CONFIG_STR, "hookline-syncer", 0, 0, 0, "Kafka consumer group", &g_syncer.group_id},
    {"HOOKLINE_TOPIC_REPLAY_SYNCER", CONFIG_STR, "webhooks.replay.syncer", 0, 0, 0,
     "topic of routed webhooks `hookline replay --stage syncer` sends (read like the routed topic)",
     &g_syncer.topic_replay},
    {"HOOKLINE_SYNCER_BATCH", CONFIG_INT, "500", 1, 100000, 0, "routed messages per database transaction",
     &g_syncer.batch_size},
    {"HOOKLINE_SYNCER_WORKERS", CONFIG_INT, "8", 1, 256, 0, "runs sent at once by this process", &g_syncer.workers},
    {"HOOKLINE_SYNCER_MAX_CONCURRENCY_PER_ENV", CONFIG_INT, "4", 1, 10000, 0,
     "runs running at once per environment, across every syncer", &g_syncer.max_per_env},
    {"HOOKLINE_SYNCER_BACKOFF_MS", CONFIG_INT, "5000", 1, 86400000, 0,
     "delay after a failed attempt, doubled per attempt (+-20% jitter)", &g_syncer.backoff_ms},
    {"HOOKLINE_SYNCER_BACKOFF_MAX_MS", CONFIG_INT, "600000", 1, 86400000, 0, "longest delay between attempts",
     &g_syncer.backoff_max_ms},
    {"HOOKLINE_SYNCER_RUN_TIMEOUT_MS", CONFIG_INT, "120000", 1000, 86400000, 0,
     "a run running longer (its syncer died) is queued again; keep above the HTTP timeout", &g_syncer.run_timeout_ms},
    {"HOOKLINE_SYNCER_MAX_AGE_S", CONFIG_INT, "86400", 1, 31536000, 0,
     "a run still queued this long after it was queued is expired", &g_syncer.max_age_s},
    {"HOOKLINE_SYNCER_HTTP_TIMEOUT_MS", CONFIG_INT, "30000", 100, 3600000, 0,
     "per-attempt limit of a runner request (and of a runner topic's acknowledgement)", &g_syncer.http_timeout_ms},
    {"HOOKLINE_SYNCER_CONNECT_TIMEOUT_MS", CONFIG_INT, "3000", 100, 600000, 0, "runner connect limit",
     &g_syncer.connect_timeout_ms},
    {"HOOKLINE_SYNCER_POLL_MS", CONFIG_INT, "200", 10, 60000, 0, "how often an idle worker looks for due runs",
     &g_syncer.poll_ms},
    {"HOOKLINE_SYNCER_ALLOW_CIDRS", CONFIG_STR, "", 0, 0, 0,
     "non-public runner addresses the syncer may reach anyway (e.g. 127.0.0.0/8,::1/128)", &g_syncer.allow_cidrs},
};

static void metrics_init(void)
{
    const char *runs = "hookline_syncer_runs_total";
    g_sm.created = metrics_counter(runs, "event=\"created\"", "sync run events");
    g_sm.started = metrics_counter(runs, "event=\"started\"", "sync run events");
    g_sm.succeeded = metrics_counter(runs, "event=\"succeeded\"", "sync run events");
    g_sm.failed = metrics_counter(runs, "event=\"failed\"", "sync run events");
    g_sm.expired = metrics_counter(runs, "event=\"expired\"", "sync run events");
    g_sm.retried = metrics_counter(runs, "event=\"retried\"", "sync run events");
    g_sm.released = metrics_counter(runs, "event=\"released\"", "sync run events");
    g_sm.quarantined = metrics_counter("hookline_syncer_quarantined_total", NULL,
                                       "routed messages that can never start a run, put on the rejected topic");
    g_sm.notified = metrics_counter("hookline_syncer_notifications_total", NULL,
                                    "sync notifications acknowledged by Kafka");
    g_sm.skipped_unattributed = metrics_counter("hookline_syncer_webhooks_skipped_total", "reason=\"unattributed\"",
                                                "routed webhooks that start no run");
    g_sm.skipped_unmatched = metrics_counter("hookline_syncer_webhooks_skipped_total", "reason=\"no_match\"",
                                             "routed webhooks that start no run");
    g_sm.dispatch_seconds = metrics_histogram("hookline_syncer_dispatch_seconds", NULL,
                                              "time to send a job to its runner");
}

static bool syncer_ready(void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    if (signals_stopping())
        snprintf(why, whylen, "draining");
    else if (!runner_kafka_ready())
        snprintf(why, whylen, "kafka unreachable");
    else if (!intake_db_ok())
        snprintf(why, whylen, "database unreachable");
    else
        return true;
    return false;
}

int main(int argc, char **argv)
{
    int rc = config_from_args(argc, argv, "hookline-syncer", "starts sync runs from webhooks", "9483", syncer_items,
                              sizeof syncer_items / sizeof syncer_items[0]);
    if (rc != 0)
        return rc < 0 ? 1 : 0;
    log_init("syncer", g_common.log_level, g_common.log_format);
    signals_install();
    metrics_init();

    /* The signing keys are read (decrypted) for every job. */
    struct store *probe = store_new(g_common.database_url);
    if (!probe || store_require_secrets() < 0)
        return 1;
    if (store_ping(probe) < 0)
        log_warn(NULL, "database unreachable at startup; waiting for it");
    store_free(probe);

    char errstr[512];
    if (runner_init() < 0 || intake_init() < 0)
        return 1;
    const char *const inputs[2] = {g_common.topic_routed, g_syncer.topic_replay};
    rd_kafka_t *consumer = kafka_consumer_new_topics("hookline-syncer", g_syncer.group_id, inputs, 2, errstr,
                                                     sizeof errstr);
    if (!consumer) {
        log_error(NULL, "kafka consumer: %s", errstr);
        return 1;
    }
    runner_watch();
    intake_watch();
    struct admin *admin = admin_start(g_daemon.admin_bind, (int)g_daemon.admin_port, syncer_ready, NULL);
    rd_kafka_message_t **batch = calloc((size_t)g_syncer.batch_size, sizeof *batch);
    if (!admin || !batch || dispatch_start() < 0 || janitor_start() < 0)
        return 1;
    log_info(NULL, "syncing from %s as group %s: %ld workers, at most %ld running per environment",
             g_common.topic_routed, g_syncer.group_id, g_syncer.workers, g_syncer.max_per_env);

    double next_check = clock_mono_s() + 2;
    while (!signals_stopping()) {
        if (intake_batch(consumer, batch) < 0)
            break;
        if (clock_mono_s() >= next_check) {
            runner_watch();
            intake_watch();
            next_check = clock_mono_s() + 2;
        }
    }

    /* Drain: workers finish (or give back) their run, the last committed batch's
     * offsets are committed by closing the consumer. */
    log_info(NULL, "draining: finishing running runs, committing offsets");
    dispatch_join();
    janitor_join();
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    runner_shutdown();
    admin_stop(admin);
    intake_shutdown();
    free(batch);
    log_info(NULL, "stopped");
    return 0;
}
