/* replay: the engine (see replay.h). One replay owns its two Kafka clients (a reader
 * that commits nothing and, unless a dry run, a producer) for its whole run, so
 * several replays may run at once in one process. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/msg.h"
#include "common/replay.h"

#define POLL_MS 1000
#define IDLE_GIVE_UP_MS 30000
#define ACK_TIMEOUT_MS 30000
#define META_TIMEOUT_MS 15000

const char *const replay_stage_names[REPLAY_STAGES] = {"router", "forwarder", "syncer"};

int replay_stage_parse(const char *name)
{
    for (int i = 0; name && i < REPLAY_STAGES; i++)
        if (!strcmp(name, replay_stage_names[i]))
            return i;
    return -1;
}

/* One partition of the range: [next, end) still to read. */
struct part {
    int32_t partition;
    int64_t start, next, end;
};

struct run {
    const struct replay_params *p;
    const atomic_bool *cancel;
    replay_warn_fn warn;
    void *ctx;
    rd_kafka_t *producer;
    struct replay_counts c;
    struct replay_result *out;
    double started;
};

static bool cancelled(const struct run *r)
{
    return r->cancel && atomic_load(r->cancel);
}

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->out->error, sizeof r->out->error, fmt, ap);
    va_end(ap);
}

static void warn(struct run *r, const char *text)
{
    if (r->warn)
        r->warn(text, r->ctx);
}

/* ---- filters ------------------------------------------------------------------- */

/* True when want is NULL (no filter) or the last header called name is exactly want. */
static bool header_is(rd_kafka_headers_t *h, const char *name, const char *want)
{
    char buf[512];
    if (!want)
        return true;
    const char *v = msg_header(h, name, buf, sizeof buf);
    return v && !strcmp(v, want);
}

bool replay_filters_match(const struct replay_filters *f, rd_kafka_headers_t *h)
{
    if (!header_is(h, MSG_H_ENVIRONMENT, f->env) || !header_is(h, MSG_H_INTEGRATION, f->integration) ||
        !header_is(h, MSG_H_PROVIDER, f->provider) || !header_is(h, MSG_H_CONNECTION, f->connection) ||
        !header_is(h, MSG_H_EVENT_TYPE, f->event_type))
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

static bool matches(const struct replay_filters *f, const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h))
        h = NULL;
    return replay_filters_match(f, h);
}

/* ---- publishing ------------------------------------------------------------------ */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct run *r = opaque;
    if (rkm->err) {
        r->c.failed++;
        char text[600];
        snprintf(text, sizeof text, "a replayed message was not stored on %s: %s", rd_kafka_topic_name(rkm->rkt),
                 rd_kafka_err2str(rkm->err));
        warn(r, text);
    } else {
        r->c.acked++;
    }
}

/* Copies rkm to the replay topic with the replay headers (earlier ones replaced). */
static int publish_copy(struct run *r, const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(rkm, &orig))
        orig = NULL;
    rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(4);
    if (!h) {
        fail(r, "out of memory");
        return -1;
    }
    rd_kafka_header_remove(h, MSG_H_REPLAY_ID);
    rd_kafka_header_remove(h, MSG_H_REPLAY_OF);
    char of[300];
    snprintf(of, sizeof of, "%s/%" PRId32 "/%" PRId64, r->p->source, rkm->partition, rkm->offset);
    rd_kafka_header_add(h, MSG_H_REPLAY_ID, -1, r->p->id, -1);
    rd_kafka_header_add(h, MSG_H_REPLAY_OF, -1, of, -1);
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            r->producer, RD_KAFKA_V_TOPIC(r->p->target), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(rkm->key, rkm->key_len), RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 100) {
            rd_kafka_headers_destroy(h);
            fail(r, "cannot queue a copy for %s: %s", r->p->target, rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(r->producer, 100);
    }
}

/* Sleeps as long as the rate asks before the next message is published. */
static void pace(struct run *r)
{
    if (r->p->rate <= 0)
        return;
    for (int i = 0; i < 10000 && !cancelled(r); i++) {
        double due = r->started + (double)r->c.published / r->p->rate;
        double wait = due - clock_mono_s();
        if (wait <= 0)
            return;
        rd_kafka_poll(r->producer, (int)(wait * 1000) < 100 ? (int)(wait * 1000) + 1 : 100);
    }
}

/* ---- the range ------------------------------------------------------------------- */

/* The number of partitions of topic (and the list in *parts), or -1 after saying why. */
static int topic_partitions(struct run *r, rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t **parts)
{
    int n = kafka_topic_partitions(rk, topic, parts, META_TIMEOUT_MS, r->out->error, sizeof r->out->error);
    return n;
}

/* The [start, end) offsets of every partition of the source for [from_ms, to_ms). */
static int find_range(struct run *r, rd_kafka_t *rk, struct part **parts, int *nparts)
{
    const char *topic = r->p->source;
    rd_kafka_topic_partition_list_t *from = NULL;
    int n = topic_partitions(r, rk, topic, &from);
    if (n < 0)
        return -1;
    rd_kafka_topic_partition_list_t *to = rd_kafka_topic_partition_list_copy(from);
    for (int i = 0; i < n; i++) {
        from->elems[i].offset = r->p->from_ms;
        to->elems[i].offset = r->p->to_ms;
    }
    int rc = -1;
    struct part *p = calloc((size_t)n + 1, sizeof *p);
    rd_kafka_resp_err_t err = p ? rd_kafka_offsets_for_times(rk, from, META_TIMEOUT_MS) : RD_KAFKA_RESP_ERR__NOENT;
    if (!err)
        err = rd_kafka_offsets_for_times(rk, to, META_TIMEOUT_MS);
    if (err) {
        fail(r, "cannot find the offsets of %s by time: %s", topic, rd_kafka_err2str(err));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        err = rd_kafka_query_watermark_offsets(rk, topic, from->elems[i].partition, &lo, &hi, META_TIMEOUT_MS);
        if (err) {
            fail(r, "cannot read the offsets of %s [%d]: %s", topic, from->elems[i].partition, rd_kafka_err2str(err));
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

static int assign_range(struct run *r, rd_kafka_t *rk, struct part *p, int n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    r->c.total = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].end > p[i].start) {
            rd_kafka_topic_partition_list_add(l, r->p->source, p[i].partition)->offset = p[i].start;
            r->c.total += p[i].end - p[i].start;
        }
    }
    rd_kafka_resp_err_t err = l->cnt ? rd_kafka_assign(rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        fail(r, "cannot assign %s: %s", r->p->source, rd_kafka_err2str(err));
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

static void report(struct run *r, replay_progress_fn progress, bool last)
{
    if (progress)
        progress(&r->c, last, r->ctx);
}

/* Reads every partition's range; 0 done (or cancelled), -1 failed. */
static int read_range(struct run *r, rd_kafka_t *rk, struct part *p, int n, replay_progress_fn progress)
{
    double every = r->p->progress_every_s > 0 ? r->p->progress_every_s : 1;
    double next_report = clock_mono_s() + every;
    double idle_since = clock_mono_s();
    while (!cancelled(r) && !all_done(p, n)) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, POLL_MS);
        if (r->producer)
            rd_kafka_poll(r->producer, 0);
        if (clock_mono_s() >= next_report) {
            report(r, progress, false);
            next_report = clock_mono_s() + every;
        }
        if (!rkm) {
            if (clock_mono_s() - idle_since > IDLE_GIVE_UP_MS / 1000.0) {
                fail(r, "no message from Kafka in %d s while %" PRId64 " remain", IDLE_GIVE_UP_MS / 1000,
                     r->c.total - r->c.read);
                return -1;
            }
            continue;
        }
        idle_since = clock_mono_s();
        bool eof = rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        struct part *pp = rkm->err && !eof ? NULL : part_of(p, n, rkm->partition);
        int rc = 0;
        if (rkm->err && !eof) {
            warn(r, rd_kafka_message_errstr(rkm));
        } else if (eof) {
            if (pp && rkm->offset >= pp->end)
                pp->next = pp->end > pp->next ? pp->end : pp->next; /* nothing left up to the end */
        } else if (pp && rkm->offset >= pp->next && rkm->offset < pp->end) {
            bool match = matches(&r->p->f, rkm);
            if (match && r->producer)
                pace(r);
            if (!cancelled(r)) { /* else left for the next replay: where it stopped */
                r->c.read++;
                pp->next = rkm->offset + 1;
                r->c.matched += match;
                if (match && r->producer) {
                    rc = publish_copy(r, rkm);
                    r->c.published += rc == 0;
                }
            }
        } else if (pp && rkm->offset >= pp->end) {
            pp->next = pp->end;
        }
        rd_kafka_message_destroy(rkm);
        if (rc < 0)
            return -1;
    }
    if (!all_done(p, n) && !cancelled(r)) {
        fail(r, "the replay stopped before the end of the window");
        return -1;
    }
    report(r, progress, true);
    return 0;
}

/* ---- the run --------------------------------------------------------------------- */

static rd_kafka_t *reader_new(struct run *r)
{
    char errstr[512];
    rd_kafka_conf_t *conf = kafka_conf_new(r->p->client_id, errstr, sizeof errstr);
    if (!conf || kafka_conf_set(conf, "group.id", r->p->group, errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) < 0) {
        fail(r, "Kafka configuration: %s", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees it only on success */
        fail(r, "cannot create a Kafka client: %s", errstr);
    }
    return rk;
}

/* The partitions that did not reach their end, into out->stops. */
static void record_stops(struct replay_result *out, const struct part *p, int n)
{
    out->stops = calloc((size_t)n + 1, sizeof *out->stops);
    for (int i = 0; out->stops && i < n; i++)
        if (p[i].next < p[i].end)
            out->stops[out->nstops++] = (struct replay_stop){p[i].partition, p[i].next, p[i].end};
}

int replay_run(const struct replay_params *p, replay_progress_fn progress, replay_warn_fn warn_cb, void *ctx,
               const atomic_bool *cancel, struct replay_result *out)
{
    memset(out, 0, sizeof *out);
    struct run r = {.p = p, .cancel = cancel, .warn = warn_cb, .ctx = ctx, .out = out};
    struct part *parts = NULL;
    int nparts = 0, rc = -1;
    char errstr[512];
    rd_kafka_t *rk = reader_new(&r);
    if (!rk)
        goto out;
    if (!p->dry_run && !(r.producer = kafka_producer_new(p->client_id, on_delivery, &r, errstr, sizeof errstr))) {
        fail(&r, "cannot create a Kafka producer: %s", errstr);
        goto out;
    }
    if (r.producer && topic_partitions(&r, rk, p->target, NULL) < 0) {
        fail(&r, "the replay topic %s is missing: run `hookline topics ensure` (or create)", p->target);
        goto out;
    }
    if (find_range(&r, rk, &parts, &nparts) < 0 || assign_range(&r, rk, parts, nparts) < 0)
        goto out;
    r.started = clock_mono_s();
    out->reading = true;
    rc = read_range(&r, rk, parts, nparts, progress);
    if (r.producer && rd_kafka_flush(r.producer, ACK_TIMEOUT_MS)) {
        fail(&r, "Kafka did not acknowledge %d replayed message(s) within %d s", rd_kafka_outq_len(r.producer),
             ACK_TIMEOUT_MS / 1000);
        rc = -1;
    }
    record_stops(out, parts, nparts);
    if (r.c.failed > 0) {
        if (!out->error[0])
            snprintf(out->error, sizeof out->error, "Kafka did not store %ld replayed message(s)", r.c.failed);
        rc = -1;
    }
out:
    out->counts = r.c;
    out->cancelled = cancelled(&r);
    if (r.producer)
        rd_kafka_destroy(r.producer);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    free(parts);
    return rc;
}

void replay_result_free(struct replay_result *out)
{
    free(out->stops);
    out->stops = NULL;
    out->nstops = 0;
}
