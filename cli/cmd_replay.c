/* cmd_replay: `hookline replay`, a time window of one stage's input sent through that
 * stage again. The input (webhooks.raw for the router, webhooks.routed for the
 * forwarder and the syncer) is read from the first offset at or after --from
 * (rd_kafka_offsets_for_times) to the last before --to, each message is kept or not by
 * its headers, and a kept one is copied, key, value and headers unchanged, to the
 * stage's replay topic (HOOKLINE_TOPIC_REPLAY_<STAGE>), which only that stage reads
 * besides its input: a replay for the forwarder starts no sync run, and the reverse.
 * The copies carry MSG_H_REPLAY_ID (one id per replay) and MSG_H_REPLAY_OF (where the
 * original is): the router lets them past its duplicate suppression, the forwarder
 * sends the id to the app as X-Hookline-Replay-Id beside the same webhook-id.
 *
 * Nothing is committed: the reading consumer's group is never used for offsets. The
 * end of each partition is fixed when the replay starts, so the copies a router replay
 * makes (on webhooks.routed) are never read again by the same replay. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/kafka.h"
#include "common/msg.h"

static const char usage[] =
    "Usage: hookline replay --stage router|forwarder|syncer --from TIME [--to TIME]\n"
    "                       [--env UUID] [--integration KEY] [--provider NAME]\n"
    "                       [--connection ID] [--event-type TYPE] [--webhook-id ID]...\n"
    "                       [--rate N/s] [--dry-run] [--json]\n"
    "\n"
    "Sends the webhooks one stage received between --from and --to through that stage\n"
    "again: the router's input (HOOKLINE_TOPIC_RAW) for --stage router, the routed topic\n"
    "for --stage forwarder or syncer. Each chosen message is copied unchanged to the\n"
    "stage's replay topic (HOOKLINE_TOPIC_REPLAY_<STAGE>), which only that stage reads, with\n"
    "a replay id: apps receive the same webhook-id plus X-Hookline-Replay-Id. A forwarder\n"
    "replay starts no sync run and a syncer replay delivers nothing to apps (the syncer\n"
    "starts a run only where none exists for the delivery). A router replay attributes\n"
    "again and sends the result to both (the router's duplicate suppression lets it by).\n"
    "What can be replayed is what the topic still holds (its retention: `topics describe`).\n"
    "\n"
    "  --from TIME         RFC 3339 (2026-12-03T14:00:00Z, or with +02:00) or relative to\n"
    "                      now (-2h, -30m, -90s, -1d); required\n"
    "  --to TIME           the same; default now\n"
    "  --env, --integration, --provider, --connection, --event-type\n"
    "                      only messages whose header says so (--connection and\n"
    "                      --event-type: forwarder and syncer only, the raw topic has neither)\n"
    "  --webhook-id ID     only this webhook (repeatable)\n"
    "  --rate N/s          publish at most N messages a second (default: no limit)\n"
    "  --dry-run           read and count, publish nothing\n"
    "  --json              print the final counts as JSON\n"
    "  --help              show this help\n"
    "\n"
    "Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise).\n"
    "Ctrl-C stops cleanly: what was published stays published, and the offsets where each\n"
    "partition stopped are printed.\n";

#define WEBHOOK_IDS_MAX 64
#define POLL_MS 1000
#define IDLE_GIVE_UP_MS 30000
#define ACK_TIMEOUT_MS 30000

enum stage { STAGE_ROUTER = 0, STAGE_FORWARDER, STAGE_SYNCER };
static const char *const stage_names[] = {"router", "forwarder", "syncer"};

struct filters {
    const char *env, *integration, *provider, *connection, *event_type;
    const char *webhook_ids[WEBHOOK_IDS_MAX];
    size_t nwebhook_ids;
};

/* One partition of the range: [next, end) still to read. */
struct part {
    int32_t partition;
    int64_t start, next, end;
};

struct replay {
    const char *source, *target;
    struct filters f;
    bool dry_run;
    double rate;
    char replay_id[ID_LEN + 1];
    rd_kafka_t *producer;
    long read, matched, published, acked, failed;
    int64_t total;
    double started;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- time ---------------------------------------------------------------------- */

int cli_parse_time_ms(const char *s, int64_t now_ms, int64_t *out)
{
    if (!strcmp(s, "now")) {
        *out = now_ms;
        return 0;
    }
    if (s[0] == '-' || s[0] == '+') {
        char *end;
        errno = 0;
        long long v = strtoll(s + 1, &end, 10);
        if (end == s + 1 || errno || v < 0 || v > 100000000LL)
            return -1;
        long long unit = !strcmp(end, "s")   ? 1000
                         : !strcmp(end, "m") ? 60000
                         : !strcmp(end, "h") ? 3600000
                         : !strcmp(end, "d") ? 86400000LL
                                             : 0;
        if (!unit)
            return -1;
        *out = now_ms + (s[0] == '-' ? -1 : 1) * v * unit;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        rest = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!rest)
        return -1;
    long long ms = 0;
    if (*rest == '.') {
        long long scale = 100;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
            ms += (*rest - '0') * scale;
    }
    long long offset_s = 0;
    if (*rest == 'Z' || *rest == 'z') {
        rest++;
    } else if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
        int hh, mm;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
            return -1;
        offset_s = (rest[0] == '+' ? 1 : -1) * (hh * 3600LL + mm * 60LL);
        rest += 6;
    } else {
        return -1; /* RFC 3339 requires the offset */
    }
    if (*rest)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = ((long long)t - offset_s) * 1000 + ms;
    return 0;
}

/* ---- filters ------------------------------------------------------------------- */

bool cli_header_is(rd_kafka_headers_t *h, const char *name, const char *want)
{
    char buf[512];
    if (!want)
        return true;
    const char *v = msg_header(h, name, buf, sizeof buf);
    return v && !strcmp(v, want);
}

static bool matches(const struct filters *f, const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h))
        h = NULL;
    if (!cli_header_is(h, MSG_H_ENVIRONMENT, f->env) || !cli_header_is(h, MSG_H_INTEGRATION, f->integration) ||
        !cli_header_is(h, MSG_H_PROVIDER, f->provider) || !cli_header_is(h, MSG_H_CONNECTION, f->connection) ||
        !cli_header_is(h, MSG_H_EVENT_TYPE, f->event_type))
        return false;
    if (f->nwebhook_ids == 0)
        return true;
    char wid[128];
    if (!msg_header(h, MSG_H_WEBHOOK_ID, wid, sizeof wid))
        return false;
    for (size_t i = 0; i < f->nwebhook_ids; i++)
        if (!strcasecmp(wid, f->webhook_ids[i]))
            return true;
    return false;
}

/* ---- publishing ------------------------------------------------------------------ */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct replay *r = opaque;
    if (rkm->err) {
        r->failed++;
        cli_error("a replayed message was not stored on %s: %s", rd_kafka_topic_name(rkm->rkt),
                  rd_kafka_err2str(rkm->err));
    } else {
        r->acked++;
    }
}

/* Copies rkm to the replay topic with the replay headers (earlier ones replaced). */
static int publish_copy(struct replay *r, const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(rkm, &orig))
        orig = NULL;
    rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(4);
    if (!h)
        return -1;
    rd_kafka_header_remove(h, MSG_H_REPLAY_ID);
    rd_kafka_header_remove(h, MSG_H_REPLAY_OF);
    char of[300];
    snprintf(of, sizeof of, "%s/%" PRId32 "/%" PRId64, r->source, rkm->partition, rkm->offset);
    rd_kafka_header_add(h, MSG_H_REPLAY_ID, -1, r->replay_id, -1);
    rd_kafka_header_add(h, MSG_H_REPLAY_OF, -1, of, -1);
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            r->producer, RD_KAFKA_V_TOPIC(r->target), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 100) {
            rd_kafka_headers_destroy(h);
            cli_error("cannot queue a copy for %s: %s", r->target, rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(r->producer, 100);
    }
}

/* Sleeps as long as --rate asks before the next message is published. */
static void pace(struct replay *r)
{
    if (r->rate <= 0)
        return;
    for (int i = 0; i < 10000 && !interrupted; i++) {
        double due = r->started + (double)r->published / r->rate;
        double wait = due - clock_mono_s();
        if (wait <= 0)
            return;
        rd_kafka_poll(r->producer, (int)(wait * 1000) < 100 ? (int)(wait * 1000) + 1 : 100);
    }
}

/* ---- progress -------------------------------------------------------------------- */

static void progress(const struct replay *r, bool tty, bool last)
{
    double el = clock_mono_s() - r->started;
    double rate = el > 0 ? (double)r->read / el : 0;
    double eta = rate > 0 ? (double)(r->total - r->read) / rate : 0;
    if (tty) {
        int width = 30, filled = r->total > 0 ? (int)((double)r->read * width / (double)r->total) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] read %ld/%" PRId64 "  matched %ld  published %ld  %.0f/s  ETA %.0fs   %s", bar, r->read,
                r->total, r->matched, r->published, rate, eta, last ? "\n" : "");
    } else {
        fprintf(stderr, "replay: read %ld of %" PRId64 ", matched %ld, published %ld, %.0f/s, ETA %.0f s\n", r->read,
                r->total, r->matched, r->published, rate, eta);
    }
}

/* ---- the range ------------------------------------------------------------------- */

/* The [start, end) offsets of every partition of the source for [from_ms, to_ms). */
static int find_range(rd_kafka_t *rk, const char *topic, int64_t from_ms, int64_t to_ms, struct part **parts,
                      int *nparts)
{
    rd_kafka_topic_partition_list_t *from = NULL;
    int n = cli_topic_partitions(rk, topic, &from);
    if (n < 0)
        return -1;
    rd_kafka_topic_partition_list_t *to = rd_kafka_topic_partition_list_copy(from);
    for (int i = 0; i < n; i++) {
        from->elems[i].offset = from_ms;
        to->elems[i].offset = to_ms;
    }
    int rc = -1;
    struct part *p = calloc((size_t)n, sizeof *p);
    rd_kafka_resp_err_t err = p ? rd_kafka_offsets_for_times(rk, from, 15000) : RD_KAFKA_RESP_ERR__NOENT;
    if (!err)
        err = rd_kafka_offsets_for_times(rk, to, 15000);
    if (err) {
        cli_error("cannot find the offsets of %s by time: %s", topic, rd_kafka_err2str(err));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        err = rd_kafka_query_watermark_offsets(rk, topic, from->elems[i].partition, &lo, &hi, 15000);
        if (err) {
            cli_error("cannot read the offsets of %s [%d]: %s", topic, from->elems[i].partition, rd_kafka_err2str(err));
            goto out;
        }
        /* -1: no message at or after that time. */
        int64_t s = from->elems[i].err || from->elems[i].offset < 0 ? hi : from->elems[i].offset;
        int64_t e = to->elems[i].err || to->elems[i].offset < 0 ? hi : to->elems[i].offset;
        p[i] = (struct part){from->elems[i].partition, s, s, e < s ? s : (e > hi ? hi : e)};
    }
    *parts = p;
    *nparts = n;
    p = NULL;
    rc = 0;
out:
    free(p);
    rd_kafka_topic_partition_list_destroy(from);
    rd_kafka_topic_partition_list_destroy(to);
    return rc;
}

static int assign_range(rd_kafka_t *rk, const char *topic, struct part *p, int n, int64_t *total)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    *total = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].end > p[i].start) {
            rd_kafka_topic_partition_list_add(l, topic, p[i].partition)->offset = p[i].start;
            *total += p[i].end - p[i].start;
        }
    }
    rd_kafka_resp_err_t err = l->cnt ? rd_kafka_assign(rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        cli_error("cannot assign %s: %s", topic, rd_kafka_err2str(err));
    return err ? -1 : 0;
}

static struct part *part_of(struct part *p, int n, int32_t partition)
{
    for (int i = 0; i < n; i++)
        if (p[i].partition == partition)
            return &p[i];
    return NULL;
}

static bool all_done(const struct part *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i].next < p[i].end)
            return false;
    return true;
}

/* Reads every partition's range; 0 done (or interrupted), -1 failed. */
static int read_range(rd_kafka_t *rk, struct replay *r, struct part *p, int n)
{
    bool tty = isatty(STDERR_FILENO);
    double next_report = clock_mono_s() + (tty ? 0.2 : 5);
    double idle_since = clock_mono_s();
    while (!interrupted && !all_done(p, n)) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, POLL_MS);
        if (r->producer)
            rd_kafka_poll(r->producer, 0);
        if (clock_mono_s() >= next_report) {
            progress(r, tty, false);
            next_report = clock_mono_s() + (tty ? 0.2 : 5);
        }
        if (!rkm) {
            if (clock_mono_s() - idle_since > IDLE_GIVE_UP_MS / 1000.0) {
                cli_error("no message from Kafka in %d s while %" PRId64 " remain", IDLE_GIVE_UP_MS / 1000,
                          r->total - r->read);
                return -1;
            }
            continue;
        }
        idle_since = clock_mono_s();
        bool eof = rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        struct part *pp = rkm->err && !eof ? NULL : part_of(p, n, rkm->partition);
        int rc = 0;
        if (rkm->err && !eof) {
            cli_warn("%s", rd_kafka_message_errstr(rkm));
        } else if (eof) {
            if (pp && rkm->offset >= pp->end)
                pp->next = pp->end > pp->next ? pp->end : pp->next; /* nothing left up to the end */
        } else if (pp && rkm->offset >= pp->next && rkm->offset < pp->end) {
            bool match = matches(&r->f, rkm);
            if (match && r->producer)
                pace(r);
            if (!interrupted) { /* else left for the next replay: where it stopped */
                r->read++;
                pp->next = rkm->offset + 1;
                r->matched += match;
                if (match && r->producer) {
                    rc = publish_copy(r, rkm);
                    r->published += rc == 0;
                }
            }
        } else if (pp && rkm->offset >= pp->end) {
            pp->next = pp->end;
        }
        rd_kafka_message_destroy(rkm);
        if (rc < 0)
            return -1;
    }
    if (!all_done(p, n) && !interrupted)
        return -1;
    progress(r, tty, true);
    return 0;
}

/* ---- the command ----------------------------------------------------------------- */

/* Every --webhook-id of argv (the option table keeps only the last). */
static int collect_webhook_ids(int argc, char **argv, struct filters *f)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--webhook-id") && i + 1 < argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--webhook-id=", 13))
            v = argv[i] + 13;
        if (!v)
            continue;
        if (f->nwebhook_ids >= WEBHOOK_IDS_MAX)
            return cli_usage_error(argv[0], "at most %d --webhook-id", WEBHOOK_IDS_MAX);
        if (!id_is_uuid(v))
            return cli_usage_error(argv[0], "--webhook-id '%s' is not a webhook id (a UUID)", v);
        f->webhook_ids[f->nwebhook_ids++] = v;
    }
    return -1;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0 && v <= 1e6) || (*end && strcmp(end, "/s")))
        return -1;
    *out = v;
    return 0;
}

static int print_result(const struct replay *r, const struct part *p, int n, bool json, const char *stage)
{
    json_t *stopped = json_array();
    for (int i = 0; stopped && i < n; i++)
        if (p[i].next < p[i].end)
            json_array_append_new(stopped, json_pack("{s:i, s:I, s:I}", "partition", (int)p[i].partition, "next_offset",
                                                     (json_int_t)p[i].next, "end_offset", (json_int_t)p[i].end));
    int rc = 0;
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b, s:O}", "stage", stage, "source", r->source,
                              "target", r->target, "replay_id", r->replay_id, "read", (json_int_t)r->read, "matched",
                              (json_int_t)r->matched, "published", (json_int_t)r->acked, "dry_run", r->dry_run,
                              "interrupted", interrupted != 0, "stopped_at", stopped);
        rc = o ? cli_print(o, true, "") : -1;
        json_decref(o);
    } else {
        if (interrupted) {
            printf("interrupted: stopped reading %s at", r->source);
            for (size_t i = 0; i < json_array_size(stopped); i++) {
                json_t *s = json_array_get(stopped, i);
                printf(" [%d] offset %" JSON_INTEGER_FORMAT " (of %" JSON_INTEGER_FORMAT ")",
                       (int)json_integer_value(json_object_get(s, "partition")),
                       json_integer_value(json_object_get(s, "next_offset")),
                       json_integer_value(json_object_get(s, "end_offset")));
            }
            printf("\n");
        }
        if (r->dry_run)
            printf("dry run: read %ld, %ld would be replayed to the %s (nothing published)\n", r->read, r->matched,
                   stage);
        else
            printf("replay %s: read %ld, matched %ld, published %ld to %s\n", r->replay_id, r->read, r->matched,
                   r->acked, r->target);
    }
    json_decref(stopped);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    struct replay r = {0};
    const char *stage = NULL, *from_text = NULL, *to_text = "now", *rate_text = NULL, *one_wid = NULL;
    bool json = false;
    const struct cli_opt opts[] = {
        {"stage", CLI_OPT_STRING, &stage, true},
        {"from", CLI_OPT_STRING, &from_text, true},
        {"to", CLI_OPT_STRING, &to_text, false},
        {"env", CLI_OPT_ENV_ID, &r.f.env, false},
        {"integration", CLI_OPT_STRING, &r.f.integration, false},
        {"provider", CLI_OPT_STRING, &r.f.provider, false},
        {"connection", CLI_OPT_STRING, &r.f.connection, false},
        {"event-type", CLI_OPT_STRING, &r.f.event_type, false},
        {"webhook-id", CLI_OPT_STRING, &one_wid, false},
        {"rate", CLI_OPT_STRING, &rate_text, false},
        {"dry-run", CLI_OPT_FLAG, &r.dry_run, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if ((parsed = collect_webhook_ids(argc, argv, &r.f)) >= 0)
        return parsed;
    int s = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(stage, stage_names[i]))
            s = i;
    if (s < 0)
        return cli_usage_error(argv[0], "--stage is router, forwarder or syncer, not '%s'", stage);
    if (s == STAGE_ROUTER && (r.f.connection || r.f.event_type))
        return cli_usage_error(argv[0],
                               "--connection and --event-type need --stage forwarder or syncer: the "
                               "router's input is not attributed yet");
    int64_t now = clock_unix_ms(), from_ms, to_ms;
    if (cli_parse_time_ms(from_text, now, &from_ms) < 0)
        return cli_usage_error(argv[0], "--from '%s' is not RFC 3339 (2026-12-03T14:00:00Z) nor like -2h", from_text);
    if (cli_parse_time_ms(to_text, now, &to_ms) < 0)
        return cli_usage_error(argv[0], "--to '%s' is not RFC 3339 (2026-12-03T14:00:00Z) nor like -2h", to_text);
    if (to_ms <= from_ms)
        return cli_usage_error(argv[0], "--to must be after --from");
    if (rate_text && parse_rate(rate_text, &r.rate) < 0)
        return cli_usage_error(argv[0], "--rate wants messages a second, like 100/s, not '%s'", rate_text);

    r.source = s == STAGE_ROUTER ? g_common.topic_raw : g_common.topic_routed;
    r.target = g_cli.topic_replay[s];
    if (id_new(r.replay_id) < 0) {
        cli_error("cannot make a replay id");
        return CLI_FAIL;
    }
    int status = CLI_FAIL;
    char errstr[512];
    struct part *parts = NULL;
    int nparts = 0;
    rd_kafka_t *rk = cli_topic_reader_new("hookline-cli-replay");
    if (!rk)
        goto out;
    if (!r.dry_run && !(r.producer = kafka_producer_new("hookline-cli", on_delivery, &r, errstr, sizeof errstr))) {
        cli_error("cannot create a Kafka producer: %s", errstr);
        goto out;
    }
    if (r.producer && cli_topic_partitions(rk, r.target, NULL) < 0) {
        cli_error("the replay topic %s is missing: run `hookline topics ensure` (or create)", r.target);
        goto out;
    }
    if (find_range(rk, r.source, from_ms, to_ms, &parts, &nparts) < 0 ||
        assign_range(rk, r.source, parts, nparts, &r.total) < 0)
        goto out;
    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    r.started = clock_mono_s();
    int rc = read_range(rk, &r, parts, nparts);
    if (r.producer && rd_kafka_flush(r.producer, ACK_TIMEOUT_MS)) {
        cli_error("Kafka did not acknowledge %d replayed message(s) within %d s", rd_kafka_outq_len(r.producer),
                  ACK_TIMEOUT_MS / 1000);
        rc = -1;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (print_result(&r, parts, nparts, json, stage_names[s]) < 0)
        rc = -1;
    if (rc == 0 && r.failed == 0)
        status = interrupted ? CLI_FAIL : CLI_OK;
out:
    if (r.producer)
        rd_kafka_destroy(r.producer);
    cli_topic_reader_free(rk);
    free(parts);
    return status;
}
