/*
 * msg: the wire contract between the stages: every message that crosses a topic, as
 * a typed struct with an encoder and a decoder, one set of limits, and the topic names
 * made from the configuration. This module (and its tests) is the only place that
 * spells a header name: a stage, the CLI or the quarantine encodes and decodes with
 * the functions below. Decoders never fail for a transient reason: a message they
 * refuse can never be processed (its stage quarantines it with the reason given).
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
 *          unattributed), MSG_H_EVENT_TYPE and MSG_H_NANGO_EVENT_TYPE (each absent when
 *          there is none) and, when the router could not attribute the webhook for a
 *          reason of its own (not merely "no connection has that identifier", e.g. an
 *          unreadable body, or a named connection whose own secret did not verify it),
 *          MSG_H_UNATTRIBUTED_REASON
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
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/ident.h"
#include "common/outbound.h"
#include "common/traceparent.h"

#define MSG_H_WEBHOOK_ID "hl.webhook-id"   /* UUIDv7 given by ingress */
#define MSG_H_RECEIVED_AT "hl.received-at" /* unix milliseconds, decimal */
#define MSG_H_ENVIRONMENT "hl.environment" /* environment uuid */
#define MSG_H_INTEGRATION "hl.integration" /* integration key */
#define MSG_H_PROVIDER "hl.provider"       /* provider name */
#define MSG_H_VERIFIED "hl.verified"       /* "verified" or "unverified" */
#define MSG_H_METHOD "hl.method"
#define MSG_H_PATH "hl.path"
#define MSG_H_QUERY "hl.query"    /* raw query string, without '?' */
#define MSG_H_URL "hl.url"        /* public URL the provider called */
#define MSG_H_HTTP_PREFIX "http." /* request headers, lower-cased names */
/* W3C traceparent of the hop that wrote the message (common/traceparent.h): the
 * ingress's span on a raw message, the router's on a routed one (same trace id, new
 * span id), the syncer's on a notification. Optional: a message without a valid one
 * is still processed, and its next hop starts a new trace. */
#define MSG_H_TRACEPARENT "hl.traceparent"

#define MSG_H_ROUTED_ID "hl.routed-id" /* deterministic per (webhook, connection, group) */
#define MSG_H_CONNECTION "hl.connection-id"
#define MSG_H_EVENT_TYPE "hl.event-type"
/* The event type Nango's routing script matches for the same webhook (the header value or
 * body field alone, e.g. "issues" where MSG_H_EVENT_TYPE is "issues.opened"). */
#define MSG_H_NANGO_EVENT_TYPE "hl.nango-event-type"
#define MSG_H_UNATTRIBUTED_REASON "hl.unattributed-reason" /* enum msg_unattributed_reason, by name */
#define MSG_H_REJECT_REASON "hl.reject-reason"             /* printable ASCII, at most QUARANTINE_REASON_MAX */
#define MSG_H_REJECT_STAGE "hl.reject-stage"               /* router, forwarder, syncer, ... */
#define MSG_H_REJECT_AT "hl.reject-at"                     /* unix milliseconds */
#define MSG_H_REJECT_TOPIC "hl.reject-topic"               /* where the message was read from */
#define MSG_H_REJECT_PARTITION "hl.reject-partition"
#define MSG_H_REJECT_OFFSET "hl.reject-offset"
#define MSG_H_REJECT_BODY_OMITTED "hl.reject-body-omitted" /* bytes of a body not kept (too large) */
#define MSG_H_REJECT_PREFIX "hl.reject-"                   /* every MSG_H_REJECT_* starts so */
#define MSG_H_KIND "hl.kind"                               /* webhooks.notifications: what the body is ("sync") */

/* webhooks.forward-retry.<group>.<pass>: a routed message whose delivery to one
 * destination waits for its next pass (the pass is the topic's). */
#define MSG_H_RETRY_DUE "hl.retry.due"           /* unix milliseconds it may be tried at */
#define MSG_H_RETRY_URL "hl.retry.url"           /* the one destination to try */
#define MSG_H_RETRY_ATTEMPTS "hl.retry.attempts" /* HTTP attempts made so far */
/* A delivery deferred because its destination was saturated (too much work queued for
 * it) waits on the first retry topic without using up a pass: */
#define MSG_H_RETRY_PASS "hl.retry.pass"           /* the pass it is in (0: the first), when not the topic's */
#define MSG_H_RETRY_DEFERRALS "hl.retry.deferrals" /* times it was deferred so far */

#define MSG_H_DL_DESTINATION "hl.dl.destination" /* the URL that kept failing */
#define MSG_H_DL_STATUS "hl.dl.status"           /* last HTTP status, "0" if none */
#define MSG_H_DL_ERROR "hl.dl.error"             /* last transport error or "HTTP <status>" */
#define MSG_H_DL_ATTEMPTS "hl.dl.attempts"
#define MSG_H_DL_AT "hl.dl.at"   /* unix milliseconds */
#define MSG_H_DL_PREFIX "hl.dl." /* every MSG_H_DL_* starts so */

#define MSG_H_REDRIVEN_AT "hl.redriven-at" /* unix milliseconds, set by `hookline dlq redrive` */

/* `hookline replay` copies messages of webhooks.raw or webhooks.routed onto the replay
 * topic of one stage (webhooks.replay.<router|forwarder|syncer>, which only that stage
 * reads besides its input), unchanged but for these: */
#define MSG_H_REPLAY_ID "hl.replay-id" /* the replay's UUIDv7; apps see X-Hookline-Replay-Id */
#define MSG_H_REPLAY_OF "hl.replay-of" /* "<topic>/<partition>/<offset>" the copy was read from */

/* ---- limits ---------------------------------------------------------------------- */
/* One cap per kind of value, the same in every stage, so a value one stage accepts
 * never fails in the next: identifiers (webhook id, routed id, environment, provider,
 * connection id, event type) IDENT_MAX_LEN bytes, integration keys
 * IDENT_INTEGRATION_KEY_MAX_LEN, URLs (a retry's or a dead letter's destination)
 * OUTBOUND_URL_MAX. The request line of a raw message has the ingress's caps. */
#define MSG_ID_BUF (IDENT_MAX_LEN + 1)
#define MSG_KEY_BUF (IDENT_INTEGRATION_KEY_MAX_LEN + 1)
#define MSG_URL_BUF (OUTBOUND_URL_MAX + 1)
#define MSG_RAW_METHOD_BUF 16
#define MSG_RAW_PATH_BUF 512
#define MSG_RAW_QUERY_BUF 2048
#define MSG_RAW_URL_BUF 4096
#define MSG_RAW_MAX_HEADERS 128   /* request headers a raw message is read with */
#define MSG_ROUTED_MAX_HEADERS 64 /* request headers a routed message passes on */
#define MSG_REJECT_REASON_MAX 300 /* bytes of a quarantine reason, without the NUL */

/* ---- generic ----------------------------------------------------------------------- */
/* Returns the value of the last header called name as a NUL-terminated copy in buf,
 * or NULL if absent or longer than buflen-1. hdrs is borrowed (may be NULL). */
const char *msg_header(rd_kafka_headers_t *hdrs, const char *name, char *buf, size_t buflen);

/* One request header as stored in Kafka; both strings are owned copies. */
struct msg_http_header {
    char *name; /* without the "http." prefix, lower-case */
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

/* "<environment>/<integration>/<connection id>" ("" for a NULL connection: unattributed),
 * the key of a routed message and of a notification: a new string (free it), or NULL
 * when out of memory. */
char *msg_routed_key(const char *env, const char *integration, const char *connection);

/* ---- webhooks.raw (ingress -> router) ------------------------------------------------ */
/* What the ingress knows of a request; the strings are borrowed. */
struct msg_raw_meta {
    const char *webhook_id, *env, *integration, *provider;
    bool verified;
    const char *method, *path, *query, *url;
    long long received_at_ms;
    const char *traceparent; /* the ingress's span (NULL: none) */
};
/* New headers for m, with room for nhttp request headers (msg_raw_add_http). */
rd_kafka_headers_t *msg_raw_encode(const struct msg_raw_meta *m, size_t nhttp);
/* Adds request header name (lower-cased here) with value; a name too long to store is
 * left out. */
void msg_raw_add_http(rd_kafka_headers_t *h, const char *name, const char *value);

/* A raw message as the router reads it: NUL-terminated copies ("" when absent or over
 * their cap) and every request header (owned: msg_raw_free). */
struct msg_raw {
    char webhook_id[MSG_ID_BUF], env[MSG_ID_BUF], integration[MSG_KEY_BUF], provider[MSG_ID_BUF];
    char method[MSG_RAW_METHOD_BUF], path[MSG_RAW_PATH_BUF], query[MSG_RAW_QUERY_BUF], url[MSG_RAW_URL_BUF];
    char traceparent[TRACEPARENT_BUF]; /* MSG_H_TRACEPARENT when valid, else "" */
    struct msg_http_header headers[MSG_RAW_MAX_HEADERS];
    size_t nheaders;
    bool verified;            /* the ingress verified it with the integration's secret */
    long long received_at_ms; /* when the ingress received it; 0 when absent or not digits */
};
/* Fills m from h (may be NULL). NULL when its contract headers are usable, else why
 * not (a static string). Free with msg_raw_free either way. */
const char *msg_raw_decode(struct msg_raw *m, rd_kafka_headers_t *h) __attribute__((warn_unused_result));
void msg_raw_free(struct msg_raw *m);

/* ---- webhooks.routed (router -> forwarder, syncer) and webhooks.notifications
 *      (syncer -> forwarder): one shape, read by one decoder ----------------------- */
/* Adds the routed headers to h (a copy of the raw message's headers): the routed id,
 * the connection (NULL: unattributed) and the event type (NULL: none). */
void msg_routed_encode(rd_kafka_headers_t *h, const char *routed_id, const char *connection, const char *event_type);
/* Adds the Nango event type (NULL or "": none) to h, after msg_routed_encode. */
void msg_routed_encode_nango_type(rd_kafka_headers_t *h, const char *nango_event_type);
/* Marks h verified: the router verified it with the attributed connection's own secret. */
void msg_routed_encode_verified(rd_kafka_headers_t *h);

/* Why the router published a webhook unattributed although the provider names its
 * connections: the webhook is delivered as received instead of being quarantined (it
 * was answered 200), and the app is told why (X-Hookline-Unattributed-Reason). */
enum msg_unattributed_reason {
    MSG_UNATTRIBUTED_NONE = 0,
    MSG_UNATTRIBUTED_UNREADABLE_BODY,      /* "unreadable-body": not the JSON or form the provider sends */
    MSG_UNATTRIBUTED_NESTED_TOO_DEEPLY,    /* "nested-too-deeply": over JSON_NESTING_MAX */
    MSG_UNATTRIBUTED_UNVERIFIED_HANDSHAKE, /* "unverified-handshake": e.g. Notion's verification token */
    /* The connection the webhook named did not get it (router/conn_trust.c): */
    MSG_UNATTRIBUTED_CONNECTION_SECRET_MISMATCH, /* "connection-secret-mismatch": its own secret does not verify it */
    MSG_UNATTRIBUTED_CONNECTION_SECRET_REQUIRED, /* "connection-secret-required": named by an unsigned part, no own secret */
    MSG_UNATTRIBUTED_CONNECTION_SECRET_UNREADABLE, /* "connection-secret-unreadable": stored, not decryptable */
    MSG_UNATTRIBUTED_REASONS                       /* how many there are */
};
/* The reason's name as on the wire (a static string; "" for NONE or out of range). */
const char *msg_unattributed_reason_name(enum msg_unattributed_reason r);
/* The reason named so; NONE for an unknown name. */
enum msg_unattributed_reason msg_unattributed_reason_of(const char *name);
/* Sets MSG_H_UNATTRIBUTED_REASON on h to r's name (NONE removes it). */
void msg_routed_set_unattributed_reason(rd_kafka_headers_t *h, enum msg_unattributed_reason r);
/* Sets h's MSG_H_TRACEPARENT to traceparent, replacing the previous hop's ("" or NULL:
 * only removed). Every stage that writes a message for the next hop calls it. */
void msg_trace_encode(rd_kafka_headers_t *h, const char *traceparent);

/* A notification: hookline's own webhook (kind "sync"), its body ready to send. */
struct msg_notification {
    const char *kind, *id, *env, *integration, *connection, *provider; /* borrowed */
    long long produced_at_ms;
    const char *traceparent; /* the syncer's span (NULL: none); borrowed */
};
/* New headers for n (content type application/json; id is both webhook and routed id). */
rd_kafka_headers_t *msg_notification_encode(const struct msg_notification *n);

/* The fields of a routed message, as bits: which were required and not usable. */
enum {
    MSG_F_WEBHOOK_ID = 1 << 0,
    MSG_F_ROUTED_ID = 1 << 1,
    MSG_F_ENVIRONMENT = 1 << 2,
    MSG_F_INTEGRATION = 1 << 3,
    MSG_F_PROVIDER = 1 << 4,         /* optional; present it must be an identifier */
    MSG_F_CONNECTION = 1 << 5,       /* optional (unattributed); present it must be an identifier */
    MSG_F_EVENT_TYPE = 1 << 6,       /* optional; present it must be an identifier */
    MSG_F_NANGO_EVENT_TYPE = 1 << 7, /* optional; present it must be an identifier */
};
/* What delivering a routed message needs (msg_routed_decode's verdict). */
#define MSG_ROUTED_REQUIRED                                                                                            \
    (MSG_F_WEBHOOK_ID | MSG_F_ROUTED_ID | MSG_F_ENVIRONMENT | MSG_F_INTEGRATION | MSG_F_PROVIDER | MSG_F_CONNECTION)

/* A routed message (or a notification) as read: NUL-terminated copies, "" when absent
 * or over their cap (a value holding a NUL is over its cap). A value that is present
 * but unusable is kept as read when it fits (bad says which): webhook_id is then made
 * printable, for log lines. */
struct msg_routed {
    char webhook_id[MSG_ID_BUF], routed_id[MSG_ID_BUF], env[MSG_ID_BUF], integration[MSG_KEY_BUF], provider[MSG_ID_BUF],
        connection[MSG_ID_BUF], event_type[MSG_ID_BUF], verified[16], content_type[256];
    char nango_event_type[MSG_ID_BUF];                /* MSG_H_NANGO_EVENT_TYPE, "" when absent or unusable */
    char received_at[16];                             /* unix ms as digits, "" when absent or not digits */
    char replay_id[MSG_ID_BUF];                       /* MSG_H_REPLAY_ID when a UUID (`hookline replay`), else "" */
    char traceparent[TRACEPARENT_BUF];                /* MSG_H_TRACEPARENT when valid, else "" */
    bool attributed;                                  /* the connection id is present (usable or not) */
    bool notification;                                /* a notification (kind present): its body is ready to send */
    enum msg_unattributed_reason unattributed_reason; /* NONE when absent or not a known name */
    unsigned bad;                                     /* MSG_F_* present but unusable, or required and absent */
    unsigned absent;                                  /* MSG_F_* absent */
    struct msg_http_header passthrough[MSG_ROUTED_MAX_HEADERS]; /* request headers kept */
    size_t npass;
};
/* Fills m from h (may be NULL); the request headers are read only when keep is not
 * NULL, filtered by it (msg_http_headers). Returns msg_routed_problem(m,
 * MSG_ROUTED_REQUIRED). Free with msg_routed_free either way. */
const char *msg_routed_decode(struct msg_routed *m, rd_kafka_headers_t *h, bool (*keep)(const char *name));
/* Why the fields of m in the mask (MSG_F_*) are not usable (a static string naming the
 * first, in the order of the enum), or NULL when they are. A stage that needs other
 * fields than delivery does asks with its own mask. */
const char *msg_routed_problem(const struct msg_routed *m, unsigned fields);
void msg_routed_free(struct msg_routed *m);

/* ---- webhooks.forward-retry.<group>.<pass> (forwarder -> forwarder; the CLI redrives) */
/* A routed message waiting for its next pass to one destination. */
struct msg_retry {
    long long due_ms;      /* unix ms it may be tried at; 0 when absent */
    long attempts;         /* HTTP attempts made so far */
    char url[MSG_URL_BUF]; /* the one destination; "" when absent or over OUTBOUND_URL_MAX */
    int pass;              /* a deferred delivery's own pass (0: the first); -1: the topic's */
    long deferrals;        /* times deferred because the destination was saturated */
};
/* Fills r from h (may be NULL). */
void msg_retry_decode(struct msg_retry *r, rd_kafka_headers_t *h);
/* Sets r's headers on h (a copy of the routed message's), replacing earlier ones; pass
 * < 0 and deferrals 0 remove theirs (a new pass starts afresh). */
void msg_retry_encode(rd_kafka_headers_t *h, const struct msg_retry *r);
/* The defaults of HOOKLINE_TOPIC_FORWARD_RETRY and HOOKLINE_FORWARDER_GROUP: the
 * forwarder makes its retry topics of them, and `hookline dlq redrive` writes there. */
#define MSG_RETRY_PREFIX_DEFAULT "webhooks.forward-retry"
#define MSG_FORWARDER_GROUP_DEFAULT "hookline-forwarder"
/* True if group may name retry topics: letters, digits, '.', '_', '-'. */
bool msg_retry_group_valid(const char *group);
/* The retry topic of pass (1-based) for group: "<prefix>.<group>.<pass>" in buf. 0, or
 * -1 when it does not fit. */
int msg_retry_topic(char *buf, size_t len, const char *prefix, const char *group, int pass);

/* ---- webhooks.dead-letters (forwarder -> CLI) ---------------------------------------- */
struct msg_dead_letter {
    const char *destination; /* the URL that kept failing */
    long status;             /* last HTTP status, 0 if none */
    const char *error;       /* last transport error or "HTTP <status>" */
    long attempts;
    long long at_ms;
};
/* Sets d's headers on h (a copy of the routed message's), replacing earlier ones, and
 * removes the retry pass and deferrals (a redrive starts afresh). */
void msg_dead_letter_encode(rd_kafka_headers_t *h, const struct msg_dead_letter *d);
/* A dead letter as the CLI shows it: each field NULL when absent or over
 * OUTBOUND_URL_MAX, else pointing into buf. */
struct msg_dead_letter_view {
    const char *webhook_id, *routed_id, *integration, *connection, *destination, *status, *error, *attempts, *at,
        *environment, *redriven_at;
    char buf[11][MSG_URL_BUF];
};
void msg_dead_letter_decode(struct msg_dead_letter_view *v, rd_kafka_headers_t *h);
/* The headers of a redrive (new; the producer takes them): the dead letter's h without
 * its dead-letter and retry headers, then a retry (msg_retry) to destination due at
 * now_ms with no attempts, and the time of the redrive. */
rd_kafka_headers_t *msg_redrive_headers(rd_kafka_headers_t *h, const char *destination, long long now_ms);

/* ---- webhooks.rejected (every stage -> CLI; common/quarantine.h) --------------------- */
struct msg_rejected {
    const char *reason; /* printable ASCII, at most MSG_REJECT_REASON_MAX bytes */
    const char *stage;  /* router, forwarder, syncer, ... */
    long long at_ms;
    const char *topic; /* where the message was read from */
    int32_t partition;
    int64_t offset;
};
/* Sets r's headers on h (a copy of the message's own, msg_rejected_strip'ped). */
void msg_rejected_encode(rd_kafka_headers_t *h, const struct msg_rejected *r);
/* Removes every quarantine header from h (may be NULL): a replay, or a message
 * quarantined again, carries none of an earlier story. */
void msg_rejected_strip(rd_kafka_headers_t *h);
/* A quarantined message as the CLI shows it: each field NULL when absent or over
 * MSG_REJECT_REASON_MAX, else pointing into buf (as stored: not made printable). */
struct msg_rejected_view {
    const char *webhook_id, *stage, *reason, *integration, *topic, *partition, *offset, *at, *body_omitted;
    char buf[9][MSG_REJECT_REASON_MAX + 1];
};
void msg_rejected_decode(struct msg_rejected_view *v, rd_kafka_headers_t *h);

#endif
