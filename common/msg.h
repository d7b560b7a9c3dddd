/*
 * msg: the contract between the stages, as Kafka message headers.
 *
 * webhooks.raw (written by ingress)
 *   key    provider ordering key (e.g. HubSpot portalId, GitHub installation id) or none
 *   value  the request body, byte for byte as received
 *   headers MSG_H_* below, plus each request header as "http.<lower-case name>"
 *
 * webhooks.routed (written by router): one message per (webhook, connection)
 *   key    "<environment>/<integration>/<connection id>" or, unattributed,
 *          "<environment>/<integration>/"
 *   value  the provider payload for that connection (the raw body, or for a batch the
 *          events of that connection spliced byte for byte into a JSON array)
 *   headers every raw header, plus MSG_H_ROUTED_ID, MSG_H_CONNECTION (absent when
 *          unattributed) and MSG_H_EVENT_TYPE
 *
 * webhooks.rejected (the quarantine, written by every stage: common/quarantine.h): a
 *   message that can never be processed, with its key, value and headers unchanged,
 *   plus MSG_H_REJECT_* (why, which stage, when, and where it was read from), so a stage
 *   moves on instead of retrying it forever. `hookline rejected replay` puts it back on
 *   its origin topic without the MSG_H_REJECT_* headers.
 *
 * webhooks.dead-letters (written by forwarder): the routed message whose delivery to one
 *   destination ran out of attempts, unchanged, plus MSG_H_DL_* (where, why, when).
 *
 * `hookline dlq redrive` copies a dead letter to the first retry topic of the forwarder's
 *   group: value, key and headers unchanged except that MSG_H_DL_* are removed,
 *   MSG_H_RETRY_URL is the dead letter's destination, MSG_H_RETRY_DUE now,
 *   MSG_H_RETRY_ATTEMPTS 0, and MSG_H_REDRIVEN_AT is added.
 * webhooks.notifications (written by syncer): hookline's own webhooks to an
 *   environment's app, to be delivered as they are (signed) by the forwarder.
 *   key    "<environment>/<integration>/<connection id>"
 *   value  the complete JSON body to send (e.g. a `sync` webhook after a sync run)
 *   headers MSG_H_KIND ("sync"), MSG_H_WEBHOOK_ID and MSG_H_ROUTED_ID (the same id,
 *          derived from what is notified, so a re-sent notification has the same id),
 *          MSG_H_ENVIRONMENT, MSG_H_INTEGRATION, MSG_H_CONNECTION, MSG_H_PROVIDER,
 *          MSG_H_RECEIVED_AT (when it was produced) and "http.content-type"
 */
#ifndef HOOKLINE_MSG_H
#define HOOKLINE_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#define MSG_H_WEBHOOK_ID "hl.webhook-id"     /* UUIDv7 given by ingress */
#define MSG_H_RECEIVED_AT "hl.received-at"   /* unix milliseconds, decimal */
#define MSG_H_ENVIRONMENT "hl.environment"   /* environment uuid */
#define MSG_H_INTEGRATION "hl.integration"   /* integration key */
#define MSG_H_PROVIDER "hl.provider"         /* provider name */
#define MSG_H_VERIFIED "hl.verified"         /* "verified" or "unverified" */
#define MSG_H_METHOD "hl.method"
#define MSG_H_PATH "hl.path"
#define MSG_H_QUERY "hl.query"               /* raw query string, without '?' */
#define MSG_H_URL "hl.url"                   /* public URL the provider called */
#define MSG_H_HTTP_PREFIX "http."            /* request headers, lower-cased names */

#define MSG_H_ROUTED_ID "hl.routed-id"       /* deterministic per (webhook, connection, group) */
#define MSG_H_CONNECTION "hl.connection-id"
#define MSG_H_EVENT_TYPE "hl.event-type"
#define MSG_H_REJECT_REASON "hl.reject-reason"       /* printable ASCII, at most QUARANTINE_REASON_MAX */
#define MSG_H_REJECT_STAGE "hl.reject-stage"         /* router, forwarder, syncer, ... */
#define MSG_H_REJECT_AT "hl.reject-at"               /* unix milliseconds */
#define MSG_H_REJECT_TOPIC "hl.reject-topic"         /* where the message was read from */
#define MSG_H_REJECT_PARTITION "hl.reject-partition"
#define MSG_H_REJECT_OFFSET "hl.reject-offset"
#define MSG_H_REJECT_PREFIX "hl.reject-"             /* every MSG_H_REJECT_* starts so */
#define MSG_H_KIND "hl.kind"                 /* webhooks.notifications: what the body is ("sync") */

/* webhooks.forward-retry.<group>.<pass>: a routed message whose delivery to one
 * destination waits for its next pass (the pass is the topic's). */
#define MSG_H_RETRY_DUE "hl.retry.due"           /* unix milliseconds it may be tried at */
#define MSG_H_RETRY_URL "hl.retry.url"           /* the one destination to try */
#define MSG_H_RETRY_ATTEMPTS "hl.retry.attempts" /* HTTP attempts made so far */
/* A delivery deferred because its destination was saturated (too much work queued for
 * it) waits on the first retry topic without using up a pass: */
#define MSG_H_RETRY_PASS "hl.retry.pass"         /* the pass it is in (0: the first), when not the topic's */
#define MSG_H_RETRY_DEFERRALS "hl.retry.deferrals" /* times it was deferred so far */

#define MSG_H_DL_DESTINATION "hl.dl.destination" /* the URL that kept failing */
#define MSG_H_DL_STATUS "hl.dl.status"           /* last HTTP status, "0" if none */
#define MSG_H_DL_ERROR "hl.dl.error"             /* last transport error or "HTTP <status>" */
#define MSG_H_DL_ATTEMPTS "hl.dl.attempts"
#define MSG_H_DL_AT "hl.dl.at"                   /* unix milliseconds */
#define MSG_H_DL_PREFIX "hl.dl."                 /* every MSG_H_DL_* starts so */

#define MSG_H_REDRIVEN_AT "hl.redriven-at"       /* unix milliseconds, set by `hookline dlq redrive` */

/* `hookline replay` copies messages of webhooks.raw or webhooks.routed onto the replay
 * topic of one stage (webhooks.replay.<router|forwarder|syncer>, which only that stage
 * reads besides its input), unchanged but for these: */
#define MSG_H_REPLAY_ID "hl.replay-id"           /* the replay's UUIDv7; apps see X-Hookline-Replay-Id */
#define MSG_H_REPLAY_OF "hl.replay-of"           /* "<topic>/<partition>/<offset>" the copy was read from */

/* Returns the value of the last header called name as a NUL-terminated copy in buf,
 * or NULL if absent or longer than buflen-1. hdrs is borrowed (may be NULL). */
const char *msg_header(rd_kafka_headers_t *hdrs, const char *name, char *buf, size_t buflen);

/* One request header as stored in Kafka; both strings are owned copies. */
struct msg_http_header {
    char *name;   /* without the "http." prefix, lower-case */
    char *value;
};

/* True if the n bytes at s are an RFC 9110 token (a valid header name): 1 or more of
 * ALPHA, DIGIT and !#$%&'*+-.^_`|~ . */
bool msg_token(const char *s, size_t n);

/* Copies the request headers ("http.*") of hdrs into out (at most cap), in order.
 * A stored name is trimmed of spaces and tabs at both ends (libmicrohttpd keeps
 * "Transfer-Encoding " and "webhook-signature\t" as sent) and skipped unless what is
 * left is a token (msg_token); keep (may be NULL) sees the trimmed name and returns
 * false for those to skip. Values holding CR, LF or NUL are skipped (they would split
 * a header line). Returns how many were copied; free them with msg_http_headers_free. */
size_t msg_http_headers(rd_kafka_headers_t *hdrs, struct msg_http_header *out, size_t cap,
                        bool (*keep)(const char *name));
void msg_http_headers_free(struct msg_http_header *hs, size_t n);

#endif
