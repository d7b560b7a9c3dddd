/*
 * router: attributes raw webhooks to connections and republishes them.
 *   main.c         the consume -> route -> publish -> wait for acks -> store offsets loop
 *   route.c        one raw message to its routed (or rejected) messages
 *   connections.c  connection lookups by identifier, cached, dropped on change
 *   publish.c      the producer: keeps every output until Kafka acknowledged it
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
/* Blocks until every queued message is acknowledged (0) or a stop was requested while
 * Kafka kept failing for give_up_s seconds (-1: the caller must not store offsets). */
int publish_wait_all(double give_up_s) __attribute__((warn_unused_result));
bool publish_ready(void);
void publish_watch(void);
void publish_shutdown(void);

/* route.c: routes one raw message: publishes its outputs. 0 done, -1 transient failure
 * (database unavailable): the message must be retried, its offset not stored. */
int route_message(const rd_kafka_message_t *rkm) __attribute__((warn_unused_result));
void route_metrics_init(void);

/* dedup.c: drops a re-sent copy of a provider event (see dedup.c). window_s <= 0 turns
 * it off. 0 or -1 (no memory). */
int dedup_init(const char *conninfo, long window_s) __attribute__((warn_unused_result));
/* Claims the event for webhook wid: 1 first copy (route it), 0 a copy of the earlier
 * webhook written into first (drop it), -1 the claim vanished meanwhile (retry). When
 * the database does not answer, or refuses the values, the webhook is let through (1):
 * routing never waits for the check (see dedup.c). */
int dedup_claim(const char *env, const char *integration, const char *event_id, const char *wid, char *first,
                size_t firstlen) __attribute__((warn_unused_result));
/* The same for one raw message of provider p: replays (MSG_H_REPLAY_ID), unverified
 * webhooks and webhooks without a provider event id always pass. Logs a drop. */
struct provider;
struct webhook_request;
int dedup_webhook(const struct provider *p, const struct webhook_request *wr, rd_kafka_headers_t *raw, const char *env,
                  const char *integration, const char *wid) __attribute__((warn_unused_result));
/* Claims the events of a batch of raw messages in one statement before they are
 * routed, so that dedup_webhook needs the database only for the copies (and for
 * everything when this statement failed). Main thread; the batch is borrowed. */
void dedup_batch_claim(rd_kafka_message_t *const *batch, size_t n);
/* Deletes expired claims, at most once a minute (call it from the loop). */
void dedup_prune(void);
void dedup_shutdown(void);

#endif
