/* http: the ingress HTTP server (libmicrohttpd). Keep-alive matters for throughput,
 * so every answer is given only after the whole body has been read; a request that
 * waits for Kafka is suspended and resumed from the delivery report. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingress/ingress.h"

#define MAX_HEADERS 128
#define WEBHOOK_PREFIX "/webhook/"

static atomic_long inflight;
static struct metric *m_status[6]; /* 200 401 404 413 503 other */
static struct metric *m_latency, *m_bytes, *m_buffered;

static const char ANSWER_OK[] = "{\"status\":\"success\"}";

static void count_status(unsigned status)
{
    static const unsigned codes[] = {200, 401, 404, 413, 503};
    size_t i = 0;
    while (i < 5 && codes[i] != status)
        i++;
    metric_inc(m_status[i]);
}

static enum MHD_Result send_response(struct ingress_request *req, unsigned status, const char *content_type,
                                    const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
                                    const char *retry)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    if (retry)
        MHD_add_response_header(r, "Retry-After", retry);
    if (req->webhook_id[0])
        MHD_add_response_header(r, "X-Hookline-Webhook-Id", req->webhook_id);
    enum MHD_Result ret = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    count_status(status);
    metric_observe(m_latency, clock_mono_s() - req->started);
    return ret;
}

static enum MHD_Result send_answer(struct ingress_request *req, unsigned status, const char *json, const char *retry)
{
    return send_response(req, status, "application/json", json, strlen(json), MHD_RESPMEM_PERSISTENT, retry);
}

static enum MHD_Result fail(struct ingress_request *req, unsigned status, const char *json)
{
    return send_answer(req, status, json, status == MHD_HTTP_SERVICE_UNAVAILABLE ? "5" : NULL);
}

void http_answer_later(struct ingress_request *req, unsigned status)
{
    req->status = status;
    req->answer = status == MHD_HTTP_OK ? ANSWER_OK : "{\"error\":\"temporarily unable to store the webhook\"}";
    atomic_fetch_sub(&inflight, 1);
    /* The last touch of the request on this thread: after resume MHD may finish it. */
    MHD_resume_connection(req->conn);
}

long http_inflight(void)
{
    return atomic_load(&inflight);
}

/* Splits "/webhook/<env>/<key>" (path without query). Returns 0 on success. */
static int parse_path(const char *url, char *env, size_t envcap, char *key, size_t keycap)
{
    if (strncmp(url, WEBHOOK_PREFIX, strlen(WEBHOOK_PREFIX)) != 0)
        return -1;
    const char *e = url + strlen(WEBHOOK_PREFIX);
    const char *slash = strchr(e, '/');
    if (!slash || (size_t)(slash - e) >= envcap)
        return -1;
    memcpy(env, e, (size_t)(slash - e));
    env[slash - e] = '\0';
    const char *k = slash + 1;
    size_t klen = strlen(k);
    if (klen && k[klen - 1] == '/') /* tolerate a trailing slash */
        klen--;
    if (klen == 0 || klen >= keycap || memchr(k, '/', klen))
        return -1;
    memcpy(key, k, klen);
    key[klen] = '\0';
    return id_is_uuid(env) ? 0 : -1;
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

/* Sends the provider's handshake answer (takes ans->body). */
static enum MHD_Result send_handshake(struct ingress_request *req, struct handshake_answer *ans)
{
    const char *type = ans->content_type[0] ? ans->content_type : "text/plain";
    enum MHD_Result ret = ans->body ? send_response(req, ans->status, type, ans->body, ans->body_len,
                                                    MHD_RESPMEM_MUST_FREE, NULL)
                                    : send_response(req, ans->status, type, "", 0, MHD_RESPMEM_PERSISTENT, NULL);
    ans->body = NULL;
    return ret;
}

/* Hands the webhook to Kafka; the answer comes from the delivery report. */
static enum MHD_Result store_webhook(struct ingress_request *req, const struct webhook_request *wr, const char *env,
                                     const char *key, const struct provider *p, bool verified)
{
    metric_add(m_bytes, (long)req->body_len);
    /* Suspend before producing: the delivery report may resume us at once. */
    req->suspended = true;
    MHD_suspend_connection(req->conn);
    atomic_fetch_add(&inflight, 1);
    if (produce_webhook(req, wr, env, key, p, verified) < 0)
        http_answer_later(req, MHD_HTTP_SERVICE_UNAVAILABLE);
    return MHD_YES;
}

/* The whole request is here and its integration known: answer a handshake, verify,
 * then store. */
static enum MHD_Result handle_known(struct ingress_request *req, const struct integration_entry *integ,
                                    const struct webhook_request *wr, const char *env, const char *key)
{
    const struct provider *p = provider_find(integ->provider);
    if (!p) {
        log_error(req->webhook_id, "integration %s/%s names unknown provider '%s'", env, key, integ->provider);
        return fail(req, MHD_HTTP_NOT_FOUND, "{\"error\":\"integration has an unknown provider\"}");
    }
    struct provider_secrets secrets = {
        .webhook_secret = integ->webhook_secret,
        .client_secret = integ->client_secret,
        .previous_webhook_secret = integ->previous_webhook_secret,
        .previous_client_secret = integ->previous_client_secret,
        .verify_config = integ->verify_config[0] ? integ->verify_config : NULL,
    };
    struct handshake_answer ans = {0};
    int hs = provider_handshake(p, wr, &secrets, &ans);
    if (hs < 0)
        return fail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"out of memory\"}");
    if (hs > 0 && !ans.store) {
        log_info(req->webhook_id, "handshake of %s/%s (%s) answered %u", env, key, integ->provider, ans.status);
        return send_handshake(req, &ans);
    }
    free(ans.body);
    if (hs > 0) { /* a handshake that the app must also see (e.g. a verification token) */
        log_info(req->webhook_id, "handshake of %s/%s (%s) stored for the app", env, key, integ->provider);
        return store_webhook(req, wr, env, key, p, false);
    }
    if (strcmp(wr->method, "POST") != 0)
        return fail(req, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method not allowed\"}");
    if (integ->secrets_unreadable) {
        log_error(req->webhook_id, "503: the secrets of %s/%s cannot be decrypted (HOOKLINE_ENCRYPTION_KEY?)", env,
                  key);
        return fail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"integration misconfigured\"}");
    }
    char why[200] = "";
    enum verify_result v = provider_verify(p, wr, &secrets, why, sizeof why);
    bool verified = v == VERIFY_VALID;
    /* Unverified webhooks pass only where nobody can sign (the unauthenticated
     * provider) or the integration opted in while it has no secret. */
    bool unverified_ok = v == VERIFY_UNSUPPORTED || (v == VERIFY_NO_SECRET && integ->allow_unverified);
    if (!verified && !unverified_ok) {
        log_warn(req->webhook_id, "401: %s/%s (%s): %s", env, key, integ->provider,
                 why[0] ? why : "invalid signature");
        return fail(req, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"invalid or missing signature\"}");
    }
    return store_webhook(req, wr, env, key, p, verified);
}

/* The whole body is here: find the integration and build the request view. */
static enum MHD_Result handle_webhook(struct ingress_request *req, const char *url, const char *method)
{
    char env[64], key[160];
    if (parse_path(url, env, sizeof env, key, sizeof key) < 0)
        return fail(req, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
    if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0)
        return fail(req, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method not allowed\"}");
    if (req->too_large) {
        log_warn(NULL, "413: body over %ld bytes for %s/%s", g_ingress.max_body, env, key);
        return fail(req, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}");
    }
    if (req->over_budget) {
        log_warn(NULL, "503: request bodies in memory reached HOOKLINE_INGRESS_MAX_BUFFERED_BYTES (%s/%s)", env, key);
        return fail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"busy, retry later\"}");
    }
    struct integration_entry integ;
    if (lookup_integration(env, key, &integ) < 0)
        return fail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"configuration store unavailable\"}");
    if (!integ.found) {
        log_info(NULL, "404: unknown integration %s/%s", env, key);
        return fail(req, MHD_HTTP_NOT_FOUND, "{\"error\":\"unknown environment or integration\"}");
    }
    if (id_new(req->webhook_id) < 0)
        return fail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"no randomness\"}");

    struct header_list hl = {.n = 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, &hl);
    const char *q = strchr(req->uri, '?');
    char full_url[4096];
    snprintf(full_url, sizeof full_url, "%s%s", g_common.public_url, req->uri);
    struct webhook_request wr = {
        .method = method, .url = full_url, .path = url, .query = q ? q + 1 : "",
        .headers = hl.items, .nheaders = hl.n,
        .body = req->body ? req->body : (const unsigned char *)"", .body_len = req->body_len,
        .now = time(NULL),
    };
    return handle_known(req, &integ, &wr, env, key);
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    struct ingress_request *req = *state;
    if (!req)
        return MHD_NO; /* allocation in on_uri failed */
    if (!req->conn) { /* first call: headers only */
        req->conn = conn;
        req->started = clock_mono_s();
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (req->too_large || req->over_budget)
            return MHD_YES; /* keep reading (and dropping) so keep-alive survives */
        if (req->body_len + n > (size_t)g_ingress.max_body) {
            req->too_large = true;
            return MHD_YES;
        }
        return append_body(req, upload, n) < 0 ? MHD_NO : MHD_YES;
    }
    if (req->suspended) { /* resumed by the delivery report */
        req->suspended = false;
        return send_answer(req, req->status, req->answer, req->status == MHD_HTTP_OK ? NULL : "5");
    }
    return handle_webhook(req, url, method);
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
    (void)conn;
    (void)why;
    struct ingress_request *req = *state;
    if (!req)
        return;
    atomic_fetch_sub(&buffered_bytes, (long)req->body_cap);
    metric_add(m_buffered, -(long)req->body_cap);
    free(req->body);
    free(req->uri);
    free(req);
    *state = NULL;
}

struct MHD_Daemon *http_start(void)
{
    m_status[0] = metrics_counter("hookline_ingress_requests_total", "status=\"200\"", "webhook requests by answer");
    m_status[1] = metrics_counter("hookline_ingress_requests_total", "status=\"401\"", "webhook requests by answer");
    m_status[2] = metrics_counter("hookline_ingress_requests_total", "status=\"404\"", "webhook requests by answer");
    m_status[3] = metrics_counter("hookline_ingress_requests_total", "status=\"413\"", "webhook requests by answer");
    m_status[4] = metrics_counter("hookline_ingress_requests_total", "status=\"503\"", "webhook requests by answer");
    m_status[5] = metrics_counter("hookline_ingress_requests_total", "status=\"other\"", "webhook requests by answer");
    m_latency = metrics_histogram("hookline_ingress_request_seconds", NULL, "time from request to answer");
    m_bytes = metrics_counter("hookline_ingress_body_bytes_total", NULL, "webhook body bytes accepted");
    m_buffered = metrics_gauge("hookline_ingress_buffered_bytes", NULL, "request body memory held right now");

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_ingress.port)};
    if (inet_pton(AF_INET, g_ingress.bind, &sa.sin_addr) != 1) {
        log_error(NULL, "bad HOOKLINE_INGRESS_BIND '%s'", g_ingress.bind);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)g_ingress.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)g_ingress.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)g_ingress.connection_timeout_s, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)10000, MHD_OPTION_END);
    if (!d)
        log_error(NULL, "cannot listen on %s:%ld", g_ingress.bind, g_ingress.port);
    return d;
}

void http_stop(struct MHD_Daemon *d)
{
    if (d)
        MHD_stop_daemon(d);
}
