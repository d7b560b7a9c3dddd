/* cmd_rewind: `hookline rewind`, one stage's consumer-group offsets on its input topic
 * moved to a time, the earliest or the latest offsets (Kafka's admin API). The stage
 * then reads from there when it next starts: everything after the new offsets is
 * processed again (rewinding back), or skipped (forward). A group with live members
 * would overwrite the new offsets with its own at its next commit, and the broker
 * refuses to change them anyway, so the command refuses while the group has members;
 * --force waits (bounded) for those of a stopped or killed stage to expire first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/timetext.h"

static const char usage[] =
    "Usage: hookline rewind --stage router|forwarder|syncer --to TIME|earliest|latest\n"
    "                       [--group GROUP] [--force [--wait SECONDS]] [--dry-run] [--json]\n"
    "\n"
    "Moves the stage's consumer group (HOOKLINE_ROUTER_GROUP, HOOKLINE_FORWARDER_GROUP,\n"
    "HOOKLINE_SYNCER_GROUP) on its input topic (HOOKLINE_TOPIC_RAW for the router, the\n"
    "routed topic for the forwarder and the syncer) to the first offset at or after TIME\n"
    "in every partition (the end when nothing is that recent), or to the earliest or\n"
    "latest offsets. Stop the stage first: Kafka moves only the offsets of a group without\n"
    "live members, so the command refuses while it has some. A stage stopped cleanly\n"
    "leaves at once; one killed (or lost) stays a member until its session timeout (10 s\n"
    "for hookline's stages) has passed: --force waits for that.\n"
    "Prints every partition's committed offset before and after.\n"
    "\n"
    "  --to TIME          RFC 3339 (2026-12-03T14:00:00Z), relative (-2h, -1d), earliest\n"
    "                     or latest; required\n"
    "  --group GROUP      another consumer group of that stage\n"
    "  --force            wait for the group's members to leave or expire, then move it;\n"
    "                     fails if some are still there after --wait (a running stage)\n"
    "  --wait SECONDS     how long --force waits (default 30, at most 3600)\n"
    "  --dry-run          show the offsets before and after, change nothing\n"
    "  --json             print a JSON object\n"
    "  --help             show this help\n";

#define ADMIN_TIMEOUT_MS 15000
/* Three times the stages' session timeout (common/kafka.c): time for a killed stage's
 * members to expire and for the group coordinator to notice. */
#define WAIT_DEFAULT "30"
#define WAIT_MAX_S 3600

static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    if (!ev) {
        cli_error("%s: no answer from Kafka", what);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        cli_error("%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    if (o)
        rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
    return o;
}

/* The group's live members, or -1. state gets the group's state name. */
static int group_members(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, char *state, size_t statelen)
{
    const char *groups[1] = {group};
    rd_kafka_AdminOptions_t *o = options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_event_t *ev = wait_result(q, "describing the consumer group");
    if (!ev)
        return -1;
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **d = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    int members = -1;
    if (n == 1 && !rd_kafka_ConsumerGroupDescription_error(d[0])) {
        members = (int)rd_kafka_ConsumerGroupDescription_member_count(d[0]);
        snprintf(state, statelen, "%s",
                 rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d[0])));
    } else {
        cli_error("describing the consumer group %s: %s", group,
                  n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(d[0])) : "no answer");
    }
    rd_kafka_event_destroy(ev);
    return members;
}

/* --force: waits up to wait_s for the group's members to leave or expire. How many are
 * left (0: the group is empty), or -1. */
static int wait_empty(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, int members, long wait_s, char *state,
                      size_t statelen)
{
    cli_warn("the consumer group %s has %d live member(s) (%s): waiting up to %ld s for them to leave or expire", group,
             members, state, wait_s);
    double deadline = clock_mono_s() + (double)wait_s;
    while (members > 0 && clock_mono_s() < deadline) {
        sleep(1);
        members = group_members(rk, q, group, state, statelen);
    }
    return members;
}

/* The group's committed offsets for parts (offset -1001 when none), in place. */
static int committed(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_AdminOptions_t *o = options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = wait_result(q, "reading the group's offsets");
    if (!ev)
        return -1;
    size_t n = 0;
    const rd_kafka_group_result_t **g = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    int rc = -1;
    if (n == 1 && !rd_kafka_group_result_error(g[0])) {
        const rd_kafka_topic_partition_list_t *got = rd_kafka_group_result_partitions(g[0]);
        for (int i = 0; i < parts->cnt; i++) {
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
            for (int k = 0; got && k < got->cnt; k++)
                if (got->elems[k].partition == parts->elems[i].partition && !got->elems[k].err)
                    parts->elems[i].offset = got->elems[k].offset;
        }
        rc = 0;
    } else {
        cli_error("reading the offsets of %s: %s", group,
                  n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(g[0])) : "no answer");
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* The offsets to move to, in place (parts->elems[i].offset). */
static int targets(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t *parts, const char *to)
{
    bool earliest = !strcmp(to, "earliest"), latest = !strcmp(to, "latest");
    if (!earliest && !latest) {
        int64_t ms;
        if (timetext_parse_ms(to, clock_unix_ms(), &ms) < 0)
            return -1;
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = ms;
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, parts, ADMIN_TIMEOUT_MS);
        if (err) {
            cli_error("cannot find the offsets of %s by time: %s", topic, rd_kafka_err2str(err));
            return -2;
        }
    }
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, parts->elems[i].partition, &lo, &hi,
                                                                   ADMIN_TIMEOUT_MS);
        if (err) {
            cli_error("cannot read the offsets of %s [%d]: %s", topic, parts->elems[i].partition,
                      rd_kafka_err2str(err));
            return -2;
        }
        if (earliest)
            parts->elems[i].offset = lo;
        else if (latest || parts->elems[i].err || parts->elems[i].offset < 0)
            parts->elems[i].offset = hi; /* nothing at or after that time */
        parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    return 0;
}

static int alter(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, const rd_kafka_topic_partition_list_t *to)
{
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, to);
    rd_kafka_AdminOptions_t *o = options(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = wait_result(q, "moving the group's offsets");
    if (!ev)
        return -1;
    size_t n = 0;
    const rd_kafka_group_result_t **g = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
    int rc = n == 1 && !rd_kafka_group_result_error(g[0]) ? 0 : -1;
    if (rc < 0)
        cli_error("moving the offsets of %s: %s", group,
                  n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(g[0])) : "no answer");
    const rd_kafka_topic_partition_list_t *got = n == 1 ? rd_kafka_group_result_partitions(g[0]) : NULL;
    for (int k = 0; got && k < got->cnt; k++) {
        if (got->elems[k].err) {
            cli_error("moving %s [%d]: %s", got->elems[k].topic, got->elems[k].partition,
                      rd_kafka_err2str(got->elems[k].err));
            rc = -1;
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

static void offset_text(int64_t o, char *buf, size_t len)
{
    if (o < 0)
        snprintf(buf, len, "none");
    else
        snprintf(buf, len, "%" PRId64, o);
}

static int print(const char *group, const char *topic, const rd_kafka_topic_partition_list_t *before,
                 const rd_kafka_topic_partition_list_t *after, bool dry_run, bool json)
{
    json_t *rows = json_array();
    for (int i = 0; rows && i < before->cnt; i++) {
        char b[32], a[32];
        offset_text(before->elems[i].offset, b, sizeof b);
        offset_text(after->elems[i].offset, a, sizeof a);
        json_array_append_new(rows, json_pack("{s:s, s:i, s:s, s:s}", "topic", topic, "partition",
                                              (int)before->elems[i].partition, "before", b, "after", a));
    }
    int rc;
    if (json) {
        json_t *o = json_pack("{s:s, s:b, s:O}", "group", group, "dry_run", dry_run, "partitions", rows);
        rc = o ? cli_print(o, true, "") : -1;
        json_decref(o);
    } else {
        rc = cli_print(rows, false, "");
        printf("%s %s on %s\n", dry_run ? "dry run: would move" : "moved", group, topic);
    }
    json_decref(rows);
    return rc;
}

int cmd_rewind(int argc, char **argv)
{
    const char *stage = NULL, *to = NULL, *group = NULL, *wait_text = NULL;
    bool force = false, dry_run = false, json = false;
    const struct cli_opt opts[] = {
        {"stage", CLI_OPT_STRING, &stage, true},     {"to", CLI_OPT_STRING, &to, true},
        {"group", CLI_OPT_STRING, &group, false},    {"force", CLI_OPT_FLAG, &force, false},
        {"dry-run", CLI_OPT_FLAG, &dry_run, false},  {"json", CLI_OPT_FLAG, &json, false},
        {"wait", CLI_OPT_STRING, &wait_text, false},
    };
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    long wait_s;
    if (wait_text && !force)
        return cli_usage_error(argv[0], "--wait goes with --force");
    if (cli_parse_long(wait_text ? wait_text : WAIT_DEFAULT, 1, WAIT_MAX_S, &wait_s) < 0)
        return cli_usage_error(argv[0], "--wait takes seconds from 1 to %d, not '%s'", WAIT_MAX_S, wait_text);
    const char *topic;
    if (!strcmp(stage, "router")) {
        topic = g_common.topic_raw;
        group = group ? group : g_cli.router_group;
    } else if (!strcmp(stage, "forwarder")) {
        topic = g_common.topic_routed;
        group = group ? group : g_cli.forwarder_group;
    } else if (!strcmp(stage, "syncer")) {
        topic = g_common.topic_routed;
        group = group ? group : g_cli.syncer_group;
    } else {
        return cli_usage_error(argv[0], "--stage is router, forwarder or syncer, not '%s'", stage);
    }
    int64_t probe;
    if (strcmp(to, "earliest") && strcmp(to, "latest") && timetext_parse_ms(to, 0, &probe) < 0)
        return cli_usage_error(argv[0], "--to '%s' is not earliest, latest, RFC 3339 nor like -2h", to);

    int status = CLI_FAIL;
    rd_kafka_topic_partition_list_t *before = NULL, *after = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_t *rk = cli_admin_client();
    if (!rk)
        goto out;
    q = rd_kafka_queue_new(rk);
    char state[32] = "";
    int members = group_members(rk, q, group, state, sizeof state);
    if (members < 0)
        goto out;
    if (members > 0 && force && !dry_run &&
        (members = wait_empty(rk, q, group, members, wait_s, state, sizeof state)) < 0)
        goto out;
    if (members > 0 && !dry_run) {
        if (force)
            cli_error(
                "the consumer group %s still has %d live member(s) (%s) after %ld s: is the %s running? Kafka "
                "moves only an empty group: stop it",
                group, members, state, wait_s, stage);
        else
            cli_error(
                "the consumer group %s has %d live member(s) (%s): stop the %s first (--force waits for the "
                "members of a killed one to expire)",
                group, members, state, stage);
        goto out;
    }
    if (members > 0)
        cli_warn("the consumer group %s has %d live member(s) (%s)", group, members, state);
    if (cli_topic_partitions(rk, topic, &before) < 0)
        goto out;
    after = rd_kafka_topic_partition_list_copy(before);
    if (committed(rk, q, group, before) < 0 || targets(rk, topic, after, to) < 0)
        goto out;
    if (!dry_run && alter(rk, q, group, after) < 0)
        goto out;
    if (print(group, topic, before, after, dry_run, json) == 0)
        status = CLI_OK;
out:
    if (before)
        rd_kafka_topic_partition_list_destroy(before);
    if (after)
        rd_kafka_topic_partition_list_destroy(after);
    if (q)
        rd_kafka_queue_destroy(q);
    if (rk)
        rd_kafka_destroy(rk);
    return status;
}
