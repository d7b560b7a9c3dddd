/* produce: the durable write of a webhook to the raw topic. The HTTP answer is decided
 * by the delivery report: 200 only once Kafka (idempotent producer, acks=all) has the
 * message, 503 if it could not be stored. A dedicated thread polls for reports.
 *
 * A message Kafka refuses for size (the raw topic's max.message.bytes below
 * HOOKLINE_INGRESS_MAX_BODY_BYTES) is sent again alone, on a producer of its own, since
 * the broker judges a whole batch: stored then, it is a 200; refused alone, a 413 (a
 * 503 would have the provider send it again, forever). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/signals.h"
#include "ingress/ingress.h"

static rd_kafka_t *producer;
static rd_kafka_t *alone_producer; /* made on first need; guarded by alone_lock */
static pthread_mutex_t alone_lock = PTHREAD_MUTEX_INITIALIZER;
static rd_kafka_topic_t *raw_topic;
static pthread_t poll_thread;
static atomic_bool poll_running;
static atomic_bool brokers_down;
static atomic_bool kafka_ok;
static struct metric *m_produce; /* enqueue to delivery report, stored or not */

/* rkm sent again alone (kafka_send_alone); the producer for it is made on first need:
 * an idle one would still hold broker connections and a producer id. */
static rd_kafka_resp_err_t send_alone(const rd_kafka_message_t *rkm)
{
    pthread_mutex_lock(&alone_lock);
    char errstr[256];
    if (!alone_producer &&
        !(alone_producer = kafka_alone_producer_new("hookline-ingress-alone", errstr, sizeof errstr)))
        log_error(NULL, "kafka: no producer to send a refused webhook again alone: %s", errstr);
    rd_kafka_resp_err_t err = alone_producer ? kafka_send_alone(alone_producer, rkm, (int)g_ingress.kafka_timeout_ms)
                                             : RD_KAFKA_RESP_ERR__FAIL;
    pthread_mutex_unlock(&alone_lock);
    return err;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct ingress_request *req = rkm->_private;
    const char *wid = http_request_id(req);
    rd_kafka_resp_err_t err = rkm->err;
    int64_t offset = rkm->offset;
    /* librdkafka's own clock from rd_kafka_producev (-1 if unknown): no state of ours.
     * A failure observes its wait too (message.timeout.ms when the brokers are away). */
    int64_t latency_us = rd_kafka_message_latency(rkm);
    if (latency_us >= 0)
        metric_observe(m_produce, (double)latency_us / 1e6);
    if (kafka_err_refuses_message(err)) {
        log_warn(wid, "kafka: refused (%zu bytes): %s; sending it again alone", rkm->len, rd_kafka_err2str(err));
        err = send_alone(rkm);
        offset = -1; /* the copy's offset is not reported back */
    }
    if (err) {
        bool too_large = kafka_err_refuses_message(err);
        log_error(wid, "kafka: not stored: %s%s", rd_kafka_err2str(err),
                  too_large ? " (also alone: the raw topic's max.message.bytes is below this webhook; 413)" : "");
        if (too_large)
            http_answer_later(req, MHD_HTTP_CONTENT_TOO_LARGE, REFUSED_KAFKA_TOO_LARGE);
        else
            http_answer_later(req, MHD_HTTP_SERVICE_UNAVAILABLE, REFUSED_KAFKA_UNAVAILABLE);
        return;
    }
    atomic_store(&brokers_down, false);
    rd_kafka_headers_t *h = NULL;
    char trace[TRACEPARENT_BUF] = "";
    if (rd_kafka_message_headers(rkm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        msg_header(h, MSG_H_TRACEPARENT, trace, sizeof trace);
    if (offset < 0)
        log_info(wid, "stored in %s (sent alone), trace %.32s", g_common.topic_raw, trace[0] ? trace + 3 : "-");
    else
        log_info(wid, "stored in %s [%d] at offset %lld, trace %.32s", g_common.topic_raw, rkm->partition,
                 (long long)offset, trace[0] ? trace + 3 : "-");
    http_answer_later(req, MHD_HTTP_OK, REFUSAL_NONE);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&brokers_down, true);
    log_warn(NULL, "kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void *poll_loop(void *arg)
{
    (void)arg;
    while (atomic_load(&poll_running))
        rd_kafka_poll(producer, 100);
    return NULL;
}

int produce_init(void)
{
    m_produce = metrics_histogram("hookline_ingress_produce_seconds", NULL,
                                  "time from handing a webhook to the producer to its delivery report");
    char errstr[512];
    rd_kafka_conf_t *conf = kafka_conf_new("hookline-ingress", errstr, sizeof errstr);
    if (!conf)
        goto fail;
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%ld", g_ingress.kafka_timeout_ms);
    /* Idempotence implies acks=all; the provider is answered within message.timeout.ms,
     * which HOOKLINE_INGRESS_KAFKA_TIMEOUT_MS sets (so it comes after the operator's
     * HOOKLINE_KAFKA_* overrides, which win over the other defaults). */
    if (kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "linger.ms", "1", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "compression.type", "lz4", errstr, sizeof errstr) < 0 ||
        kafka_conf_apply_env(conf, errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "message.timeout.ms", timeout, errstr, sizeof errstr) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!producer) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
        goto fail;
    }
    raw_topic = rd_kafka_topic_new(producer, g_common.topic_raw, NULL);
    atomic_store(&poll_running, true);
    if (pthread_create(&poll_thread, NULL, poll_loop, NULL) != 0) {
        snprintf(errstr, sizeof errstr, "cannot start the poll thread");
        goto fail;
    }
    return 0;
fail:
    log_error(NULL, "kafka producer: %s", errstr);
    return -1;
}

/* Headers: the raw message of the contract (common/msg.h), request headers included. */
static rd_kafka_headers_t *build_headers(const char *webhook_id, const struct webhook_request *wr, const char *env_id,
                                         const char *key, const char *provider, bool verified)
{
    char trace[TRACEPARENT_BUF];
    const struct msg_raw_meta m = {webhook_id,
                                   env_id,
                                   key,
                                   provider,
                                   verified,
                                   wr->method,
                                   wr->path,
                                   wr->query,
                                   wr->url,
                                   clock_unix_ms(),
                                   trace_of_request(wr, trace)};
    rd_kafka_headers_t *h = msg_raw_encode(&m, wr->nheaders);
    for (size_t i = 0; i < wr->nheaders; i++)
        msg_raw_add_http(h, wr->headers[i].name, wr->headers[i].value);
    return h;
}

int produce_webhook(struct ingress_request *req, const struct webhook_request *wr, const char *webhook_id,
                    const char *env_id, const char *key, const struct provider *p, const char *provider_key,
                    bool verified)
{
    if (atomic_load(&brokers_down)) {
        log_warn(webhook_id, "kafka: all brokers down, refusing with 503");
        return -1;
    }
    char okey[256];
    size_t okey_len = provider_ordering_key(p, wr, okey, sizeof okey);
    rd_kafka_headers_t *h = build_headers(webhook_id, wr, env_id, key, provider_key, verified);
    /* The body is copied: the request buffer belongs to MHD's connection. */
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_RKT(raw_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)wr->body, wr->body_len), RD_KAFKA_V_KEY(okey_len ? okey : NULL, okey_len),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(req), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h); /* not taken on failure */
        log_warn(webhook_id, "kafka: cannot queue: %s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

void produce_watch(void)
{
    /* A broker that came back clears the fast-503 flag; so does /readyz through this. */
    bool up = kafka_reachable(producer, 1000);
    atomic_store(&kafka_ok, up);
    if (up)
        atomic_store(&brokers_down, false);
}

bool produce_ready(void)
{
    return atomic_load(&kafka_ok);
}

void produce_abandon(void)
{
    /* Their delivery reports (error "purged") answer each waiting request 503. */
    if (producer)
        rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

void produce_drain(int timeout_ms)
{
    if (producer)
        rd_kafka_flush(producer, timeout_ms);
}

void produce_shutdown(void)
{
    if (!producer)
        return;
    rd_kafka_flush(producer, 10000);
    atomic_store(&poll_running, false);
    pthread_join(poll_thread, NULL);
    rd_kafka_topic_destroy(raw_topic);
    rd_kafka_destroy(producer);
    producer = NULL;
    if (alone_producer)
        rd_kafka_destroy(alone_producer);
    alone_producer = NULL;
}
