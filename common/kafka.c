/* kafka: see kafka.h. */
#include "common/kafka.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/signals.h"

extern char **environ;

#define KAFKA_ENV_PREFIX "HOOKLINE_KAFKA_"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr, size_t errlen)
{
    if (rd_kafka_conf_set(conf, key, value, errstr, errlen) != RD_KAFKA_CONF_OK)
        return -1;
    return 0;
}

/* Applies HOOKLINE_KAFKA_FOO_BAR=v as foo.bar=v. BROKERS is hookline's own name. */
int kafka_conf_apply_env(rd_kafka_conf_t *conf, char *errstr, size_t errlen)
{
    size_t plen = strlen(KAFKA_ENV_PREFIX);
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, KAFKA_ENV_PREFIX, plen) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char key[128];
        size_t klen = (size_t)(eq - *e) - plen;
        if (klen == 0 || klen >= sizeof key)
            continue;
        for (size_t i = 0; i < klen; i++) {
            char c = (*e)[plen + i];
            key[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
        }
        key[klen] = '\0';
        if (!strcmp(key, "brokers"))
            continue;
        if (kafka_conf_set(conf, key, eq + 1, errstr, errlen) < 0)
            return -1;
    }
    return 0;
}

/* librdkafka's own log lines go through hookline's logger (one format, one stream). */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum log_level lvl = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_msg(lvl, NULL, "kafka: %s: %s", fac, buf);
}

rd_kafka_conf_t *kafka_conf_new(const char *client_id, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    if (kafka_conf_set(conf, "bootstrap.servers", g_common.kafka_brokers, errstr, errlen) < 0 ||
        kafka_conf_set(conf, "client.id", client_id, errstr, errlen) < 0 ||
        kafka_conf_set(conf, "log.connection.close", "false", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "message.max.bytes", "16777216", errstr, errlen) < 0 ||
        /* Every client (the ingress producer, the CLI's admin and topic readers too) gets the
         * operator's settings (SASL, TLS, ...), not only those made by the functions below. */
        kafka_conf_apply_env(conf, errstr, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Defaults first, then the operator's overrides (again, after the producer's or
 * consumer's own defaults), so overrides always win. */
static int finish_conf(rd_kafka_conf_t *conf, char *errstr, size_t errlen)
{
    return kafka_conf_apply_env(conf, errstr, errlen);
}

rd_kafka_t *kafka_producer_new(const char *client_id, void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                               void *opaque, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(client_id, errstr, errlen);
    if (!conf)
        return NULL;
    /* Idempotence implies acks=all and ordered retries; do not set acks ourselves. */
    if (kafka_conf_set(conf, "enable.idempotence", "true", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "compression.type", "lz4", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "linger.ms", "2", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "message.timeout.ms", "30000", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "queue.buffering.max.messages", "100000", errstr, errlen) < 0 ||
        finish_conf(conf, errstr, errlen) < 0)
        goto fail;
    if (dr_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
    if (rk)
        return rk; /* conf is now owned by rk */
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *kafka_consumer_new(const char *client_id, const char *group_id, const char *topic, char *errstr,
                               size_t errlen)
{
    const char *topics[1] = {topic};
    return kafka_consumer_new_topics(client_id, group_id, topics, 1, errstr, errlen);
}

rd_kafka_t *kafka_consumer_new_topics(const char *client_id, const char *group_id, const char *const *topics, size_t n,
                                      char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(client_id, errstr, errlen);
    if (!conf)
        return NULL;
    if (kafka_conf_set(conf, "group.id", group_id, errstr, errlen) < 0 ||
        /* Not cooperative-sticky: with librdkafka 2.0.2 a closing cooperative consumer does
         * not send LeaveGroup, so its restart waits a whole session timeout (10 s) for
         * partitions. Eager range assignment leaves the group at once on close. */
        kafka_conf_set(conf, "partition.assignment.strategy", "range,roundrobin", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "true", errstr, errlen) < 0 ||
        /* Short: a SIGKILL re-delivers what was stored since the last commit (at 1 s, a
         * second of traffic per crash). Batch consumers also commit after each batch. */
        kafka_conf_set(conf, "auto.commit.interval.ms", "200", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "session.timeout.ms", "10000", errstr, errlen) < 0 ||
        kafka_conf_set(conf, "heartbeat.interval.ms", "1000", errstr, errlen) < 0 ||
        finish_conf(conf, errstr, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errlen);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        snprintf(errstr, errlen, "subscribe to %s...: %s", topics[0], rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

int kafka_store_offset(rd_kafka_t *rk, const rd_kafka_message_t *rkm)
{
    /* librdkafka 2.0: the stored offset is the next one to read, so +1. */
    return kafka_store_next_offset(rk, rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset + 1);
}

int kafka_store_next_offset(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t next)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offs, topic, partition)->offset = next;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(rk, offs);
    rd_kafka_topic_partition_list_destroy(offs);
    return err ? -1 : 0;
}

int kafka_commit_stored(rd_kafka_t *rk)
{
    /* NULL: the assignment's stored offsets; partitions with nothing new are skipped. */
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 1);
    return err && err != RD_KAFKA_RESP_ERR__NO_OFFSET ? -1 : 0;
}

int kafka_commit_stored_every(rd_kafka_t *rk, int min_interval_ms)
{
    static _Thread_local double last_commit;
    double now = clock_mono_s();
    if (now - last_commit < (double)min_interval_ms / 1000)
        return 0;
    last_commit = now;
    return kafka_commit_stored(rk);
}

bool kafka_err_refuses_message(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:    /* over message.max.bytes or max.message.bytes */
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:      /* the broker's own size check */
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE: /* a batch over the broker's limit */
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:        /* refused by the broker's record validation */
        return true;
    default:
        return false;
    }
}

static void on_alone_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    *(rd_kafka_resp_err_t *)rkm->_private = rkm->err;
}

rd_kafka_t *kafka_alone_producer_new(const char *client_id, char *errstr, size_t errlen)
{
    return kafka_producer_new(client_id, on_alone_delivery, NULL, errstr, errlen);
}

rd_kafka_resp_err_t kafka_send_alone(rd_kafka_t *alone, const rd_kafka_message_t *rkm, int timeout_ms)
{
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    rd_kafka_headers_t *copy = h ? rd_kafka_headers_copy(h) : NULL;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        alone, RD_KAFKA_V_TOPIC(rd_kafka_topic_name(rkm->rkt)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(copy),
        RD_KAFKA_V_OPAQUE(&result), RD_KAFKA_V_END);
    if (err) {
        if (copy)
            rd_kafka_headers_destroy(copy);
        return err;
    }
    if (rd_kafka_flush(alone, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Its report must not outlive result: purged, then served. */
        rd_kafka_purge(alone, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(alone, timeout_ms);
    }
    return result;
}

bool kafka_reachable(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (err)
        return false;
    bool ok = md->broker_cnt > 0;
    rd_kafka_metadata_destroy(md);
    return ok;
}

int kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions, int replication,
                        char *errstr, size_t errlen)
{
    int rc = -1;
    rd_kafka_NewTopic_t **nt = calloc(n, sizeof *nt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    if (!nt || !q) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, errstr, errlen);
        if (!nt[i])
            goto out;
        /* Room for large webhook bodies plus their headers. */
        if (rd_kafka_NewTopic_set_config(nt[i], "max.message.bytes", "16777216")) {
            snprintf(errstr, errlen, "topic config rejected");
            goto out;
        }
    }
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 15000, errstr, errlen);
    rd_kafka_AdminOptions_set_request_timeout(opts, 20000, errstr, errlen);
    rd_kafka_CreateTopics(rk, nt, n, opts, q);
    rd_kafka_AdminOptions_destroy(opts);
    ev = rd_kafka_queue_poll(q, 30000);
    if (!ev) {
        snprintf(errstr, errlen, "no answer from the cluster in 30 s");
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errlen, "%s", rd_kafka_event_error_string(ev));
        goto out;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
        if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS || !err)
            continue;
        snprintf(errstr, errlen, "%s: %s", rd_kafka_topic_result_name(tr[i]),
                 rd_kafka_topic_result_error_string(tr[i]));
        goto out;
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    for (size_t i = 0; nt && i < n; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    return rc;
}

size_t kafka_poll_batch(rd_kafka_t *consumer, rd_kafka_message_t **batch, size_t max, int window_ms)
{
    size_t n = 0;
    double deadline = clock_mono_s() + (double)window_ms / 1000;
    while (n < max && !signals_stopping()) {
        int wait_ms = (int)((deadline - clock_mono_s()) * 1000);
        if (n > 0 && wait_ms > KAFKA_BATCH_GAP_MS)
            wait_ms = KAFKA_BATCH_GAP_MS;
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer, wait_ms > 0 ? wait_ms : 0);
        if (!rkm) {
            if (wait_ms <= 0 || n > 0) /* the window passed, or the gap after a message */
                break;
            continue;
        }
        if (rkm->err) {
            if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn(NULL, "kafka: consume: %s", rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
            continue;
        }
        batch[n++] = rkm;
    }
    return n;
}

/* Pauses every partition currently assigned to consumer. */
static void pause_assignment(rd_kafka_t *consumer)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts && parts->cnt > 0)
        rd_kafka_pause_partitions(consumer, parts);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
}

/* Whether this thread paused its consumer's partitions (each consumer is polled by one
 * thread). Resuming partitions that were never paused is not harmless in librdkafka
 * 2.0.2: the fetcher restarts, and a consumer that stores offsets after its batch then
 * reads the batch again, and again. */
static _Thread_local bool held_by_this_thread;

void kafka_consumer_hold(rd_kafka_t *consumer, int ms)
{
    held_by_this_thread = true;
    pause_assignment(consumer);
    double deadline = clock_mono_s() + (double)ms / 1000;
    int left;
    while ((left = (int)((deadline - clock_mono_s()) * 1000)) > 0 && !signals_stopping()) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer, left);
        if (!rkm)
            continue;
        if (!rkm->err && rkm->rkt) {
            /* A partition assigned while we hold (a rebalance) is not paused yet: read
             * this message again after the release, then pause it like the others. */
            rd_kafka_resp_err_t err = rd_kafka_seek(rkm->rkt, rkm->partition, rkm->offset, 0);
            if (err)
                log_warn(NULL, "kafka: cannot rewind %s [%d] to %lld while holding: %s", rd_kafka_topic_name(rkm->rkt),
                         rkm->partition, (long long)rkm->offset, rd_kafka_err2str(err));
            pause_assignment(consumer);
        } else if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn(NULL, "kafka: consume while holding: %s", rd_kafka_message_errstr(rkm));
        }
        rd_kafka_message_destroy(rkm);
    }
}

void kafka_consumer_release(rd_kafka_t *consumer)
{
    if (!held_by_this_thread)
        return;
    held_by_this_thread = false;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts && parts->cnt > 0)
        rd_kafka_resume_partitions(consumer, parts);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
}

int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t **parts, int timeout_ms,
                           char *errstr, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(errstr, errlen, "cannot read topic %s: %s", topic,
                 rd_kafka_err2str(err             ? err
                                  : md->topic_cnt ? md->topics[0].err
                                                  : RD_KAFKA_RESP_ERR_UNKNOWN));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int n = md->topics[0].partition_cnt;
    if (parts) {
        *parts = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            rd_kafka_topic_partition_list_add(*parts, topic, md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(md);
    return n;
}
