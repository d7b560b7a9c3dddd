/*
 * cmd_topics: the pipeline's Kafka topics.
 *
 *   topics create     makes the topics that are missing with their partitions,
 *                     replication factor and retention (per topic), so that a fresh
 *                     cluster is ready in one command; topics that exist are only
 *                     compared (a difference is a warning), unless --alter-retention
 *                     asks to set their retention: running it again is harmless
 *   topics describe   what the cluster has: partitions, replicas, in-sync replicas,
 *                     leaderless partitions, retention, min.insync.replicas
 *   topics ensure     the older, smaller form of create (same partitions and
 *                     replication for every topic, the broker's retention)
 *
 * The topics are HOOKLINE_TOPIC_RAW, _ROUTED, _REJECTED, _DEAD_LETTERS, _NOTIFICATIONS,
 * the replay topics _REPLAY_ROUTER, _FORWARDER, _SYNCER and (create, describe) the
 * forwarder's retry topics <HOOKLINE_TOPIC_FORWARD_RETRY>.
 * <HOOKLINE_FORWARDER_GROUP>.1..N. The Kafka client is configured like the daemons'
 * (HOOKLINE_KAFKA_BROKERS and the HOOKLINE_KAFKA_* pass-through), so it works against
 * the same cluster settings (SASL, TLS).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/kafka.h"

#define PARTITIONS_MAX 100000
#define REPLICATION_MAX 32767
#define RETRY_PASSES_MAX 50
#define TOPICS_MAX (8 + RETRY_PASSES_MAX)
#define DAY_MS (86400LL * 1000)

/* ---- ensure ------------------------------------------------------------------------ */

static const char ensure_usage[] =
    "Usage: hookline topics ensure [--partitions N] [--replication N]\n"
    "\n"
    "Creates the topics HOOKLINE_TOPIC_RAW, HOOKLINE_TOPIC_ROUTED, HOOKLINE_TOPIC_REJECTED,\n"
    "HOOKLINE_TOPIC_DEAD_LETTERS, HOOKLINE_TOPIC_NOTIFICATIONS and the replay topics\n"
    "HOOKLINE_TOPIC_REPLAY_ROUTER, _FORWARDER and _SYNCER (webhooks.replay.<stage>: what\n"
    "`hookline replay` sends each stage again) on HOOKLINE_KAFKA_BROKERS if they are missing.\n"
    "Topics that exist are left alone. For a production cluster (and retention) see\n"
    "'topics create'.\n"
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
            return cli_help(ensure_usage);
        default:
            return cli_usage_hint(argv[0]);
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);

    rd_kafka_t *rk = cli_admin_client();
    if (!rk)
        return CLI_FAIL;
    const char *const topics[] = {g_common.topic_raw,          g_common.topic_routed,        g_common.topic_rejected,
                                  g_common.topic_dead_letters, g_common.topic_notifications, g_cli.topic_replay[0],
                                  g_cli.topic_replay[1],       g_cli.topic_replay[2]};
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
    rd_kafka_destroy(rk);
    return status;
}

/* ---- the pipeline's topics ----------------------------------------------------------- */

/* What a topic should be. partitions/replication -1: the broker's default; retention_ms
 * -1: kept forever, 0: the broker's default. */
struct topic_spec {
    char role[32]; /* raw, routed, ..., retry.1 */
    char name[256];
    long partitions, replication;
    long long retention_ms;
};

/* The pipeline's topics with their default settings: the data topics a week, what a
 * person must look at (quarantine, dead letters) a month, retry passes three days (the
 * longest wait between passes is 24 h). */
static size_t pipeline_topics(struct topic_spec *t, long partitions, long replication, long retry_passes)
{
    static const struct {
        const char *role;
        long long retention_days;
    } roles[] = {{"raw", 7},           {"routed", 7},        {"rejected", 30},        {"dead-letters", 30},
                 {"notifications", 7}, {"replay.router", 7}, {"replay.forwarder", 7}, {"replay.syncer", 7}};
    const char *names[] = {g_common.topic_raw,          g_common.topic_routed,        g_common.topic_rejected,
                           g_common.topic_dead_letters, g_common.topic_notifications, g_cli.topic_replay[0],
                           g_cli.topic_replay[1],       g_cli.topic_replay[2]};
    size_t n = 0;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++, n++) {
        snprintf(t[n].role, sizeof t[n].role, "%s", roles[i].role);
        snprintf(t[n].name, sizeof t[n].name, "%s", names[i]);
        t[n].partitions = partitions;
        t[n].replication = replication;
        t[n].retention_ms = roles[i].retention_days * DAY_MS;
    }
    for (long p = 1; p <= retry_passes; p++, n++) {
        snprintf(t[n].role, sizeof t[n].role, "retry.%ld", p);
        snprintf(t[n].name, sizeof t[n].name, "%s.%s.%ld", g_cli.retry_topic_prefix, g_cli.forwarder_group, p);
        t[n].partitions = partitions;
        t[n].replication = replication;
        t[n].retention_ms = 3 * DAY_MS;
    }
    return n;
}

/* "7d", "12h", "90m", "30s", "1500ms" or "forever" into milliseconds (-1 = forever). */
static int parse_duration_ms(const char *s, long long *out)
{
    if (!strcmp(s, "forever") || !strcmp(s, "-1")) {
        *out = -1;
        return 0;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || v > 100000000LL)
        return -1;
    long long unit = !strcmp(end, "ms")  ? 1
                     : !strcmp(end, "s") ? 1000
                     : !strcmp(end, "m") ? 60000
                     : !strcmp(end, "h") ? 3600000
                     : !strcmp(end, "d") ? DAY_MS
                                         : 0;
    if (!unit)
        return -1;
    *out = v * unit;
    return 0;
}

/* retention.ms as a person reads it ("7d", "36h", "forever"), into buf. */
static const char *duration_text(long long ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "forever");
    else if (ms && ms % DAY_MS == 0)
        snprintf(buf, len, "%lldd", ms / DAY_MS);
    else if (ms && ms % 3600000 == 0)
        snprintf(buf, len, "%lldh", ms / 3600000);
    else if (ms && ms % 60000 == 0)
        snprintf(buf, len, "%lldm", ms / 60000);
    else
        snprintf(buf, len, "%lldms", ms);
    return buf;
}

/* Applies "--topic ROLE:partitions=N,replication=N,retention=D" to the matching spec. */
static int apply_topic_option(const char *cmd, const char *arg, struct topic_spec *t, size_t n)
{
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return cli_usage_error(cmd, "--topic wants ROLE:key=value,... (e.g. raw:partitions=12,retention=3d)");
    size_t rlen = (size_t)(colon - arg);
    struct topic_spec *spec = NULL;
    for (size_t i = 0; i < n; i++)
        if ((strlen(t[i].role) == rlen && !strncmp(t[i].role, arg, rlen)) ||
            (strlen(t[i].name) == rlen && !strncmp(t[i].name, arg, rlen)))
            spec = &t[i];
    if (!spec)
        return cli_usage_error(cmd,
                               "--topic %.*s: not one of the pipeline's topics (raw, routed, rejected, "
                               "dead-letters, notifications, replay.router, replay.forwarder, "
                               "replay.syncer, retry.N, or a topic's name)",
                               (int)rlen, arg);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", colon + 1);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return cli_usage_error(cmd, "--topic %s: '%s' is not key=value", arg, kv);
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(kv, "partitions")) {
            if (cli_parse_long(v, 1, PARTITIONS_MAX, &spec->partitions) < 0)
                return cli_usage_error(cmd, "--topic %s: partitions must be 1..%d", arg, PARTITIONS_MAX);
        } else if (!strcmp(kv, "replication")) {
            if (cli_parse_long(v, 1, REPLICATION_MAX, &spec->replication) < 0)
                return cli_usage_error(cmd, "--topic %s: replication must be 1..%d", arg, REPLICATION_MAX);
        } else if (!strcmp(kv, "retention")) {
            if (parse_duration_ms(v, &spec->retention_ms) < 0)
                return cli_usage_error(cmd, "--topic %s: retention must be like 7d, 12h, 90m or forever", arg);
        } else {
            return cli_usage_error(cmd, "--topic %s: unknown key '%s' (partitions, replication, retention)", arg, kv);
        }
    }
    return -1;
}

/* ---- what the cluster has ------------------------------------------------------------ */

struct topic_state {
    bool exists;
    int partitions, replication, min_isr_size, under_replicated, leaderless;
    long long retention_ms; /* LLONG_MIN: unknown */
    char min_insync[16], max_message_bytes[24];
};

/* Sends DescribeConfigs (alter false) or AlterConfigs of the n res and waits for the
 * answer: the result event (rd_kafka_event_destroy it), or NULL after printing what
 * failed and why. */
static rd_kafka_event_t *admin_configs(rd_kafka_t *rk, bool alter, rd_kafka_ConfigResource_t **res, size_t n,
                                       int timeout_ms, const char *what)
{
    char errstr[512];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, alter ? RD_KAFKA_ADMIN_OP_ALTERCONFIGS
                                                                        : RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
    if (alter)
        rd_kafka_AlterConfigs(rk, res, n, opts, q);
    else
        rd_kafka_DescribeConfigs(rk, res, n, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    if (!ev || rd_kafka_event_error(ev)) {
        cli_error("%s: %s", what, ev ? rd_kafka_event_error_string(ev) : "timed out");
        if (ev)
            rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

/* Fills st[i] for every name from the cluster's metadata and topic configurations.
 * 0, or -1 after printing why. */
static int cluster_state(rd_kafka_t *rk, const char *const *names, size_t n, struct topic_state *st, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        cli_error("cannot read the cluster's metadata from %s: %s", g_common.kafka_brokers, rd_kafka_err2str(err));
        return -1;
    }
    memset(st, 0, n * sizeof *st);
    rd_kafka_ConfigResource_t *res[TOPICS_MAX];
    size_t nres = 0;
    for (size_t i = 0; i < n; i++) {
        st[i].retention_ms = INT64_MIN;
        snprintf(st[i].min_insync, sizeof st[i].min_insync, "?");
        snprintf(st[i].max_message_bytes, sizeof st[i].max_message_bytes, "?");
        for (int t = 0; t < md->topic_cnt; t++) {
            const rd_kafka_metadata_topic_t *mt = &md->topics[t];
            if (strcmp(mt->topic, names[i]) || mt->err)
                continue;
            st[i].exists = true;
            st[i].partitions = mt->partition_cnt;
            st[i].min_isr_size = -1;
            for (int p = 0; p < mt->partition_cnt; p++) {
                const rd_kafka_metadata_partition_t *mp = &mt->partitions[p];
                if (mp->replica_cnt > st[i].replication)
                    st[i].replication = mp->replica_cnt;
                if (st[i].min_isr_size < 0 || mp->isr_cnt < st[i].min_isr_size)
                    st[i].min_isr_size = mp->isr_cnt;
                st[i].under_replicated += mp->isr_cnt < mp->replica_cnt;
                st[i].leaderless += mp->leader < 0;
            }
        }
        if (st[i].exists && nres < TOPICS_MAX)
            res[nres++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
    }
    rd_kafka_metadata_destroy(md);
    if (!nres)
        return 0;

    int rc = -1;
    rd_kafka_event_t *ev = admin_configs(rk, false, res, nres, timeout_ms, "cannot read the topics' configuration");
    if (!ev)
        goto out;
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **rr = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev), &cnt);
    for (size_t r = 0; r < cnt; r++) {
        size_t i = 0;
        while (i < n && strcmp(names[i], rd_kafka_ConfigResource_name(rr[r])))
            i++;
        if (i == n || rd_kafka_ConfigResource_error(rr[r]))
            continue;
        size_t ncfg = 0;
        const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(rr[r], &ncfg);
        for (size_t c = 0; c < ncfg; c++) {
            const char *k = rd_kafka_ConfigEntry_name(cfg[c]), *v = rd_kafka_ConfigEntry_value(cfg[c]);
            if (!v)
                continue;
            if (!strcmp(k, "retention.ms"))
                st[i].retention_ms = strtoll(v, NULL, 10);
            else if (!strcmp(k, "min.insync.replicas"))
                snprintf(st[i].min_insync, sizeof st[i].min_insync, "%s", v);
            else if (!strcmp(k, "max.message.bytes"))
                snprintf(st[i].max_message_bytes, sizeof st[i].max_message_bytes, "%s", v);
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < nres; i++)
        rd_kafka_ConfigResource_destroy(res[i]);
    return rc;
}

/* Sets the retention of the existing topic. AlterConfigs (librdkafka 2.0 has no
 * incremental form) replaces every setting made for the topic, so those are read first
 * and sent back with the new retention.ms: e.g. its max.message.bytes is kept. (A
 * change made by someone else between the two requests would be lost.) 0, or -1 after
 * printing why. */
static int alter_retention(rd_kafka_t *rk, const char *topic, long long retention_ms, int timeout_ms)
{
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_ConfigResource_t *set = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_event_t *ev = admin_configs(rk, false, &res, 1, timeout_ms, "cannot read the topic's configuration");
    rd_kafka_event_t *done = NULL;
    int rc = -1;
    size_t cnt = 0, ncfg = 0;
    const rd_kafka_ConfigResource_t **rr = ev ? rd_kafka_DescribeConfigs_result_resources(
                                                    rd_kafka_event_DescribeConfigs_result(ev), &cnt)
                                              : NULL;
    if (!ev || cnt != 1 || rd_kafka_ConfigResource_error(rr[0])) {
        if (ev)
            cli_error("cannot read the configuration of %s: %s", topic,
                      cnt == 1 ? rd_kafka_ConfigResource_error_string(rr[0]) : "no answer");
        goto out;
    }
    const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(rr[0], &ncfg);
    for (size_t c = 0; c < ncfg; c++) {
        const char *k = rd_kafka_ConfigEntry_name(cfg[c]), *v = rd_kafka_ConfigEntry_value(cfg[c]);
        if (rd_kafka_ConfigEntry_source(cfg[c]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
            !strcmp(k, "retention.ms"))
            continue; /* the broker's defaults stay so without being named */
        if (!v || rd_kafka_ConfigEntry_is_sensitive(cfg[c])) {
            cli_error(
                "%s has a setting Kafka does not show (%s): its retention is not changed, as that would "
                "drop it; use Kafka's own tools",
                topic, k);
            goto out;
        }
        if (rd_kafka_ConfigResource_set_config(set, k, v)) {
            cli_error("%s: cannot keep its setting %s", topic, k);
            goto out;
        }
    }
    char text[32];
    snprintf(text, sizeof text, "%lld", retention_ms);
    if (rd_kafka_ConfigResource_set_config(set, "retention.ms", text) ||
        !(done = admin_configs(rk, true, &set, 1, timeout_ms, "cannot change the topic's retention")))
        goto out;
    const rd_kafka_ConfigResource_t **ar = rd_kafka_AlterConfigs_result_resources(
        rd_kafka_event_AlterConfigs_result(done), &cnt);
    if (cnt != 1 || rd_kafka_ConfigResource_error(ar[0])) {
        cli_error("cannot change the retention of %s: %s", topic,
                  cnt == 1 ? rd_kafka_ConfigResource_error_string(ar[0]) : "no answer");
        goto out;
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (done)
        rd_kafka_event_destroy(done);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_ConfigResource_destroy(set);
    return rc;
}

/* One row of `topics describe` (a new JSON object; the same keys for a missing topic,
 * null, so that the text table has every column whatever comes first). */
static json_t *state_row(const char *role, const char *name, const struct topic_state *st)
{
    char ret[32];
    bool known = st->exists;
    json_t *row = json_pack("{s:s, s:s, s:b}", "role", role, "topic", name, "exists", st->exists);
    if (!row)
        return NULL;
    json_object_set_new(row, "partitions", known ? json_integer(st->partitions) : json_null());
    json_object_set_new(row, "replication", known ? json_integer(st->replication) : json_null());
    json_object_set_new(row, "min_in_sync", known ? json_integer(st->min_isr_size) : json_null());
    json_object_set_new(row, "under_replicated", known ? json_integer(st->under_replicated) : json_null());
    json_object_set_new(row, "leaderless", known ? json_integer(st->leaderless) : json_null());
    json_object_set_new(row, "retention",
                        !known || st->retention_ms == INT64_MIN
                            ? json_null()
                            : json_string(duration_text(st->retention_ms, ret, sizeof ret)));
    json_object_set_new(row, "min_insync_replicas", known ? json_string(st->min_insync) : json_null());
    json_object_set_new(row, "max_message_bytes", known ? json_string(st->max_message_bytes) : json_null());
    return row;
}

/* ---- options both create and describe take ------------------------------------------ */

struct view_opts {
    long retry_passes, timeout_ms;
    bool json;
};

/* Handles getopt's c when it is one of the shared options ('R', 'j', 'T'): returns -1 when
 * handled (or not one of them: *handled says which), or the exit status of a bad value. */
static int view_option(int c, const char *cmd, struct view_opts *v, bool *handled)
{
    *handled = true;
    switch (c) {
    case 'R':
        if (cli_parse_long(optarg, 0, RETRY_PASSES_MAX, &v->retry_passes) < 0)
            return cli_usage_error(cmd, "--retry-passes must be a number from 0 to %d", RETRY_PASSES_MAX);
        return -1;
    case 'j':
        v->json = true;
        return -1;
    case 'T':
        if (cli_parse_long(optarg, 100, 600000, &v->timeout_ms) < 0)
            return cli_usage_error(cmd, "--timeout-ms must be a number from 100 to 600000");
        return -1;
    default:
        *handled = false;
        return -1;
    }
}

/* ---- create ------------------------------------------------------------------------ */

static const char create_usage[] =
    "Usage: hookline topics create [--partitions N] [--replication-factor N]\n"
    "                              [--min-insync-replicas N] [--retry-passes N]\n"
    "                              [--topic ROLE:key=value,...]... [--alter-retention]\n"
    "                              [--dry-run] [--json]\n"
    "\n"
    "Creates the pipeline's topics that are missing, each with its partitions, replication\n"
    "factor and retention, and prints what the cluster then has (as 'topics describe').\n"
    "Topics that exist are not changed: a difference from what was asked is a warning\n"
    "(more partitions change which partition a key goes to; do it on purpose with Kafka's\n"
    "own tools), except their retention with --alter-retention. Running it again is harmless.\n"
    "\n"
    "Topics (ROLE): raw, routed, rejected, dead-letters, notifications (HOOKLINE_TOPIC_*);\n"
    "replay.router, replay.forwarder, replay.syncer (HOOKLINE_TOPIC_REPLAY_<STAGE>, default\n"
    "webhooks.replay.<stage>: the copies `hookline replay` sends one stage again); and\n"
    "retry.1..N, the forwarder's retry passes\n"
    "(HOOKLINE_TOPIC_FORWARD_RETRY.HOOKLINE_FORWARDER_GROUP.<pass>).\n"
    "Default retention: 7d for raw, routed, notifications and the replay topics, 30d for\n"
    "rejected and dead-letters, 3d for retry passes. Replay reaches back as far as raw\n"
    "(--stage router) and routed (--stage forwarder, syncer) keep messages.\n"
    "\n"
    "  --partitions N            partitions of every new topic (default: HOOKLINE_TOPIC_PARTITIONS\n"
    "                            or 4); a stage runs at most this many busy replicas\n"
    "  --replication-factor N    replicas of every new topic (default: the broker's\n"
    "                            default.replication.factor); 3 on a production cluster\n"
    "  --min-insync-replicas N   min.insync.replicas of new topics (default: the broker's); with\n"
    "                            acks=all a write needs that many replicas (2 of 3)\n"
    "  --retry-passes N          retry topics to create (default 7, the passes of the default\n"
    "                            HOOKLINE_FORWARDER_RETRY_SCHEDULE; 0: let the forwarder make them)\n"
    "  --topic ROLE:k=v,...      one topic's own partitions=N, replication=N, retention=D\n"
    "                            (D: 30s, 90m, 12h, 7d or forever); may be repeated\n"
    "  --alter-retention         set the retention of topics that exist too, where it differs\n"
    "                            from the default or --topic ROLE:retention=D (their other\n"
    "                            settings, e.g. max.message.bytes, are kept)\n"
    "  --dry-run                 print what would be created or changed, change nothing\n"
    "  --json                    print the result as JSON\n"
    "  --timeout-ms N            how long to wait for the cluster (default 30000)\n"
    "  --help                    show this help\n";

int cmd_topics_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"min-insync-replicas", required_argument, NULL, 'm'},
        {"retry-passes", required_argument, NULL, 'R'},
        {"topic", required_argument, NULL, 't'},
        {"dry-run", no_argument, NULL, 'n'},
        {"alter-retention", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long partitions = g_cli.topic_partitions, replication = -1, min_isr = 0;
    struct view_opts v = {.retry_passes = 7, .timeout_ms = 30000, .json = false};
    bool dry_run = false, alter = false, handled, altered[TOPICS_MAX] = {0};
    const char *topic_opts[TOPICS_MAX * 2];
    size_t ntopic_opts = 0;

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        int st = view_option(c, argv[0], &v, &handled);
        if (st >= 0)
            return st;
        if (handled)
            continue;
        switch (c) {
        case 'p':
            if (cli_parse_long(optarg, 1, PARTITIONS_MAX, &partitions) < 0)
                return cli_usage_error(argv[0], "--partitions must be a number from 1 to %d", PARTITIONS_MAX);
            break;
        case 'r':
            if (cli_parse_long(optarg, 1, REPLICATION_MAX, &replication) < 0)
                return cli_usage_error(argv[0], "--replication-factor must be a number from 1 to %d", REPLICATION_MAX);
            break;
        case 'm':
            if (cli_parse_long(optarg, 1, REPLICATION_MAX, &min_isr) < 0)
                return cli_usage_error(argv[0], "--min-insync-replicas must be a number from 1 to %d", REPLICATION_MAX);
            break;
        case 't':
            if (ntopic_opts == sizeof topic_opts / sizeof topic_opts[0])
                return cli_usage_error(argv[0], "too many --topic options");
            topic_opts[ntopic_opts++] = optarg;
            break;
        case 'n':
            dry_run = true;
            break;
        case 'a':
            alter = true;
            break;
        case 'h':
            return cli_help(create_usage);
        default:
            return cli_usage_hint(argv[0]);
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (min_isr && replication > 0 && min_isr > replication)
        return cli_usage_error(argv[0],
                               "--min-insync-replicas %ld is more than --replication-factor %ld: "
                               "no write could ever succeed",
                               min_isr, replication);

    struct topic_spec spec[TOPICS_MAX];
    size_t n = pipeline_topics(spec, partitions, replication, v.retry_passes);
    for (size_t i = 0; i < ntopic_opts; i++) {
        int st = apply_topic_option(argv[0], topic_opts[i], spec, n);
        if (st >= 0)
            return st;
    }

    int status = CLI_FAIL;
    char errstr[512];
    rd_kafka_t *rk = cli_admin_client();
    if (!rk)
        return CLI_FAIL;
    const char *names[TOPICS_MAX] = {0};
    struct topic_state st[TOPICS_MAX];
    rd_kafka_NewTopic_t *nt[TOPICS_MAX];
    size_t nnew = 0, naltered = 0;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    json_t *rows = NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = spec[i].name;
    if (cluster_state(rk, names, n, st, (int)v.timeout_ms) < 0)
        goto out;

    char minisr_text[24], ret_text[32];
    snprintf(minisr_text, sizeof minisr_text, "%ld", min_isr);
    for (size_t i = 0; i < n; i++) {
        const struct topic_spec *s = &spec[i];
        if (st[i].exists) {
            /* Compare only: never change a topic that exists. */
            if (s->partitions > 0 && st[i].partitions != s->partitions)
                cli_warn("%s exists with %d partitions (asked %ld): not changed", s->name, st[i].partitions,
                         s->partitions);
            if (s->replication > 0 && st[i].replication != s->replication)
                cli_warn("%s exists with replication factor %d (asked %ld): not changed", s->name, st[i].replication,
                         s->replication);
            if (st[i].retention_ms == INT64_MIN || st[i].retention_ms == s->retention_ms)
                continue;
            duration_text(st[i].retention_ms, ret_text, sizeof ret_text);
            duration_text(s->retention_ms, errstr, sizeof errstr);
            if (!alter) {
                cli_warn("%s exists with retention %s (asked %s): not changed (see --alter-retention)", s->name,
                         ret_text, errstr);
            } else if (dry_run) {
                printf("would change the retention of %s from %s to %s\n", s->name, ret_text, errstr);
            } else {
                if (alter_retention(rk, s->name, s->retention_ms, (int)v.timeout_ms) < 0)
                    goto out;
                if (!v.json)
                    printf("changed the retention of %s from %s to %s\n", s->name, ret_text, errstr);
                altered[i] = true;
                naltered++;
            }
            continue;
        }
        if (dry_run) {
            printf("would create %s: %ld partitions, replication %s, retention %s\n", s->name, s->partitions,
                   s->replication > 0 ? (snprintf(errstr, sizeof errstr, "%ld", s->replication), errstr)
                                      : "(broker default)",
                   duration_text(s->retention_ms, ret_text, sizeof ret_text));
            continue;
        }
        nt[nnew] = rd_kafka_NewTopic_new(s->name, (int)s->partitions, (int)s->replication, errstr, sizeof errstr);
        if (!nt[nnew]) {
            cli_error("%s: %s", s->name, errstr);
            goto out;
        }
        nnew++;
        char retention[32];
        snprintf(retention, sizeof retention, "%lld", s->retention_ms);
        /* Room for large webhook bodies plus their headers, like topics ensure. */
        if (rd_kafka_NewTopic_set_config(nt[nnew - 1], "max.message.bytes", "16777216") ||
            rd_kafka_NewTopic_set_config(nt[nnew - 1], "retention.ms", retention) ||
            (min_isr && rd_kafka_NewTopic_set_config(nt[nnew - 1], "min.insync.replicas", minisr_text))) {
            cli_error("%s: topic configuration rejected", s->name);
            goto out;
        }
    }
    if (dry_run) {
        status = CLI_OK;
        goto out;
    }
    if (nnew) {
        q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *aopts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(aopts, (int)v.timeout_ms, errstr, sizeof errstr);
        rd_kafka_AdminOptions_set_request_timeout(aopts, (int)v.timeout_ms, errstr, sizeof errstr);
        rd_kafka_CreateTopics(rk, nt, nnew, aopts, q);
        rd_kafka_AdminOptions_destroy(aopts);
        ev = rd_kafka_queue_poll(q, (int)v.timeout_ms + 5000);
        if (!ev || rd_kafka_event_error(ev)) {
            cli_error("cannot create topics on %s: %s", g_common.kafka_brokers,
                      ev ? rd_kafka_event_error_string(ev) : "timed out");
            goto out;
        }
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
                                                                                 &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
            if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) { /* a concurrent create is fine */
                cli_error("cannot create %s: %s", rd_kafka_topic_result_name(tr[i]),
                          rd_kafka_topic_result_error_string(tr[i]));
                goto out;
            }
            if (!v.json)
                printf("created %s\n", rd_kafka_topic_result_name(tr[i]));
        }
    }
    /* What was made, as the cluster reports it: its metadata may lag a moment behind the
     * creation or change, so it is asked again (for a few seconds) until it has them all. */
    for (int tries = 0; (nnew || naltered) && tries < 20; tries++) {
        if (cluster_state(rk, names, n, st, (int)v.timeout_ms) < 0)
            goto out;
        size_t seen = 0;
        while (seen < n && st[seen].exists && (!altered[seen] || st[seen].retention_ms == spec[seen].retention_ms))
            seen++;
        if (seen == n)
            break;
        usleep(250 * 1000);
    }
    rows = json_array();
    for (size_t i = 0; rows && i < n; i++)
        json_array_append_new(rows, state_row(spec[i].role, spec[i].name, &st[i]));
    if (!rows || cli_print(rows, v.json, "no topics") < 0)
        goto out;
    status = CLI_OK;
out:
    json_decref(rows);
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < nnew; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    rd_kafka_destroy(rk);
    return status;
}

/* ---- describe ------------------------------------------------------------------------- */

static const char describe_usage[] =
    "Usage: hookline topics describe [--retry-passes N] [--json] [--timeout-ms N]\n"
    "\n"
    "Prints the pipeline's topics as the cluster has them: partitions, replication factor,\n"
    "the fewest in-sync replicas of any partition, partitions with fewer in-sync replicas\n"
    "than replicas (under_replicated) or without a leader, retention and\n"
    "min.insync.replicas. Exits 1 when one of the five main topics is missing.\n"
    "\n"
    "  --retry-passes N   retry topics to show (default 7; those missing are shown as such)\n"
    "  --json             print JSON\n"
    "  --timeout-ms N     how long to wait for the cluster (default 30000)\n"
    "  --help             show this help\n";

int cmd_topics_describe(int argc, char **argv)
{
    static const struct option opts[] = {
        {"retry-passes", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct view_opts v = {.retry_passes = 7, .timeout_ms = 30000, .json = false};
    bool handled;
    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        int st = view_option(c, argv[0], &v, &handled);
        if (st >= 0)
            return st;
        if (handled)
            continue;
        if (c == 'h')
            return cli_help(describe_usage);
        return cli_usage_hint(argv[0]);
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);

    struct topic_spec spec[TOPICS_MAX];
    size_t n = pipeline_topics(spec, 0, 0, v.retry_passes);
    const char *names[TOPICS_MAX] = {0};
    struct topic_state st[TOPICS_MAX];
    for (size_t i = 0; i < n; i++)
        names[i] = spec[i].name;
    int status = CLI_FAIL;
    json_t *rows = NULL;
    rd_kafka_t *rk = cli_admin_client();
    if (!rk)
        return CLI_FAIL;
    if (cluster_state(rk, names, n, st, (int)v.timeout_ms) < 0)
        goto out;
    rows = json_array();
    bool missing = false;
    for (size_t i = 0; rows && i < n; i++) {
        json_array_append_new(rows, state_row(spec[i].role, spec[i].name, &st[i]));
        missing |= i < 5 && !st[i].exists;
    }
    if (!rows || cli_print(rows, v.json, "no topics") < 0)
        goto out;
    if (missing)
        cli_error("some of the pipeline's topics are missing: run 'hookline topics create'");
    status = missing ? CLI_FAIL : CLI_OK;
out:
    json_decref(rows);
    rd_kafka_destroy(rk);
    return status;
}
