/* hookline-topic-tool: what the integration tests need from Kafka that the CLI does not
 * offer (the suite has no Python Kafka client):
 *
 *   hookline-topic-tool ensure TOPIC [PARTITIONS]   create the topic if it is missing
 *   hookline-topic-tool dump TOPIC                   every message, from the beginning of
 *                                                    each partition to its end, one JSON
 *                                                    line each: partition, offset, key,
 *                                                    value_b64, headers [[name, value]]
 *   hookline-topic-tool produce TOPIC                the JSON lines on stdin (key,
 *                                                    value_b64, headers) as messages,
 *                                                    acknowledged before it exits; a
 *                                                    header [name, base64, "b64"] holds
 *                                                    any bytes (e.g. not UTF-8)
 *   hookline-topic-tool limit TOPIC BYTES            set the topic's max.message.bytes
 *                                                    (a topic an operator made smaller)
 *
 * Configured like every hookline program (HOOKLINE_KAFKA_BROKERS, HOOKLINE_KAFKA_*).
 * Exit status 0, or 1 with the reason on stderr. A test tool: not installed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/kafka.h"

#define TIMEOUT_MS 15000

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "hookline-topic-tool: %s: %s\n", what, why);
    return 1;
}

static json_t *message_json(const rd_kafka_message_t *rkm)
{
    json_t *o = json_object(), *hs = json_array();
    char *b64 = malloc(4 * ((rkm->len + 2) / 3) + 1);
    if (b64)
        crypto_base64(rkm->payload, rkm->len, b64);
    json_object_set_new(o, "partition", json_integer(rkm->partition));
    json_object_set_new(o, "offset", json_integer(rkm->offset));
    json_t *key = rkm->key ? json_stringn(rkm->key, rkm->key_len) : json_null();
    if (!key) { /* not UTF-8 */
        char *enc = malloc(4 * ((rkm->key_len + 2) / 3) + 1);
        if (enc)
            crypto_base64(rkm->key, rkm->key_len, enc);
        json_object_set_new(o, "key_b64", json_string(enc ? enc : ""));
        free(enc);
    }
    json_object_set_new(o, "key", key ? key : json_null());
    json_object_set_new(o, "value_b64", json_string(b64 ? b64 : ""));
    free(b64);
    rd_kafka_headers_t *h = NULL;
    const char *name;
    const void *value;
    size_t len;
    if (rd_kafka_message_headers(rkm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
            json_t *pair = json_pack("[s, s%]", name, value ? (const char *)value : "", len);
            if (!pair) { /* not UTF-8: as produce takes it back, [name, base64, "b64"] */
                char *enc = malloc(4 * ((len + 2) / 3) + 1);
                if (enc)
                    crypto_base64(value, len, enc);
                pair = json_pack("[s, s, s]", name, enc ? enc : "", "b64");
                free(enc);
            }
            json_array_append_new(hs, pair);
        }
    json_object_set_new(o, "headers", hs);
    return o;
}

static int dump(const char *topic)
{
    char errstr[512];
    rd_kafka_conf_t *conf = kafka_conf_new("hookline-topic-tool", errstr, sizeof errstr);
    if (!conf || kafka_conf_set(conf, "group.id", "hookline-topic-tool", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) < 0)
        return fail("configuration", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk)
        return fail("consumer", errstr);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err)
        return fail(topic, rd_kafka_err2str(err ? err : md->topics[0].err));
    int pending = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(pending);
    for (int i = 0; i < pending; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err)
        return fail("assign", rd_kafka_err2str(err));
    int rc = 0;
    while (pending > 0) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, TIMEOUT_MS);
        if (!rkm) {
            rc = fail(topic, "no answer from Kafka");
            break;
        }
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            pending--;
        } else if (!rkm->err) {
            json_t *o = message_json(rkm);
            char *line = json_dumps(o, JSON_COMPACT);
            printf("%s\n", line ? line : "{}");
            free(line);
            json_decref(o);
        }
        rd_kafka_message_destroy(rkm);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

static int produce(const char *topic)
{
    char errstr[512];
    rd_kafka_t *rk = kafka_producer_new("hookline-topic-tool", NULL, NULL, errstr, sizeof errstr);
    if (!rk)
        return fail("producer", errstr);
    char line[1 << 20];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, stdin)) {
        json_t *m = json_loads(line, 0, NULL), *hs = json_object_get(m, "headers"), *h;
        const char *key = json_string_value(json_object_get(m, "key"));
        const char *b64 = json_string_value(json_object_get(m, "value_b64"));
        size_t cap = b64 ? strlen(b64) : 0, i;
        unsigned char *value = malloc(cap + 1);
        long len = value && b64 ? crypto_unbase64(b64, cap, value, cap + 1) : -1;
        rd_kafka_headers_t *kh = rd_kafka_headers_new(16);
        json_array_foreach(hs, i, h)
        {
            const char *hv = json_string_value(json_array_get(h, 1));
            if (hv && json_array_size(h) == 3) { /* [name, base64 of the bytes, "b64"]: any bytes */
                unsigned char raw[8192];
                long rawlen = crypto_unbase64(hv, strlen(hv), raw, sizeof raw);
                if (rawlen >= 0)
                    rd_kafka_header_add(kh, json_string_value(json_array_get(h, 0)), -1, raw, rawlen);
                continue;
            }
            rd_kafka_header_add(kh, json_string_value(json_array_get(h, 0)), -1, hv, -1);
        }
        if (len < 0 ||
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE(value, (size_t)len), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                              RD_KAFKA_V_HEADERS(kh), RD_KAFKA_V_END)) {
            rd_kafka_headers_destroy(kh);
            rc = fail(topic, "cannot produce a line (not {key, value_b64, headers}?)");
        }
        free(value);
        json_decref(m);
    }
    if (rd_kafka_flush(rk, TIMEOUT_MS) || rd_kafka_outq_len(rk) > 0)
        rc = fail(topic, "not acknowledged");
    rd_kafka_destroy(rk);
    return rc;
}

static int ensure(const char *topic, const char *partitions)
{
    char errstr[512];
    rd_kafka_t *rk = kafka_producer_new("hookline-topic-tool", NULL, NULL, errstr, sizeof errstr);
    if (!rk)
        return fail("client", errstr);
    const char *const topics[] = {topic};
    int rc = kafka_ensure_topics(rk, topics, 1, partitions ? atoi(partitions) : 1, 1, errstr, sizeof errstr);
    rd_kafka_destroy(rk);
    return rc < 0 ? fail(topic, errstr) : 0;
}

/* AlterConfigs (librdkafka 2.0 has no incremental one): the topic's other settings are
 * the broker's defaults afterwards, which is all a test topic has. */
static int limit(const char *topic, const char *bytes)
{
    char errstr[512];
    rd_kafka_t *rk = kafka_producer_new("hookline-topic-tool", NULL, NULL, errstr, sizeof errstr);
    if (!rk)
        return fail("client", errstr);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    int rc = 1;
    if (rd_kafka_ConfigResource_set_config(res, "max.message.bytes", bytes)) {
        rc = fail(topic, "max.message.bytes refused");
        goto out;
    }
    rd_kafka_AlterConfigs(rk, &res, 1, NULL, q);
    ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
    if (!ev)
        rc = fail(topic, "no answer from the cluster");
    else if (rd_kafka_event_error(ev))
        rc = fail(topic, rd_kafka_event_error_string(ev));
    else {
        size_t n = 0;
        const rd_kafka_ConfigResource_t **out = rd_kafka_AlterConfigs_result_resources(
            rd_kafka_event_AlterConfigs_result(ev), &n);
        rc = n == 1 && rd_kafka_ConfigResource_error(out[0]) == RD_KAFKA_RESP_ERR_NO_ERROR
                 ? 0
                 : fail(topic, n == 1 ? rd_kafka_ConfigResource_error_string(out[0]) : "no result");
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || config_load(common_config_items, common_config_count) < 0) {
        fprintf(stderr, "usage: hookline-topic-tool ensure|dump|produce TOPIC [PARTITIONS] | limit TOPIC BYTES\n");
        return 2;
    }
    if (!strcmp(argv[1], "dump"))
        return dump(argv[2]);
    if (!strcmp(argv[1], "produce"))
        return produce(argv[2]);
    if (!strcmp(argv[1], "ensure"))
        return ensure(argv[2], argc > 3 ? argv[3] : NULL);
    if (!strcmp(argv[1], "limit") && argc > 3)
        return limit(argv[2], argv[3]);
    fprintf(stderr, "hookline-topic-tool: unknown command %s\n", argv[1]);
    return 2;
}
