/* responder: the ceiling baseline of `make bench`. A trivial libmicrohttpd server with
 * the ingress's thread model (internal polling threads, epoll, a pool of N workers,
 * suspend/resume allowed), which reads each request's body and answers 200 once it is
 * all there, like the ingress does, with no lookup, no signature and no Kafka. The
 * ingress's webhook rate over this one's, measured in the same run, says how much of
 * the HTTP server's capacity the ingress's own work leaves.
 *
 *     bench-responder PORT [THREADS]     (binds 127.0.0.1 only; stops on SIGTERM/SIGINT)
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char ANSWER[] = "{\"status\":\"success\"}";
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* The body is read (and counted, so it is really touched) before the answer. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    static int first_call;
    if (!*state) { /* headers only */
        *state = &first_call;
        return MHD_YES;
    }
    if (*upload_size) {
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < *upload_size; i++)
            sum ^= (unsigned char)upload[i];
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof ANSWER - 1, (void *)(uintptr_t)ANSWER,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), threads = argc > 2 ? atoi(argv[2]) : 2;
    if (port <= 0 || port > 65535 || threads < 1 || threads > 64) {
        fprintf(stderr, "bad port or thread count\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                                            (const struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
                                            (unsigned int)threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                                            MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("bench responder on http://127.0.0.1:%d (%d threads)\n", port, threads);
    fflush(stdout);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    return 0;
}
