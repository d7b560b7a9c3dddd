/* cmd_rejected: the quarantine. Every stage puts a message it can never process on the
 * rejected topic (HOOKLINE_TOPIC_REJECTED) with why, which stage, when and where it
 * was read from (common/quarantine.h), and moves on. `hookline rejected list` shows
 * them, read from the beginning of each partition (nothing is committed). `hookline
 * rejected replay` puts chosen ones back on the topic they came from, without the
 * quarantine headers, once the cause is fixed (a new provider, a database change): the
 * stage then processes them as it would have, with the same webhook ids, or
 * quarantines them again. The rejected topic itself is never changed. */
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/quarantine.h"

static const char list_usage[] =
    "Usage: hookline rejected list [--stage STAGE] [--json]\n"
    "\n"
    "Lists the messages a stage quarantined because it can never process them (a value\n"
    "that is not UTF-8, unreadable hookline headers, a body the provider cannot read, a\n"
    "value the database refuses), oldest first per partition of HOOKLINE_TOPIC_REJECTED:\n"
    "webhook id, stage, reason, and the topic, partition and offset it was read from\n"
    "(and body_omitted_bytes when it was too large to be kept: see replay).\n"
    "\n"
    "  --stage STAGE   only those of this stage (router, forwarder, syncer)\n"
    "  --json          print a JSON array\n"
    "  --help          show this help\n";

static const char replay_usage[] =
    "Usage: hookline rejected replay (--at PARTITION:OFFSET | --webhook-id ID | --stage STAGE |\n"
    "                                 --all) [--dry-run] [--json]\n"
    "\n"
    "Puts quarantined messages back on the topic each was read from (as recorded),\n"
    "with its key, value and headers minus the quarantine ones, and waits until Kafka\n"
    "has stored each copy. Do it once the cause is fixed: the stage processes the copy\n"
    "with the same webhook id, or quarantines it again. The rejected topic is not changed\n"
    "(Kafka is append-only), so replaying a message twice processes it twice; the stages\n"
    "derive the same ids each time, so the app sees the same webhook-id. A message kept\n"
    "without its body (too large for the rejected topic) is not replayed from here: an\n"
    "error names its origin, to replay with `hookline replay --webhook-id`.\n"
    "\n"
    "  --at P:O          the message at partition P, offset O of the rejected topic\n"
    "  --webhook-id ID   the quarantined messages of this webhook\n"
    "  --stage STAGE     those of this stage\n"
    "  --all             every quarantined message\n"
    "  --dry-run         only list what would be replayed\n"
    "  --json            print {\"replayed\", \"dry_run\", \"messages\": [...]}\n"
    "  --help            show this help\n";

#define ACK_TIMEOUT_MS 60000

static void set_text(json_t *row, const char *key, const char *v)
{
    if (v) {
        char clean[QUARANTINE_REASON_MAX + 1]; /* a header may hold anything: print it safely */
        quarantine_reason_clean(clean, sizeof clean, v);
        json_object_set_new(row, key, json_string(clean));
    } else {
        json_object_set_new(row, key, json_null());
    }
}

/* One quarantined message as a row (new reference). Messages quarantined before the
 * stage and origin were recorded were the router's, read from the raw topic. */
static json_t *rejected_row(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    struct msg_rejected_view *v = malloc(sizeof *v);
    json_t *row = v ? json_object() : NULL;
    if (!row) {
        free(v);
        return NULL;
    }
    msg_rejected_decode(v, h);
    set_text(row, "webhook_id", v->webhook_id);
    set_text(row, "stage", v->stage ? v->stage : "router");
    set_text(row, "reason", v->reason);
    set_text(row, "integration", v->integration);
    set_text(row, "origin_topic", v->topic);
    set_text(row, "origin_partition", v->partition);
    set_text(row, "origin_offset", v->offset);
    set_text(row, "rejected_at_ms", v->at);
    set_text(row, "body_omitted_bytes", v->body_omitted);
    json_object_set_new(row, "partition", json_integer(rkm->partition));
    json_object_set_new(row, "offset", json_integer(rkm->offset));
    free(v);
    return row;
}

struct choice {
    const char *stage;      /* NULL: any */
    const char *webhook_id; /* NULL: any */
    long partition;         /* -1: any */
    long long offset;
    bool dry_run;
    rd_kafka_t *producer; /* NULL when only listing */
    json_t *rows;
    long acked, failed;
};

static bool chosen(const struct choice *c, const json_t *row)
{
    const char *stage = json_string_value(json_object_get(row, "stage"));
    const char *wid = json_string_value(json_object_get(row, "webhook_id"));
    if (c->stage && (!stage || strcmp(stage, c->stage)))
        return false;
    if (c->webhook_id && (!wid || strcasecmp(wid, c->webhook_id)))
        return false;
    return c->partition < 0 || (json_integer_value(json_object_get(row, "partition")) == c->partition &&
                                json_integer_value(json_object_get(row, "offset")) == c->offset);
}

/* Copies rkm back to its origin topic (queued; acknowledged later by on_replayed). */
static int replay_one(struct choice *c, const rd_kafka_message_t *rkm, const char *topic)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(rkm, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL;
    for (;;) {
        rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(0);
        quarantine_headers_strip(h);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_END);
        if (!err) {
            rd_kafka_poll(c->producer, 0);
            return 0;
        }
        rd_kafka_headers_destroy(h);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            cli_error("cannot replay to %s: %s", topic, rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(c->producer, 100); /* wait for room */
    }
}

static int visit(const rd_kafka_message_t *rkm, void *ctx)
{
    struct choice *c = ctx;
    json_t *row = rejected_row(rkm);
    if (!row) {
        cli_error("out of memory");
        return -1;
    }
    if (!chosen(c, row)) {
        json_decref(row);
        return 0;
    }
    const char *topic = json_string_value(json_object_get(row, "origin_topic"));
    if (!topic)
        topic = g_common.topic_raw; /* quarantined before origins were recorded: the router's */
    char origin[512];
    snprintf(origin, sizeof origin, "%s", topic);
    if (json_array_append_new(c->rows, row) < 0) {
        cli_error("out of memory");
        return -1;
    }
    if (!c->producer)
        return 0;
    if (!*origin || !strcmp(origin, g_common.topic_rejected)) {
        cli_warn("quarantined message at %d/%" PRId64 " names no topic to replay to: skipped", rkm->partition,
                 rkm->offset);
        return 0;
    }
    if (json_is_string(json_object_get(row, "body_omitted_bytes"))) {
        /* Quarantined without its body (too large for the rejected topic): a copy would
         * be an empty webhook. The original is still in its topic until retention. */
        cli_error("quarantined message at %d/%" PRId64
                  " was kept without its body: replay the original from %s "
                  "(`hookline replay`, --webhook-id) while its retention lasts",
                  rkm->partition, rkm->offset, origin);
        c->failed++;
        return 0;
    }
    return replay_one(c, rkm, origin);
}

static void on_replayed(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct choice *c = opaque;
    if (rkm->err) {
        c->failed++;
        cli_error("a replayed message was not stored on %s: %s", rd_kafka_topic_name(rkm->rkt),
                  rd_kafka_err2str(rkm->err));
    } else {
        c->acked++;
    }
}

static int read_rejected(struct choice *c)
{
    rd_kafka_t *rk = cli_topic_reader_new("hookline-cli-rejected");
    int rc = rk ? cli_topic_read_all(rk, g_common.topic_rejected, visit, c) : -1;
    cli_topic_reader_free(rk);
    return rc;
}

int cmd_rejected_list(int argc, char **argv)
{
    bool json = false;
    struct choice c = {.partition = -1};
    const struct cli_opt opts[] = {{"stage", CLI_OPT_STRING, &c.stage, false}, {"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    int status = CLI_FAIL;
    c.rows = json_array();
    if (c.rows && read_rejected(&c) == 0 && cli_print(c.rows, json, "no quarantined messages") == 0)
        status = CLI_OK;
    json_decref(c.rows);
    return status;
}

/* Parses "P:O" into c. 0 or -1. */
static int parse_at(const char *s, struct choice *c)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return -1;
    char part[16];
    size_t n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof part)
        return -1;
    memcpy(part, s, n);
    part[n] = '\0';
    long p, o;
    if (cli_parse_long(part, 0, 1000000, &p) < 0 || cli_parse_long(colon + 1, 0, LONG_MAX, &o) < 0)
        return -1;
    c->partition = p;
    c->offset = o;
    return 0;
}

int cmd_rejected_replay(int argc, char **argv)
{
    bool json = false, all = false;
    const char *at = NULL;
    struct choice c = {.partition = -1};
    const struct cli_opt opts[] = {
        {"at", CLI_OPT_STRING, &at, false},           {"webhook-id", CLI_OPT_STRING, &c.webhook_id, false},
        {"stage", CLI_OPT_STRING, &c.stage, false},   {"all", CLI_OPT_FLAG, &all, false},
        {"dry-run", CLI_OPT_FLAG, &c.dry_run, false}, {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, replay_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (all == (at || c.webhook_id || c.stage))
        return cli_usage_error(argv[0], all ? "--all goes alone" : "choose: --at, --webhook-id, --stage or --all");
    if (at && parse_at(at, &c) < 0)
        return cli_usage_error(argv[0], "--at '%s' is not PARTITION:OFFSET", at);

    int status = CLI_FAIL;
    char errstr[512];
    c.rows = json_array();
    if (!c.rows)
        goto out;
    if (!c.dry_run && !(c.producer = kafka_producer_new("hookline-cli", on_replayed, &c, errstr, sizeof errstr))) {
        cli_error("cannot create a Kafka producer: %s", errstr);
        goto out;
    }
    int read = read_rejected(&c);
    if (c.producer && rd_kafka_flush(c.producer, ACK_TIMEOUT_MS)) {
        cli_error("Kafka did not acknowledge %d replayed message(s) within %d s", rd_kafka_outq_len(c.producer),
                  ACK_TIMEOUT_MS / 1000);
        read = -1;
    }
    if (read == 0 && json_array_size(c.rows) == 0 && !all) {
        cli_error("no quarantined message matches");
        goto out;
    }
    if (json) {
        json_t *o = json_pack("{s:I, s:b, s:O}", "replayed", (json_int_t)(c.dry_run ? 0 : c.acked), "dry_run",
                              c.dry_run, "messages", c.rows);
        if (!o || cli_print(o, true, "") < 0)
            read = -1;
        json_decref(o);
    } else {
        if (json_array_size(c.rows) && cli_print(c.rows, false, "") < 0)
            read = -1;
        if (c.dry_run)
            printf("would replay %zu quarantined message(s) (dry run: nothing sent)\n", json_array_size(c.rows));
        else
            printf("replayed %ld quarantined message(s) to their origin topics\n", c.acked);
    }
    if (read == 0 && c.failed == 0)
        status = CLI_OK;
out:
    if (c.producer)
        rd_kafka_destroy(c.producer);
    json_decref(c.rows);
    return status;
}
