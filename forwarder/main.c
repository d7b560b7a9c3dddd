/* hookline-forwarder: consumes webhooks.routed (and hookline's own notifications) and
 * POSTs each webhook, signed with the environment's key, in the Nango-compatible
 * envelope or (raw mode) as the provider sent it, to its primary URL (the connection's
 * override, else the environment's) and the environment's secondary URL; integrations
 * with forwarding off are skipped. Many deliveries run at once from one event loop
 * (libcurl multi); a message's offset is stored only once its outcome and that of every
 * message before it in its partition is final (delivered, refused and dead-lettered,
 * handed to a retry topic, or not to be forwarded), so a crash re-delivers rather than
 * loses; receivers dedupe on the stable webhook-id. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/admin.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/signals.h"
#include "common/store.h"
#include "forwarder/attempt_log.h"
#include "forwarder/forwarder.h"

struct forwarder_config g_forwarder;

static const struct config_item forwarder_items[] = {
    {"HOOKLINE_FORWARDER_TIMEOUT_MS", CONFIG_INT, "10000", 100, 600000, 0, "total time allowed for one delivery",
     &g_forwarder.timeout_ms},
    {"HOOKLINE_FORWARDER_CONNECT_TIMEOUT_MS", CONFIG_INT, "3000", 100, 60000, 0, "time allowed to connect",
     &g_forwarder.connect_timeout_ms},
    {"HOOKLINE_FORWARDER_MAX_IN_FLIGHT", CONFIG_INT, "1000", 1, 100000, 0,
     "consumed messages being delivered at once (no more are read meanwhile)", &g_forwarder.max_in_flight},
    {"HOOKLINE_FORWARDER_MAX_PER_DESTINATION", CONFIG_INT, "16", 1, 1000, 0,
     "requests in flight to one destination (scheme, host, port) at once", &g_forwarder.max_per_destination},
    {"HOOKLINE_FORWARDER_MAX_QUEUE_WAIT_MS", CONFIG_INT, "5000", 100, 3600000, 0,
     "a destination with more work queued than this (and past an eighth of the slots) gets new deliveries "
     "deferred to the retry path, so a slow app cannot take every slot",
     &g_forwarder.max_queue_wait_ms},
    {"HOOKLINE_FORWARDER_DRAIN_MS", CONFIG_INT, "10000", 0, 600000, 0,
     "on SIGTERM, how long requests in flight may finish (the rest is delivered again after the restart)",
     &g_forwarder.drain_ms},
    {"HOOKLINE_FORWARDER_ATTEMPT_LOG", CONFIG_BOOL, "true", 0, 0, 0,
     "record every delivery attempt in PostgreSQL (delivery_attempts) for 'hookline deliveries'",
     &g_attempt_log.enabled},
    {"HOOKLINE_FORWARDER_ATTEMPT_LOG_MAX_QUEUED", CONFIG_INT, "100000", 1, 10000000, 0,
     "attempt records kept in memory while the database is unavailable; past it the oldest are dropped",
     &g_attempt_log.max_queued},
    {"HOOKLINE_FORWARDER_ATTEMPTS", CONFIG_INT, "2", 1, 50, 0,
     "HTTP attempts per pass, in process, before the delivery waits on a retry topic", &g_forwarder.attempts},
    {"HOOKLINE_FORWARDER_BACKOFF_MS", CONFIG_INT, "500", 1, 600000, 0,
     "delay between the attempts of one pass; doubles per attempt, with jitter", &g_forwarder.backoff_ms},
    {"HOOKLINE_FORWARDER_RETRY_SCHEDULE", CONFIG_STR, "5s,5m,30m,2h,5h,10h,10h", 0, 0, 0,
     "delays of the passes after the first (±20% jitter; an app's Retry-After wins, clamped to 1 s..24 h)",
     &g_forwarder.retry_schedule},
    {"HOOKLINE_FORWARDER_CIRCUIT_FAILURES", CONFIG_INT, "5", 1, 1000, 0,
     "failed passes in a row that open a destination's circuit", &g_forwarder.circuit_failures},
    {"HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS", CONFIG_INT, "30000", 100, 86400000, 0,
     "how long an open circuit parks deliveries before one probe", &g_forwarder.circuit_cooldown_ms},
    {"HOOKLINE_TOPIC_FORWARD_RETRY", CONFIG_STR, MSG_RETRY_PREFIX_DEFAULT, 0, 0, 0,
     "prefix of the retry topics (<prefix>.<group>.1 .. .N, one per pass)", &g_forwarder.retry_topic_prefix},
    {"HOOKLINE_FORWARDER_CACHE_TTL_MS", CONFIG_INT, "30000", 0, 3600000, 0,
     "how long a destination lookup is cached (changes also drop the cache)", &g_forwarder.cache_ttl_ms},
    {"HOOKLINE_FORWARDER_GROUP", CONFIG_STR, MSG_FORWARDER_GROUP_DEFAULT, 0, 0, 0, "Kafka consumer group",
     &g_forwarder.group_id},
    {"HOOKLINE_TOPIC_REPLAY_FORWARDER", CONFIG_STR, "webhooks.replay.forwarder", 0, 0, 0,
     "topic of routed webhooks `hookline replay --stage forwarder` sends (read like the routed topic)",
     &g_forwarder.topic_replay},
    {"HOOKLINE_FORWARDER_CA_FILE", CONFIG_STR, "", 0, 0, 0,
     "PEM bundle of the CAs that https destinations are verified against instead of the system's "
     "(e.g. an internal CA); certificates are always verified",
     &g_forwarder.ca_file},
    {"HOOKLINE_FORWARDER_ALLOW_CIDRS", CONFIG_STR, "", 0, 0, 0,
     "non-public destinations allowed anyway (e.g. 127.0.0.0/8,::1/128); default: public addresses only",
     &g_forwarder.allow_cidrs},
    /* The names before the forwarder's settings were named after it (deprecated). */
    {"HOOKLINE_FORWARD_TIMEOUT_MS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_TIMEOUT_MS", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_CONNECT_TIMEOUT_MS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_CONNECT_TIMEOUT_MS", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_MAX_IN_FLIGHT", CONFIG_ALIAS, "HOOKLINE_FORWARDER_MAX_IN_FLIGHT", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_MAX_PER_DESTINATION", CONFIG_ALIAS, "HOOKLINE_FORWARDER_MAX_PER_DESTINATION", 0, 0, 0, NULL,
     NULL},
    {"HOOKLINE_FORWARD_MAX_QUEUE_WAIT_MS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_MAX_QUEUE_WAIT_MS", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_DRAIN_MS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_DRAIN_MS", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_ATTEMPTS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_ATTEMPTS", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_BACKOFF_MS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_BACKOFF_MS", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_RETRY_SCHEDULE", CONFIG_ALIAS, "HOOKLINE_FORWARDER_RETRY_SCHEDULE", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_CIRCUIT_FAILURES", CONFIG_ALIAS, "HOOKLINE_FORWARDER_CIRCUIT_FAILURES", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_CIRCUIT_COOLDOWN_MS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS", 0, 0, 0, NULL,
     NULL},
    {"HOOKLINE_FORWARD_CA_FILE", CONFIG_ALIAS, "HOOKLINE_FORWARDER_CA_FILE", 0, 0, 0, NULL, NULL},
    {"HOOKLINE_FORWARD_ALLOW_CIDRS", CONFIG_ALIAS, "HOOKLINE_FORWARDER_ALLOW_CIDRS", 0, 0, 0, NULL, NULL},
};

/* Whether the cluster answers is asked from the admin thread when /readyz is, at most
 * every 2 s: a metadata request can wait a second, which the delivery loop must not. */
static atomic_bool kafka_ok;
static double kafka_checked; /* guarded by kafka_check_lock */
static pthread_mutex_t kafka_check_lock = PTHREAD_MUTEX_INITIALIZER;

static bool forwarder_ready(void *ctx, char *why, size_t whylen)
{
    if (!signals_stopping() && pthread_mutex_trylock(&kafka_check_lock) == 0) {
        if (clock_mono_s() - kafka_checked >= 2) {
            atomic_store(&kafka_ok, kafka_reachable(ctx, 1000));
            kafka_checked = clock_mono_s();
        }
        pthread_mutex_unlock(&kafka_check_lock);
    }
    if (signals_stopping())
        snprintf(why, whylen, "draining");
    else if (!atomic_load(&kafka_ok))
        snprintf(why, whylen, "kafka unreachable");
    else if (!destinations_ready())
        snprintf(why, whylen, "database unreachable");
    else
        return true;
    return false;
}

/* The consumer's queue and the producer's write a byte here when they have something,
 * so the loop can sleep in curl_multi_poll and still wake at once for Kafka. */
static int wake_pipe[2] = {-1, -1};

static int wake_init(rd_kafka_t *consumer)
{
    if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        log_error(NULL, "pipe: %s", strerror(errno));
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(consumer);
    rd_kafka_queue_io_event_enable(q, wake_pipe[1], "1", 1);
    rd_kafka_queue_destroy(q);
    q = rd_kafka_queue_get_main(handoff_producer());
    rd_kafka_queue_io_event_enable(q, wake_pipe[1], "1", 1);
    rd_kafka_queue_destroy(q);
    return 0;
}

/* Takes what the consumer has, up to the in-flight limit and a batch. A retry that is
 * not due yet parks its partition; anything else becomes a job. Returns true if more
 * may be waiting. */
static bool consume(rd_kafka_t *consumer)
{
    for (int n = 0; n < 256; n++) {
        if (pipeline_active() >= (size_t)g_forwarder.max_in_flight || pipeline_blocked())
            return false;
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer, 0);
        if (!rkm)
            return false;
        struct retry_state st;
        if (rkm->err) {
            if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn(NULL, "kafka: consume: %s", rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
        } else if (retries_read(rkm, &st) && st.due_ms > clock_unix_ms()) {
            retries_pause(consumer, rkm, st.due_ms);
            rd_kafka_message_destroy(rkm);
        } else {
            pipeline_submit(rkm, &st);
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    int rc = config_from_args(argc, argv, "hookline-forwarder", "delivers routed webhooks to the environment's app",
                              "9482", forwarder_items, sizeof forwarder_items / sizeof forwarder_items[0]);
    if (rc != 0)
        return rc < 0 ? 1 : 0;
    log_init("forwarder", g_common.log_level, g_common.log_format);
    signals_install();
    endpoints_init();

    char errstr[512];
    /* Secrets are stored encrypted: without the key this daemon cannot do its work. */
    if (store_require_secrets() < 0)
        return 1;
    if (destinations_init(g_common.database_url, g_forwarder.cache_ttl_ms) < 0 ||
        deliver_init(g_forwarder.allow_cidrs, g_forwarder.max_per_destination) < 0 ||
        retries_init(g_forwarder.retry_schedule, g_forwarder.retry_topic_prefix, g_forwarder.group_id) < 0)
        return 1;
    if (g_attempt_log.enabled && attempt_log_init(g_common.database_url, (size_t)g_attempt_log.max_queued) < 0)
        return 1;
    if (circuit_log_init(g_common.database_url) < 0)
        return 1;
    /* Consumed: the routed topic, hookline's notifications and every retry topic;
     * produced: retries, dead letters, quarantined messages. */
    size_t nretry;
    const char *const *retry_topics = retries_topics(&nretry);
    const char *topics[3 + 16];
    topics[0] = g_common.topic_routed;
    topics[1] = g_common.topic_notifications;
    memcpy(topics + 2, retry_topics, nretry * sizeof *topics);
    topics[2 + nretry] = g_forwarder.topic_replay;
    const char *handoff_topics[3 + 16];
    memcpy(handoff_topics, retry_topics, nretry * sizeof *topics);
    handoff_topics[nretry] = g_common.topic_dead_letters;
    handoff_topics[nretry + 1] = g_common.topic_notifications; /* consumed: must exist */
    handoff_topics[nretry + 2] = g_common.topic_rejected;      /* the quarantine */
    if (handoff_init(handoff_topics, nretry + 3) < 0)
        return 1;
    rd_kafka_t *consumer = kafka_consumer_new_topics("hookline-forwarder", g_forwarder.group_id, topics, 3 + nretry,
                                                     errstr, sizeof errstr);
    if (!consumer) {
        log_error(NULL, "kafka consumer: %s", errstr);
        return 1;
    }
    pipeline_init(consumer);
    if (wake_init(consumer) < 0 || resolver_init(wake_pipe[1]) < 0)
        return 1;
    atomic_store(&kafka_ok, kafka_reachable(consumer, 2000));
    kafka_checked = clock_mono_s();
    struct admin *admin = admin_start(g_daemon.admin_bind, (int)g_daemon.admin_port, forwarder_ready, consumer);
    if (!admin)
        return 1;
    log_info(NULL, "forwarding %s and %s as group %s (%ld messages, %ld requests per destination at once)",
             g_common.topic_routed, g_common.topic_notifications, g_forwarder.group_id, g_forwarder.max_in_flight,
             g_forwarder.max_per_destination);

    while (!signals_stopping()) {
        bool more = consume(consumer);
        int wait_ms = pipeline_tick(more ? 0 : 100);
        handoff_poll();
        retries_resume_due(consumer);
        deliver_run(wait_ms, wake_pipe[0]);
    }

    /* Drain: nothing new is read or started; requests in flight and hand-offs end (or
     * the drain time runs out). What did not end is not stored: delivered again later. */
    log_info(NULL, "draining: %zu messages in progress", pipeline_active());
    pipeline_drain();
    double deadline = clock_mono_s() + (double)g_forwarder.drain_ms / 1000;
    while (pipeline_active() > 0 && clock_mono_s() < deadline) {
        int wait_ms = pipeline_tick(50);
        handoff_poll();
        deliver_run(wait_ms, wake_pipe[0]);
    }
    log_info(NULL, "draining: committing offsets (%zu messages left for a later delivery)", pipeline_active());
    resolver_shutdown(); /* its answers are taken by no one now: the jobs are aborted below */
    handoff_shutdown();  /* acknowledgements still due may finish jobs */
    deliver_shutdown();
    attempt_log_shutdown(2000);
    circuit_log_shutdown();
    pipeline_abort_all();
    admin_stop(admin); /* it asks the consumer whether Kafka answers */
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    offsets_shutdown();
    endpoints_shutdown();
    destinations_shutdown();
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    log_info(NULL, "stopped");
    return 0;
}
