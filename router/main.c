/* hookline-router: consumes webhooks.raw, attributes each webhook to connections and
 * publishes to webhooks.routed. Offsets are stored only after every output of a batch
 * is acknowledged by Kafka (at-least-once; outputs carry deterministic ids). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/admin.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/signals.h"
#include "router/router.h"

struct router_config g_router;

static const struct config_item router_items[] = {
    {"HOOKLINE_ROUTER_BATCH", CONFIG_INT, "500", 1, 100000, 0, "raw messages routed per acknowledged batch",
     &g_router.batch_size},
    {"HOOKLINE_ROUTER_CACHE_TTL_MS", CONFIG_INT, "30000", 0, 3600000, 0,
     "how long a connection lookup is cached (changes also drop the cache)", &g_router.cache_ttl_ms},
    {"HOOKLINE_ROUTER_GROUP", CONFIG_STR, "hookline-router", 0, 0, 0, "Kafka consumer group", &g_router.group_id},
    {"HOOKLINE_ROUTER_DEDUP_WINDOW_S", CONFIG_INT, "259200", 0, 31536000, 0,
     "seconds a provider event id counts: a re-sent copy within it is dropped (0: off)", &g_router.dedup_window_s},
    {"HOOKLINE_TOPIC_REPLAY_ROUTER", CONFIG_STR, "webhooks.replay.router", 0, 0, 0,
     "topic of raw webhooks `hookline replay --stage router` sends (read besides the raw topic)",
     &g_router.topic_replay},
};

static bool router_ready(void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    if (signals_stopping())
        snprintf(why, whylen, "draining");
    else if (!publish_ready())
        snprintf(why, whylen, "kafka unreachable");
    else if (!connections_ready())
        snprintf(why, whylen, "database unreachable");
    else
        return true;
    return false;
}

/* Routes one message, waiting while the database is unavailable (a transient failure:
 * the message is never skipped; a permanent one was quarantined by route_message).
 * While it waits the consumer is held (paused, still polled), so an outage longer than
 * max.poll.interval.ms does not throw the router out of its group. 0 routed, -1 gave
 * up because a stop was requested (the message stays uncommitted). */
static int route_with_retry(rd_kafka_t *consumer, const rd_kafka_message_t *rkm)
{
    double delay = 0.2;
    int rc = 0;
    bool held = false;
    while (route_message(rkm) < 0) {
        if (signals_stopping()) {
            rc = -1;
            break;
        }
        /* Backs off up to 5 s and holds the consumer: a wait, never a spin. route_message
         * fails only on what passes: the database unreachable or timing out (a refusal,
         * SQLSTATE class 22/23/54, is quarantined inside it) or memory. Its outputs, the
         * quarantine copy included, are only queued here; what Kafka refuses for good is
         * settled per batch by quarantine_refused, never retried by this loop. */
        log_warn(NULL, "database or memory unavailable; retrying %s [%d] offset %lld in %.1f s",
                 rd_kafka_topic_name(rkm->rkt), rkm->partition, (long long)rkm->offset, delay);
        kafka_consumer_hold(consumer, (int)(delay * 1000));
        held = true;
        delay = delay * 2 > 5 ? 5 : delay * 2;
        connections_watch();
    }
    if (held)
        kafka_consumer_release(consumer);
    return rc;
}

/* Inputs an output of which Kafka refused for good (too large for its topic) are
 * quarantined instead: with their body, or without it when the rejected topic refuses
 * that too. One that cannot be quarantined even so is logged (where it stays) and
 * counted as done: a message must never stop the router for every tenant. rc is
 * publish_wait_all's; returns the same for what this publishes. */
static int quarantine_refused(rd_kafka_message_t **batch, int rc)
{
    for (int round = 0; rc == 0 && round < 2; round++) {
        const struct publish_refusal *list;
        size_t n = publish_refused(&list);
        if (n == 0)
            return 0;
        struct publish_refusal *copy = malloc(n * sizeof *copy); /* the next wait resets the list */
        if (!copy)
            return -1;
        memcpy(copy, list, n * sizeof *copy);
        for (size_t i = 0; i < n && rc == 0; i++) {
            publish_input(copy[i].input);
            rc = route_quarantine_refused(batch[copy[i].input], copy[i].why, round == 1);
        }
        free(copy);
        if (rc == 0)
            rc = publish_wait_all(30);
    }
    const struct publish_refusal *list;
    size_t n = rc == 0 ? publish_refused(&list) : 0;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *m = batch[list[i].input];
        log_error(NULL,
                  "%s [%d] offset %lld could not be quarantined either (%s): skipped; it stays there until its "
                  "retention",
                  rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset, list[i].why);
    }
    return rc;
}

/* One batch: consume up to batch_size messages (what came while the last batch was
 * routed, or the first within 100 ms: kafka_poll_batch), route
 * them, wait for every output's acknowledgement, then store and commit the inputs'
 * offsets. */
static int run_batch(rd_kafka_t *consumer, rd_kafka_message_t **batch)
{
    size_t n = kafka_poll_batch(consumer, batch, (size_t)g_router.batch_size, 100);
    dedup_batch_claim(batch, n);
    size_t done = 0;
    while (done < n && (publish_input(done), route_with_retry(consumer, batch[done])) == 0)
        done++;
    int rc = quarantine_refused(batch, publish_wait_all(30));
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && i < done && kafka_store_offset(consumer, batch[i]) < 0)
            log_warn(NULL, "kafka: cannot store offset (partition revoked?)");
        rd_kafka_message_destroy(batch[i]);
    }
    /* Committed within KAFKA_BATCH_COMMIT_MS, not per batch (under load a batch is a few
     * milliseconds of traffic, and each commit is a replicated write on the broker): a
     * crash re-routes at most that interval's batches, under the same deterministic ids. */
    if (rc == 0 && done > 0 && kafka_commit_stored_every(consumer, KAFKA_BATCH_COMMIT_MS) < 0)
        log_warn(NULL, "kafka: cannot ask for a commit (the auto commit will do it)");
    return rc == 0 && done == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    int rc = config_from_args(argc, argv, "hookline-router", "attributes raw webhooks to connections", "9481",
                              router_items, sizeof router_items / sizeof router_items[0]);
    if (rc != 0)
        return rc < 0 ? 1 : 0;
    log_init("router", g_common.log_level, g_common.log_format);
    signals_install();
    route_metrics_init();

    char errstr[512];
    if (connections_init(g_common.database_url, g_router.cache_ttl_ms) < 0 ||
        conn_trust_init(g_common.database_url, g_router.cache_ttl_ms) < 0 || publish_init() < 0 ||
        dedup_init(g_common.database_url, g_router.dedup_window_s) < 0)
        return 1;
    const char *const inputs[2] = {g_common.topic_raw, g_router.topic_replay};
    rd_kafka_t *consumer = kafka_consumer_new_topics("hookline-router", g_router.group_id, inputs, 2, errstr,
                                                     sizeof errstr);
    if (!consumer) {
        log_error(NULL, "kafka consumer: %s", errstr);
        return 1;
    }
    publish_watch();
    struct admin *admin = admin_start(g_daemon.admin_bind, (int)g_daemon.admin_port, router_ready, NULL);
    rd_kafka_message_t **batch = calloc((size_t)g_router.batch_size, sizeof *batch);
    if (!admin || !batch)
        return 1;
    log_info(NULL, "routing %s -> %s as group %s", g_common.topic_raw, g_common.topic_routed, g_router.group_id);

    double next_check = clock_mono_s() + 1;
    while (!signals_stopping()) {
        if (run_batch(consumer, batch) < 0)
            break;
        connections_watch();
        conn_trust_watch();
        dedup_prune();
        if (clock_mono_s() >= next_check) {
            publish_watch();
            next_check = clock_mono_s() + 2;
        }
    }

    /* Drain: the last batch is acknowledged by now; closing commits stored offsets. */
    log_info(NULL, "draining: committing offsets");
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    publish_shutdown();
    admin_stop(admin);
    connections_shutdown();
    conn_trust_shutdown();
    dedup_shutdown();
    free(batch);
    log_info(NULL, "stopped");
    return 0;
}
