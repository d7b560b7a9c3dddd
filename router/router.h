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
};
extern struct router_config g_router;

/* Which field of a connection an identifier is matched against. */
enum connections_match {
    CONNECTIONS_MATCH_CONFIG = 0,   /* connection_config->key */
    CONNECTIONS_MATCH_METADATA,     /* metadata->key */
    CONNECTIONS_MATCH_ID,           /* the connection id itself (key ignored) */
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

#endif
