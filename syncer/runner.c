/* runner: the two ways a job reaches its runner (see syncer.h).
 *
 * HTTP: one POST with libcurl, as the forwarder does it: no redirects, no proxy from
 * the environment, every address checked against the SSRF rules after DNS
 * (HOOKLINE_SYNCER_ALLOW_CIDRS), strict timeouts; a stop request aborts the transfer
 * so a drain never waits for a slow runner (the attempt is given back uncounted).
 * Kafka: the job on the runner's topic, done when the broker acknowledges it. The
 * delivery report may come after the waiter gave up, so each wait is a heap object
 * that whichever side finishes last frees. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/outbound.h"
#include "syncer/syncer.h"

#define RESPONSE_MAX (64 * 1024) /* a runner's answer is counts, not data */

static struct ssrf_policy policy;
static rd_kafka_t *producer;
static atomic_bool kafka_ok;

enum wait_state { WAIT_PENDING, WAIT_ACKED, WAIT_FAILED, WAIT_ABANDONED };
struct waiter {
    atomic_int state;
    rd_kafka_resp_err_t err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct waiter *w = rkm->_private;
    if (!w)
        return;
    w->err = rkm->err;
    if (atomic_exchange(&w->state, rkm->err ? WAIT_FAILED : WAIT_ACKED) == WAIT_ABANDONED)
        free(w);
}

int runner_init(void)
{
    char err[256];
    if (ssrf_policy_parse(g_syncer.allow_cidrs, &policy, err, sizeof err) < 0) {
        log_error(NULL, "HOOKLINE_SYNCER_ALLOW_CIDRS: %s", err);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    producer = kafka_producer_new("hookline-syncer", on_delivery, NULL, err, sizeof err);
    if (!producer) {
        log_error(NULL, "kafka producer: %s", err);
        return -1;
    }
    return 0;
}

void runner_watch(void)
{
    atomic_store(&kafka_ok, kafka_reachable(producer, 1000));
}

bool runner_kafka_ready(void)
{
    return atomic_load(&kafka_ok);
}

void runner_shutdown(void)
{
    if (producer) {
        rd_kafka_flush(producer, 10000);
        rd_kafka_destroy(producer);
        producer = NULL;
    }
    curl_global_cleanup();
}

void runner_result_clear(struct runner_result *res)
{
    free(res->body);
    memset(res, 0, sizeof *res);
}

int runner_produce_wait(const char *topic, const char *key, const void *value, size_t len, rd_kafka_headers_t *headers,
                        long timeout_ms, char *err, size_t errlen)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (!w) {
        rd_kafka_headers_destroy(headers);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rd_kafka_resp_err_t perr = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len), RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
    if (perr) {
        rd_kafka_headers_destroy(headers);
        free(w);
        snprintf(err, errlen, "kafka: %s", rd_kafka_err2str(perr));
        return kafka_err_refuses_message(perr) ? RUNNER_REFUSED : -1;
    }
    double deadline = clock_mono_s() + (double)timeout_ms / 1000;
    while (atomic_load(&w->state) == WAIT_PENDING && clock_mono_s() < deadline)
        rd_kafka_poll(producer, 50); /* serves delivery reports, ours or another thread's */
    int state = atomic_exchange(&w->state, WAIT_ABANDONED);
    if (state == WAIT_PENDING) {
        snprintf(err, errlen, "kafka: no acknowledgement within %ld ms", timeout_ms);
        return -1; /* the report frees w */
    }
    bool refused = state == WAIT_FAILED && kafka_err_refuses_message(w->err);
    if (state == WAIT_FAILED)
        snprintf(err, errlen, "kafka: %s", rd_kafka_err2str(w->err));
    free(w);
    return state == WAIT_ACKED ? 0 : refused ? RUNNER_REFUSED : -1;
}

void runner_produce(const char *topic, const char *key, const struct job_signature *sig, const char *run_id,
                    const char *traceparent, const char *body, size_t len, struct runner_result *out)
{
    memset(out, 0, sizeof *out);
    rd_kafka_headers_t *h = rd_kafka_headers_new(6);
    rd_kafka_header_add(h, "content-type", -1, "application/json", -1);
    rd_kafka_header_add(h, "x-nango-hmac-sha256", -1, sig->nango, -1);
    rd_kafka_header_add(h, "webhook-id", -1, run_id, -1);
    rd_kafka_header_add(h, "webhook-timestamp", -1, sig->timestamp, -1);
    rd_kafka_header_add(h, "webhook-signature", -1, sig->standard, -1);
    if (traceparent[0])
        rd_kafka_header_add(h, "traceparent", -1, traceparent, -1);
    out->ok = runner_produce_wait(topic, key, body, len, h, g_syncer.http_timeout_ms, out->error, sizeof out->error) ==
              0;
}

/* ---- HTTP ---------------------------------------------------------------------------- */

struct runner_http {
    CURL *curl;
};

struct transfer {
    struct runner_result *out;
    struct outbound_guard guard;
    char *body;
    size_t len;
    bool truncated;
};

struct runner_http *runner_http_new(void)
{
    struct runner_http *h = calloc(1, sizeof *h);
    if (h && !(h->curl = curl_easy_init())) {
        free(h);
        h = NULL;
    }
    return h;
}

void runner_http_free(struct runner_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (t->truncated || t->len + n > RESPONSE_MAX) {
        t->truncated = true;
        return n;
    }
    char *b = realloc(t->body, t->len + n + 1);
    if (!b) {
        t->truncated = true;
        return n;
    }
    memcpy(b + t->len, ptr, n);
    t->len += n;
    b[t->len] = '\0';
    t->body = b;
    return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)clientp;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return signals_stopping() ? 1 : 0;
}

/* The answer as the run's result: a compact JSON object, or NULL. */
static char *result_of(const struct transfer *t)
{
    json_t *j = t->body && !t->truncated ? json_loadb(t->body, t->len, 0, NULL) : NULL;
    char *s = json_is_object(j) ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

void runner_post(struct runner_http *h, const char *url, const struct job_signature *sig, const char *run_id,
                 const char *webhook_id, long attempt, const char *traceparent, const char *body, size_t len,
                 struct runner_result *out)
{
    memset(out, 0, sizeof *out);
    struct transfer t = {.out = out};
    char lines[8][300];
    snprintf(lines[0], sizeof lines[0], "Content-Type: application/json");
    snprintf(lines[1], sizeof lines[1], "X-Nango-Hmac-Sha256: %s", sig->nango);
    snprintf(lines[2], sizeof lines[2], "webhook-id: %s", run_id);
    snprintf(lines[3], sizeof lines[3], "webhook-timestamp: %s", sig->timestamp);
    snprintf(lines[4], sizeof lines[4], "webhook-signature: %s", sig->standard);
    snprintf(lines[5], sizeof lines[5], "X-Hookline-Webhook-Id: %s", webhook_id);
    snprintf(lines[6], sizeof lines[6], "X-Hookline-Attempt: %ld", attempt);
    snprintf(lines[7], sizeof lines[7], "traceparent: %s", traceparent);
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (i != 7 || traceparent[0])
            list = curl_slist_append(list, lines[i]);
    list = curl_slist_append(list, "Expect:");
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "hookline-syncer/0.1");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, g_syncer.http_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, g_syncer.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    outbound_guard(c, &t.guard, &policy);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    CURLcode rc = curl_easy_perform(c);
    if (t.guard.refused[0]) {
        snprintf(out->error, sizeof out->error, "refused: the runner is a %s (HOOKLINE_SYNCER_ALLOW_CIDRS)",
                 t.guard.refused);
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        out->interrupted = true;
        snprintf(out->error, sizeof out->error, "interrupted by shutdown");
    } else if (rc != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        out->ok = out->status >= 200 && out->status < 300;
        if (out->ok)
            out->body = result_of(&t);
        else
            snprintf(out->error, sizeof out->error, "HTTP %ld", out->status);
    }
    curl_slist_free_all(list);
    free(t.body);
}
