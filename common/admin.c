/* admin: see admin.h. */
#include "common/admin.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"

struct admin {
    struct MHD_Daemon *d;
    admin_ready_fn ready;
    void *ctx;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, void *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *version, const char *upload, size_t *upload_size, void **state)
{
    struct admin *a = cls;
    (void)version;
    (void)upload;
    if (!*state) { /* first call: headers only; answer on the second */
        *state = a;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* ignore request bodies */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", (void *)(uintptr_t) "method not allowed\n", 19,
                     MHD_RESPMEM_PERSISTENT);
    if (!strcmp(url, "/healthz"))
        return reply(c, MHD_HTTP_OK, "text/plain", (void *)(uintptr_t) "ok\n", 3, MHD_RESPMEM_PERSISTENT);
    if (!strcmp(url, "/readyz")) {
        char why[256] = "not ready";
        bool ok = a->ready ? a->ready(a->ctx, why, sizeof why) : true;
        char body[300];
        int n = snprintf(body, sizeof body, "%s\n", ok ? "ready" : why);
        return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body, (size_t)n,
                     MHD_RESPMEM_MUST_COPY);
    }
    if (!strcmp(url, "/metrics")) {
        size_t len = 0;
        char *text = metrics_render(&len);
        if (!text)
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", (void *)(uintptr_t) "oom\n", 4,
                         MHD_RESPMEM_PERSISTENT);
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len, MHD_RESPMEM_MUST_FREE);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", (void *)(uintptr_t) "not found\n", 10, MHD_RESPMEM_PERSISTENT);
}

struct admin *admin_start(const char *bind_addr, int port, admin_ready_fn ready, void *ctx)
{
    struct admin *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->ready = ready;
    a->ctx = ctx;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        log_error(NULL, "admin: bad bind address '%s'", bind_addr);
        free(a);
        return NULL;
    }
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
                            admin_handler, a, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    if (!a->d) {
        log_error(NULL, "admin: cannot listen on %s:%d", bind_addr, port);
        free(a);
        return NULL;
    }
    log_info(NULL, "admin: serving /healthz /readyz /metrics on %s:%d", bind_addr, port);
    return a;
}

void admin_stop(struct admin *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->d);
    free(a);
}
