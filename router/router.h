/*
 * router: attributes raw webhooks to connections and republishes them.
 *   main.c         the consume -> route -> publish -> wait for acks -> store offsets loop
 *   route.c        one raw message to its routed (or rejected) messages
 *   connections.c  connection lookups by identifier, cached, dropped on change
 *   publish.c      the producer: keeps every output until Kafka acknowledged it
 *   conn_trust.c   whether a named connection gets the webhook: its own secret
 */
#ifndef HOOKLINE_ROUTER_H
#define HOOKLINE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/store.h"

struct router_config {
    long batch_size;
    long cache_ttl_ms;
    const char *group_id;
    long dedup_window_s;
    const char *topic_replay;
};
extern struct router_config g_router;

/* Which field of a connection an identifier is matched against. */
enum connections_match {
    CONNECTIONS_MATCH_CONFIG = 0,     /* connection_config->key is the value, or a list with it */
    CONNECTIONS_MATCH_METADATA,       /* metadata->key, likewise */
    CONNECTIONS_MATCH_ID,             /* the connection id itself (key ignored) */
    CONNECTIONS_MATCH_CONFIG_KEY,     /* connection_config->key ? value (jsonb: an object key, a list
                                         element or the string itself) */
    CONNECTIONS_MATCH_METADATA_KEY,   /* metadata->key ? value */
    CONNECTIONS_MATCH_CONFIG_ORIGIN,  /* the origin of the URL in connection_config->key is the value */
    CONNECTIONS_MATCH_METADATA_ORIGIN /* the origin of the URL in metadata->key is the value */
};
void connections_ids_free(char **ids, size_t n);
/* connections.c: 0 found (ids/n set, free with connections_ids_free), 1 none, -1 database
 * unavailable (the caller retries: a webhook is never routed on a guess). */
int connections_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
int connections_find(enum connections_match match, const char *env_id, const char *integration_key, const char *key,
                     const char *value, char ***ids, size_t *n) __attribute__((warn_unused_result));
void connections_watch(void);
bool connections_ready(void);
void connections_shutdown(void);

/* publish.c */
int publish_init(void) __attribute__((warn_unused_result));
/* Queues a message on topic. headers are taken (destroyed by the publisher). The
 * publisher keeps copies until acknowledged and re-sends what failed. 0 or -1. */
int publish(const char *topic, const char *key, const void *value, size_t len, rd_kafka_headers_t *headers)
    __attribute__((warn_unused_result));
/* Numbers the input the next publish() calls are outputs of (its index in the batch). */
void publish_input(size_t input);
/* Blocks until every queued message is acknowledged or refused for good (0), or a stop
 * was requested while Kafka kept failing for give_up_s seconds (-1: the caller must
 * not store offsets). */
int publish_wait_all(double give_up_s) __attribute__((warn_unused_result));
/* After publish_wait_all returned 0: the inputs one of whose outputs Kafka refused for
 * good (too large for its topic, also when sent alone), each once, with why; the
 * caller quarantines them. Valid until the next publish_wait_all. */
struct publish_refusal {
    size_t input;
    char why[256];
};
size_t publish_refused(const struct publish_refusal **list);
bool publish_ready(void);
void publish_watch(void);
void publish_shutdown(void);

/* route.c: routes one raw message: publishes its outputs. 0 done, -1 transient failure
 * (database unavailable): the message must be retried, its offset not stored. */
int route_message(const rd_kafka_message_t *rkm) __attribute__((warn_unused_result));
/* Quarantines rkm because Kafka refused an output of it for good (why): with its body,
 * or without it (omit_body: the rejected topic refused that too; the body stays in
 * rkm's topic until its retention, where the reason says). 0 queued, -1 no memory. */
int route_quarantine_refused(const rd_kafka_message_t *rkm, const char *why, bool omit_body)
    __attribute__((warn_unused_result));
void route_metrics_init(void);

/* conn_trust.c: whether a webhook may be attributed to a connection it names (see
 * conn_trust.c for the rule). Main thread only. */
#define CONN_TRUST_MISMATCH "connection-secret-mismatch"     /* its own secret does not verify it */
#define CONN_TRUST_MISSING "connection-secret-required"      /* named by an unsigned part, no own secret */
#define CONN_TRUST_UNREADABLE "connection-secret-unreadable" /* stored, but cannot be decrypted */
struct provider;
struct webhook_request;
struct attribution_group;
/* One webhook as the check needs it; everything borrowed. */
struct conn_trust_request {
    const struct provider *provider;
    const struct webhook_request *wr; /* with now = the time the ingress received it */
    const char *webhook_id, *env, *integration;
    bool verified; /* the ingress verified it with the integration's secret */
};
int conn_trust_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
/* 2: attribute g's webhook to conn, whose own secret verified it; 1: attribute it (the
 * connection has no secret and needs none); 0: do not (*why: a CONN_TRUST_* reason, logged and
 * counted); -1 database unavailable (retry the message), STORE_REFUSED: the database
 * refused the values (the caller quarantines). */
int conn_trust_check(const struct conn_trust_request *t, const struct attribution_group *g, const char *conn,
                     const char **why) __attribute__((warn_unused_result));
void conn_trust_watch(void);
void conn_trust_shutdown(void);

/* dedup.c: drops a re-sent copy of a provider event (see dedup.c). window_s <= 0 turns
 * it off. 0 or -1 (no memory). */
int dedup_init(const char *conninfo, long window_s) __attribute__((warn_unused_result));
/* Claims the event for webhook wid: 1 first copy (route it), 0 a copy of the earlier
 * webhook written into first (drop it), -1 the claim vanished meanwhile (retry). When
 * the database does not answer, or refuses the values, the webhook is let through (1):
 * routing never waits for the check (see dedup.c). */
int dedup_claim(const char *env, const char *integration, const char *event_id, const char *wid, char *first,
                size_t firstlen) __attribute__((warn_unused_result));
/* The events of a batch dedup_webhook left out: one flag per event, or drop NULL. */
struct dedup_drops {
    bool *drop;
    size_t n;
};
void dedup_drops_free(struct dedup_drops *d);
/* The same for one raw message of provider p: replays (MSG_H_REPLAY_ID), unverified
 * webhooks and webhooks without a provider event id always pass. A batch whose events
 * carry their own ids is checked event by event: 1 with the copies among them in *out
 * (route the rest; free with dedup_drops_free), 0 when every event is a copy. Logs
 * what it drops. */
struct provider;
struct webhook_request;
int dedup_webhook(const struct provider *p, const struct webhook_request *wr, rd_kafka_headers_t *raw, const char *env,
                  const char *integration, const char *wid, struct dedup_drops *out)
    __attribute__((warn_unused_result));
/* Claims the events of a batch of raw messages in one statement before they are
 * routed, so that dedup_webhook needs the database only for the copies (and for
 * everything when this statement failed). Main thread; the batch is borrowed. */
void dedup_batch_claim(rd_kafka_message_t *const *batch, size_t n);
/* Deletes expired claims, at most once a minute (call it from the loop). */
void dedup_prune(void);
void dedup_shutdown(void);

#endif
