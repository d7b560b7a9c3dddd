/* hookline-forwarder: consumes webhooks.routed and POSTs each webhook, signed with the
 * environment's key, in the Nango-compatible envelope or (raw mode) as the provider
 * sent it, to its primary URL (the connection's override, else the environment's) and
 * the environment's secondary URL; integrations with forwarding off are skipped. A
 * message's offset is stored only once its outcome is final (delivered, refused by the
 * receiver, out of attempts and stored on the dead-letter topic, or not to be
 * forwarded), so a crash re-delivers rather than loses; receivers dedupe on the stable
 * webhook-id. */
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
    {"HOOKLINE_ADMIN_PORT", CONFIG_INT, "9482", 1, 65535, 0, "admin port (/healthz /readyz /metrics)",
     &g_forwarder.admin_port},
    {"HOOKLINE_ADMIN_BIND", CONFIG_STR, "127.0.0.1", 0, 0, 0, "admin bind address", &g_forwarder.admin_bind},
    {"HOOKLINE_FORWARD_TIMEOUT_MS", CONFIG_INT, "10000", 100, 600000, 0, "total time allowed for one delivery",
     &g_forwarder.timeout_ms},
    {"HOOKLINE_FORWARD_CONNECT_TIMEOUT_MS", CONFIG_INT, "3000", 100, 60000, 0, "time allowed to connect",
     &g_forwarder.connect_timeout_ms},
    {"HOOKLINE_FORWARD_ATTEMPTS", CONFIG_INT, "2", 1, 50, 0,
     "HTTP attempts per pass, in process, before the delivery waits on a retry topic", &g_forwarder.attempts},
    {"HOOKLINE_FORWARD_BACKOFF_MS", CONFIG_INT, "500", 1, 600000, 0,
     "delay between the attempts of one pass; doubles per attempt, with jitter", &g_forwarder.backoff_ms},
    {"HOOKLINE_FORWARD_RETRY_SCHEDULE", CONFIG_STR, "5s,5m,30m,2h,5h,10h,10h", 0, 0, 0,
     "delays of the passes after the first (±20% jitter; an app's Retry-After wins, clamped to 1 s..24 h)",
     &g_forwarder.retry_schedule},
    {"HOOKLINE_FORWARD_CIRCUIT_FAILURES", CONFIG_INT, "5", 1, 1000, 0,
     "failed passes in a row that open a destination's circuit", &g_forwarder.circuit_failures},
    {"HOOKLINE_FORWARD_CIRCUIT_COOLDOWN_MS", CONFIG_INT, "30000", 100, 86400000, 0,
     "how long an open circuit parks deliveries before one probe", &g_forwarder.circuit_cooldown_ms},
    {"HOOKLINE_TOPIC_FORWARD_RETRY", CONFIG_STR, "webhooks.forward-retry", 0, 0, 0,
     "prefix of the retry topics (<prefix>.<group>.1 .. .N, one per pass)", &g_forwarder.retry_topic_prefix},
    {"HOOKLINE_FORWARDER_CACHE_TTL_MS", CONFIG_INT, "30000", 0, 3600000, 0,
     "how long a destination lookup is cached (changes also drop the cache)", &g_forwarder.cache_ttl_ms},
    {"HOOKLINE_FORWARDER_GROUP", CONFIG_STR, "hookline-forwarder", 0, 0, 0, "Kafka consumer group",
     &g_forwarder.group_id},
    {"HOOKLINE_FORWARD_ALLOW_CIDRS", CONFIG_STR, "", 0, 0, 0,
     "non-public destinations allowed anyway (e.g. 127.0.0.0/8,::1/128); default: public addresses only",
     &g_forwarder.allow_cidrs},
    {"HOOKLINE_FORWARDER_ATTEMPT_LOG", CONFIG_BOOL, "true", 0, 0, 0,
     "record every delivery attempt in PostgreSQL (delivery_attempts) for 'hookline deliveries'",
     &g_attempt_log.enabled},
    {"HOOKLINE_FORWARDER_ATTEMPT_LOG_MAX_QUEUED", CONFIG_INT, "100000", 1, 10000000, 0,
     "attempt records kept in memory while the database is unavailable; past it the oldest are dropped",
     &g_attempt_log.max_queued},
};

enum outcome {
    OUT_DELIVERED, OUT_REFUSED, OUT_FAILED, OUT_RETRY_LATER, OUT_DEAD_LETTERED, OUT_NO_DESTINATION, OUT_ABORTED,
    OUT_DISABLED, OUT_COUNT
};
static struct metric *m_outcome[OUT_COUNT], *m_attempts, *m_latency, *m_circuit_open;
static bool kafka_ok;

static bool retryable(long status)
{
    return status == 0 || status == 408 || status == 409 || status == 425 || status == 429 || status >= 500;
}

/* Sleeps up to ms, waking early on a stop request. Returns false if stopping. */
static bool backoff_sleep(long ms)
{
    double until = clock_mono_s() + (double)ms / 1000;
    while (clock_mono_s() < until) {
        if (signals_stopping())
            return false;
        usleep(20 * 1000);
    }
    return true;
}

/* "HTTP 503" or the transport error, for logs and dead letters. */
static void describe_failure(const struct delivery_result *res, char *out, size_t outlen)
{
    if (res->error[0])
        snprintf(out, outlen, "%s", res->error);
    else
        snprintf(out, outlen, "HTTP %ld", res->status);
}

/* Delivers req to url with retries; last gets the final attempt's result and tries
 * the number of attempts made. pass and before (attempts of earlier passes) number the
 * attempts in the attempt log. */
static enum outcome deliver_with_retry(struct forward_request *req, const char *url, int pass, long before,
                                       struct delivery_result *last, long *tries)
{
    const struct routed *r = req->r;
    long delay = g_forwarder.backoff_ms;
    for (long attempt = 1; attempt <= g_forwarder.attempts; attempt++) {
        request_stamp(req, (long long)time(NULL));
        struct delivery_result res;
        deliver_post(url, req->headers, req->nheaders, req->body, req->len, &res);
        *last = res;
        *tries = attempt;
        metric_inc(m_attempts);
        metric_observe(m_latency, res.seconds);
        attempt_log_http(r, url, pass, before + attempt, &res,
                         res.refused[0] || (!retryable(res.status) && !res.error[0]));
        if (res.status >= 200 && res.status < 300) {
            log_info(r->webhook_id, "delivered %s to %s: %ld in %.0f ms (attempt %ld)", r->routed_id, url, res.status,
                     res.seconds * 1000, attempt);
            return OUT_DELIVERED;
        }
        char reason[300];
        describe_failure(&res, reason, sizeof reason);
        log_warn(r->webhook_id, "delivery %s to %s failed: %s (attempt %ld of %ld)", r->routed_id, url, reason, attempt,
                 g_forwarder.attempts);
        if (res.refused[0] || (!retryable(res.status) && !res.error[0]))
            return OUT_REFUSED;
        if (attempt == g_forwarder.attempts)
            break;
        unsigned char rnd[2] = {0, 0};
        if (crypto_random(rnd, sizeof rnd) < 0)
            rnd[0] = rnd[1] = 0; /* no jitter this time */
        long jitter = (long)((rnd[0] << 8 | rnd[1]) % 400) - 200; /* ±20% */
        if (!backoff_sleep(delay + delay * jitter / 1000))
            return OUT_ABORTED;
        delay *= 2;
    }
    log_warn(r->webhook_id, "this pass of %s to %s failed after %ld attempts", r->routed_id, url, g_forwarder.attempts);
    return OUT_FAILED;
}

/* The final word on one destination's pass: done, the next pass, or a dead letter. */
static enum outcome settle(const rd_kafka_message_t *rkm, const struct routed *r, const char *url, enum outcome o,
                           const struct delivery_result *last, int pass, long attempts)
{
    if (o == OUT_FAILED && (size_t)pass < retries_passes())
        return retry_later(rkm, r->webhook_id, url, pass + 1, last->retry_after_s, attempts) == 0 ? OUT_RETRY_LATER
                                                                                                 : OUT_ABORTED;
    if (o != OUT_FAILED && o != OUT_REFUSED)
        return o;
    char error[300]; /* out of passes, or refused: kept on the dead-letter topic, never dropped */
    describe_failure(last, error, sizeof error);
    if (dead_letter(rkm, r->webhook_id, url, last->status, error, attempts) < 0)
        return OUT_ABORTED;
    return o == OUT_FAILED ? OUT_DEAD_LETTERED : OUT_REFUSED;
}

/* Handles one routed message (st: NULL, or the retry pass it comes from). Returns -1
 * if it must be handled again later (stop requested before its outcome was final):
 * its offset is not stored. */
static int forward_message(const rd_kafka_message_t *rkm, const struct retry_state *st)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    struct routed r;
    routed_read(&r, h);
    int rc = 0;
    struct destination dest;
    while (destinations_get(r.env, r.integration, r.attributed ? r.connection : NULL, &dest) < 0) {
        if (!backoff_sleep(1000)) {
            rc = -1;
            goto out;
        }
        destinations_watch();
    }
    if (dest.found && !dest.forward) {
        log_info(r.webhook_id, "forwarding is off for integration %s of environment %s; %s not forwarded",
                 r.integration, r.env, r.routed_id);
        metric_inc(m_outcome[OUT_DISABLED]);
        goto out;
    }
    if (!dest.found || !dest.primary_url[0]) {
        log_warn(r.webhook_id, "no webhook URL for environment %s; not forwarded", r.env);
        metric_inc(m_outcome[OUT_NO_DESTINATION]);
        goto out;
    }
    struct forward_request req;
    if (request_build(&req, &r, &dest, rkm->payload, rkm->len) < 0) {
        rc = -1; /* out of memory (logged): retried later */
        goto out;
    }
    /* A retry pass goes to the one destination that failed; a first pass to all. */
    const char *urls[2] = {st ? st->url : dest.primary_url, st ? "" : dest.secondary_url};
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (!urls[i][0])
            continue;
        struct delivery_result last = {.retry_after_s = -1};
        long tries = 0;
        enum outcome o;
        long wait_ms;
        if (circuit_allow(urls[i], &wait_ms)) {
            o = deliver_with_retry(&req, urls[i], st ? st->pass : 0, st ? st->attempts : 0, &last, &tries);
            if (o != OUT_ABORTED)
                circuit_record(urls[i], o != OUT_FAILED);
        } else { /* parked: not attempted; its next pass comes after the cooldown */
            snprintf(last.error, sizeof last.error, "circuit open");
            last.retry_after_s = (wait_ms + 999) / 1000;
            metric_inc(m_circuit_open);
            attempt_log_parked(&r, urls[i], st ? st->pass : 0, st ? st->attempts : 0);
            o = OUT_FAILED;
        }
        o = settle(rkm, &r, urls[i], o, &last, st ? st->pass : 0, (st ? st->attempts : 0) + tries);
        metric_inc(m_outcome[o]);
        if (o == OUT_ABORTED)
            rc = -1;
    }
    request_free(&req);
out:
    routed_free(&r);
    return rc;
}

/* One consumed message: a retry not due yet parks its partition; anything else is
 * forwarded and its offset stored once its outcome is final. Destroys rkm. */
static void handle_message(rd_kafka_t *consumer, rd_kafka_message_t *rkm)
{
    struct retry_state st;
    if (rkm->err) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn(NULL, "kafka: consume: %s", rd_kafka_message_errstr(rkm));
    } else if (retries_read(rkm, &st) && st.due_ms > clock_unix_ms()) {
        retries_pause(consumer, rkm, st.due_ms);
    } else if (forward_message(rkm, st.pass ? &st : NULL) == 0 && kafka_store_offset(consumer, rkm) < 0) {
        log_warn(NULL, "kafka: cannot store offset (partition revoked?)");
    }
    rd_kafka_message_destroy(rkm);
}

static bool forwarder_ready(void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    if (signals_stopping())
        snprintf(why, whylen, "draining");
    else if (!kafka_ok)
        snprintf(why, whylen, "kafka unreachable");
    else if (!destinations_ready())
        snprintf(why, whylen, "database unreachable");
    else
        return true;
    return false;
}

static void metrics_init(void)
{
    static const char *const labels[OUT_COUNT] = {
        [OUT_DELIVERED] = "outcome=\"delivered\"",           [OUT_REFUSED] = "outcome=\"refused\"",
        [OUT_DEAD_LETTERED] = "outcome=\"dead_lettered\"",   [OUT_NO_DESTINATION] = "outcome=\"no_destination\"",
        [OUT_RETRY_LATER] = "outcome=\"retry_later\"",
        [OUT_ABORTED] = "outcome=\"aborted\"",               [OUT_DISABLED] = "outcome=\"disabled\"",
    };
    for (int i = 0; i < OUT_COUNT; i++) /* OUT_FAILED is never final: it becomes a dead letter */
        m_outcome[i] = labels[i] ? metrics_counter("hookline_forwarder_deliveries_total", labels[i],
                                                   "deliveries by final outcome")
                                 : NULL;
    m_attempts = metrics_counter("hookline_forwarder_attempts_total", NULL, "HTTP attempts made");
    m_circuit_open = metrics_counter("hookline_forwarder_circuit_open_total", NULL,
                                     "passes parked without an attempt because the destination's circuit was open");
    m_latency = metrics_histogram("hookline_forwarder_attempt_seconds", NULL, "time of one HTTP attempt");
}

int main(int argc, char **argv)
{
    int rc = config_from_args(argc, argv, "hookline-forwarder", "delivers routed webhooks to the environment's app",
                              forwarder_items, sizeof forwarder_items / sizeof forwarder_items[0]);
    if (rc != 0)
        return rc < 0 ? 1 : 0;
    log_init("forwarder", g_common.log_level, g_common.log_format);
    signals_install();
    metrics_init();

    char errstr[512];
    /* Secrets are stored encrypted: without the key this daemon cannot do its work. */
    if (store_require_secrets() < 0)
        return 1;
    if (destinations_init(g_common.database_url, g_forwarder.cache_ttl_ms) < 0 ||
        deliver_init(g_forwarder.allow_cidrs) < 0 ||
        retries_init(g_forwarder.retry_schedule, g_forwarder.retry_topic_prefix, g_forwarder.group_id) < 0)
        return 1;
    if (g_attempt_log.enabled && attempt_log_init(g_common.database_url, (size_t)g_attempt_log.max_queued) < 0)
        return 1;
    /* Consumed: the routed topic and every retry topic; produced: retries, dead letters. */
    size_t nretry;
    const char *const *retry_topics = retries_topics(&nretry);
    const char *topics[1 + 16];
    topics[0] = g_common.topic_routed;
    memcpy(topics + 1, retry_topics, nretry * sizeof *topics);
    const char *handoff_topics[1 + 16];
    memcpy(handoff_topics, retry_topics, nretry * sizeof *topics);
    handoff_topics[nretry] = g_common.topic_dead_letters;
    if (handoff_init(handoff_topics, nretry + 1) < 0)
        return 1;
    rd_kafka_t *consumer = kafka_consumer_new_topics("hookline-forwarder", g_forwarder.group_id, topics, 1 + nretry,
                                                     errstr, sizeof errstr);
    if (!consumer) {
        log_error(NULL, "kafka consumer: %s", errstr);
        return 1;
    }
    kafka_ok = kafka_reachable(consumer, 2000);
    struct admin *admin = admin_start(g_forwarder.admin_bind, (int)g_forwarder.admin_port, forwarder_ready, NULL);
    if (!admin)
        return 1;
    log_info(NULL, "forwarding %s as group %s", g_common.topic_routed, g_forwarder.group_id);

    double next_check = clock_mono_s() + 2;
    while (!signals_stopping()) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer, 100);
        if (rkm)
            handle_message(consumer, rkm);
        retries_resume_due(consumer);
        destinations_watch();
        if (clock_mono_s() >= next_check) {
            kafka_ok = kafka_reachable(consumer, 1000);
            next_check = clock_mono_s() + 2;
        }
    }

    log_info(NULL, "draining: committing offsets");
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    admin_stop(admin);
    handoff_shutdown();
    attempt_log_shutdown(2000);
    deliver_shutdown();
    destinations_shutdown();
    log_info(NULL, "stopped");
    return 0;
}
