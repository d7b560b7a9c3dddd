/* replay: a time window of one stage's input sent through that stage again, the engine
 * behind `hookline replay` and the API's /v1/replays. The input (webhooks.raw for the
 * router, webhooks.routed for the forwarder and the syncer) is read from the first
 * offset at or after from_ms (rd_kafka_offsets_for_times) to the last before to_ms,
 * each message is kept or not by its headers, and a kept one is copied, key, value and
 * headers unchanged, to the stage's replay topic (HOOKLINE_TOPIC_REPLAY_<STAGE>), which
 * only that stage reads besides its input: a replay for the forwarder starts no sync
 * run, and the reverse. The copies carry MSG_H_REPLAY_ID (one id per replay) and
 * MSG_H_REPLAY_OF (where the original is): the router lets them past its duplicate
 * suppression, the forwarder sends the id to the app as X-Hookline-Replay-Id beside
 * the same webhook-id.
 *
 * Nothing is committed: the reading consumer's group is never used for offsets. The
 * end of each partition is fixed when the replay starts, so the copies a router replay
 * makes (on webhooks.routed) are never read again by the same replay. */
#ifndef HOOKLINE_REPLAY_H
#define HOOKLINE_REPLAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

enum replay_stage { REPLAY_ROUTER = 0, REPLAY_FORWARDER, REPLAY_SYNCER };
#define REPLAY_STAGES 3
extern const char *const replay_stage_names[REPLAY_STAGES];
/* The stage called name, or -1. */
int replay_stage_parse(const char *name);

#define REPLAY_WEBHOOK_IDS_MAX 64

/* Which messages are copied: a NULL member does not filter; a set one must equal the
 * message's header exactly (the raw topic has no connection nor event type). */
struct replay_filters {
    const char *env, *integration, *provider, *connection, *event_type;
    const char *webhook_ids[REPLAY_WEBHOOK_IDS_MAX]; /* any of them (case-blind), when some */
    size_t nwebhook_ids;
};
/* True when a message with headers h (may be NULL) passes every filter of f. Also what
 * `hookline dlq list|redrive` choose dead letters by (they keep the routed headers). */
bool replay_filters_match(const struct replay_filters *f, rd_kafka_headers_t *h);

struct replay_params {
    const char *source, *target; /* topics: the stage's input, its replay topic */
    int64_t from_ms, to_ms;      /* [from, to) by message timestamp */
    struct replay_filters f;
    bool dry_run;      /* read and count, publish nothing */
    double rate;       /* copies a second at most; <= 0 no limit */
    const char *id;    /* the replay id the copies carry (a UUID) */
    const char *group; /* the reading consumer's group (never committed) */
    const char *client_id;
    double progress_every_s; /* how often progress is called while reading */
};

struct replay_counts {
    long read, matched;
    long published; /* handed to the producer */
    long acked;     /* ... and stored by Kafka */
    long failed;    /* ... or not */
    int64_t total;  /* messages in the window, all partitions */
};

/* A partition the replay did not finish: where it stopped. */
struct replay_stop {
    int32_t partition;
    int64_t next_offset, end_offset;
};

struct replay_result {
    struct replay_counts counts;
    bool reading;              /* the window was found and reading began (counts mean something) */
    bool cancelled;            /* *cancel was set before the end */
    struct replay_stop *stops; /* unfinished partitions (free with replay_result_free) */
    int nstops;
    char error[512]; /* why it failed, "" otherwise (no secret: topics and Kafka's words) */
};

/* Called every progress_every_s while reading, and once at the end (last). */
typedef void (*replay_progress_fn)(const struct replay_counts *c, bool last, void *ctx);
/* A problem that does not stop the replay (a read error Kafka will retry, a copy Kafka
 * refused: counted in failed). */
typedef void (*replay_warn_fn)(const char *text, void *ctx);

/* Runs the replay to its end, to *cancel (checked between messages; what was published
 * stays published), or to a failure. 0 when it read the whole window (or was
 * cancelled) and every copy was stored, -1 otherwise (out->error says why, or failed
 * counts refused copies). out is filled either way. progress and warn may be NULL. */
int replay_run(const struct replay_params *p, replay_progress_fn progress, replay_warn_fn warn, void *ctx,
               const atomic_bool *cancel, struct replay_result *out);
void replay_result_free(struct replay_result *out);

#endif
