/* http: the ingress HTTP server (libmicrohttpd 0.9.75). Keep-alive matters for
 * throughput, so every answer is given only after the whole body has been read (except
 * a 413 known from Content-Length, which closes the connection). A request waits
 * suspended, never blocking a worker thread, for two things: its integration when it
 * is not cached (lookup.c's resolver) and its Kafka delivery report.
 *
 * Drain: http_drain stops accepting connections and answers every later request 503
 * with Connection: close, and nothing is suspended any more; main waits until every
 * suspended request has been resumed before MHD_stop_daemon, which 0.9.75 aborts on
 * while a connection is suspended. The counter of suspended requests is raised before
 * the drain flag is read and lowered only after MHD_resume_connection, so that main
 * never sees 0 while a connection is still suspended. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingress/ingress.h"

#define MAX_HEADERS 128

/* One in-flight HTTP request. Owned by the MHD connection; freed when MHD reports the
 * request completed. While suspended it waits for the resolver or for its Kafka
 * delivery report, which fill in what they found and resume it. */
struct ingress_request {
    struct MHD_Connection *conn;
    struct guard_slot *slot;
    char *uri; /* raw request URI with query, as sent */
    unsigned char *body;
    size_t body_len, body_cap;
    bool too_large;
    bool over_budget; /* the global body memory cap was reached */
    bool discard;     /* the path names nothing: the body is not kept */
    bool answered;    /* a 413 from Content-Length was queued with the headers */
    bool suspended;
    struct lookup_answer *resolved; /* the resolver's answer (owned), once asked */
    unsigned status;                /* the Kafka answer, 0 until known */
    enum refusal refusal;           /* with status: why it was not stored */
    double started;                 /* monotonic seconds, for the latency histogram */
    char webhook_id[ID_LEN + 1];
};

static atomic_long suspended;
static atomic_bool draining;
static struct metric *m_status[6]; /* 200 401 404 413 503 other */
static struct metric *m_latency, *m_bytes, *m_buffered;

static const char ANSWER_OK[] = "{\"status\":\"success\"}";
static const char ANSWER_NOT_STORED[] = "{\"error\":\"temporarily unable to store the webhook\"}";
static const char ANSWER_TOO_LARGE_TO_STORE[] = "{\"error\":\"body too large for the raw topic\"}";
static const char ANSWER_DRAINING[] = "{\"error\":\"shutting down, retry later\"}";
static const char ANSWER_NO_MEMORY[] = "{\"error\":\"out of memory\"}";

/* hookline_ingress_refused_total{reason}: why requests were not stored, as decided with
 * each answer (enum refusal). A small fixed set of reasons and no integration label:
 * integration keys are chosen by tenants, so a label per integration would grow without
 * bound (and the registry caps series). Requests cut off at the deadline get no answer:
 * guard.c counts those connections. */
static const char *const refusal_labels[REFUSED_N] = {
    [REFUSED_UNKNOWN_TARGET] = "reason=\"unknown_target\"",
    [REFUSED_BAD_SIGNATURE] = "reason=\"bad_signature\"",
    [REFUSED_UNSIGNED_NOT_ALLOWED] = "reason=\"unsigned_not_allowed\"",
    [REFUSED_BODY_TOO_LARGE] = "reason=\"body_too_large\"",
    [REFUSED_TOO_DEEP] = "reason=\"too_deep\"",
    [REFUSED_METHOD] = "reason=\"method\"",
    [REFUSED_HANDSHAKE] = "reason=\"handshake_refused\"",
    [REFUSED_MISCONFIGURED] = "reason=\"misconfigured\"",
    [REFUSED_STORE_UNAVAILABLE] = "reason=\"store_unavailable\"",
    [REFUSED_BUSY] = "reason=\"busy\"",
    [REFUSED_DRAINING] = "reason=\"draining\"",
    [REFUSED_KAFKA_UNAVAILABLE] = "reason=\"kafka_unavailable\"",
    [REFUSED_KAFKA_TOO_LARGE] = "reason=\"kafka_too_large\"",
    [REFUSED_INTERNAL] = "reason=\"internal\"",
};
static struct metric *m_refused[REFUSED_N];

static void count_status(unsigned status)
{
    static const unsigned codes[] = {200, 401, 404, 413, 503};
    size_t i = 0;
    while (i < 5 && codes[i] != status)
        i++;
    metric_inc(m_status[i]);
}

static void count_refusal(enum refusal why)
{
    if (why != REFUSAL_NONE)
        metric_inc(m_refused[why]);
}

/* extra: nextra more headers (entries with a NULL name are skipped), e.g. a handshake's
 * X-Content-Type-Options; may be NULL. */
static enum MHD_Result send_response(struct ingress_request *req, unsigned status, const char *content_type,
                                     const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
                                     const struct http_header *extra, size_t nextra)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    for (size_t i = 0; extra && i < nextra; i++)
        if (extra[i].name)
            MHD_add_response_header(r, extra[i].name, extra[i].value);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "5");
    if (atomic_load(&draining))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (req->webhook_id[0])
        MHD_add_response_header(r, "X-Hookline-Webhook-Id", req->webhook_id);
    enum MHD_Result ret = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    count_status(status);
    metric_observe(m_latency, clock_mono_s() - req->started);
    return ret;
}

static enum MHD_Result send_answer(struct ingress_request *req, unsigned status, const char *json, enum refusal why)
{
    count_refusal(why);
    return send_response(req, status, "application/json", json, strlen(json), MHD_RESPMEM_PERSISTENT, NULL, 0);
}

/* Suspends req (before anything that may resume it is started); false while draining. */
static bool suspend(struct ingress_request *req)
{
    atomic_fetch_add(&suspended, 1);
    if (atomic_load(&draining)) {
        atomic_fetch_sub(&suspended, 1);
        return false;
    }
    req->suspended = true;
    guard_waiting(req->slot, true);
    MHD_suspend_connection(req->conn);
    return true;
}

/* From another thread: the last touch of req, which MHD may finish once resumed. */
static void resume(struct ingress_request *req)
{
    struct MHD_Connection *conn = req->conn;
    MHD_resume_connection(conn);
    atomic_fetch_sub(&suspended, 1);
}

void http_answer_later(struct ingress_request *req, unsigned status, enum refusal why)
{
    req->status = status;
    req->refusal = why;
    resume(req);
}

static void resolved(void *ctx)
{
    resume(ctx);
}

const char *http_request_id(const struct ingress_request *req)
{
    return req->webhook_id;
}

long http_suspended(void)
{
    return atomic_load(&suspended);
}

struct header_list {
    struct http_header items[MAX_HEADERS];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *name, const char *value)
{
    (void)kind;
    struct header_list *hl = cls;
    if (hl->n < MAX_HEADERS)
        hl->items[hl->n++] = (struct http_header){name, value ? value : ""};
    return MHD_YES;
}

/* Hands the webhook to Kafka; the answer comes from the delivery report. */
static enum MHD_Result store_webhook(struct ingress_request *req, const struct request_verdict *v)
{
    if (!suspend(req)) /* suspend before producing: the delivery report may resume us at once */
        return send_answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, ANSWER_DRAINING, REFUSED_DRAINING);
    metric_add(m_bytes, (long)req->body_len);
    if (produce_webhook(req, &v->wr, v->webhook_id, v->env, v->key, v->provider, v->provider_key, v->verified) < 0)
        http_answer_later(req, MHD_HTTP_SERVICE_UNAVAILABLE, REFUSED_KAFKA_UNAVAILABLE);
    return MHD_YES;
}

/* Asks the resolver for the integration; the request is decided again once it answers. */
static enum MHD_Result resolve_later(struct ingress_request *req, const struct request_verdict *v)
{
    if (!req->resolved && !(req->resolved = malloc(sizeof *req->resolved)))
        return send_answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, ANSWER_NO_MEMORY, REFUSED_INTERNAL);
    if (!suspend(req))
        return send_answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, ANSWER_DRAINING, REFUSED_DRAINING);
    if (lookup_resolve(v->env, v->key, v->fence, req->resolved, resolved, req) < 0) {
        /* A flood refused here must not flood the log too: one line a second at most. */
        static atomic_long refused, logged_at;
        long now = (long)clock_mono_s(), last = atomic_load(&logged_at);
        long n = req->resolved->status == LOOKUP_BUSY ? atomic_fetch_add(&refused, 1) + 1 : 0;
        if (n && now != last && atomic_compare_exchange_strong(&logged_at, &last, now))
            log_warn(NULL, "503: lookup queue full (HOOKLINE_INGRESS_LOOKUP_QUEUE), %ld refused so far; last %s/%s", n,
                     v->env, v->key);
        resume(req); /* answered (req->resolved->status) when MHD calls us back, like any resolved request */
    }
    return MHD_YES;
}

/* The whole body is here (or the resolver answered): decide and act. */
static enum MHD_Result handle_request(struct ingress_request *req, const char *url, const char *method)
{
    if (req->discard) /* the path was judged when the headers arrived */
        return send_answer(req, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}", REFUSED_UNKNOWN_TARGET);
    if (atomic_load(&draining))
        return send_answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, ANSWER_DRAINING, REFUSED_DRAINING);
    struct header_list hl = {.n = 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, &hl);
    struct request_view view = {
        .method = method,
        .path = url,
        .uri = req->uri,
        .headers = hl.items,
        .nheaders = hl.n,
        .body = req->body,
        .body_len = req->body_len,
        .too_large = req->too_large,
        .over_budget = req->over_budget,
        .resolved = req->suspended ? req->resolved : NULL,
    };
    req->suspended = false;
    struct request_verdict *v = malloc(sizeof *v); /* 5 KB: off the worker's stack */
    if (!v)
        return send_answer(req, MHD_HTTP_SERVICE_UNAVAILABLE, ANSWER_NO_MEMORY, REFUSED_INTERNAL);
    request_decide(&view, v);
    memcpy(req->webhook_id, v->webhook_id, sizeof req->webhook_id);
    enum MHD_Result ret;
    switch (v->action) {
    case REQUEST_RESOLVE:
        ret = resolve_later(req, v);
        break;
    case REQUEST_STORE:
        ret = store_webhook(req, v);
        break;
    case REQUEST_HANDSHAKE: {
        const char *type = v->hs.content_type[0] ? v->hs.content_type : "text/plain";
        count_refusal(v->refusal);
        ret = send_response(req, v->hs.status, type, v->hs.body ? v->hs.body : "", v->hs.body_len,
                            MHD_RESPMEM_MUST_COPY, v->hs.headers, HANDSHAKE_MAX_HEADERS);
        break;
    }
    case REQUEST_ANSWER:
    default:
        ret = send_answer(req, v->status, v->json, v->refusal);
        break;
    }
    request_verdict_clear(v);
    free(v);
    return ret;
}

/* Bytes of request bodies held by all connections, capped so that many concurrent
 * large bodies cannot exhaust memory: past the cap a request is answered 503. */
static atomic_long buffered_bytes;

static int append_body(struct ingress_request *req, const char *data, size_t n)
{
    if (req->body_len + n > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap * 2 : 16384;
        while (cap < req->body_len + n)
            cap *= 2;
        long grow = (long)(cap - req->body_cap);
        if (atomic_fetch_add(&buffered_bytes, grow) + grow > g_ingress.max_buffered) {
            atomic_fetch_sub(&buffered_bytes, grow);
            req->over_budget = true;
            return 0;
        }
        unsigned char *b = realloc(req->body, cap);
        if (!b) {
            atomic_fetch_sub(&buffered_bytes, grow);
            return -1;
        }
        req->body = b;
        req->body_cap = cap;
        metric_add(m_buffered, grow);
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    return 0;
}

/* The headers are here: judge what can be judged before the body is read. MHD_NO only
 * for a 413 from Content-Length answered at once (MHD then closes the connection). */
static enum MHD_Result on_headers(struct ingress_request *req, struct MHD_Connection *conn, const char *url)
{
    req->conn = conn;
    req->slot = guard_slot_of(conn);
    req->started = clock_mono_s();
    char env[ID_LEN + 1], key[IDENT_INTEGRATION_KEY_MAX_LEN + 1];
    req->discard = request_target(url, env, key) < 0;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!req->discard && cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > (unsigned long long)g_ingress.max_body) {
            log_warn(NULL, "413: Content-Length %s over %ld bytes for %s/%s", cl, g_ingress.max_body, env, key);
            req->answered = true;
            return send_answer(req, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}",
                               REFUSED_BODY_TOO_LARGE);
        }
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    struct ingress_request *req = *state;
    if (!req)
        return MHD_NO; /* allocation in on_uri failed */
    if (!req->conn)    /* first call: headers only */
        return on_headers(req, conn, url);
    if (req->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (req->discard || req->too_large || req->over_budget)
            return MHD_YES; /* keep reading (and dropping) so keep-alive survives */
        if (req->body_len + n > (size_t)g_ingress.max_body) {
            req->too_large = true;
            return MHD_YES;
        }
        return append_body(req, upload, n) < 0 ? MHD_NO : MHD_YES;
    }
    if (req->suspended)
        guard_waiting(req->slot, false);
    if (req->suspended && req->status) { /* resumed by the delivery report */
        req->suspended = false;
        unsigned status = req->status;
        req->status = 0;
        return send_answer(req, status,
                           status == MHD_HTTP_OK                  ? ANSWER_OK
                           : status == MHD_HTTP_CONTENT_TOO_LARGE ? ANSWER_TOO_LARGE_TO_STORE
                                                                  : ANSWER_NOT_STORED,
                           req->refusal);
    }
    return handle_request(req, url, method); /* first time, or resumed by the resolver */
}

/* MHD calls this first with the raw URI (query included), which the signature of some
 * providers covers; its return value becomes the request's state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct ingress_request *req = calloc(1, sizeof *req);
    if (req && !(req->uri = strdup(uri))) {
        free(req);
        req = NULL;
    }
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)why;
    struct ingress_request *req = *state;
    guard_restart(guard_slot_of(conn)); /* the next request on this connection starts now */
    if (!req)
        return;
    atomic_fetch_sub(&buffered_bytes, (long)req->body_cap);
    metric_add(m_buffered, -(long)req->body_cap);
    if (req->resolved)
        explicit_bzero(req->resolved, sizeof *req->resolved); /* it held the integration's secrets */
    free(req->resolved);
    free(req->body);
    free(req->uri);
    free(req);
    *state = NULL;
}

struct MHD_Daemon *http_start(void)
{
    static const char *const labels[] = {"status=\"200\"", "status=\"401\"", "status=\"404\"",
                                         "status=\"413\"", "status=\"503\"", "status=\"other\""};
    for (size_t i = 0; i < 6; i++) /* labels are borrowed by metrics */
        m_status[i] = metrics_counter("hookline_ingress_requests_total", labels[i], "webhook requests by answer");
    m_latency = metrics_histogram("hookline_ingress_request_seconds", NULL, "time from request to answer");
    m_bytes = metrics_counter("hookline_ingress_body_bytes_total", NULL, "webhook body bytes accepted");
    m_buffered = metrics_gauge("hookline_ingress_buffered_bytes", NULL, "request body memory held right now");
    for (size_t i = REFUSAL_NONE + 1; i < REFUSED_N; i++)
        m_refused[i] = metrics_counter("hookline_ingress_refused_total", refusal_labels[i],
                                       "webhook requests not stored, by reason (no integration label: unbounded)");
    guard_init();

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_ingress.port)};
    if (inet_pton(AF_INET, g_ingress.bind, &sa.sin_addr) != 1) {
        log_error(NULL, "bad HOOKLINE_INGRESS_BIND '%s'", g_ingress.bind);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)g_ingress.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)g_ingress.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)g_ingress.connection_timeout_s, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, guard_notify, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)g_ingress.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)g_ingress.max_connections_per_ip, MHD_OPTION_END);
    if (!d)
        log_error(NULL, "cannot listen on %s:%ld", g_ingress.bind, g_ingress.port);
    return d;
}

static MHD_socket quiesced = MHD_INVALID_SOCKET;

void http_drain(struct MHD_Daemon *d)
{
    atomic_store(&draining, true);
    if (d)
        quiesced = MHD_quiesce_daemon(d);
}

void http_stop(struct MHD_Daemon *d)
{
    if (d)
        MHD_stop_daemon(d);
    /* Ours to close once MHD's threads are gone; connections waiting in its backlog are
     * refused then. */
    if (quiesced != MHD_INVALID_SOCKET)
        close(quiesced);
    quiesced = MHD_INVALID_SOCKET;
}
