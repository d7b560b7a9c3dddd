/* cmd_dlq: `hookline dlq list`, what the forwarder dead-lettered: every message of the
 * dead-letter topic, read from the beginning of each partition to its current end
 * (nothing is committed: listing changes nothing), with where and why it failed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/msg.h"

static const char usage[] =
    "Usage: hookline dlq list [--json]\n"
    "\n"
    "Lists the deliveries the forwarder gave up on (HOOKLINE_TOPIC_DEAD_LETTERS), oldest\n"
    "first per partition: webhook id, delivery id, destination, last status and error.\n"
    "\n"
    "  --json   print a JSON array\n"
    "  --help   show this help\n";

#define READ_TIMEOUT_MS 15000

static void set_header(json_t *row, const char *key, rd_kafka_headers_t *h, const char *name)
{
    char buf[2048];
    const char *v = msg_header(h, name, buf, sizeof buf);
    json_object_set_new(row, key, v ? json_string(v) : json_null());
}

/* One dead letter as a row (new reference). */
static json_t *dead_letter_row(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    json_t *row = json_object();
    set_header(row, "webhook_id", h, MSG_H_WEBHOOK_ID);
    set_header(row, "delivery_id", h, MSG_H_ROUTED_ID);
    set_header(row, "integration", h, MSG_H_INTEGRATION);
    set_header(row, "connection_id", h, MSG_H_CONNECTION);
    set_header(row, "destination", h, MSG_H_DL_DESTINATION);
    set_header(row, "status", h, MSG_H_DL_STATUS);
    set_header(row, "error", h, MSG_H_DL_ERROR);
    set_header(row, "attempts", h, MSG_H_DL_ATTEMPTS);
    set_header(row, "dead_lettered_at_ms", h, MSG_H_DL_AT);
    json_object_set_new(row, "partition", json_integer(rkm->partition));
    json_object_set_new(row, "offset", json_integer(rkm->offset));
    return row;
}

/* Assigns every partition of topic from its beginning; returns how many, or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, READ_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        cli_error("cannot read topic %s: %s", topic,
                  rd_kafka_err2str(err ? err : md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        cli_error("cannot assign %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    return n;
}

int cmd_dlq_list(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    int status = CLI_FAIL;
    char errstr[512];
    json_t *rows = json_array();
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = kafka_conf_new("hookline-cli", errstr, sizeof errstr);
    if (!conf || kafka_conf_set(conf, "group.id", "hookline-cli-dlq", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) < 0) {
        cli_error("Kafka configuration: %s", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
        cli_error("cannot create a Kafka client: %s", errstr);
        goto out;
    }
    int pending = assign_all(rk, g_common.topic_dead_letters);
    if (pending < 0)
        goto out;
    while (pending > 0) { /* until every partition reported its end */
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, READ_TIMEOUT_MS);
        if (!rkm) {
            cli_error("no answer from Kafka in %d s", READ_TIMEOUT_MS / 1000);
            goto out;
        }
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            pending--;
        else if (rkm->err)
            cli_warn("%s", rd_kafka_message_errstr(rkm));
        else
            json_array_append_new(rows, dead_letter_row(rkm));
        rd_kafka_message_destroy(rkm);
    }
    if (cli_print(rows, json, "no dead letters") == 0)
        status = CLI_OK;
out:
    json_decref(rows);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return status;
}
