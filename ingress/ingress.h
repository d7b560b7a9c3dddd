/*
 * ingress: the HTTP front door. A request goes through, in order:
 *   http.c     receive: path, body limit, keep-alive, suspend/resume
 *   lookup.c   which integration (cached PostgreSQL lookup)
 *   (providers/) verification on the raw bytes, ordering key
 *   produce.c  durable write to webhooks.raw; the answer comes from the delivery report
 */
#ifndef HOOKLINE_INGRESS_H
#define HOOKLINE_INGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <microhttpd.h>

#include "common/store.h"
#include "common/ttl_cache.h"
#include "providers/provider.h"

struct ingress_config {
    long port;
    const char *bind;
    long admin_port;
    const char *admin_bind;
    long max_body;
    long max_buffered;
    long threads;
    long kafka_timeout_ms;
    long cache_ttl_ms;
    long connection_timeout_s;
};
extern struct ingress_config g_ingress;

/* One in-flight HTTP request. Owned by the MHD connection; freed when MHD reports the
 * request completed. While suspended it waits for its Kafka delivery report, which
 * fills status and resumes it. */
struct ingress_request {
    struct MHD_Connection *conn;
    char *uri;                  /* raw request URI with query, as sent */
    unsigned char *body;
    size_t body_len, body_cap;
    bool too_large;
    bool over_budget;           /* the global body memory cap was reached */
    bool suspended;
    unsigned status;            /* 0 until the answer is known */
    const char *answer;         /* static JSON body for status */
    double started;             /* monotonic seconds, for the latency histogram */
    char webhook_id[37];
};

/* lookup.c: the integration of (env, key) as the cache holds it. */
struct integration_entry {
    bool found;
    bool allow_unverified;       /* accept webhooks without a signature while no secret is set */
    bool secrets_unreadable;     /* a secret could not be decrypted: answer 503, not 401 */
    char provider[64];
    char webhook_secret[512];
    char client_secret[512];
    char previous_webhook_secret[512];  /* rotation: still accepted while set */
    char previous_client_secret[512];
    char verify_config[2048];    /* generic-hmac settings (JSON), "" if none */
};
int lookup_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
/* 0 found/not-found into out (out->found), -1 database unavailable. Thread-safe. */
int lookup_integration(const char *env_id, const char *key, struct integration_entry *out)
    __attribute__((warn_unused_result));
/* Drops the cache if configuration changed; called periodically from main. */
void lookup_watch(void);
bool lookup_ready(void);
void lookup_shutdown(void);

/* produce.c */
int produce_init(void) __attribute__((warn_unused_result));
/* Queues the webhook on the raw topic. On 0 the request is answered later from the
 * delivery report (the caller suspends it); on -1 the caller answers 503 now. */
int produce_webhook(struct ingress_request *req, const struct webhook_request *wr, const char *env_id,
                    const char *key, const struct provider *p, bool verified) __attribute__((warn_unused_result));
/* Checks the cluster (blocking, up to 1 s); called periodically from main. */
void produce_watch(void);
bool produce_ready(void);
/* Waits until every queued webhook has its delivery report (up to timeout_ms). */
void produce_drain(int timeout_ms);
void produce_shutdown(void);

/* http.c */
struct MHD_Daemon *http_start(void);
void http_stop(struct MHD_Daemon *d);
/* Called from the delivery-report thread: records the answer and resumes. */
void http_answer_later(struct ingress_request *req, unsigned status);
long http_inflight(void);

#endif
