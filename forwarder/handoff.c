/* handoff: where a delivery goes when this pass cannot finish it. A retryable failure
 * is handed to the retry topic of the next pass of the schedule (due at a later time,
 * so the routed partitions behind it keep flowing); a delivery that ran out of passes,
 * or that the app refused, goes to the dead-letter topic. Either way the routed message
 * is copied unchanged with a few hookline headers added, asynchronously: the caller
 * hears from handoff_poll whether Kafka stored the copy, and stores the input offset
 * only once it did, so nothing is dropped. A copy Kafka refuses for size is sent again
 * alone, on a producer of its own, before it counts as refused for good: the broker
 * judges max.message.bytes on a whole batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/quarantine.h"
#include "forwarder/forwarder.h"

struct pending {
    handoff_done_fn done;
    void *ctx;
    struct pending *next;    /* copies Kafka refused at once, reported by the next poll */
    rd_kafka_resp_err_t err; /* why it refused it at once */
};

#define ALONE_TIMEOUT_MS 10000

static rd_kafka_t *producer;
static rd_kafka_t *alone_producer; /* kafka_send_alone's, made on first need (an idle one would
                                     hold broker connections and a producer id) */
static struct pending *refused_now;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct pending *p = rkm->_private;
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    rd_kafka_resp_err_t err = rkm->err;
    if (err && kafka_err_refuses_message(err) && p) {
        log_warn(NULL, "hand-off to %s (%zu bytes) refused: %s; sending it again alone", topic, rkm->len,
                 rd_kafka_err2str(err));
        char errstr[256];
        if (!alone_producer &&
            !(alone_producer = kafka_alone_producer_new("hookline-forwarder-alone", errstr, sizeof errstr)))
            log_error(NULL, "kafka: no producer to send a refused hand-off again alone: %s", errstr);
        if (alone_producer)
            err = kafka_send_alone(alone_producer, rkm, ALONE_TIMEOUT_MS);
    }
    if (err)
        log_error(NULL, "hand-off to %s not stored: %s", topic, rd_kafka_err2str(err));
    if (!p)
        return;
    handoff_done_fn done = p->done;
    void *ctx = p->ctx;
    free(p);
    char why[256] = "";
    enum handoff_result result = err == RD_KAFKA_RESP_ERR_NO_ERROR ? HANDOFF_STORED
                                 : kafka_err_refuses_message(err)  ? HANDOFF_REFUSED
                                                                   : HANDOFF_FAILED;
    if (result == HANDOFF_REFUSED)
        snprintf(why, sizeof why, "Kafka refused its copy to %s (%zu bytes) for good: %s", topic, rkm->len,
                 rd_kafka_err2str(err));
    done(ctx, result, why);
}

int handoff_init(const char *const *topics, size_t ntopics)
{
    char errstr[512];
    producer = kafka_producer_new("hookline-forwarder", on_delivery, NULL, errstr, sizeof errstr);
    if (!producer || kafka_ensure_topics(producer, topics, ntopics, -1, -1, errstr, sizeof errstr) < 0) {
        log_error(NULL, "kafka (retry and dead-letter topics): %s", errstr);
        return -1;
    }
    return 0;
}

rd_kafka_t *handoff_producer(void)
{
    return producer;
}

rd_kafka_headers_t *handoff_headers(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    return h ? rd_kafka_headers_copy(h) : rd_kafka_headers_new(8);
}

void handoff_start(const char *topic, const rd_kafka_message_t *rkm, rd_kafka_headers_t *h, handoff_done_fn done,
                   void *ctx)
{
    struct pending *p = h ? malloc(sizeof *p) : NULL;
    if (!p) {
        if (h)
            rd_kafka_headers_destroy(h);
        log_error(NULL, "out of memory handing a message off to %s", topic);
        done(ctx, HANDOFF_FAILED, ""); /* the caller tries again later */
        return;
    }
    *p = (struct pending){done, ctx, NULL, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err) {
        log_warn(NULL, "hand-off to %s refused: %s", topic, rd_kafka_err2str(err));
        rd_kafka_headers_destroy(h);
        p->err = err;
        p->next = refused_now;
        refused_now = p;
    }
}

void quarantine_start(const rd_kafka_message_t *rkm, const char *reason, bool omit_body, handoff_done_fn done,
                      void *ctx)
{
    rd_kafka_headers_t *h = quarantine_headers(rkm, "forwarder", reason);
    if (h && omit_body) {
        quarantine_mark_body_omitted(h, rkm->len);
        rd_kafka_message_t bare = *rkm; /* the key and the headers' origin, without the value */
        bare.payload = NULL;
        bare.len = 0;
        handoff_start(g_common.topic_rejected, &bare, h, done, ctx);
        return;
    }
    handoff_start(g_common.topic_rejected, rkm, h, done, ctx);
}

void dead_letter_start(const rd_kafka_message_t *rkm, const char *url, long status, const char *error, long attempts,
                       handoff_done_fn done, void *ctx)
{
    rd_kafka_headers_t *h = handoff_headers(rkm);
    const struct msg_dead_letter dl = {url, status, error, attempts, clock_unix_ms()};
    msg_dead_letter_encode(h, &dl);
    handoff_start(g_common.topic_dead_letters, rkm, h, done, ctx);
}

void handoff_poll(void)
{
    while (refused_now) {
        struct pending *p = refused_now;
        refused_now = p->next;
        handoff_done_fn done = p->done;
        void *ctx = p->ctx;
        /* The client's own size check (message.max.bytes) judges this copy alone. */
        bool refused = kafka_err_refuses_message(p->err);
        char why[256];
        snprintf(why, sizeof why, "Kafka refused its copy for good: %s", rd_kafka_err2str(p->err));
        free(p);
        done(ctx, refused ? HANDOFF_REFUSED : HANDOFF_FAILED, refused ? why : "");
    }
    rd_kafka_poll(producer, 0);
}

void handoff_shutdown(void)
{
    if (!producer)
        return;
    rd_kafka_flush(producer, 5000);
    rd_kafka_destroy(producer); /* copies never acknowledged: their inputs were not stored */
    producer = NULL;
    if (alone_producer)
        rd_kafka_destroy(alone_producer);
    alone_producer = NULL;
    while (refused_now) {
        struct pending *p = refused_now;
        refused_now = p->next;
        free(p);
    }
}
