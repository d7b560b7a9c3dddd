/*
 * forwarder: delivers routed webhooks (and hookline's own notifications) to the
 * environment's app, many at once, never losing one.
 *   main.c          configuration and the event loop: consume, drive HTTP, serve Kafka
 *   pipeline.c      one consumed message as a job of one or two deliveries, each a
 *                   small state machine (queued, in flight, backing off, handed off)
 *   offsets.c       a partition's offset is stored only up to the last message whose
 *                   outcome is final, although outcomes arrive out of order
 *   endpoints.c     per destination (scheme, host, port): concurrency limit and queue,
 *                   metrics; circuit.c its circuit breaker, circuit_log.c its
 *                   state changes in PostgreSQL for the API
 *   deliver.c       HTTP POSTs in parallel with the libcurl multi interface
 *   handoff.c       asynchronous copies to the retry, dead-letter and quarantine
 *                   topics; retries.c the retry schedule and its topics
 *   destinations.c  where and how a message goes (cached PostgreSQL lookups), and
 *                   destinations flagged gone (410); resolver.c answers the lookups
 *                   that miss the cache and flags 410s on a thread of its own, so
 *                   the event loop never waits on the database
 *   attempt_log.c   every attempt, written to PostgreSQL in the background
 *   queries.c       the SQL only the forwarder runs (forward settings, gone flags)
 *   request.c       one routed message as an HTTP request: body and headers, and
 *                   which messages can never be delivered (quarantined)
 * The Nango-compatible body and its signatures are common/envelope.h (the syncer signs
 * its jobs with them too); the headers it reads and writes are common/msg.h.
 */
#ifndef HOOKLINE_FORWARDER_H
#define HOOKLINE_FORWARDER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ident.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/outbound.h"
#include "common/envelope.h"

struct forwarder_config {
    long timeout_ms;
    long connect_timeout_ms;
    long attempts;
    long backoff_ms;
    long cache_ttl_ms;
    const char *group_id;
    const char *allow_cidrs;
    const char *ca_file;
    const char *retry_schedule;
    long circuit_failures;
    long circuit_cooldown_ms;
    const char *retry_topic_prefix;
    long max_in_flight;
    long max_per_destination;
    long max_queue_wait_ms;
    long drain_ms;
    const char *topic_replay;
};
extern struct forwarder_config g_forwarder;

/* destinations.c: everything the forwarder needs to deliver one message, resolved. */
#define DESTINATION_URL_MAX OUTBOUND_URL_MAX /* the CLI stores URLs of at most this many bytes */
struct destination {
    bool found;            /* the environment exists */
    bool forward;          /* the integration forwards (false: sync-only, skip) */
    bool raw;              /* forward_mode raw: the provider's body and headers unchanged */
    bool legacy_signature; /* also send X-Nango-Signature */
    bool overridden;       /* primary_url is the connection's override */
    bool unusable;         /* the environment exists but cannot be used now (its signing key
                                cannot be decrypted, a URL or key too long to hold): its
                                messages wait, the others flow */
    char unusable_why[128];
    char primary_url[DESTINATION_URL_MAX + 1]; /* the connection's override, else the environment's URL; "" none */
    char secondary_url[DESTINATION_URL_MAX + 1];
    char signing_key[256];
    char previous_signing_key[256]; /* "" when none; signs only before previous_until */
    long long previous_until;       /* unix seconds */
};
int destinations_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
/* For a message of environment env_id, integration, and connection (NULL when
 * unattributed). 0 (out->found says whether the environment exists; an integration
 * that no longer exists forwards with the defaults: on, no override; out->unusable
 * says it exists but cannot be used now, an answer kept about a second), -1 database
 * unavailable, STORE_REFUSED the database refused these values (never to be asked
 * again: the message is quarantined). Answers are cached per (environment,
 * integration, connection) until the TTL or any configuration change. */
int destinations_get(const char *env_id, const char *integration, const char *connection, struct destination *out)
    __attribute__((warn_unused_result));
void destinations_watch(void);
bool destinations_ready(void);
/* Has url answered 410 Gone (gone_destinations)? 0 yes (since: when, UTC), 1 no, -1
 * database error. Cached like the lookups above. */
int destinations_gone(const char *url, char *since, size_t sincelen) __attribute__((warn_unused_result));
/* Without waiting: true and *gone (0 gone, 1 not) and since filled when the answer is
 * cached. */
bool destinations_gone_cached(const char *url, int *gone, char *since, size_t sincelen);
/* Flags url as gone after a 410 for webhook wid. 0, or -1 (logged). Waits on the
 * database: the resolver thread's (resolver_flag_gone). */
int destinations_flag_gone(const char *url, long status, const char *wid) __attribute__((warn_unused_result));
void destinations_shutdown(void);

/* destinations.c, without waiting: true and out filled when the answer is cached. */
bool destinations_cached(const char *env_id, const char *integration, const char *connection, struct destination *out);

/* queries.c: the SQL only the forwarder runs, on a store's connection. */
struct store;
/* What the forwarder needs per (integration, connection) besides the environment. */
struct forward_settings_row {
    bool forward_enabled;       /* integrations.forward_enabled */
    char *webhook_url_override; /* owned; the connection's override of the primary URL, or NULL */
};
void forward_settings_row_clear(struct forward_settings_row *row);

/* Looks up the integration (env_id, integration_key) and, when connection_id is not
 * NULL, that connection of it, in one query. 0 found (the override is NULL when the
 * connection is unknown or has none), 1 no such integration, -1 database error. */
int queries_forward_settings(struct store *st, const char *env_id, const char *integration_key,
                             const char *connection_id, struct forward_settings_row *out)
    __attribute__((warn_unused_result));

/* Destinations that answered 410 Gone (table gone_destinations). queries_destination_gone:
 * 0 flagged (since gets the UTC time it was, when not NULL), 1 not flagged, -1 error.
 * queries_flag_destination_gone: records url (an existing flag is kept); 0 or -1. */
int queries_destination_gone(struct store *st, const char *url, char *since, size_t sincelen)
    __attribute__((warn_unused_result));
int queries_flag_destination_gone(struct store *st, const char *url, long status, const char *webhook_id)
    __attribute__((warn_unused_result));

/* resolver.c: destination lookups that missed the cache, answered on a thread of their
 * own (with the configuration watch) so that the delivery loop never waits on the
 * database. */
struct resolve_req {
    const char *env, *integration, *connection; /* connection NULL: unattributed */
    const char *retry_url;                      /* a retry's one destination, or NULL */
    struct destination *out;
    int rc; /* destinations_get's, or -1 when a gone flag could not be read */
    /* The gone flags (destinations_gone: 0 gone, 1 not) of the retry URL, else of the
     * primary [0] and secondary [1] URL, and since when. */
    int gone[2];
    char since[2][32];
    void *ctx;
    struct resolve_req *next;
};
/* wake_fd: written once per answer (non-blocking). */
int resolver_init(int wake_fd) __attribute__((warn_unused_result));
void resolver_submit(struct resolve_req *r);
/* The answered requests (a list through next), taken. */
struct resolve_req *resolver_done(void);
/* Flags url gone (destinations_flag_gone) on the resolver thread, logged there; the
 * strings are copied. Out of memory: logged, not flagged (the next 410 flags it). */
void resolver_flag_gone(const char *url, long status, const char *wid);
/* Answers what was submitted, then stops the thread. */
void resolver_shutdown(void);

/* deliver.c: HTTP POSTs in parallel. */
struct delivery_header {
    const char *name, *value;
};
struct delivery_result {
    long status;        /* HTTP status, 0 if no response */
    char error[256];    /* transport error, "" if none */
    char refused[64];   /* set when the SSRF rules refused the address ("loopback address") */
    long retry_after_s; /* the app's Retry-After in seconds, -1 if none */
    double seconds;
};
typedef void (*deliver_done_fn)(void *ctx, const struct delivery_result *res);
/* allow_cidrs: addresses outside the public internet that may be reached anyway;
 * max_per_host: connections kept per host (HTTP/1.1 needs one per request in flight). */
int deliver_init(const char *allow_cidrs, long max_per_host) __attribute__((warn_unused_result));
/* Starts a POST of body (borrowed until done is called) to url; the headers are copied.
 * done(ctx, result) is called from a later deliver_run, also when curl could not start
 * the request; only when out of memory is it called at once. */
void deliver_start(const char *url, const struct delivery_header *headers, size_t nheaders, const void *body,
                   size_t len, deliver_done_fn done, void *ctx);
/* Moves every transfer on, waiting up to timeout_ms for network activity or for
 * wake_fd (-1: none; drained when readable), and calls done for those that ended. */
void deliver_run(int timeout_ms, int wake_fd);
/* Abandons the transfers still running (their done is not called). */
void deliver_shutdown(void);

/* request.c: a routed message as read from Kafka (common/msg.h), and the HTTP request
 * made of it. */
/* Fills r from the message headers h (may be NULL) with msg_routed_decode, keeping the
 * provider's headers that header_passes. Returns NULL when the message can be
 * delivered, else why it never can (a static string for the quarantine); r->webhook_id
 * is then still set, made printable, for the log line. Values that are only passed on
 * are cleaned instead: the event type and content type lose control characters (one
 * too long is left out). Free with msg_routed_free either way. */
const char *routed_read(struct msg_routed *r, rd_kafka_headers_t *h) __attribute__((warn_unused_result));
/* May the provider's request header name (trimmed, a token) be passed on to the app?
 * Never hop-by-hop or framing headers, method or URL overrides, credentials, Forwarded /
 * X-Forwarded-* / X-Real-IP and other client-address claims, nor the names hookline
 * sets; case-insensitive. */
bool header_passes(const char *name);

/* handoff.c: copies rkm (value and key) to topic with the headers h (taken, even when
 * NULL: out of memory; make them with handoff_headers and the encoders of
 * common/msg.h). done(ctx, result, why) is called from a later handoff_poll once Kafka
 * acknowledged the copy (HANDOFF_STORED), failed to store it (HANDOFF_FAILED: the
 * caller tries again later or gives up without storing the input offset), or refuses
 * it for good (HANDOFF_REFUSED, why says how: too large for the topic, also when sent
 * alone, since a size error may be its batch's; the caller quarantines the message).
 * handoff_init makes sure the given topics exist. */
enum handoff_result { HANDOFF_STORED, HANDOFF_FAILED, HANDOFF_REFUSED };
typedef void (*handoff_done_fn)(void *ctx, enum handoff_result result, const char *why);
int handoff_init(const char *const *topics, size_t ntopics) __attribute__((warn_unused_result));
/* A copy of rkm's headers (new), to add the hand-off's own to. */
rd_kafka_headers_t *handoff_headers(const rd_kafka_message_t *rkm);
void handoff_start(const char *topic, const rd_kafka_message_t *rkm, rd_kafka_headers_t *h, handoff_done_fn done,
                   void *ctx);
/* The quarantine hand-off (g_common.topic_rejected, common/quarantine.h): rkm can never
 * be processed, for reason; omit_body: the copy goes without rkm's value (the rejected
 * topic refused it). done as for handoff_start. */
void quarantine_start(const rd_kafka_message_t *rkm, const char *reason, bool omit_body, handoff_done_fn done,
                      void *ctx);
/* The dead-letter hand-off, with where and why the delivery to url failed. */
void dead_letter_start(const rd_kafka_message_t *rkm, const char *url, long status, const char *error, long attempts,
                       handoff_done_fn done, void *ctx);
/* Serves acknowledgements (calls done). */
void handoff_poll(void);
/* The producer, for its wake-up event. */
rd_kafka_t *handoff_producer(void);
void handoff_shutdown(void);

/* The outcome of one delivery (one message to one destination). */
enum outcome {
    OUT_DELIVERED,
    OUT_REFUSED,
    OUT_GONE,
    OUT_RETRY_LATER,
    OUT_DEAD_LETTERED,
    OUT_NO_DESTINATION,
    OUT_ABORTED,
    OUT_DISABLED,
    OUT_PARKED,
    OUT_DEFERRED,
    OUT_QUARANTINED,
    OUT_COUNT
};

/* endpoints.c: what the forwarder keeps per destination, keyed by scheme, host and
 * port (the path may carry a token and never names a series or a log line). */
struct delivery;
enum circuit_state { CIRCUIT_CLOSED = 0, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN };
struct endpoint {
    char key[256];              /* "https://app.example.com:443" */
    long refs;                  /* deliveries holding it (endpoint_of, endpoint_release) */
    enum circuit_state circuit; /* circuit.c */
    long failures;
    double opened_at;
    long in_flight;   /* requests running now */
    double latency_s; /* moving average of its attempts' time */
    size_t queued;    /* deliveries waiting for a free slot */
    struct delivery *queue_head, *queue_tail;
    struct metric *outcomes[OUT_COUNT];
    struct metric *latency;
    struct endpoint *hash_next;
};
void endpoints_init(void);
/* The endpoint of url, made on first use, with a reference the caller gives back with
 * endpoint_release: an endpoint is freed (swept when the table grows past its bound)
 * only while no one holds it and it is idle. NULL only when out of memory. */
struct endpoint *endpoint_of(const char *url);
/* Gives back a reference of endpoint_of (NULL is fine). */
void endpoint_release(struct endpoint *ep);
/* How many endpoints are kept (for tests). */
size_t endpoints_count(void);
void endpoints_shutdown(void);

/* circuit.c: may a delivery to ep be attempted now? false: the circuit is open, and
 * wait_ms says how long until it may be probed (0 while a probe is out). And the outcome
 * of a pass that was attempted (ok: the app answered, even with a refusal). */
bool circuit_allow(struct endpoint *ep, long *wait_ms);
void circuit_record(struct endpoint *ep, bool ok);

/* circuit_log.c: circuit states in PostgreSQL (destination_circuits) for the API.
 * init starts the writer thread (0, or -1 logged); transition queues one change and
 * never waits (any thread; nothing before init or after shutdown); shutdown deletes this
 * process's rows and stops the thread. */
int circuit_log_init(const char *conninfo) __attribute__((warn_unused_result));
void circuit_log_transition(const char *endpoint, enum circuit_state state, long failures);
void circuit_log_shutdown(void);

/* offsets.c: consumed messages are tracked per partition in the order they arrive; a
 * message's offset is stored once it and every message before it are final. */
struct partition_track;
struct offset_ticket {
    struct partition_track *pt;
    unsigned long long seq;
};
/* The message at offset of topic/partition, taken now. NULL pt when out of memory (the
 * message is then handled but its offset never stored). */
struct offset_ticket offsets_track(const char *topic, int32_t partition, int64_t offset);
/* Its outcome is final. Returns the offset to store for topic/partition (set; borrowed)
 * when the partition's final prefix grew, else -1. */
int64_t offsets_done(struct offset_ticket t, const char **topic, int32_t *partition);
void offsets_shutdown(void);

/* retries.c: the durable retry schedule, one Kafka topic per pass. */
struct retry_state {
    bool retry;                        /* read from a retry topic: for the one destination in url */
    int pass;                          /* 1..retries_passes(); 0 for a deferred first pass */
    long deferrals;                    /* times deferred because the destination was saturated */
    long long due_ms;                  /* unix ms the pass may start at */
    long attempts;                     /* HTTP attempts made before this pass */
    char url[DESTINATION_URL_MAX + 1]; /* the destination this copy is for ("": none or too long) */
    bool url_bad;                      /* the retry names no destination, or one over DESTINATION_URL_MAX */
};
int retries_init(const char *schedule, const char *prefix, const char *group) __attribute__((warn_unused_result));
const char *const *retries_topics(size_t *n);
size_t retries_passes(void);
/* True if rkm came from a retry topic (st filled). */
bool retries_read(const rd_kafka_message_t *rkm, struct retry_state *st);
/* Hands the delivery to url over to pass next_pass (delay from the schedule, or the
 * app's Retry-After when >= 0); done as for handoff_start. */
void retry_later_start(const rd_kafka_message_t *rkm, const char *wid, const char *url, int next_pass,
                       long retry_after_s, long attempts, handoff_done_fn done, void *ctx);
/* Defers the delivery to url, in pass, to the first retry topic without using up the
 * pass (its destination is saturated): due after 1 s, doubling per deferral up to 60 s. */
void retry_defer_start(const rd_kafka_message_t *rkm, const char *wid, const char *url, int pass, long attempts,
                       long deferrals, handoff_done_fn done, void *ctx);
/* Pauses rkm's partition, rewound to rkm, until due_ms; retries_resume_due resumes. */
void retries_pause(rd_kafka_t *consumer, const rd_kafka_message_t *rkm, long long due_ms);
void retries_resume_due(rd_kafka_t *consumer);

/* One message's request to every destination: the body and signatures are made once,
 * the timestamp and webhook-signature once per attempt (request_stamp). Headers and
 * body point into the request, into r, dest and the Kafka payload: all must outlive
 * it, and it must not be copied (it points into itself). */
struct forward_request {
    const struct msg_routed *r;
    const struct destination *dest;
    const char *body; /* the envelope (owned) or the Kafka payload (borrowed) */
    size_t len;
    char *owned_body;
    char nango_sig[65], legacy_sig[65], sw_sig[ENVELOPE_STANDARD_SIG_MAX], ts[32];
    char traceparent[TRACEPARENT_BUF]; /* the forwarder's span, sent as `traceparent` */
    struct delivery_header headers[MSG_ROUTED_MAX_HEADERS + 16];
    size_t nheaders;
};
/* Builds the request for message r with payload (the Kafka value) to dest. 0, or -1
 * out of memory (logged; nothing to free). */
int request_build(struct forward_request *req, const struct msg_routed *r, const struct destination *dest,
                  const void *payload, size_t len) __attribute__((warn_unused_result));
/* Sets webhook-timestamp to now (unix seconds) and webhook-signature for it, with the
 * previous signing key too while its grace period lasts at now. */
void request_stamp(struct forward_request *req, long long now);
void request_free(struct forward_request *req);

/* pipeline.c: jobs. */
void pipeline_init(rd_kafka_t *consumer);
/* Takes rkm (a routed, retry or notification message that is due; st as retries_read
 * filled it) and starts its deliveries. */
void pipeline_submit(rd_kafka_message_t *rkm, const struct retry_state *st);
/* Timers: backoffs that ended, hand-offs to try again, lookups to retry. Returns the
 * milliseconds until the next one (at most max_ms). */
int pipeline_tick(int max_ms);
/* Jobs not final yet. */
size_t pipeline_active(void);
/* True while a job waits for a database that cannot be reached (take no new messages
 * meanwhile); one waiting for an unusable environment does not block the others. */
bool pipeline_blocked(void);
/* Stopping: abandons what has not started (its offset is not stored, so it is
 * delivered again after the restart); what is in flight or being handed off ends. */
void pipeline_drain(void);
void pipeline_abort_all(void);

#endif
