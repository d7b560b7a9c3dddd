/* handoff: where a delivery goes when this pass cannot finish it. A retryable failure
 * is handed to the retry topic of the next pass of the schedule (due at a later time,
 * so the routed partitions behind it keep flowing); a delivery that ran out of passes,
 * or that the app refused, goes to the dead-letter topic. Either way the routed message
 * is copied unchanged with a few hookline headers added, asynchronously: the caller
 * hears from handoff_poll whether Kafka stored the copy, and stores the input offset
 * only once it did, so nothing is dropped. */
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
    struct pending *next; /* copies Kafka refused at once, reported by the next poll */
};

static rd_kafka_t *producer;
static struct pending *refused_now;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct pending *p = rkm->_private;
    if (rkm->err)
        log_error(NULL, "hand-off to %s not stored: %s", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
    if (!p)
        return;
    handoff_done_fn done = p->done;
    void *ctx = p->ctx;
    free(p);
    done(ctx, rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR);
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
        done(ctx, false); /* the caller tries again later */
        return;
    }
    *p = (struct pending){done, ctx, NULL};
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err) {
        log_warn(NULL, "hand-off to %s refused: %s", topic, rd_kafka_err2str(err));
        rd_kafka_headers_destroy(h);
        p->next = refused_now;
        refused_now = p;
    }
}

void quarantine_start(const rd_kafka_message_t *rkm, const char *reason, handoff_done_fn done, void *ctx)
{
    handoff_start(g_common.topic_rejected, rkm, quarantine_headers(rkm, "forwarder", reason), done, ctx);
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
        free(p);
        done(ctx, false);
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
    while (refused_now) {
        struct pending *p = refused_now;
        refused_now = p->next;
        free(p);
    }
}
