/* deliver: HTTP POSTs in parallel with the libcurl multi interface. Connections are
 * kept alive and shared between transfers (and HTTP/2 streams multiplexed over one
 * connection when an https receiver offers it). Each transfer is guarded by
 * common/outbound.h: SSRF rules on every address, no redirect, no proxy. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/outbound.h"
#include "forwarder/forwarder.h"

struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    struct delivery_result res;
    struct outbound_guard guard;
    deliver_done_fn done;
    void *ctx;
    double started;
    struct transfer *next;                /* free list, or the list of transfers that never started */
    struct transfer *run_prev, *run_next; /* transfers on the multi handle */
};

static CURLM *multi;
static struct ssrf_policy policy;
static struct transfer *free_transfers, *not_started, *running_list;

int deliver_init(const char *allow_cidrs, long max_per_host)
{
    char err[160];
    if (ssrf_policy_parse(allow_cidrs, &policy, err, sizeof err) < 0) {
        log_error(NULL, "HOOKLINE_FORWARDER_ALLOW_CIDRS: %s", err);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(multi = curl_multi_init()))
        return -1;
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_per_host);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 4 * max_per_host > 256 ? 4 * max_per_host : 256L);
    return 0;
}

/* Reads Retry-After (seconds or an HTTP date) from the response headers. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct delivery_result *out = userdata;
    size_t len = size * nmemb;
    static const char name[] = "retry-after:";
    if (len > sizeof name && len < 200 && strncasecmp(line, name, sizeof name - 1) == 0) {
        char value[200];
        snprintf(value, sizeof value, "%.*s", (int)(len - (sizeof name - 1)), line + sizeof name - 1);
        value[strcspn(value, "\r\n")] = '\0';
        char *v = value + strspn(value, " \t"), *end;
        long secs = strtol(v, &end, 10);
        if (end != v && *end == '\0' && secs >= 0) {
            out->retry_after_s = secs;
        } else {
            time_t when = curl_getdate(v, NULL);
            if (when > 0)
                out->retry_after_s = when > time(NULL) ? (long)(when - time(NULL)) : 0;
        }
    }
    return len;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static struct transfer *transfer_new(void)
{
    struct transfer *t = free_transfers;
    if (t) {
        free_transfers = t->next;
        curl_easy_reset(t->easy);
    } else {
        t = calloc(1, sizeof *t);
        if (t && !(t->easy = curl_easy_init())) {
            free(t);
            t = NULL;
        }
    }
    if (t) {
        CURL *easy = t->easy;
        memset(t, 0, sizeof *t);
        t->easy = easy;
        t->res.retry_after_s = -1;
    }
    return t;
}

static void transfer_release(struct transfer *t)
{
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    t->next = free_transfers;
    free_transfers = t;
}

void deliver_start(const char *url, const struct delivery_header *headers, size_t nheaders, const void *body,
                   size_t len, deliver_done_fn done, void *ctx)
{
    char origin[256]; /* for log lines: the path or query may hold a token */
    outbound_url_origin(url, origin, sizeof origin);
    struct transfer *t = transfer_new();
    if (!t) {
        log_error(NULL, "out of memory starting a delivery to %s", origin);
        struct delivery_result res = {.retry_after_s = -1};
        snprintf(res.error, sizeof res.error, "out of memory");
        done(ctx, &res); /* the one report made at once: callers expect it (see forwarder.h) */
        return;
    }
    t->done = done;
    t->ctx = ctx;
    for (size_t i = 0; i < nheaders; i++) {
        /* "Name: value" of any length: a value is never cut, nor a header dropped for its
         * size. (An empty value removes the header, which raw mode's Content-Type uses.) */
        char *line = NULL;
        int n = asprintf(&line, "%s: %s", headers[i].name, headers[i].value);
        struct curl_slist *more = n >= 0 ? curl_slist_append(t->headers, line) : NULL;
        free(n >= 0 ? line : NULL);
        if (!more) {
            log_error(NULL, "out of memory adding header %s to a delivery to %s", headers[i].name, origin);
            continue;
        }
        t->headers = more;
    }
    t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
    CURL *c = t->easy;
    curl_easy_setopt(c, CURLOPT_PRIVATE, t);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "hookline/0.1");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, g_forwarder.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, g_forwarder.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* https: wait for the first connection's ALPN answer, so HTTP/2 receivers get streams
     * on one connection; not for http, where it would queue every request behind the
     * first connection (HTTP/1.1 needs one connection per request in flight). */
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, strncasecmp(url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->res);
    outbound_guard(c, &t->guard, &policy);
    if (g_forwarder.ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, g_forwarder.ca_file);
    t->started = clock_mono_s();
    CURLMcode mc = curl_multi_add_handle(multi, c);
    if (mc != CURLM_OK) {
        snprintf(t->res.error, sizeof t->res.error, "cannot start: %s", curl_multi_strerror(mc));
        t->next = not_started;
        not_started = t;
        return;
    }
    t->run_next = running_list;
    if (running_list)
        running_list->run_prev = t;
    running_list = t;
}

/* Fills t->res from a finished transfer. */
static void transfer_result(struct transfer *t, CURLcode rc)
{
    struct delivery_result *out = &t->res;
    out->seconds = clock_mono_s() - t->started;
    snprintf(out->refused, sizeof out->refused, "%s", t->guard.refused);
    if (out->refused[0])
        snprintf(out->error, sizeof out->error, "refused: the destination is a %s (HOOKLINE_FORWARDER_ALLOW_CIDRS)",
                 out->refused);
    else if (rc != CURLE_OK)
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
    else
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &out->status);
}

static void unlink_running(struct transfer *t)
{
    if (t->run_prev)
        t->run_prev->run_next = t->run_next;
    else
        running_list = t->run_next;
    if (t->run_next)
        t->run_next->run_prev = t->run_prev;
    t->run_prev = t->run_next = NULL;
}

/* Runs curl, then reports every transfer that ended: taken off the multi handle first,
 * so done callbacks may start new transfers. */
static void perform_and_report(void)
{
    int running = 0;
    curl_multi_perform(multi, &running);
    struct transfer *ended = not_started;
    not_started = NULL;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(multi, msg->easy_handle);
        unlink_running(t);
        transfer_result(t, rc);
        t->next = ended;
        ended = t;
    }
    while (ended) {
        struct transfer *t = ended;
        ended = t->next;
        struct delivery_result res = t->res;
        deliver_done_fn done = t->done;
        void *ctx = t->ctx;
        transfer_release(t);
        done(ctx, &res);
    }
}

void deliver_run(int timeout_ms, int wake_fd)
{
    perform_and_report(); /* starts what was just added before waiting */
    struct curl_waitfd w = {.fd = wake_fd, .events = CURL_WAIT_POLLIN};
    if (!not_started)
        curl_multi_poll(multi, wake_fd >= 0 ? &w : NULL, wake_fd >= 0 ? 1 : 0, timeout_ms, NULL);
    if (wake_fd >= 0 && w.revents) {
        char drain[256];
        while (read(wake_fd, drain, sizeof drain) > 0)
            ;
    }
    perform_and_report();
}

void deliver_shutdown(void)
{
    if (multi) {
        /* Transfers still running are abandoned: their deliveries were not final, so
         * their offsets were not stored. */
        while (running_list) {
            struct transfer *t = running_list;
            curl_multi_remove_handle(multi, t->easy);
            unlink_running(t);
            transfer_release(t);
        }
        while (not_started) {
            struct transfer *t = not_started;
            not_started = t->next;
            transfer_release(t);
        }
        curl_multi_cleanup(multi);
        multi = NULL;
    }
    while (free_transfers) {
        struct transfer *t = free_transfers;
        free_transfers = t->next;
        curl_easy_cleanup(t->easy);
        free(t);
    }
    curl_global_cleanup();
}
