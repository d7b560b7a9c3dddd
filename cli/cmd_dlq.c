/* cmd_dlq: the forwarder's dead letters. `hookline dlq list` shows every message of the
 * dead-letter topic, read from the beginning of each partition to its current end
 * (nothing is committed: listing changes nothing), with where and why it failed.
 * `hookline dlq redrive` sends chosen dead letters through the forwarder again, each to
 * the one destination that failed, by copying them to the forwarder's first retry topic
 * (see common/msg.h). Kafka is append-only: the dead-letter topic is never changed, so
 * redriving the same dead letter twice delivers it twice (receivers dedupe on the
 * webhook-id header, which stays the same). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/kafka.h"
#include "common/msg.h"

static const char list_usage[] =
    "Usage: hookline dlq list [--json]\n"
    "\n"
    "Lists the deliveries the forwarder gave up on (HOOKLINE_TOPIC_DEAD_LETTERS), oldest\n"
    "first per partition: webhook id, delivery id, destination, last status and error,\n"
    "and when it had been redriven before it failed again (redriven_at_ms, if it was).\n"
    "\n"
    "  --json   print a JSON array\n"
    "  --help   show this help\n";

static const char redrive_usage[] =
    "Usage: hookline dlq redrive (--webhook-id ID | --destination URL | --all) [--to URL]\n"
    "                            [--env UUID] [--integration KEY] [--connection ID]\n"
    "                            [--dry-run] [--group GROUP] [--json]\n"
    "\n"
    "Delivers dead letters again: each chosen dead letter is copied, with its value, key\n"
    "and headers (minus the dead-letter ones), to the forwarder's first retry topic\n"
    "(HOOKLINE_TOPIC_FORWARD_RETRY.<group>.1), due now and for the one destination that\n"
    "failed; the forwarder then tries it as a retry pass, with the same webhook-id, and\n"
    "dead-letters it again if it keeps failing. Waits until Kafka has stored each copy.\n"
    "The dead-letter topic is not changed (Kafka is append-only): redriving a dead letter\n"
    "twice delivers it twice (receivers dedupe on webhook-id). Within one run, the same\n"
    "delivery to the same destination is sent once.\n"
    "\n"
    "  --webhook-id ID     the dead letters of this webhook (X-Hookline-Webhook-Id)\n"
    "  --destination URL   the dead letters of this destination (filters combine: all apply)\n"
    "  --all               every dead letter\n"
    "  --env, --integration, --connection\n"
    "                      only the dead letters whose headers say so\n"
    "  --to URL            send them to URL instead (the app moved; http or https, checked\n"
    "                      like an environment's URL), signed with the environment's key\n"
    "  --dry-run           only list what would be redriven\n"
    "  --group GROUP       the forwarder's consumer group (default HOOKLINE_FORWARDER_GROUP)\n"
    "  --json              print {\"topic\", \"dry_run\", \"redriven\", \"dead_letters\": [...]}\n"
    "  --help              show this help\n";

#define ACK_TIMEOUT_MS 60000

static void set_text(json_t *row, const char *key, const char *v)
{
    json_object_set_new(row, key, v ? json_string(v) : json_null());
}

/* One dead letter as a row (new reference). */
static json_t *dead_letter_row(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    struct msg_dead_letter_view *v = malloc(sizeof *v);
    json_t *row = v ? json_object() : NULL;
    if (!row) {
        free(v);
        return NULL;
    }
    msg_dead_letter_decode(v, h);
    set_text(row, "webhook_id", v->webhook_id);
    set_text(row, "delivery_id", v->routed_id);
    set_text(row, "integration", v->integration);
    set_text(row, "connection_id", v->connection);
    set_text(row, "destination", v->destination);
    set_text(row, "status", v->status);
    set_text(row, "error", v->error);
    set_text(row, "attempts", v->attempts);
    set_text(row, "dead_lettered_at_ms", v->at);
    set_text(row, "redriven_at_ms", v->redriven_at);
    json_object_set_new(row, "partition", json_integer(rkm->partition));
    json_object_set_new(row, "offset", json_integer(rkm->offset));
    free(v);
    return row;
}

/* Calls visit for every dead letter (see cli_topic_read_all). */
static int read_dead_letters(rd_kafka_t *rk, int (*visit)(const rd_kafka_message_t *rkm, void *ctx), void *ctx)
{
    return cli_topic_read_all(rk, g_common.topic_dead_letters, visit, ctx);
}

static int append_row(const rd_kafka_message_t *rkm, void *ctx)
{
    json_t *row = dead_letter_row(rkm);
    if (!row || json_array_append_new(ctx, row) < 0) {
        cli_error("out of memory");
        return -1;
    }
    return 0;
}

int cmd_dlq_list(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    int status = CLI_FAIL;
    json_t *rows = json_array();
    rd_kafka_t *rk = rows ? cli_topic_reader_new("hookline-cli-dlq") : NULL;
    if (rk && read_dead_letters(rk, append_row, rows) == 0 && cli_print(rows, json, "no dead letters") == 0)
        status = CLI_OK;
    json_decref(rows);
    cli_topic_reader_free(rk);
    return status;
}

/* ---- redrive ------------------------------------------------------------------------ */

struct redrive {
    const char *webhook_id;                     /* NULL: any */
    const char *destination;                    /* NULL: any */
    const char *env, *integration, *connection; /* NULL: any */
    const char *to;                             /* NULL: each to the destination that failed */
    bool dry_run;
    char topic[512];
    long long now_ms; /* when the copies are due, and the time of the redrive */
    rd_kafka_t *producer;
    json_t *rows;       /* the chosen dead letters */
    json_t *seen;       /* "<delivery id> <destination>" already chosen in this run */
    long acked, failed; /* delivery reports */
};

static void on_redriven(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct redrive *rd = opaque;
    if (rkm->err) {
        rd->failed++;
        cli_error("a redriven dead letter was not stored on %s: %s", rd_kafka_topic_name(rkm->rkt),
                  rd_kafka_err2str(rkm->err));
    } else {
        rd->acked++;
    }
}

/* Copies rkm to the retry topic (queued; acknowledged later by on_redriven). 0 or -1. */
static int redrive_one(struct redrive *rd, const rd_kafka_message_t *rkm, rd_kafka_headers_t *h,
                       const char *destination)
{
    for (;;) {
        rd_kafka_headers_t *out = msg_redrive_headers(h, destination, rd->now_ms);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rd->producer, RD_KAFKA_V_TOPIC(rd->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(out),
            RD_KAFKA_V_END);
        if (!err) {
            rd_kafka_poll(rd->producer, 0);
            return 0;
        }
        rd_kafka_headers_destroy(out);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            cli_error("cannot redrive to %s: %s", rd->topic, rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(rd->producer, 100); /* wait for room */
    }
}

/* Chooses (and unless dry-run, redrives) one dead letter. */
/* A filter: want NULL (no filter) or equal to the header's value (NULL: absent). */
static bool same(const char *value, const char *want)
{
    return !want || (value && !strcmp(value, want));
}

static int redrive_visit(const rd_kafka_message_t *rkm, void *ctx)
{
    struct redrive *rd = ctx;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    struct msg_dead_letter_view *v = malloc(sizeof *v);
    if (!v) {
        cli_error("out of memory");
        return -1;
    }
    msg_dead_letter_decode(v, h);
    const char *dest = v->destination, *wid = v->webhook_id;
    char *once = NULL; /* the same delivery dead-lettered again after a redrive: send it once */
    bool skip = !dest || !*dest || (rd->webhook_id && (!wid || strcasecmp(wid, rd->webhook_id))) ||
                (rd->destination && strcmp(dest, rd->destination)) || !same(v->environment, rd->env) ||
                !same(v->integration, rd->integration) || !same(v->connection, rd->connection);
    if (rd->to)
        dest = rd->to; /* the app moved: the dead letter goes to its new URL */
    if (!dest || !*dest)
        cli_warn("dead letter at %d/%" PRId64 " names no destination: skipped", rkm->partition, rkm->offset);
    if (!skip && asprintf(&once, "%s %s", v->routed_id ? v->routed_id : "", dest) < 0) {
        free(v);
        cli_error("out of memory");
        return -1;
    }
    if (skip) {
        free(v);
        return 0;
    }
    bool again = json_object_get(rd->seen, once) != NULL;
    int rc = again ? 0 : json_object_set_new(rd->seen, once, json_true());
    free(once);
    if (again) {
        free(v);
        return 0;
    }
    if (rc < 0 || append_row(rkm, rd->rows) < 0)
        rc = -1;
    else if (!rd->dry_run)
        rc = redrive_one(rd, rkm, h, dest);
    free(v);
    return rc;
}

/* Waits for every copy's acknowledgement. 0 when all were stored. */
static int redrive_wait(struct redrive *rd)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(rd->producer, ACK_TIMEOUT_MS);
    if (err) {
        cli_error("Kafka did not acknowledge %d redriven dead letter(s) within %d s", rd_kafka_outq_len(rd->producer),
                  ACK_TIMEOUT_MS / 1000);
        return -1;
    }
    return rd->failed ? -1 : 0;
}

static int redrive_report(const struct redrive *rd, bool json)
{
    size_t n = json_array_size(rd->rows);
    if (json) {
        json_t *out = json_pack("{s:s, s:b, s:I, s:O}", "topic", rd->topic, "dry_run", rd->dry_run, "redriven",
                                (json_int_t)(rd->dry_run ? 0 : rd->acked), "dead_letters", rd->rows);
        int rc = out ? cli_print(out, true, "") : -1;
        json_decref(out);
        return rc;
    }
    if (n && cli_print(rd->rows, false, "") < 0)
        return -1;
    if (rd->dry_run)
        printf("would redrive %zu dead letter(s) to %s (dry run: nothing sent)\n", n, rd->topic);
    else
        printf("redriven %ld dead letter(s) to %s\n", rd->acked, rd->topic);
    return 0;
}

int cmd_dlq_redrive(int argc, char **argv)
{
    bool json = false, all = false;
    struct redrive rd = {0};
    const char *group = g_cli.forwarder_group;
    const struct cli_opt opts[] = {
        {"webhook-id", CLI_OPT_STRING, &rd.webhook_id, false},
        {"destination", CLI_OPT_STRING, &rd.destination, false},
        {"all", CLI_OPT_FLAG, &all, false},
        {"dry-run", CLI_OPT_FLAG, &rd.dry_run, false},
        {"group", CLI_OPT_STRING, &group, false},
        {"json", CLI_OPT_FLAG, &json, false},
        {"to", CLI_OPT_URL, &rd.to, false},
        {"env", CLI_OPT_ENV_ID, &rd.env, false},
        {"integration", CLI_OPT_STRING, &rd.integration, false},
        {"connection", CLI_OPT_STRING, &rd.connection, false},
    };
    int parsed = cli_parse_options(argc, argv, redrive_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    bool chosen = rd.webhook_id || rd.destination || rd.env || rd.integration || rd.connection;
    if (all == chosen)
        return cli_usage_error(argv[0], all ? "--all goes alone, without a filter"
                                            : "choose the dead letters: --webhook-id, --destination, --env, "
                                              "--integration, --connection or --all");
    if (rd.to && strlen(rd.to) > OUTBOUND_URL_MAX)
        return cli_usage_error(argv[0], "--to is %zu bytes long: a URL may have at most %d", strlen(rd.to),
                               OUTBOUND_URL_MAX);
    if (rd.webhook_id && !id_is_uuid(rd.webhook_id))
        return cli_usage_error(argv[0], "--webhook-id '%s' is not a webhook id (a UUID)", rd.webhook_id);
    if (!msg_retry_group_valid(group) ||
        msg_retry_topic(rd.topic, sizeof rd.topic, g_cli.retry_topic_prefix, group, 1) < 0)
        return cli_usage_error(argv[0], "--group '%s' cannot name a retry topic: use letters, digits, '.', '_', '-'",
                               group);
    rd.now_ms = clock_unix_ms();

    int status = CLI_FAIL;
    char errstr[512];
    rd.rows = json_array();
    rd.seen = json_object();
    rd_kafka_t *rk = rd.rows && rd.seen ? cli_topic_reader_new("hookline-cli-dlq") : NULL;
    if (!rk)
        goto out;
    /* The forwarder creates its retry topics: a missing one is a wrong group or prefix. */
    if (!rd.dry_run && cli_topic_partitions(rk, rd.topic, NULL) < 0) {
        cli_error("is a forwarder of group '%s' running? It creates %s (see --group, HOOKLINE_TOPIC_FORWARD_RETRY)",
                  group, rd.topic);
        goto out;
    }
    if (!rd.dry_run) {
        rd.producer = kafka_producer_new("hookline-cli", on_redriven, &rd, errstr, sizeof errstr);
        if (!rd.producer) {
            cli_error("cannot create a Kafka producer: %s", errstr);
            goto out;
        }
    }
    int read = read_dead_letters(rk, redrive_visit, &rd);
    /* Wait for what was sent even when reading stopped half-way, to report it truly. */
    if (rd.producer && redrive_wait(&rd) < 0)
        read = -1;
    if (read == 0 && json_array_size(rd.rows) == 0 && !all) {
        cli_error("no dead letter matches%s%s%s%s", rd.webhook_id ? " webhook " : "",
                  rd.webhook_id ? rd.webhook_id : "", rd.destination ? " destination " : "",
                  rd.destination ? rd.destination : "");
        goto out;
    }
    if (redrive_report(&rd, json) == 0 && read == 0)
        status = CLI_OK;
out:
    if (rd.producer)
        rd_kafka_destroy(rd.producer);
    cli_topic_reader_free(rk);
    json_decref(rd.seen);
    json_decref(rd.rows);
    return status;
}
