/* cli_topic: reading a whole topic from the command line (dead letters, quarantined
 * messages): every partition from its beginning to its end as it is now, with a
 * consumer that commits nothing, so reading changes nothing. */
#include <stdio.h>

#include "cli/cli.h"
#include "common/kafka.h"

#define READ_TIMEOUT_MS 15000

/* The number of partitions of topic, or -1 after printing why (it does not exist,
 * Kafka does not answer). rk's metadata requests never create topics. */
int cli_topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t **parts)
{
    char errstr[512];
    int n = kafka_topic_partitions(rk, topic, parts, READ_TIMEOUT_MS, errstr, sizeof errstr);
    if (n < 0)
        cli_error("%s", errstr);
    return n;
}

/* Assigns every partition of topic from its beginning; returns how many, or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int n = cli_topic_partitions(rk, topic, &parts);
    if (n < 0)
        return -1;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        cli_error("cannot assign %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    return n;
}

/* A client of type from conf (taken, freed on failure too). NULL after printing why. */
static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
        cli_error("cannot create a Kafka client: %s", errstr);
    }
    return rk;
}

rd_kafka_t *cli_admin_client(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = kafka_conf_new("hookline-cli", errstr, sizeof errstr);
    if (!conf) {
        cli_error("Kafka configuration: %s", errstr);
        return NULL;
    }
    return client_new(RD_KAFKA_PRODUCER, conf);
}

rd_kafka_t *cli_topic_reader_new(const char *group)
{
    char errstr[512];
    rd_kafka_conf_t *conf = kafka_conf_new("hookline-cli", errstr, sizeof errstr);
    if (!conf || kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) < 0) {
        cli_error("Kafka configuration: %s", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return client_new(RD_KAFKA_CONSUMER, conf);
}

void cli_topic_reader_free(rd_kafka_t *rk)
{
    if (!rk)
        return;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int cli_topic_read_all(rd_kafka_t *rk, const char *topic, int (*visit)(const rd_kafka_message_t *rkm, void *ctx),
                       void *ctx)
{
    int pending = assign_all(rk, topic);
    while (pending > 0) { /* until every partition reported its end */
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, READ_TIMEOUT_MS);
        if (!rkm) {
            cli_error("no answer from Kafka in %d s", READ_TIMEOUT_MS / 1000);
            return -1;
        }
        int rc = 0;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            pending--;
        else if (rkm->err)
            cli_warn("%s", rd_kafka_message_errstr(rkm));
        else
            rc = visit(rkm, ctx);
        rd_kafka_message_destroy(rkm);
        if (rc < 0)
            return -1;
    }
    return pending < 0 ? -1 : 0;
}
