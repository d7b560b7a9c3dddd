/* dead_letters: a delivery that ran out of attempts is not dropped: the routed message
 * goes, unchanged, to the dead-letter topic with where and why it failed, and the
 * caller stores the input offset only once Kafka has acknowledged that copy. From
 * there an operator can see it (`hookline dlq list`) and send it again. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/signals.h"
#include "forwarder/forwarder.h"

static rd_kafka_t *producer;

/* Set by the delivery report of the one message in flight (the forwarder is sequential). */
static int last_result; /* 0 pending, 1 stored, -1 failed */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    last_result = rkm->err ? -1 : 1;
    if (rkm->err)
        log_error(NULL, "dead letter not stored: %s", rd_kafka_err2str(rkm->err));
}

int dead_letters_init(void)
{
    char errstr[512];
    producer = kafka_producer_new("hookline-forwarder", on_delivery, NULL, errstr, sizeof errstr);
    if (!producer)
        log_error(NULL, "kafka producer: %s", errstr);
    return producer ? 0 : -1;
}

int dead_letter(const rd_kafka_message_t *rkm, const char *wid, const char *url, long status, const char *error,
                long attempts)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    for (;;) {
        char st[24], at[32], att[24];
        snprintf(st, sizeof st, "%ld", status);
        snprintf(at, sizeof at, "%lld", clock_unix_ms());
        snprintf(att, sizeof att, "%ld", attempts);
        rd_kafka_headers_t *out = h ? rd_kafka_headers_copy(h) : rd_kafka_headers_new(5);
        rd_kafka_header_add(out, MSG_H_DL_DESTINATION, -1, url, -1);
        rd_kafka_header_add(out, MSG_H_DL_STATUS, -1, st, -1);
        rd_kafka_header_add(out, MSG_H_DL_ERROR, -1, error, -1);
        rd_kafka_header_add(out, MSG_H_DL_ATTEMPTS, -1, att, -1);
        rd_kafka_header_add(out, MSG_H_DL_AT, -1, at, -1);
        last_result = 0;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(g_common.topic_dead_letters), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(out),
            RD_KAFKA_V_END);
        if (err) {
            rd_kafka_headers_destroy(out);
            last_result = -1;
        }
        while (last_result == 0)
            rd_kafka_flush(producer, 100); /* serves the delivery report */
        if (last_result > 0) {
            log_error(wid, "dead-lettered the delivery to %s after %ld attempts (%s)", url, attempts, error);
            return 0;
        }
        if (signals_stopping())
            return -1; /* not stored: the input stays uncommitted and is retried */
        rd_kafka_poll(producer, 1000);
    }
}

void dead_letters_shutdown(void)
{
    if (!producer)
        return;
    rd_kafka_flush(producer, 5000);
    rd_kafka_destroy(producer);
    producer = NULL;
}
