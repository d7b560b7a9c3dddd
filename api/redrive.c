/* redrive: a dead letter sent through the forwarder again, as `hookline dlq redrive`
 * does (common/msg.h): the message at (partition, offset) of the dead-letter topic is
 * read with a consumer that commits nothing and copied, value, key and headers minus
 * hl.dl.*, to the forwarder's first retry topic, due now, for the one destination
 * that failed or for the URL the caller chose; the call returns once Kafka acknowledged
 * the copy. Redrives are rare:
 * one at a time (a mutex), which keeps the reader's assignment simple. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/outbound.h"

#define READ_TIMEOUT_MS 15000
#define ACK_TIMEOUT_MS 30000

static rd_kafka_t *producer, *reader;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool kafka_ok = true;
static struct ssrf_policy policy; /* the forwarder's (HOOKLINE_FORWARDER_ALLOW_CIDRS) */

struct ack {
    int done; /* 1 stored, -1 failed */
    rd_kafka_resp_err_t err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct ack *a = rkm->_private;
    if (a) {
        a->err = rkm->err;
        a->done = rkm->err ? -1 : 1;
    }
}

int redrive_init(char *errstr, size_t errlen)
{
    char err[128];
    if (ssrf_policy_parse(g_api.forwarder_allow_cidrs, &policy, err, sizeof err) < 0) {
        snprintf(errstr, errlen, "HOOKLINE_FORWARDER_ALLOW_CIDRS: %s", err);
        return -1;
    }
    producer = kafka_producer_new("hookline-api", on_delivery, NULL, errstr, errlen);
    if (!producer)
        return -1;
    rd_kafka_conf_t *conf = kafka_conf_new("hookline-api", errstr, errlen);
    if (!conf || kafka_conf_set(conf, "group.id", "hookline-api-dlq-reader", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errlen) < 0) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return -1;
    }
    reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errlen);
    if (!reader) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
        return -1;
    }
    return 0;
}

void redrive_shutdown(void)
{
    if (producer) {
        rd_kafka_flush(producer, 5000);
        rd_kafka_destroy(producer);
        producer = NULL;
    }
    if (reader) {
        rd_kafka_consumer_close(reader);
        rd_kafka_destroy(reader);
        reader = NULL;
    }
}

bool redrive_ready(void)
{
    return atomic_load(&kafka_ok);
}

void redrive_watch(void)
{
    if (producer)
        atomic_store(&kafka_ok, kafka_reachable(producer, 2000));
}

const char *redrive_url_refused(const char *url)
{
    return outbound_url_refused(url, &policy);
}

/* Reads the message at partition/offset: a new message (destroy it), or NULL with rc
 * 1 (none there) or -1 (error, errstr). */
static rd_kafka_message_t *read_one(int partition, long long offset, int *rc, char *errstr, size_t errlen)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, g_common.topic_dead_letters, partition)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_assign(reader, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    *rc = -1;
    if (err) {
        snprintf(errstr, errlen, "cannot read %s: %s", g_common.topic_dead_letters, rd_kafka_err2str(err));
        return NULL;
    }
    rd_kafka_message_t *found = NULL;
    double deadline = clock_mono_s() + READ_TIMEOUT_MS / 1000.0;
    while (!found && clock_mono_s() < deadline) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(reader, 500);
        if (!rkm)
            continue;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || rkm->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
            (!rkm->err && rkm->offset > offset)) {
            *rc = 1;
            rd_kafka_message_destroy(rkm);
            break;
        }
        if (rkm->err) {
            snprintf(errstr, errlen, "%s", rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
            continue;
        }
        if (rkm->offset == offset && rkm->partition == partition)
            found = rkm;
        else
            rd_kafka_message_destroy(rkm);
    }
    rd_kafka_assign(reader, NULL);
    if (!found && *rc == -1 && !*errstr)
        snprintf(errstr, errlen, "no answer from Kafka in %d s", READ_TIMEOUT_MS / 1000);
    if (found)
        *rc = 0;
    return found;
}

int redrive_dead_letter(int partition, long long offset, const char *to, char *wid, size_t widlen, char *dest,
                        size_t destlen, char *errstr, size_t errlen)
{
    errstr[0] = '\0';
    pthread_mutex_lock(&lock);
    int rc;
    rd_kafka_message_t *rkm = read_one(partition, offset, &rc, errstr, errlen);
    if (!rkm)
        goto out;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    if (!msg_header(h, MSG_H_DL_DESTINATION, dest, destlen) || !*dest) {
        snprintf(errstr, errlen, "the dead letter names no destination");
        rc = -1;
        goto out;
    }
    if (!msg_header(h, MSG_H_WEBHOOK_ID, wid, widlen))
        snprintf(wid, widlen, "%s", "");
    char topic[512];
    snprintf(topic, sizeof topic, "%s.%s.1", g_api.retry_topic_prefix, g_api.forwarder_group);
    /* The copy names the URL the forwarder sends it to, as `hookline dlq redrive --to`'s do. */
    rd_kafka_headers_t *out = msg_redrive_headers(h, to ? to : dest, clock_unix_ms());
    /* On the heap: if Kafka never reports within the wait, the report may still come
     * later, so the record is then left to it (never freed) rather than freed under it. */
    struct ack *a = calloc(1, sizeof *a);
    if (!a) {
        rd_kafka_headers_destroy(out);
        snprintf(errstr, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(out),
        RD_KAFKA_V_OPAQUE(a), RD_KAFKA_V_END);
    if (err) {
        free(a);
        rd_kafka_headers_destroy(out);
        snprintf(errstr, errlen, "cannot produce to %s: %s", topic, rd_kafka_err2str(err));
        rc = -1;
        goto out;
    }
    double deadline = clock_mono_s() + ACK_TIMEOUT_MS / 1000.0;
    while (!a->done && clock_mono_s() < deadline)
        rd_kafka_poll(producer, 50);
    if (a->done != 1) {
        snprintf(errstr, errlen, "Kafka did not store the copy on %s: %s", topic,
                 a->done ? rd_kafka_err2str(a->err) : "timed out");
        if (a->done)
            free(a);
        rc = -1;
        goto out;
    }
    free(a);
    char new_origin[300], old_origin[300]; /* logged: a path or query may hold a token */
    outbound_url_origin(to ? to : dest, new_origin, sizeof new_origin);
    outbound_url_origin(dest, old_origin, sizeof old_origin);
    log_info(wid, "dead letter %d-%lld redriven to %s for %s%s%s", partition, offset, topic, new_origin,
             to ? " instead of " : "", to ? old_origin : "");
    rc = 0;
out:
    if (rkm)
        rd_kafka_message_destroy(rkm);
    pthread_mutex_unlock(&lock);
    return rc;
}
