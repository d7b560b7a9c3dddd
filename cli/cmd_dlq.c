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
#include "common/kafka.h"
#include "common/msg.h"
#include "common/replay.h"

/* The filters list and redrive share; they are replay's (common/replay.h: the same
 * headers, matched by the same code), plus the destination and the dead letter's time. */
#define FILTER_USAGE                                                                                                   \
    "  --env, --integration, --provider, --connection, --event-type\n"                                                 \
    "                      only the dead letters whose headers say so (as `hookline replay`)\n"                        \
    "  --webhook-id ID     only this webhook (X-Hookline-Webhook-Id; repeatable)\n"                                    \
    "  --destination URL   only the dead letters of this destination\n"                                                \
    "  --from TIME         only those dead-lettered at or after TIME: RFC 3339\n"                                      \
    "                      (2026-12-03T14:00:00Z) or relative to now (-2h, -30m, -1d)\n"                               \
    "  --until TIME        ... and before TIME (like replay's --to, which names the new URL\n"                         \
    "                      here); filters combine: all apply\n"

static const char list_usage[] =
    "Usage: hookline dlq list [--env UUID] [--integration KEY] [--provider NAME]\n"
    "                         [--connection ID] [--event-type TYPE] [--webhook-id ID]...\n"
    "                         [--destination URL] [--from TIME] [--until TIME] [--json]\n"
    "\n"
    "Lists the deliveries the forwarder gave up on (HOOKLINE_TOPIC_DEAD_LETTERS), oldest\n"
    "first per partition: webhook id, delivery id, destination, last status and error,\n"
    "and when it had been redriven before it failed again (redriven_at_ms, if it was).\n"
    "\n" FILTER_USAGE
    "  --json              print a JSON array\n"
    "  --help              show this help\n";

static const char redrive_usage[] =
    "Usage: hookline dlq redrive (FILTER... | --all) [--to URL] [--rate N/s]\n"
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
    "FILTER (at least one, or --all):\n" FILTER_USAGE
    "  --all               every dead letter\n"
    "  --to URL            send them to URL instead (the app moved; http or https, checked\n"
    "                      like an environment's URL), signed with the environment's key\n"
    "  --rate N/s          redrive at most N dead letters a second (default: no limit)\n"
    "  --dry-run           only list what would be redriven\n"
    "  --group GROUP       the forwarder's consumer group (default HOOKLINE_FORWARDER_GROUP)\n"
    "  --json              print {\"topic\", \"dry_run\", \"redriven\", \"dead_letters\": [...]}\n"
    "  --help              show this help\n";

#define ACK_TIMEOUT_MS 60000

/* Which dead letters a command chooses. */
struct dlq_filter {
    struct replay_filters f;
    const char *destination;                  /* NULL: any */
    const char *from_text, *until_text, *wid; /* as given (wid: the last --webhook-id) */
    int64_t from_ms, until_ms;                /* [from, until) by the dead letter's time */
};

/* Puts the filter options into o (room for 9); returns how many. */
static size_t filter_opts(struct cli_opt *o, struct dlq_filter *d)
{
    const struct cli_opt f[] = {
        {"env", CLI_OPT_ENV_ID, &d->f.env, false},
        {"integration", CLI_OPT_STRING, &d->f.integration, false},
        {"provider", CLI_OPT_STRING, &d->f.provider, false},
        {"connection", CLI_OPT_STRING, &d->f.connection, false},
        {"event-type", CLI_OPT_STRING, &d->f.event_type, false},
        {"webhook-id", CLI_OPT_STRING, &d->wid, false}, /* all of them: filter_parsed */
        {"destination", CLI_OPT_STRING, &d->destination, false},
        {"from", CLI_OPT_STRING, &d->from_text, false},
        {"until", CLI_OPT_STRING, &d->until_text, false},
    };
    memcpy(o, f, sizeof f);
    return CLI_OPTS_N(f);
}

/* After cli_parse_options: every --webhook-id and the time window. -1 to go on, else the
 * exit status. */
static int filter_parsed(int argc, char **argv, struct dlq_filter *d)
{
    d->from_ms = INT64_MIN;
    d->until_ms = INT64_MAX;
    int st = cli_filter_webhook_ids(argc, argv, &d->f);
    if (st < 0 && (d->from_text || d->until_text))
        st = cli_filter_window(argv[0], "--from", d->from_text, "--until", d->until_text, clock_unix_ms(), &d->from_ms,
                               &d->until_ms);
    return st;
}

static bool filter_given(const struct dlq_filter *d)
{
    const struct replay_filters *f = &d->f;
    return f->env || f->integration || f->provider || f->connection || f->event_type || f->nwebhook_ids ||
           d->destination || d->from_text || d->until_text;
}

/* True when the dead letter rkm (its headers h, decoded as v) passes every filter. */
static bool filter_match(const struct dlq_filter *d, rd_kafka_headers_t *h, const struct msg_dead_letter_view *v,
                         const rd_kafka_message_t *rkm)
{
    if (!replay_filters_match(&d->f, h) ||
        (d->destination && (!v->destination || strcmp(v->destination, d->destination))))
        return false;
    if (d->from_ms == INT64_MIN && d->until_ms == INT64_MAX)
        return true;
    /* When it was dead-lettered; a dead letter without that header, by its Kafka time. */
    int64_t at = v->at ? strtoll(v->at, NULL, 10) : rd_kafka_message_timestamp(rkm, NULL);
    return at >= d->from_ms && at < d->until_ms;
}

static void set_text(json_t *row, const char *key, const char *v)
{
    json_object_set_new(row, key, v ? json_string(v) : json_null());
}

/* rkm's headers (*h, borrowed) decoded: a new view (free it), or NULL after printing why. */
static struct msg_dead_letter_view *decode(const rd_kafka_message_t *rkm, rd_kafka_headers_t **h)
{
    if (rd_kafka_message_headers(rkm, h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        *h = NULL;
    struct msg_dead_letter_view *v = malloc(sizeof *v);
    if (v)
        msg_dead_letter_decode(v, *h);
    else
        cli_error("out of memory");
    return v;
}

/* One dead letter as a row (new reference). */
static json_t *dead_letter_row(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h;
    struct msg_dead_letter_view *v = decode(rkm, &h);
    json_t *row = v ? json_object() : NULL;
    if (!row) {
        free(v);
        return NULL;
    }
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

struct list {
    struct dlq_filter d;
    json_t *rows;
};

static int list_visit(const rd_kafka_message_t *rkm, void *ctx)
{
    struct list *l = ctx;
    rd_kafka_headers_t *h;
    struct msg_dead_letter_view *v = decode(rkm, &h);
    if (!v)
        return -1;
    bool chosen = filter_match(&l->d, h, v, rkm);
    free(v);
    return chosen ? append_row(rkm, l->rows) : 0;
}

int cmd_dlq_list(int argc, char **argv)
{
    bool json = false;
    struct list l = {0};
    struct cli_opt opts[16];
    size_t n = filter_opts(opts, &l.d);
    opts[n++] = (struct cli_opt){"json", CLI_OPT_FLAG, &json, false};
    int parsed = cli_parse_options(argc, argv, list_usage, opts, n);
    if (parsed < 0)
        parsed = filter_parsed(argc, argv, &l.d);
    if (parsed >= 0)
        return parsed;

    int status = CLI_FAIL;
    l.rows = json_array();
    rd_kafka_t *rk = l.rows ? cli_topic_reader_new("hookline-cli-dlq") : NULL;
    if (rk && read_dead_letters(rk, list_visit, &l) == 0 &&
        cli_print(l.rows, json, filter_given(&l.d) ? "no dead letter matches" : "no dead letters") == 0)
        status = CLI_OK;
    json_decref(l.rows);
    cli_topic_reader_free(rk);
    return status;
}

/* ---- redrive ------------------------------------------------------------------------ */

struct redrive {
    struct dlq_filter d;
    const char *to; /* NULL: each to the destination that failed */
    bool dry_run;
    double rate; /* redrives a second at most; 0: no limit */
    char topic[512];
    long long now_ms; /* when the copies are due, and the time of the redrive */
    double started;   /* clock_mono_s() when the first copy was queued, for --rate */
    rd_kafka_t *producer;
    json_t *rows;       /* the chosen dead letters */
    json_t *seen;       /* "<delivery id> <destination>" already chosen in this run */
    long queued;        /* copies handed to the producer */
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

/* With --rate, waits (serving delivery reports) until the next copy is due. */
static void pace(struct redrive *rd)
{
    if (rd->rate <= 0)
        return;
    if (!rd->queued)
        rd->started = clock_mono_s();
    for (;;) {
        double wait = rd->started + (double)rd->queued / rd->rate - clock_mono_s();
        if (wait <= 0)
            return;
        rd_kafka_poll(rd->producer, wait < 0.1 ? (int)(wait * 1000) + 1 : 100);
    }
}

/* Copies rkm to the retry topic (queued; acknowledged later by on_redriven). 0 or -1. */
static int redrive_one(struct redrive *rd, const rd_kafka_message_t *rkm, rd_kafka_headers_t *h,
                       const char *destination)
{
    pace(rd);
    for (;;) {
        rd_kafka_headers_t *out = msg_redrive_headers(h, destination, rd->now_ms);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rd->producer, RD_KAFKA_V_TOPIC(rd->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_HEADERS(out),
            RD_KAFKA_V_END);
        if (!err) {
            rd->queued++;
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
static int redrive_visit(const rd_kafka_message_t *rkm, void *ctx)
{
    struct redrive *rd = ctx;
    rd_kafka_headers_t *h;
    struct msg_dead_letter_view *v = decode(rkm, &h);
    if (!v)
        return -1;
    const char *dest = v->destination;
    char *once = NULL; /* the same delivery dead-lettered again after a redrive: send it once */
    bool skip = !dest || !*dest || !filter_match(&rd->d, h, v, rkm);
    if (rd->to)
        dest = rd->to; /* the app moved: the dead letter goes to its new URL */
    if (!dest || !*dest)
        cli_warn("dead letter at %d/%" PRId64 " names no destination: skipped", rkm->partition, rkm->offset);
    int rc = 0;
    if (!skip && asprintf(&once, "%s %s", v->routed_id ? v->routed_id : "", dest) < 0) {
        once = NULL; /* undefined after a failure */
        cli_error("out of memory");
        rc = -1;
    } else if (!skip && !json_object_get(rd->seen, once)) {
        if (json_object_set_new(rd->seen, once, json_true()) < 0 || append_row(rkm, rd->rows) < 0)
            rc = -1;
        else if (!rd->dry_run)
            rc = redrive_one(rd, rkm, h, dest); /* dest may point into v: freed below */
    }
    free(once);
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

/* Parses redrive's command line into rd (and *json); -1 to go on, else the exit status. */
static int redrive_options(int argc, char **argv, struct redrive *rd, const char **group, bool *json)
{
    bool all = false;
    const char *rate_text = NULL;
    struct cli_opt opts[16];
    size_t n = filter_opts(opts, &rd->d);
    const struct cli_opt more[] = {
        {"all", CLI_OPT_FLAG, &all, false},      {"dry-run", CLI_OPT_FLAG, &rd->dry_run, false},
        {"group", CLI_OPT_STRING, group, false}, {"json", CLI_OPT_FLAG, json, false},
        {"to", CLI_OPT_URL, &rd->to, false},     {"rate", CLI_OPT_STRING, &rate_text, false},
    };
    memcpy(opts + n, more, sizeof more);
    n += CLI_OPTS_N(more);
    int st = cli_parse_options(argc, argv, redrive_usage, opts, n);
    if (st < 0)
        st = filter_parsed(argc, argv, &rd->d);
    if (st < 0)
        st = cli_filter_rate(argv[0], rate_text, &rd->rate);
    if (st >= 0)
        return st;
    if (all == filter_given(&rd->d))
        return cli_usage_error(argv[0], all ? "--all goes alone, without a filter"
                                            : "choose the dead letters: --env, --integration, --provider, "
                                              "--connection, --event-type, --webhook-id, --destination, --from, "
                                              "--until, or --all");
    if (rd->to && strlen(rd->to) > OUTBOUND_URL_MAX)
        return cli_usage_error(argv[0], "--to is %zu bytes long: a URL may have at most %d", strlen(rd->to),
                               OUTBOUND_URL_MAX);
    if (!msg_retry_group_valid(*group) ||
        msg_retry_topic(rd->topic, sizeof rd->topic, g_cli.retry_topic_prefix, *group, 1) < 0)
        return cli_usage_error(argv[0], "--group '%s' cannot name a retry topic: use letters, digits, '.', '_', '-'",
                               *group);
    return -1;
}

int cmd_dlq_redrive(int argc, char **argv)
{
    bool json = false;
    struct redrive rd = {0};
    const char *group = g_cli.forwarder_group;
    int parsed = redrive_options(argc, argv, &rd, &group, &json);
    if (parsed >= 0)
        return parsed;
    bool all = !filter_given(&rd.d);
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
        cli_error("no dead letter matches the filters");
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
