/*
 * forwarder: delivers routed webhooks to the environment's app.
 *   main.c          consume -> deliver (with in-process retries) -> store offset
 *   destinations.c  where and how a message goes: the environment's URLs, signing keys
 *                   and format, the integration's switch and the connection's override
 *                   (cached PostgreSQL lookups)
 *   request.c       one routed message as an HTTP request: body and headers
 *   envelope.c      the Nango-compatible body and its signatures (pure)
 *   deliver.c       one HTTP POST with libcurl
 */
#ifndef HOOKLINE_FORWARDER_H
#define HOOKLINE_FORWARDER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/msg.h"
#include "forwarder/envelope.h"

struct forwarder_config {
    long admin_port;
    const char *admin_bind;
    long timeout_ms;
    long connect_timeout_ms;
    long attempts;
    long backoff_ms;
    long cache_ttl_ms;
    const char *group_id;
    const char *allow_cidrs;
    const char *retry_schedule;
    long circuit_failures;
    long circuit_cooldown_ms;
    const char *retry_topic_prefix;
};
extern struct forwarder_config g_forwarder;

/* destinations.c: everything the forwarder needs to deliver one message, resolved. */
#define DESTINATION_URL_MAX 2048 /* the CLI stores URLs of at most this many bytes */
struct destination {
    bool found;              /* the environment exists */
    bool forward;            /* the integration forwards (false: sync-only, skip) */
    bool raw;                /* forward_mode raw: the provider's body and headers unchanged */
    bool legacy_signature;   /* also send X-Nango-Signature */
    bool overridden;         /* primary_url is the connection's override */
    char primary_url[DESTINATION_URL_MAX + 1]; /* the connection's override, else the environment's URL; "" none */
    char secondary_url[DESTINATION_URL_MAX + 1];
    char signing_key[256];
    char previous_signing_key[256]; /* "" when none; signs only before previous_until */
    long long previous_until;       /* unix seconds */
};
int destinations_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
/* For a message of environment env_id, integration, and connection (NULL when
 * unattributed). 0 (out->found says whether the environment exists; an integration
 * that no longer exists forwards with the defaults: on, no override), -1 database
 * unavailable. Answers are cached per (environment, integration, connection) until
 * the TTL or any configuration change. */
int destinations_get(const char *env_id, const char *integration, const char *connection, struct destination *out)
    __attribute__((warn_unused_result));
void destinations_watch(void);
bool destinations_ready(void);
void destinations_shutdown(void);

/* deliver.c: one POST. */
struct delivery_header {
    const char *name, *value;
};
struct delivery_result {
    long status;           /* HTTP status, 0 if no response */
    char error[256];       /* transport error, "" if none */
    char refused[64];      /* set when the SSRF rules refused the address ("loopback address") */
    long retry_after_s;    /* the app's Retry-After in seconds, -1 if none */
    double seconds;
};
/* allow_cidrs: addresses outside the public internet that may be reached anyway. */
int deliver_init(const char *allow_cidrs) __attribute__((warn_unused_result));
void deliver_post(const char *url, const struct delivery_header *headers, size_t nheaders, const void *body,
                  size_t len, struct delivery_result *out);
void deliver_shutdown(void);

/* request.c: a routed message as read from Kafka, and the HTTP request made of it. */
#define ROUTED_MAX_HEADERS 64

/* What one routed message carries, as NUL-terminated copies. */
struct routed {
    char webhook_id[64], routed_id[64], env[64], integration[160], provider[64], connection[1040], verified[16],
        event_type[128], content_type[256];
    bool attributed;
    struct msg_http_header passthrough[ROUTED_MAX_HEADERS]; /* the provider's headers that may be passed on */
    size_t npass;
};
/* Fills r from the message headers h (may be NULL). Free with routed_free. */
void routed_read(struct routed *r, rd_kafka_headers_t *h);

/* handoff.c: copies rkm to topic with the extra headers (replacing same-named ones)
 * and waits for Kafka's acknowledgement. 0 stored, -1 a stop was requested while Kafka
 * kept refusing (the caller must not store the input offset). handoff_init makes sure
 * the given topics exist. */
int handoff_init(const char *const *topics, size_t ntopics) __attribute__((warn_unused_result));
int handoff(const char *topic, const rd_kafka_message_t *rkm, const struct delivery_header *extra, size_t nextra)
    __attribute__((warn_unused_result));
/* The dead-letter hand-off, with where and why the delivery to url failed. */
int dead_letter(const rd_kafka_message_t *rkm, const char *wid, const char *url, long status, const char *error,
                long attempts) __attribute__((warn_unused_result));
void handoff_shutdown(void);

/* circuit.c: may a delivery to url be attempted now? false: the circuit is open, and
 * wait_ms says how long until it may be probed (0 while a probe is out). And the outcome
 * of a pass that was attempted (ok: the app answered, even with a refusal). */
bool circuit_allow(const char *url, long *wait_ms);
void circuit_record(const char *url, bool ok);

/* retries.c: the durable retry schedule, one Kafka topic per pass. */
struct retry_state {
    int pass;            /* 1..retries_passes() */
    long long due_ms;    /* unix ms the pass may start at */
    long attempts;       /* HTTP attempts made before this pass */
    char url[2048];      /* the destination this copy is for */
};
int retries_init(const char *schedule, const char *prefix, const char *group) __attribute__((warn_unused_result));
const char *const *retries_topics(size_t *n);
size_t retries_passes(void);
/* True if rkm came from a retry topic (st filled). */
bool retries_read(const rd_kafka_message_t *rkm, struct retry_state *st);
/* Hands the delivery to url over to pass next_pass (delay from the schedule, or the
 * app's Retry-After when >= 0). 0 stored, -1 stopping (do not store the input offset). */
int retry_later(const rd_kafka_message_t *rkm, const char *wid, const char *url, int next_pass, long retry_after_s,
                long attempts) __attribute__((warn_unused_result));
/* Pauses rkm's partition, rewound to rkm, until due_ms; retries_resume_due resumes. */
void retries_pause(rd_kafka_t *consumer, const rd_kafka_message_t *rkm, long long due_ms);
void retries_resume_due(rd_kafka_t *consumer);
void routed_free(struct routed *r);

/* One message's request to every destination: the body and signatures are made once,
 * the timestamp and webhook-signature once per attempt (request_stamp). Headers and
 * body point into the request, into r, dest and the Kafka payload: all must outlive
 * it, and it must not be copied (it points into itself). */
struct forward_request {
    const struct routed *r;
    const struct destination *dest;
    const char *body;          /* the envelope (owned) or the Kafka payload (borrowed) */
    size_t len;
    char *owned_body;
    char nango_sig[65], legacy_sig[65], sw_sig[ENVELOPE_STANDARD_SIG_MAX], ts[32];
    struct delivery_header headers[ROUTED_MAX_HEADERS + 16];
    size_t nheaders;
};
/* Builds the request for message r with payload (the Kafka value) to dest. 0, or -1
 * out of memory (logged; nothing to free). */
int request_build(struct forward_request *req, const struct routed *r, const struct destination *dest,
                  const void *payload, size_t len) __attribute__((warn_unused_result));
/* Sets webhook-timestamp to now (unix seconds) and webhook-signature for it, with the
 * previous signing key too while its grace period lasts at now. */
void request_stamp(struct forward_request *req, long long now);
void request_free(struct forward_request *req);

#endif
