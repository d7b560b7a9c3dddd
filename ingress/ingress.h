/*
 * ingress: the HTTP front door. A request goes through, in order:
 *   http.c     receive (libmicrohttpd): body limits, keep-alive, suspend/resume, drain
 *   guard.c    abuse limits MHD does not have: a deadline for the whole request
 *   request.c  what to answer, decided without MHD or Kafka (the fuzzer drives it):
 *              path and identifiers, limits, lookup, handshakes, verification
 *   lookup.c   which integration: cached; misses resolved by one background thread
 *   directory.c  which (environment, key) pairs exist: made-up ones are 404 at once
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

#include "common/ident.h"
#include "common/ids.h"
#include "common/store.h"
#include "common/traceparent.h"
#include "common/ttl_cache.h"
#include "providers/provider.h"

struct ingress_config {
    long port;
    const char *bind;
    long max_body;
    long max_buffered;
    long threads;
    long kafka_timeout_ms;
    long cache_ttl_ms;
    long connection_timeout_s;
    long request_timeout_ms;
    long max_connections;
    long max_connections_per_ip;
    long negative_cache_entries;
    long lookup_queue;
    long directory_max;
};
extern struct ingress_config g_ingress;

/* lookup.c: the integration of (env, key) as the cache holds it. */
struct integration_entry {
    bool found;
    bool allow_unverified;   /* accept webhooks without a signature while no secret is set */
    bool secrets_unreadable; /* a secret could not be decrypted: answer 503, not 401 */
    char provider[64];
    char webhook_secret[512];
    char client_secret[512];
    char previous_webhook_secret[512]; /* rotation: still accepted while set */
    char previous_client_secret[512];
    char verify_config[2048]; /* generic-hmac settings (JSON), "" if none */
};

enum lookup_status {
    LOOKUP_FOUND = 0,   /* entry filled, entry.found */
    LOOKUP_UNKNOWN,     /* no such integration (or values the database refuses) */
    LOOKUP_MISS,        /* not cached: ask the resolver (lookup_resolve) */
    LOOKUP_UNAVAILABLE, /* the database cannot tell now: 503 */
    LOOKUP_BUSY,        /* the resolver's queue was full: 503 */
    LOOKUP_FENCE,       /* unknown as far as the change notifications read so far tell:
                           lookup_resolve(fence) waits until every one committed before
                           the request has been read */
};

/* An answer of the resolver, owned by the request that asked; while queued it is also
 * the request's place in the resolver's list of waiters (lookup.c's fields). */
struct lookup_answer {
    enum lookup_status status; /* never LOOKUP_MISS */
    struct integration_entry entry;
    void (*done)(void *ctx);
    void *ctx;
    struct lookup_answer *next;
    char env[ID_LEN + 1]; /* waiting for a fence: the pair to decide again after it */
    char key[IDENT_INTEGRATION_KEY_MAX_LEN + 1];
};

int lookup_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
/* From the caches only: never waits for the database. Thread-safe. entry is filled for
 * LOOKUP_FOUND. */
enum lookup_status lookup_cached(const char *env_id, const char *key, struct integration_entry *entry);
/* Hands (env_id, key) to the resolver thread, which fills *answer (borrowed until done
 * is called) and then calls done(ctx) from its own thread: queued for a lookup after
 * LOOKUP_MISS, or after LOOKUP_FENCE (fence) waiting for the next read-your-writes fence
 * and decided again after it. 0 handed over; -1 when it cannot wait (answer->status
 * says what to answer now: LOOKUP_BUSY when the queue is full or the resolver stopped,
 * LOOKUP_UNKNOWN when too many already wait for a fence; done is not called). */
int lookup_resolve(const char *env_id, const char *key, bool fence, struct lookup_answer *answer,
                   void (*done)(void *ctx), void *ctx) __attribute__((warn_unused_result));
bool lookup_ready(void);
/* Stops the resolver after answering every queued lookup (LOOKUP_UNAVAILABLE for those
 * it did not reach), then closes the database connections. */
void lookup_shutdown(void);

/* directory.c (resolver thread, except directory_has). max: pairs held at most (0: the
 * directory is not used). */
int directory_init(const char *conninfo, size_t max) __attribute__((warn_unused_result));
/* Reloads the directory if it is older than generation (the configuration cache's),
 * not while !listening (callers do not trust it then either). */
void directory_refresh(unsigned long generation, bool listening);
/* 1 the pair exists, 0 it does not, -1 the directory cannot tell (not loaded, or older
 * than generation; DIRECTORY_ANY: the last one loaded, even if stale). Thread-safe. */
#define DIRECTORY_ANY (~0UL)
int directory_has(const char *env_id, const char *key, unsigned long generation);
void directory_shutdown(void);

/* request.c: the decision, from the whole request. */
struct request_view {
    const char *method;
    const char *path; /* the decoded path (MHD's url), without the query */
    const char *uri;  /* the raw request target, query included */
    const struct http_header *headers;
    size_t nheaders;
    const unsigned char *body;
    size_t body_len;
    bool too_large;                       /* the body was over max_body (not kept) */
    bool over_budget;                     /* the global body memory cap was reached */
    const struct lookup_answer *resolved; /* NULL, or the resolver's answer for this request */
};

/* Why a request was not stored (hookline_ingress_refused_total{reason}, http.c's
 * labels), decided with the answer that refuses it: rewording an answer cannot move it
 * to another reason. Every refusal has exactly one; a 2xx has none (REFUSAL_NONE). */
enum refusal {
    REFUSAL_NONE = 0,
    REFUSED_UNKNOWN_TARGET,
    REFUSED_BAD_SIGNATURE,
    REFUSED_UNSIGNED_NOT_ALLOWED,
    REFUSED_BODY_TOO_LARGE,
    REFUSED_TOO_DEEP,
    REFUSED_METHOD,
    REFUSED_HANDSHAKE,
    REFUSED_MISCONFIGURED,
    REFUSED_STORE_UNAVAILABLE,
    REFUSED_BUSY,
    REFUSED_DRAINING,
    REFUSED_KAFKA_UNAVAILABLE,
    REFUSED_KAFKA_TOO_LARGE,
    REFUSED_INTERNAL,
    REFUSED_N
};

enum request_action {
    REQUEST_ANSWER,    /* answer status with json */
    REQUEST_HANDSHAKE, /* answer the provider's handshake (hs) */
    REQUEST_STORE,     /* write to Kafka (wr, provider, verified); answer from the report */
    REQUEST_RESOLVE,   /* the integration is not cached (or fence): lookup_resolve, then decide again */
};

struct request_verdict {
    enum request_action action;
    bool fence;                      /* REQUEST_RESOLVE: wait for a fence (LOOKUP_FENCE) */
    unsigned status;                 /* REQUEST_ANSWER */
    const char *json;                /* REQUEST_ANSWER: static */
    enum refusal refusal;            /* REQUEST_ANSWER, REQUEST_HANDSHAKE: why not stored */
    struct handshake_answer hs;      /* REQUEST_HANDSHAKE: hs.body owned by the verdict */
    const struct provider *provider; /* REQUEST_STORE */
    /* REQUEST_STORE: the integration's provider key as configured; an alias (google-ads)
     * names the same row as its provider but is what the webhook is forwarded "from". */
    char provider_key[64];
    bool verified;
    char env[ID_LEN + 1]; /* from the path, once it is valid */
    char key[IDENT_INTEGRATION_KEY_MAX_LEN + 1];
    char webhook_id[ID_LEN + 1]; /* "" until the integration is known */
    char url[4096];              /* the public URL the provider called (wr.url) */
    struct webhook_request wr;   /* REQUEST_STORE: borrows from the view and this verdict */
};

/* The path names a webhook target that can exist (a UUID and an integration key):
 * 0 and env/key filled, or -1 (a 404 without any lookup). */
int request_target(const char *path, char env[ID_LEN + 1], char key[IDENT_INTEGRATION_KEY_MAX_LEN + 1]);
/* Decides what to answer. Pure apart from lookup_cached and logging. v must outlive the
 * verdict (wr borrows from it); free hs.body with request_verdict_clear. */
void request_decide(const struct request_view *v, struct request_verdict *out);
void request_verdict_clear(struct request_verdict *out);

/* trace.c: the traceparent to store with wr (its own span: a child of a valid incoming
 * `traceparent`, else a new trace) in out; "" only without random bytes. Returns out. */
const char *trace_of_request(const struct webhook_request *wr, char out[TRACEPARENT_BUF]);

/* produce.c */
struct ingress_request;
int produce_init(void) __attribute__((warn_unused_result));
/* Queues the webhook on the raw topic, as from provider_key (the integration's provider
 * key: p's name or an alias of it). On 0 the request is answered later from the
 * delivery report (the caller suspended it first); on -1 the caller answers 503. */
int produce_webhook(struct ingress_request *req, const struct webhook_request *wr, const char *webhook_id,
                    const char *env_id, const char *key, const struct provider *p, const char *provider_key,
                    bool verified) __attribute__((warn_unused_result));
/* Checks the cluster (blocking, up to 1 s); called periodically from main. */
void produce_watch(void);
bool produce_ready(void);
/* Fails every queued webhook now (their reports say so, and answer 503). */
void produce_abandon(void);
/* Waits until every queued webhook has its delivery report (up to timeout_ms). */
void produce_drain(int timeout_ms);
void produce_shutdown(void);

/* http.c */
struct MHD_Daemon *http_start(void);
/* Drain: from now on no request is suspended again and every new one is answered 503
 * with Connection: close; no new connections are accepted (the listening socket is
 * closed by http_stop). */
void http_drain(struct MHD_Daemon *d);
/* Stops MHD; call once http_suspended() is 0 (0.9.75 aborts on a suspended connection). */
void http_stop(struct MHD_Daemon *d);
/* Called from the delivery-report thread: records the answer (REFUSAL_NONE with a 200)
 * and resumes. */
void http_answer_later(struct ingress_request *req, unsigned status, enum refusal refusal);
/* The webhook id of a request (for log lines; "" before it has one). */
const char *http_request_id(const struct ingress_request *req);
/* Requests suspended right now (waiting for Kafka or for the resolver). */
long http_suspended(void);

/* guard.c: every open connection, so that one whose request takes longer than the
 * deadline (headers and body, however slowly they trickle in) can be cut off. */
struct guard_slot;
/* Registers its metric; before MHD starts. */
void guard_init(void);
/* MHD_OPTION_NOTIFY_CONNECTION callback. */
void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode code);
/* The connection's slot (NULL if unknown). */
struct guard_slot *guard_slot_of(struct MHD_Connection *conn);
/* The clock of the next request starts now (a request was answered). NULL is fine. */
void guard_restart(struct guard_slot *s);
/* While waiting (suspended on our side) the deadline does not run; it restarts after. */
void guard_waiting(struct guard_slot *s, bool waiting);
/* Connections open right now. */
long guard_open(void);
/* Cuts off (shutdown) every connection past the deadline; returns how many. */
int guard_sweep(long deadline_ms);

#endif
