/*
 * cmd_topics: `hookline topics ensure` creates the pipeline's Kafka topics
 * (HOOKLINE_TOPIC_RAW, _ROUTED, _REJECTED) that do not exist yet, through the admin
 * API. Existing topics are left as they are (their partition count is not changed).
 * The Kafka client is configured like the daemons' (HOOKLINE_KAFKA_BROKERS and
 * HOOKLINE_KAFKA_* pass-through), so it works against the same cluster settings.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/kafka.h"

#define PARTITIONS_MAX 100000
#define REPLICATION_MAX 32767

static const char usage[] =
    "Usage: hookline topics ensure [--partitions N] [--replication N]\n"
    "\n"
    "Creates the topics HOOKLINE_TOPIC_RAW, HOOKLINE_TOPIC_ROUTED, HOOKLINE_TOPIC_REJECTED,\n"
    "HOOKLINE_TOPIC_DEAD_LETTERS and HOOKLINE_TOPIC_NOTIFICATIONS on HOOKLINE_KAFKA_BROKERS\n"
    "if they are missing.\n"
    "Topics that exist are left alone.\n"
    "\n"
    "  --partitions N    partitions of new topics (default: HOOKLINE_TOPIC_PARTITIONS or 4)\n"
    "  --replication N   replication factor of new topics (default 1)\n"
    "  --help            show this help\n";

int cmd_topics_ensure(int argc, char **argv)
{
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replication", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    long partitions = g_cli.topic_partitions, replication = 1;
    char errstr[512];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'p':
            if (cli_parse_long(optarg, 1, PARTITIONS_MAX, &partitions) < 0)
                return cli_usage_error(argv[0], "--partitions must be a number from 1 to %d", PARTITIONS_MAX);
            break;
        case 'r':
            if (cli_parse_long(optarg, 1, REPLICATION_MAX, &replication) < 0)
                return cli_usage_error(argv[0], "--replication must be a number from 1 to %d", REPLICATION_MAX);
            break;
        case 'h':
            return cli_help(usage);
        default:
            return cli_usage_hint(argv[0]);
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);

    conf = kafka_conf_new("hookline-cli", errstr, sizeof errstr);
    if (!conf) {
        cli_error("Kafka configuration: %s", errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        cli_error("cannot create a Kafka client: %s", errstr);
        goto out;
    }
    conf = NULL; /* owned by rk since rd_kafka_new succeeded */

    const char *const topics[] = {g_common.topic_raw, g_common.topic_routed, g_common.topic_rejected,
                                  g_common.topic_dead_letters, g_common.topic_notifications};
    const size_t ntopics = sizeof topics / sizeof topics[0];
    if (kafka_ensure_topics(rk, topics, ntopics, (int)partitions, (int)replication, errstr, sizeof errstr) < 0) {
        cli_error("cannot create topics on %s: %s", g_common.kafka_brokers, errstr);
        goto out;
    }
    printf("topics ready on %s:", g_common.kafka_brokers);
    for (size_t i = 0; i < ntopics; i++)
        printf(" %s", topics[i]);
    printf(" (new ones get %ld partitions, replication %ld)\n", partitions, replication);
    status = CLI_OK;
out:
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return status;
}
