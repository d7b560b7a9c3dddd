/* retries: the durable retry schedule (HOOKLINE_FORWARDER_RETRY_SCHEDULE, e.g.
 * "5s,5m,30m,2h,5h,10h,10h"). Pass n of a failing delivery waits on its own topic
 * <prefix>.<consumer group>.<n> (retries belong to the group that failed them: another
 * group forwarding the same routed topic must not pick them up), so a message waiting there never blocks the routed partitions, and
 * every message of one retry topic waits the same delay, so its partitions are in due
 * order: when the head is not due yet, the partition is paused (and rewound to it)
 * until it is, without holding up anything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/backoff.h"
#include "common/log.h"
#include "common/msg.h"
#include "forwarder/forwarder.h"

#define MAX_PASSES 16
#define MAX_PAUSED 256
#define MAX_RETRY_AFTER_MS (24L * 3600 * 1000)

static long delays_ms[MAX_PASSES];
static char topics[MAX_PASSES][256];
static const char *topic_ptrs[MAX_PASSES];
static size_t npasses;

static struct {
    char topic[200];
    int32_t partition;
    long long due_ms;
} paused[MAX_PAUSED];
static size_t npaused;

/* "90s", "5m", "2h", "1500ms" -> milliseconds, or -1. */
static long parse_delay(const char *s, size_t len)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf || v < 0)
        return -1;
    long unit = !strcmp(end, "ms")           ? 1
                : !strcmp(end, "s") || !*end ? 1000
                : !strcmp(end, "m")          ? 60000
                : !strcmp(end, "h")          ? 3600000
                                             : -1;
    return unit < 0 || v > MAX_RETRY_AFTER_MS / unit ? -1 : v * unit;
}

int retries_init(const char *schedule, const char *prefix, const char *group)
{
    npasses = 0;
    if (!msg_retry_group_valid(group)) {
        log_error(NULL, "HOOKLINE_FORWARDER_GROUP '%s' cannot name a topic: use letters, digits, '.', '_', '-'", group);
        return -1;
    }
    for (const char *p = schedule; *p;) {
        size_t len = strcspn(p, ", ");
        if (len) {
            long ms = parse_delay(p, len);
            if (ms < 0 || npasses == MAX_PASSES) {
                log_error(NULL,
                          "HOOKLINE_FORWARDER_RETRY_SCHEDULE: '%.*s' is not a delay like 5s, 5m or 2h (at most %d)",
                          (int)len, p, MAX_PASSES);
                return -1;
            }
            if (msg_retry_topic(topics[npasses], sizeof topics[npasses], prefix, group, (int)npasses + 1) < 0) {
                log_error(NULL, "the retry topics of group '%s' with prefix '%s' are too long a name", group, prefix);
                return -1;
            }
            delays_ms[npasses] = ms;
            topic_ptrs[npasses] = topics[npasses];
            npasses++;
        }
        p += len;
        p += strspn(p, ", ");
    }
    return 0;
}

const char *const *retries_topics(size_t *n)
{
    *n = npasses;
    return topic_ptrs;
}

size_t retries_passes(void)
{
    return npasses;
}

bool retries_read(const rd_kafka_message_t *rkm, struct retry_state *st)
{
    memset(st, 0, sizeof *st);
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    for (size_t i = 0; i < npasses; i++)
        if (!strcmp(topic, topics[i]))
            st->pass = (int)i + 1;
    if (!st->pass)
        return false;
    st->retry = true;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    struct msg_retry r;
    msg_retry_decode(&r, h);
    st->due_ms = r.due_ms;
    st->attempts = r.attempts;
    snprintf(st->url, sizeof st->url, "%s", r.url);
    st->url_bad = !st->url[0];                    /* it can go nowhere: the pipeline quarantines it */
    if (r.pass >= 0 && (size_t)r.pass <= npasses) /* deferred: its own pass, not the topic's */
        st->pass = r.pass;
    st->deferrals = r.deferrals;
    return true;
}

/* delay ±20%, from the schedule or the app's Retry-After (clamped to 1 s .. 24 h). */
static long next_delay_ms(size_t pass, long retry_after_s)
{
    if (retry_after_s >= 0) {
        long ms = retry_after_s > MAX_RETRY_AFTER_MS / 1000 ? MAX_RETRY_AFTER_MS : retry_after_s * 1000;
        return ms < 1000 ? 1000 : ms;
    }
    return backoff_jitter_ms(delays_ms[pass - 1], backoff_random());
}

/* Sets the retry headers of a copy (common/msg.h). */
static void retry_encode(rd_kafka_headers_t *h, long long due_ms, const char *url, long attempts, int pass,
                         long deferrals)
{
    struct msg_retry r = {.due_ms = due_ms, .attempts = attempts, .pass = pass, .deferrals = deferrals};
    snprintf(r.url, sizeof r.url, "%s", url);
    msg_retry_encode(h, &r);
}

void retry_later_start(const rd_kafka_message_t *rkm, const char *wid, const char *url, int next_pass,
                       long retry_after_s, long attempts, handoff_done_fn done, void *ctx)
{
    long delay = next_delay_ms((size_t)next_pass, retry_after_s);
    /* The pass is the topic's again, and a new pass starts the deferral count afresh. */
    rd_kafka_headers_t *h = handoff_headers(rkm);
    retry_encode(h, clock_unix_ms() + delay, url, attempts, -1, 0);
    char key[256];
    outbound_url_origin(url, key, sizeof key);
    log_warn(wid, "delivery to %s will be retried in %.1f s (pass %d of %zu)", key, (double)delay / 1000, next_pass,
             npasses);
    handoff_start(topics[next_pass - 1], rkm, h, done, ctx);
}

void retry_defer_start(const rd_kafka_message_t *rkm, const char *wid, const char *url, int pass, long attempts,
                       long deferrals, handoff_done_fn done, void *ctx)
{
    long delay = backoff_ms(1000, 60000, deferrals + 1);
    rd_kafka_headers_t *h = handoff_headers(rkm);
    retry_encode(h, clock_unix_ms() + delay, url, attempts, pass, deferrals + 1);
    char key[256];
    outbound_url_origin(url, key, sizeof key);
    log_info(wid, "delivery to %s deferred %.1f s: the destination is saturated (deferral %ld)", key,
             (double)delay / 1000, deferrals + 1);
    handoff_start(topics[0], rkm, h, done, ctx);
}

void retries_pause(rd_kafka_t *consumer, const rd_kafka_message_t *rkm, long long due_ms)
{
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, topic, rkm->partition)->offset = rkm->offset;
    rd_kafka_pause_partitions(consumer, tp);
    rd_kafka_error_t *err = rd_kafka_seek_partitions(consumer, tp, 5000); /* read it again when resumed */
    if (err) {
        log_warn(NULL, "kafka: cannot rewind %s [%d]: %s", topic, rkm->partition, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(tp);
    size_t i = 0;
    while (i < npaused && (paused[i].partition != rkm->partition || strcmp(paused[i].topic, topic)))
        i++;
    if (i == npaused && npaused < MAX_PAUSED)
        npaused++;
    if (i < npaused) {
        snprintf(paused[i].topic, sizeof paused[i].topic, "%s", topic);
        paused[i].partition = rkm->partition;
        paused[i].due_ms = due_ms;
    }
}

void retries_resume_due(rd_kafka_t *consumer)
{
    long long now = clock_unix_ms();
    for (size_t i = 0; i < npaused;) {
        if (paused[i].due_ms > now) {
            i++;
            continue;
        }
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tp, paused[i].topic, paused[i].partition);
        rd_kafka_resume_partitions(consumer, tp); /* a revoked partition just fails here */
        rd_kafka_topic_partition_list_destroy(tp);
        paused[i] = paused[--npaused];
    }
}
