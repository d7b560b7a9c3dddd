/* http: the API's libmicrohttpd server. Every answer is given once the whole request
 * body has been read (keep-alive survives); bodies are capped. /healthz answers
 * without a key, the console's static files too (they hold no data: the console asks
 * the API with the key the user typed); everything under /v1 needs an API key. No
 * cookies are ever set, and no CORS header is sent unless HOOKLINE_API_CORS_ORIGINS
 * names the request's Origin, so other sites' pages cannot read the API. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"

#define MAX_BODY (1024 * 1024)
#define MAX_SEGMENTS 12

struct MHD_Daemon *http_start(void);
void http_stop(struct MHD_Daemon *d);
long http_inflight(void);

static atomic_long inflight;
static struct metric *m_class[5]; /* 2xx 3xx 4xx 5xx 429 */
static struct metric *m_latency, *m_auth_failed;

struct http_state {
    struct MHD_Connection *conn;
    char *uri; /* raw, query included */
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    double started;
};

long http_inflight(void)
{
    return atomic_load(&inflight);
}

const char *api_query(const struct api_request *rq, const char *name)
{
    const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

static char *json_problem(unsigned status, const char *title, const char *detail)
{
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status", (int)status,
                          "detail", detail);
    char *s = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return s;
}

unsigned api_problem(struct api_response *rs, unsigned status, const char *title, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    free(rs->body);
    rs->status = status;
    rs->type = "application/problem+json";
    rs->body = json_problem(status, title, detail);
    return status;
}

unsigned api_json(struct api_response *rs, unsigned status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s)
        return api_problem(rs, 500, "Internal Server Error", "out of memory");
    free(rs->body);
    rs->status = status;
    rs->type = "application/json";
    rs->body = s;
    return status;
}

unsigned api_json_text(struct api_response *rs, unsigned status, const char *text)
{
    char *s = strdup(text);
    if (!s)
        return api_problem(rs, 500, "Internal Server Error", "out of memory");
    free(rs->body);
    rs->status = status;
    rs->type = "application/json";
    rs->body = s;
    return status;
}

/* ---- routing ------------------------------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s in place; -1 on a malformed escape or a NUL byte. */
static int unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

/* Splits path (a copy it owns) into segments. Returns how many, -1 if too many. */
static int split(char *path, char **seg)
{
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGMENTS)
            return -1;
        seg[n++] = s;
    }
    return n;
}

/* 0 matched (params filled with copies), 1 path matches but not the method, -1 no. */
static int match(const struct api_route *r, char **seg, int nseg, const char *method, char **params)
{
    char pat[256];
    snprintf(pat, sizeof pat, "%s", r->pattern);
    char *pseg[MAX_SEGMENTS];
    int np = split(pat, pseg);
    if (np != nseg)
        return -1;
    int k = 0;
    for (int i = 0; i < np; i++) {
        if (!strcmp(pseg[i], "{}")) {
            if (k < API_MAX_PARAMS)
                params[k++] = seg[i];
        } else if (strcmp(pseg[i], seg[i])) {
            return -1;
        }
    }
    return strcmp(method, r->method) ? 1 : 0;
}

/* ---- the request -------------------------------------------------------------------- */

static bool cors_allowed(const char *origin)
{
    if (!origin || !*g_api.cors_origins)
        return false;
    size_t n = strlen(origin);
    for (const char *p = g_api.cors_origins; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        if (len == n && !strncmp(p, origin, n))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

static const struct api_asset *find_asset(const char *path)
{
    if (!strcmp(path, "/") || !strcmp(path, "/console") || !strcmp(path, "/console/"))
        path = "/console/index.html";
    for (size_t i = 0; i < api_assets_count; i++)
        if (!strcmp(api_assets[i].path, path))
            return &api_assets[i];
    return NULL;
}

static void count(unsigned status, double started)
{
    metric_inc(m_class[status == 429 ? 4 : status >= 500 ? 3 : status >= 400 ? 2 : status >= 300 ? 1 : 0]);
    metric_observe(m_latency, clock_mono_s() - started);
}

static enum MHD_Result send_answer(struct http_state *st, struct api_response *rs, const struct api_asset *asset)
{
    struct MHD_Response *r;
    if (asset)
        r = MHD_create_response_from_buffer(asset->len, (void *)(uintptr_t)asset->data, MHD_RESPMEM_PERSISTENT);
    else if (rs->body)
        r = MHD_create_response_from_buffer(strlen(rs->body), rs->body, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(rs->body);
        return MHD_NO;
    }
    rs->body = NULL; /* MHD owns it now */
    const char *type = asset ? asset->type : rs->type;
    if (type)
        MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(r, "Cache-Control", asset ? "no-cache" : "no-store");
    if (rs->retry_after[0])
        MHD_add_response_header(r, "Retry-After", rs->retry_after);
    if (rs->location[0])
        MHD_add_response_header(r, "Location", rs->location);
    const char *origin = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Origin");
    if (cors_allowed(origin)) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Vary", "Origin");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE");
    }
    enum MHD_Result ret = MHD_queue_response(st->conn, rs->status, r);
    MHD_destroy_response(r);
    count(rs->status, st->started);
    return ret;
}

/* Runs the /v1 route for the request: key, rate limit, scope, handler, audit. */
static void dispatch(struct http_state *st, const char *method, char *path, struct api_response *rs)
{
    char *seg[MAX_SEGMENTS];
    char *copy = strdup(path);
    int nseg = copy ? split(copy, seg) : -1;
    for (int i = 0; i < nseg; i++)
        if (unescape(seg[i]) < 0)
            nseg = -1;
    if (nseg < 0) {
        api_problem(rs, 404, "Not Found", "no such resource");
        free(copy);
        return;
    }
    const struct api_route *route = NULL;
    bool other_method = false;
    char *params[API_MAX_PARAMS] = {0};
    for (size_t i = 0; i < api_routes_count && !route; i++) {
        int m = match(&api_routes[i], seg, nseg, method, params);
        if (m == 0)
            route = &api_routes[i];
        else if (m == 1)
            other_method = true;
    }

    PGconn *db = db_thread();
    struct api_key key = {0};
    const char *authz = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Authorization");
    enum auth_result a = db ? auth_check(db, authz, &key) : AUTH_UNAVAILABLE;
    if (a == AUTH_UNAVAILABLE) {
        snprintf(rs->retry_after, sizeof rs->retry_after, "5");
        api_problem(rs, 503, "Service Unavailable", "the configuration database cannot be reached");
    } else if (a != AUTH_OK) {
        metric_inc(m_auth_failed);
        api_problem(rs, 401, "Unauthorized",
                    a == AUTH_MISSING ? "send an API key as 'Authorization: Bearer <key>' (hookline api-key create)"
                                      : "the API key is not valid or was revoked");
    } else {
        struct api_request rq = {.method = method,
                                 .path = path,
                                 .conn = st->conn,
                                 .body = st->body ? st->body : "",
                                 .body_len = st->body_len,
                                 .key = &key};
        int wait = auth_rate_take(key.id);
        if (wait > 0) {
            snprintf(rs->retry_after, sizeof rs->retry_after, "%d", wait);
            api_problem(rs, 429, "Too Many Requests", "rate limit of this API key reached: retry after %d s", wait);
        } else if (!route) {
            if (other_method)
                api_problem(rs, 405, "Method Not Allowed", "%s is not allowed on %s", method, path);
            else
                api_problem(rs, 404, "Not Found", "no such resource");
        } else if (route->write && !key.write) {
            api_problem(rs, 403, "Forbidden", "this API key is read-only (scope read)");
        } else {
            for (int i = 0; i < API_MAX_PARAMS; i++)
                rq.params[i] = params[i];
            route->run(db, &rq, rs);
        }
        /* A write route reached with a valid key is audited whatever the answer, refusals
         * included (a read key's 403, a 429): who tried what matters as much as who did. */
        if (route && route->write) {
            char action[320];
            snprintf(action, sizeof action, "%s %s", method, route->pattern);
            auth_audit(db_thread(), &key, action, rq.target[0] ? rq.target : path, rs->status);
        }
    }
    auth_key_free(&key);
    free(copy);
}

static enum MHD_Result handle(struct http_state *st, const char *method)
{
    struct api_response rs = {.status = 500};
    char *path = strdup(st->uri);
    if (!path)
        return MHD_NO;
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    const struct api_asset *asset = NULL;
    if (st->too_large) {
        api_problem(&rs, 413, "Content Too Large", "request bodies are limited to %d bytes", MAX_BODY);
    } else if (!strcmp(method, "OPTIONS")) {
        /* A preflight: allowed only for the configured origins (headers added by send). */
        const char *origin = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Origin");
        if (cors_allowed(origin))
            rs.status = 204;
        else
            api_problem(&rs, 403, "Forbidden", "cross-origin requests are not allowed");
    } else if (!strcmp(path, "/healthz") || !strcmp(path, "/v1/healthz")) {
        api_json_text(&rs, 200, "{\"status\":\"ok\"}");
    } else if (!strncmp(path, "/v1/", 4) || !strcmp(path, "/v1")) {
        dispatch(st, method, path, &rs);
    } else if ((!strcmp(method, "GET") || !strcmp(method, "HEAD")) && (asset = find_asset(path))) {
        rs.status = 200;
    } else {
        api_problem(&rs, 404, "Not Found", "no such page");
    }
    free(path);
    return send_answer(st, &rs, asset);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls;
    (void)url;
    (void)version;
    struct http_state *st = *state;
    if (!st)
        return MHD_NO;
    if (!st->conn) {
        st->conn = conn;
        st->started = clock_mono_s();
        atomic_fetch_add(&inflight, 1);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (st->too_large || st->body_len + n > MAX_BODY) {
            st->too_large = true;
            return MHD_YES;
        }
        if (st->body_len + n + 1 > st->body_cap) {
            size_t cap = st->body_cap ? st->body_cap : 4096;
            while (cap < st->body_len + n + 1)
                cap *= 2;
            char *b = realloc(st->body, cap);
            if (!b)
                return MHD_NO;
            st->body = b;
            st->body_cap = cap;
        }
        memcpy(st->body + st->body_len, upload, n);
        st->body_len += n;
        st->body[st->body_len] = '\0';
        return MHD_YES;
    }
    return handle(st, method);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct http_state *st = calloc(1, sizeof *st);
    if (st && !(st->uri = strdup(uri))) {
        free(st);
        st = NULL;
    }
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    struct http_state *st = *state;
    if (!st)
        return;
    if (st->conn)
        atomic_fetch_sub(&inflight, 1);
    free(st->body);
    free(st->uri);
    free(st);
    *state = NULL;
}

struct MHD_Daemon *http_start(void)
{
    static const char *const labels[] = {"class=\"2xx\"", "class=\"3xx\"", "class=\"4xx\"", "class=\"5xx\"",
                                         "class=\"429\""};
    for (int i = 0; i < 5; i++)
        m_class[i] = metrics_counter("hookline_api_requests_total", labels[i], "API requests by answer");
    m_latency = metrics_histogram("hookline_api_request_seconds", NULL, "time from request to answer");
    m_auth_failed = metrics_counter("hookline_api_auth_failures_total", NULL, "requests refused for their API key");

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_api.port)};
    if (inet_pton(AF_INET, g_api.bind, &sa.sin_addr) != 1) {
        log_error(NULL, "bad HOOKLINE_API_BIND '%s'", g_api.bind);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)g_api.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)g_api.threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000, MHD_OPTION_END);
    if (!d)
        log_error(NULL, "cannot listen on %s:%ld", g_api.bind, g_api.port);
    return d;
}

void http_stop(struct MHD_Daemon *d)
{
    if (d)
        MHD_stop_daemon(d);
}
