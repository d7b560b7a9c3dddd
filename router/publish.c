/* publish: the router's producer. Every output is kept (value, key, headers) until
 * its delivery report says Kafka has it; failures are re-sent, so the caller can
 * store the input's offset once publish_wait_all() returns 0 (at-least-once).
 *
 * A failure is transient (re-sent until it passes) unless Kafka refuses the message
 * itself (kafka_err_refuses_message: too large for its topic): the output is then
 * given up and its input reported (publish_refused), for the caller to quarantine, so
 * that one webhook can never stop the router for every tenant. A size error from the
 * broker may be the batch's rather than the message's, so an output is given up only
 * once it has been refused when sent alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/signals.h"
#include "router/router.h"

enum out_state { OUT_PENDING, OUT_ACKED, OUT_FAILED, OUT_REFUSED };

struct output {
    char *topic;
    char *key;
    void *value;
    size_t len;
    rd_kafka_headers_t *headers; /* our copy; a fresh copy goes to each attempt */
    enum out_state state;
    size_t input;            /* publish_input's number when it was queued */
    rd_kafka_resp_err_t err; /* of the last failed attempt */
    bool alone;              /* the last attempt was the only message in flight */
};

static rd_kafka_t *producer;
static struct output *outs;
static size_t nouts, capouts;
static bool kafka_ok;
static size_t current_input;
static struct publish_refusal *refusals;
static size_t nrefusals, caprefusals;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    size_t i = (size_t)(uintptr_t)rkm->_private;
    if (i >= nouts)
        return;
    struct output *o = &outs[i];
    o->err = rkm->err;
    if (!rkm->err) {
        o->state = OUT_ACKED;
    } else if (kafka_err_refuses_message(rkm->err) && o->alone) {
        o->state = OUT_REFUSED;
    } else {
        o->state = OUT_FAILED;
        log_warn(NULL, "kafka: output to %s (%zu bytes) failed: %s (will re-send%s)", o->topic, o->len,
                 rd_kafka_err2str(rkm->err), kafka_err_refuses_message(rkm->err) ? " alone" : "");
    }
}

int publish_init(void)
{
    char errstr[512];
    producer = kafka_producer_new("hookline-router", on_delivery, NULL, errstr, sizeof errstr);
    if (!producer) {
        log_error(NULL, "kafka producer: %s", errstr);
        return -1;
    }
    return 0;
}

static int send_output(size_t i, bool alone)
{
    struct output *o = &outs[i];
    rd_kafka_headers_t *h = rd_kafka_headers_copy(o->headers);
    o->state = OUT_PENDING;
    o->alone = alone;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(o->value, o->len), RD_KAFKA_V_KEY(o->key, strlen(o->key)), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        o->err = err;
        /* The client's own check (message.max.bytes) judges this message alone. */
        o->state = kafka_err_refuses_message(err) ? OUT_REFUSED : OUT_FAILED;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 100); /* let the queue drain, then re-send */
        return -1;
    }
    return 0;
}

int publish(const char *topic, const char *key, const void *value, size_t len, rd_kafka_headers_t *headers)
{
    if (nouts == capouts) {
        size_t cap = capouts ? capouts * 2 : 256;
        struct output *n = realloc(outs, cap * sizeof *n);
        if (!n) {
            rd_kafka_headers_destroy(headers);
            return -1;
        }
        outs = n;
        capouts = cap;
    }
    struct output *o = &outs[nouts];
    memset(o, 0, sizeof *o);
    o->topic = strdup(topic);
    o->key = strdup(key);
    o->value = malloc(len ? len : 1);
    o->headers = headers;
    if (!o->topic || !o->key || !o->value) {
        free(o->topic);
        free(o->key);
        free(o->value);
        rd_kafka_headers_destroy(headers);
        return -1;
    }
    if (len)
        memcpy(o->value, value, len);
    o->len = len;
    o->input = current_input;
    nouts++;
    (void)send_output(nouts - 1, false); /* a failure here is re-sent by publish_wait_all */
    return 0;
}

void publish_input(size_t input)
{
    current_input = input;
}

/* Notes the inputs of the outputs Kafka refused, once each (the first reason). */
static void collect_refusals(void)
{
    for (size_t i = 0; i < nouts; i++) {
        const struct output *o = &outs[i];
        if (o->state != OUT_REFUSED)
            continue;
        bool noted = false;
        for (size_t k = 0; k < nrefusals && !noted; k++)
            noted = refusals[k].input == o->input;
        if (noted)
            continue;
        if (nrefusals == caprefusals) {
            size_t cap = caprefusals ? caprefusals * 2 : 16;
            struct publish_refusal *n = realloc(refusals, cap * sizeof *n);
            if (!n) {
                log_error(NULL, "out of memory noting a refused output: its input counts as routed");
                continue;
            }
            refusals = n;
            caprefusals = cap;
        }
        struct publish_refusal *r = &refusals[nrefusals++];
        r->input = o->input;
        snprintf(r->why, sizeof r->why, "Kafka refused its message to %s (%zu bytes) for good: %s", o->topic, o->len,
                 rd_kafka_err2str(o->err));
        log_warn(NULL, "kafka: output to %s (%zu bytes) refused, also when sent alone: %s", o->topic, o->len,
                 rd_kafka_err2str(o->err));
    }
}

size_t publish_refused(const struct publish_refusal **list)
{
    *list = refusals;
    return nrefusals;
}

static void clear_outputs(void)
{
    for (size_t i = 0; i < nouts; i++) {
        free(outs[i].topic);
        free(outs[i].key);
        free(outs[i].value);
        rd_kafka_headers_destroy(outs[i].headers);
    }
    nouts = 0;
}

/* The first failed output whose error may be its own rather than its batch's, or nouts. */
static size_t size_suspect(void)
{
    for (size_t i = 0; i < nouts; i++)
        if (outs[i].state == OUT_FAILED && kafka_err_refuses_message(outs[i].err))
            return i;
    return nouts;
}

int publish_wait_all(double give_up_s)
{
    double failing_since = 0;
    nrefusals = 0;
    for (;;) {
        rd_kafka_flush(producer, 100); /* serves delivery reports */
        size_t pending = 0, failed = 0;
        for (size_t i = 0; i < nouts; i++) {
            if (outs[i].state == OUT_PENDING)
                pending++;
            else if (outs[i].state == OUT_FAILED)
                failed++;
        }
        if (!pending && !failed) {
            collect_refusals();
            clear_outputs();
            return 0;
        }
        if (!failed) {
            failing_since = 0;
            continue;
        }
        if (failing_since == 0)
            failing_since = clock_mono_s();
        if (signals_stopping() && clock_mono_s() - failing_since > give_up_s) {
            log_error(NULL, "kafka: %zu outputs still failing at shutdown; their inputs stay uncommitted", failed);
            clear_outputs();
            return -1;
        }
        if (pending)
            continue;
        /* Too large, or its batch was: sent alone (one at a time) to tell which. */
        size_t suspect = size_suspect();
        if (suspect < nouts) {
            (void)send_output(suspect, true);
            continue;
        }
        usleep(200 * 1000); /* back off before re-sending */
        for (size_t i = 0; i < nouts; i++)
            if (outs[i].state == OUT_FAILED)
                (void)send_output(i, false);
    }
}

void publish_watch(void)
{
    kafka_ok = kafka_reachable(producer, 1000);
}

bool publish_ready(void)
{
    return kafka_ok;
}

void publish_shutdown(void)
{
    if (!producer)
        return;
    rd_kafka_flush(producer, 10000);
    clear_outputs();
    free(outs);
    free(refusals);
    rd_kafka_destroy(producer);
    producer = NULL;
}
