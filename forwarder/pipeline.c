/* pipeline: what happens to one consumed message. It becomes a job with one delivery
 * per destination (a retry pass: the one that failed; a first pass: the primary URL and
 * the secondary one). Each delivery is a small state machine, driven by the event loop:
 *
 *   begin -> (gone: dead letter) | (circuit open: parked, the next pass takes it)
 *         | (destination saturated: deferred on the retry path, same pass)
 *         -> queued behind the destination's concurrency limit -> in flight
 *   in flight -> delivered | refused / 410: dead letter | failed: backoff and again,
 *                or, after the pass's attempts, the next pass (retry topic) or a dead letter
 *   hand-off -> stored: final | refused by Kafka: again a second later
 *
 * A message that can never be delivered (unreadable contract headers, an environment
 * that is not a UUID or does not exist, a connection id failing ident_valid, values
 * the database refuses) is quarantined instead: copied to webhooks.rejected with the
 * reason and its origin (common/quarantine.h), its one pseudo-delivery final once Kafka
 * acknowledged the copy. A failure to reach Kafka or PostgreSQL is never a reason to
 * quarantine: the message waits and is tried again.
 *
 * A job is final when all its deliveries are; offsets.c then stores its offset once
 * everything before it in the partition is final too. So an offset is stored only for
 * a message that was delivered, handed to a retry topic, dead-lettered, quarantined,
 * or that its configuration says not to forward (forwarding off, no URL). Stopping
 * abandons what has not started (not final, so not stored: delivered again after the
 * restart). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/quarantine.h"
#include "common/signals.h"
#include "common/store.h"
#include "forwarder/attempt_log.h"
#include "forwarder/forwarder.h"

enum dstate { D_NEW, D_QUEUED, D_IN_FLIGHT, D_BACKOFF, D_HANDOFF, D_HANDOFF_WAIT, D_FINAL };
enum handoff_kind { H_RETRY, H_DEAD, H_DEFER, H_QUARANTINE };

struct job;
struct delivery {
    struct job *job;
    const char *url;
    struct endpoint *ep; /* a reference (endpoint_release), NULL for a quarantine */
    int gone;            /* its URL's gone flag as resolved: 0 gone, 1 not */
    char gone_since[32];
    enum dstate state;
    long attempt;  /* HTTP attempts made in this pass */
    long delay_ms; /* the next backoff within the pass */
    double due;    /* mono seconds, for D_BACKOFF and D_HANDOFF_WAIT */
    struct delivery_result last;
    enum outcome outcome; /* what the hand-off stands for */
    enum handoff_kind handoff;
    char error[QUARANTINE_REASON_MAX + 1]; /* why, for the dead letter or the quarantine */
    bool body_omitted;                     /* the quarantine copy goes without the body */
    struct delivery *next;                 /* the endpoint's queue */
    struct delivery *timer_next;
};

struct job {
    rd_kafka_message_t *rkm;
    struct offset_ticket ticket;
    struct msg_routed r;
    struct destination dest;
    struct forward_request req;
    bool have_req;
    struct retry_state st; /* st.pass 0: the first pass */
    int pending;           /* deliveries not final, plus one while starting */
    bool aborted;
    int nd;
    struct delivery d[2];
    struct job *prev, *next;   /* every job */
    struct resolve_req lookup; /* with the resolver, when the cache had no answer */
    struct job *lookup_next;   /* its lookup failed: asked again a second later */
    bool waited;               /* its environment was unusable once (logged) */
};

static rd_kafka_t *consumer;
static struct job *jobs;
static size_t njobs;
static struct delivery *timers;
static struct job *lookups;
static size_t blocking_lookups; /* jobs on lookups whose database was unreachable */
static double next_lookup;
static bool draining;

static struct metric *m_outcome[OUT_COUNT], *m_attempts, *m_latency, *m_circuit_open, *m_in_flight, *m_jobs;

void pipeline_init(rd_kafka_t *c)
{
    consumer = c;
    static const char *const labels[OUT_COUNT] = {
        [OUT_DELIVERED] = "outcome=\"delivered\"",
        [OUT_REFUSED] = "outcome=\"refused\"",
        [OUT_GONE] = "outcome=\"gone\"",
        [OUT_DEAD_LETTERED] = "outcome=\"dead_lettered\"",
        [OUT_NO_DESTINATION] = "outcome=\"no_destination\"",
        [OUT_RETRY_LATER] = "outcome=\"retry_later\"",
        [OUT_ABORTED] = "outcome=\"aborted\"",
        [OUT_DISABLED] = "outcome=\"disabled\"",
        [OUT_DEFERRED] = "outcome=\"deferred\"",
    };
    for (int i = 0; i < OUT_COUNT; i++) /* OUT_PARKED: counted per destination only */
        m_outcome[i] = labels[i] ? metrics_counter("hookline_forwarder_deliveries_total", labels[i],
                                                   "deliveries by final outcome")
                                 : NULL;
    m_outcome[OUT_QUARANTINED] = metrics_counter("hookline_forwarder_quarantined_total", NULL,
                                                 "messages that can never be delivered, copied to the quarantine "
                                                 "topic (webhooks.rejected) with the reason");
    m_attempts = metrics_counter("hookline_forwarder_attempts_total", NULL, "HTTP attempts made");
    m_circuit_open = metrics_counter("hookline_forwarder_circuit_open_total", NULL,
                                     "passes parked without an attempt because the destination's circuit was open");
    m_latency = metrics_histogram("hookline_forwarder_attempt_seconds", NULL, "time of one HTTP attempt");
    m_in_flight = metrics_gauge("hookline_forwarder_requests_in_flight", NULL, "HTTP requests running now");
    m_jobs = metrics_gauge("hookline_forwarder_messages_in_progress", NULL,
                           "consumed messages whose deliveries are not all final");
}

static bool retryable(long status)
{
    return status == 0 || status == 408 || status == 409 || status == 425 || status == 429 || status >= 500;
}

/* "HTTP 503" or the transport error, for logs and dead letters. */
static void describe_failure(const struct delivery_result *res, char *out, size_t outlen)
{
    if (res->error[0])
        snprintf(out, outlen, "%s", res->error);
    else
        snprintf(out, outlen, "HTTP %ld", res->status);
}

static void timer_add(struct delivery *d, double due)
{
    d->due = due;
    d->timer_next = timers;
    timers = d;
}

static void job_finish(struct job *job)
{
    const char *topic;
    int32_t partition;
    int64_t next = job->aborted ? -1 : offsets_done(job->ticket, &topic, &partition);
    /* Fails when the partition was taken away meanwhile: its new owner re-delivers. */
    if (next >= 0 && kafka_store_next_offset(consumer, topic, partition, next) < 0)
        log_debug(NULL, "kafka: cannot store offset %lld of %s [%d] (partition revoked?)", (long long)next, topic,
                  (int)partition);
    for (int i = 0; i < job->nd; i++) {
        endpoint_release(job->d[i].ep);
        job->d[i].ep = NULL;
    }
    if (job->prev)
        job->prev->next = job->next;
    else
        jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    njobs--;
    metric_set(m_jobs, (long)njobs);
    if (job->have_req)
        request_free(&job->req);
    msg_routed_free(&job->r);
    rd_kafka_message_destroy(job->rkm);
    free(job);
}

static void job_release(struct job *job)
{
    if (--job->pending == 0)
        job_finish(job);
}

static void delivery_final(struct delivery *d, enum outcome o)
{
    d->state = D_FINAL;
    metric_inc(m_outcome[o]);
    if (d->ep)
        metric_inc(d->ep->outcomes[o]);
    job_release(d->job);
}

/* Not final: its offset stays unstored, so it is delivered again after a restart. */
static void delivery_abort(struct delivery *d)
{
    d->job->aborted = true;
    d->state = D_FINAL;
    metric_inc(m_outcome[OUT_ABORTED]);
    job_release(d->job);
}

static long total_attempts(const struct delivery *d)
{
    return d->job->st.attempts + d->attempt;
}

static void hand_off(struct delivery *d, enum handoff_kind kind);

/* Kafka refuses the hand-off's copy for good (too large for its topic): the message is
 * quarantined instead, then without its body if the rejected topic refuses it too,
 * and if even that is refused it is logged (where it stays) and given up: one message
 * must never hold its partition's offsets, and with them the stage, for good. */
static void handoff_refused(struct delivery *d, const char *why)
{
    struct job *job = d->job;
    const rd_kafka_message_t *m = job->rkm;
    if (d->handoff != H_QUARANTINE || !d->body_omitted) {
        if (d->handoff == H_QUARANTINE) {
            d->body_omitted = true;
            snprintf(d->error, sizeof d->error, "%s; body omitted, still in %s [%d] at offset %lld until its retention",
                     why, rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
        } else {
            snprintf(d->error, sizeof d->error, "%s", why);
        }
        d->outcome = OUT_QUARANTINED;
        hand_off(d, H_QUARANTINE);
        return;
    }
    log_error(job->r.webhook_id[0] ? job->r.webhook_id : NULL,
              "%s [%d] offset %lld could not be quarantined either (%s): skipped; it stays there until its retention",
              rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset, why);
    delivery_final(d, OUT_QUARANTINED);
}

static void on_handoff_done(void *ctx, enum handoff_result result, const char *why)
{
    struct delivery *d = ctx;
    struct job *job = d->job;
    bool stored = result == HANDOFF_STORED;
    if (result == HANDOFF_REFUSED && !draining && !signals_stopping()) {
        handoff_refused(d, why);
        return;
    }
    if (stored && d->handoff == H_QUARANTINE) {
        log_error(job->r.webhook_id[0] ? job->r.webhook_id : NULL, "quarantined %s [%d] offset %lld to %s: %s",
                  rd_kafka_topic_name(job->rkm->rkt), (int)job->rkm->partition, (long long)job->rkm->offset,
                  g_common.topic_rejected, d->error);
        delivery_final(d, OUT_QUARANTINED);
    } else if (stored) {
        if (d->handoff == H_DEAD)
            log_error(job->r.webhook_id, "dead-lettered the delivery of %s to %s after %ld attempts (%s)",
                      job->r.routed_id, d->ep ? d->ep->key : "?", total_attempts(d), d->error);
        if (d->handoff == H_DEFER)
            attempt_log_step(&job->r, d->url, job->st.pass, total_attempts(d), ATTEMPT_PARKED, 0, d->error);
        else
            attempt_log_step(&job->r, d->url, job->st.pass, total_attempts(d),
                             d->handoff == H_DEAD ? ATTEMPT_DEAD_LETTERED : ATTEMPT_RETRY_SCHEDULED, d->last.status,
                             d->handoff == H_DEAD ? d->error
                             : d->last.error[0]   ? d->last.error
                                                  : NULL);
        delivery_final(d, d->outcome);
    } else if (draining || signals_stopping()) {
        delivery_abort(d);
    } else {
        d->state = D_HANDOFF_WAIT; /* Kafka refused the copy: the input waits, nothing is lost */
        timer_add(d, clock_mono_s() + 1);
    }
}

static void hand_off(struct delivery *d, enum handoff_kind kind)
{
    struct job *job = d->job;
    d->handoff = kind;
    d->state = D_HANDOFF;
    if (kind == H_RETRY)
        retry_later_start(job->rkm, job->r.webhook_id, d->url, job->st.pass + 1, d->last.retry_after_s,
                          total_attempts(d), on_handoff_done, d);
    else if (kind == H_DEFER)
        retry_defer_start(job->rkm, job->r.webhook_id, d->url, job->st.pass, total_attempts(d), job->st.deferrals,
                          on_handoff_done, d);
    else if (kind == H_QUARANTINE)
        quarantine_start(job->rkm, d->error, d->body_omitted, on_handoff_done, d);
    else
        dead_letter_start(job->rkm, d->url, d->last.status, d->error, total_attempts(d), on_handoff_done, d);
}

/* This pass is over without success: the next pass, or a dead letter after the last. */
static void pass_failed(struct delivery *d)
{
    if ((size_t)d->job->st.pass < retries_passes()) {
        d->outcome = OUT_RETRY_LATER;
        hand_off(d, H_RETRY);
    } else {
        d->outcome = OUT_DEAD_LETTERED;
        describe_failure(&d->last, d->error, sizeof d->error);
        hand_off(d, H_DEAD);
    }
}

static void dead_letter_now(struct delivery *d, enum outcome o)
{
    d->outcome = o;
    if (!d->error[0])
        describe_failure(&d->last, d->error, sizeof d->error);
    hand_off(d, H_DEAD);
}

static void on_attempt_done(void *ctx, const struct delivery_result *res);
static void park(struct delivery *d, const char *why, long wait_ms);

static void launch(struct delivery *d)
{
    struct job *job = d->job;
    d->ep->in_flight++;
    metric_inc(m_in_flight);
    d->state = D_IN_FLIGHT;
    request_stamp(&job->req, (long long)time(NULL)); /* the headers are copied at once */
    deliver_start(d->url, job->req.headers, job->req.nheaders, job->req.body, job->req.len, on_attempt_done, d);
}

/* Starts what waits behind ep's limit while there is room (abandons it when stopping). */
static void endpoint_pump(struct endpoint *ep)
{
    while (ep->queue_head && ep->in_flight < g_forwarder.max_per_destination) {
        struct delivery *d = ep->queue_head;
        ep->queue_head = d->next;
        if (!ep->queue_head)
            ep->queue_tail = NULL;
        ep->queued--;
        d->next = NULL;
        long wait_ms;
        if (draining) {
            delivery_abort(d);
        } else if (!circuit_allow(ep, &wait_ms)) { /* opened while it waited: park it now */
            metric_inc(m_circuit_open);
            park(d, "circuit open", wait_ms);
        } else {
            launch(d);
        }
    }
}

static void delivery_try(struct delivery *d)
{
    struct endpoint *ep = d->ep;
    if (ep->in_flight < g_forwarder.max_per_destination) {
        launch(d);
        return;
    }
    d->state = D_QUEUED;
    d->next = NULL;
    if (ep->queue_tail)
        ep->queue_tail->next = d;
    else
        ep->queue_head = d;
    ep->queue_tail = d;
    ep->queued++;
}

static void on_attempt_done(void *ctx, const struct delivery_result *res)
{
    struct delivery *d = ctx;
    struct job *job = d->job;
    struct endpoint *ep = d->ep;
    const char *wid = job->r.webhook_id;
    d->last = *res;
    d->attempt++;
    ep->in_flight--;
    metric_add(m_in_flight, -1);
    metric_inc(m_attempts);
    metric_observe(m_latency, res->seconds);
    metric_observe(ep->latency, res->seconds);
    ep->latency_s = ep->latency_s > 0 ? 0.8 * ep->latency_s + 0.2 * res->seconds : res->seconds;
    attempt_log_http(&job->r, d->url, job->st.pass, total_attempts(d), res,
                     res->status == 410 || res->refused[0] || (!retryable(res->status) && !res->error[0]));
    endpoint_pump(ep);
    if (res->status >= 200 && res->status < 300) {
        log_info(wid, "delivered %s to %s: %ld in %.0f ms (attempt %ld), trace %.32s", job->r.routed_id, ep->key,
                 res->status, res->seconds * 1000, total_attempts(d),
                 job->req.traceparent[0] ? job->req.traceparent + 3 : "-");
        circuit_record(ep, true);
        delivery_final(d, OUT_DELIVERED);
        return;
    }
    char reason[300];
    describe_failure(res, reason, sizeof reason);
    log_warn(wid, "delivery %s to %s failed: %s (attempt %ld of %ld in this pass)", job->r.routed_id, ep->key, reason,
             d->attempt, g_forwarder.attempts);
    if (res->status == 410) { /* gone for good: stop sending there */
        circuit_record(ep, true);
        resolver_flag_gone(d->url, res->status, wid); /* on the resolver thread: it writes to the database */
        snprintf(d->error, sizeof d->error, "HTTP 410: the destination is gone (flagged)");
        dead_letter_now(d, OUT_GONE);
        return;
    }
    if (res->refused[0] || (!retryable(res->status) && !res->error[0])) {
        circuit_record(ep, true); /* the app answered (or we refused): not the app failing */
        dead_letter_now(d, OUT_REFUSED);
        return;
    }
    if (d->attempt < g_forwarder.attempts) {
        if (draining) {
            delivery_abort(d);
            return;
        }
        d->state = D_BACKOFF;
        timer_add(d, clock_mono_s() + (double)backoff_jitter_ms(d->delay_ms, backoff_random()) / 1000);
        d->delay_ms *= 2;
        return;
    }
    log_warn(wid, "this pass of %s to %s failed after %ld attempts", job->r.routed_id, ep->key, d->attempt);
    circuit_record(ep, false);
    pass_failed(d);
}

/* Parked without a request: the next pass takes it (due after wait_ms when >= 0). */
static void park(struct delivery *d, const char *why, long wait_ms)
{
    snprintf(d->last.error, sizeof d->last.error, "%s", why);
    d->last.status = 0;
    d->last.retry_after_s = wait_ms >= 0 ? (wait_ms + 999) / 1000 : -1;
    metric_inc(d->ep->outcomes[OUT_PARKED]);
    attempt_log_step(&d->job->r, d->url, d->job->st.pass, total_attempts(d), ATTEMPT_PARKED, 0, why);
    pass_failed(d);
}

/* A slow destination with much work queued must not take every slot, or the others
 * would wait behind it: past its share of the slots (an eighth) and past
 * HOOKLINE_FORWARDER_MAX_QUEUE_WAIT_MS of expected work, a new delivery is deferred to the
 * retry path (without using up a pass) and the consumer moves on. A fast destination
 * with the same queue drains it in milliseconds and is never deferred. Returns the
 * expected wait in seconds when saturated, else 0. */
static double saturation_wait(const struct endpoint *ep)
{
    if (ep->queued < (size_t)(g_forwarder.max_in_flight / 8) || retries_passes() == 0)
        return 0; /* (without retry topics there is nowhere to defer to) */
    double wait_s = (double)ep->queued * ep->latency_s / (double)g_forwarder.max_per_destination;
    return wait_s * 1000 > (double)g_forwarder.max_queue_wait_ms ? wait_s : 0;
}

static void delivery_begin(struct delivery *d)
{
    if (d->gone == 0) { /* resolved with the destination, off the loop */
        char since[sizeof d->gone_since];
        memcpy(since, d->gone_since, sizeof since);
        snprintf(d->error, sizeof d->error, "not sent: the destination answered 410 Gone and is flagged since %s",
                 since);
        d->last.status = 0;
        attempt_log_step(&d->job->r, d->url, d->job->st.pass, total_attempts(d), ATTEMPT_GONE, 0, d->error);
        dead_letter_now(d, OUT_GONE);
        return;
    }
    long wait_ms;
    if (!circuit_allow(d->ep, &wait_ms)) {
        metric_inc(m_circuit_open);
        park(d, "circuit open", wait_ms);
        return;
    }
    double wait_s = saturation_wait(d->ep);
    if (wait_s > 0) {
        snprintf(d->error, sizeof d->error, "deferred: the destination is saturated (%zu queued, ~%.0f s of work)",
                 d->ep->queued, wait_s);
        d->outcome = OUT_DEFERRED;
        hand_off(d, H_DEFER);
        return;
    }
    d->attempt = 0;
    d->delay_ms = g_forwarder.backoff_ms;
    delivery_try(d);
}

/* The job can never be delivered, for reason: its one pseudo-delivery copies the
 * message to the quarantine topic (final once Kafka has the copy). */
static void job_quarantine(struct job *job, const char *reason)
{
    struct delivery *d = &job->d[job->nd++];
    d->job = job;
    d->url = "";
    d->outcome = OUT_QUARANTINED;
    snprintf(d->error, sizeof d->error, "%s", reason);
    job->pending++;
    hand_off(d, H_QUARANTINE);
}

/* The message's destinations: a retry pass goes to the one that failed, a first pass
 * to the primary and the secondary URL ("" none). */
static void job_urls(const struct job *job, const char *urls[2])
{
    urls[0] = job->st.retry ? job->st.url : job->dest.primary_url;
    urls[1] = job->st.retry ? "" : job->dest.secondary_url;
}

/* The job's lookup is asked again a second later; blocks: the database could not be
 * reached (no new message is taken meanwhile), else only this environment is unusable
 * (the others keep flowing). */
static void job_retry_lookup(struct job *job, bool blocks)
{
    blocking_lookups += blocks;
    job->lookup_next = lookups;
    lookups = job;
    next_lookup = clock_mono_s() + 1;
}

static void job_start(struct job *job)
{
    const struct msg_routed *r = &job->r;
    const struct destination *dest = &job->dest;
    if (dest->unusable) {
        if (!job->waited)
            log_warn(r->webhook_id, "environment %s cannot be used now (%s); %s waits", r->env, dest->unusable_why,
                     r->routed_id);
        job->waited = true;
        job->pending++; /* held while it waits, released by the next resolve */
        job_retry_lookup(job, false);
        return;
    }
    if (!dest->found) {
        job_quarantine(job, "unknown environment (hl.environment names none)");
        return;
    }
    if (!dest->forward && !r->notification) {
        log_info(r->webhook_id, "forwarding is off for integration %s of environment %s; %s not forwarded",
                 r->integration, r->env, r->routed_id);
        metric_inc(m_outcome[OUT_DISABLED]);
        return;
    }
    if (!dest->primary_url[0] && !job->st.retry) {
        log_warn(r->webhook_id, "no webhook URL for environment %s; not forwarded", r->env);
        metric_inc(m_outcome[OUT_NO_DESTINATION]);
        return;
    }
    if (request_build(&job->req, r, dest, job->rkm->payload, job->rkm->len) < 0) {
        job->aborted = true; /* out of memory (logged): delivered again after a restart */
        return;
    }
    job->have_req = true;
    const char *urls[2];
    job_urls(job, urls);
    for (int i = 0; i < 2; i++) {
        if (!urls[i][0])
            continue;
        struct delivery *d = &job->d[job->nd++];
        d->job = job;
        d->url = urls[i];
        d->gone = job->lookup.gone[i];
        memcpy(d->gone_since, job->lookup.since[i], sizeof d->gone_since);
        d->gone_since[sizeof d->gone_since - 1] = '\0';
        d->last.retry_after_s = -1;
        job->pending++;
    }
    for (int i = 0; i < job->nd; i++) {
        struct delivery *d = &job->d[i];
        d->ep = endpoint_of(d->url);
        if (!d->ep)
            delivery_abort(d); /* out of memory (logged) */
        else
            delivery_begin(d);
    }
}

/* Starts the job with its destinations and their gone flags from the cache, or asks
 * the resolver thread (the answer comes back through pipeline_tick): the loop never
 * waits on the database. */
static void job_resolve(struct job *job)
{
    const struct msg_routed *r = &job->r;
    const char *connection = r->attributed ? r->connection : NULL;
    memset(&job->lookup, 0, sizeof job->lookup);
    job->lookup.gone[0] = job->lookup.gone[1] = 1;
    if (destinations_cached(r->env, r->integration, connection, &job->dest)) {
        const char *urls[2];
        job_urls(job, urls);
        bool all = true;
        for (int i = 0; i < 2 && all; i++)
            all = !urls[i][0] || destinations_gone_cached(urls[i], &job->lookup.gone[i], job->lookup.since[i],
                                                          sizeof job->lookup.since[i]);
        if (all) {
            job_start(job);
            job_release(job); /* the hold taken while starting */
            return;
        }
    }
    job->lookup.env = r->env;
    job->lookup.integration = r->integration;
    job->lookup.connection = connection;
    job->lookup.retry_url = job->st.retry ? job->st.url : NULL;
    job->lookup.out = &job->dest;
    job->lookup.ctx = job;
    resolver_submit(&job->lookup);
}

/* The resolver's answers: start the job, quarantine it (the database refused its
 * values), or (database unavailable) ask again later. */
static void take_answers(void)
{
    for (struct resolve_req *a = resolver_done(), *next; a; a = next) {
        next = a->next;
        struct job *job = a->ctx;
        if (draining) {
            job->aborted = true;
            job_release(job);
        } else if (a->rc == STORE_REFUSED) {
            job_quarantine(job, "the database refused the message's identifiers");
            job_release(job);
        } else if (a->rc < 0) {
            job_retry_lookup(job, true);
        } else {
            job_start(job);
            job_release(job);
        }
    }
}

void pipeline_submit(rd_kafka_message_t *rkm, const struct retry_state *st)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job) {
        log_error(NULL, "out of memory taking a message: it is read again after a restart");
        rd_kafka_message_destroy(rkm);
        return;
    }
    job->rkm = rkm;
    job->ticket = offsets_track(rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset);
    job->aborted = job->ticket.pt == NULL;
    job->pending = 1;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    const char *poison = routed_read(&job->r, h);
    job->st = *st;
    if (!poison && st->retry && st->url_bad)
        poison = "retry without a destination (hl.retry.url missing, or longer than DESTINATION_URL_MAX)";
    job->next = jobs;
    if (jobs)
        jobs->prev = job;
    jobs = job;
    njobs++;
    metric_set(m_jobs, (long)njobs);
    if (poison) {
        job_quarantine(job, poison);
        job_release(job);
        return;
    }
    job_resolve(job);
}

int pipeline_tick(int max_ms)
{
    take_answers();
    double now = clock_mono_s();
    if (lookups && (now >= next_lookup || draining)) {
        struct job *list = lookups;
        lookups = NULL;
        blocking_lookups = 0;
        while (list) {
            struct job *job = list;
            list = job->lookup_next;
            if (draining) {
                job->aborted = true;
                job_release(job);
            } else {
                job_resolve(job);
            }
        }
    }
    /* Take the due timers off the list first: what they start may add new ones. */
    struct delivery *due = NULL, **pp = &timers;
    while (*pp) {
        struct delivery *d = *pp;
        if (d->due <= now || draining) {
            *pp = d->timer_next;
            d->timer_next = due;
            due = d;
        } else {
            pp = &d->timer_next;
        }
    }
    while (due) {
        struct delivery *d = due;
        due = d->timer_next;
        if (draining)
            delivery_abort(d);
        else if (d->state == D_BACKOFF)
            delivery_try(d);
        else
            hand_off(d, d->handoff);
    }
    double next = now + (double)max_ms / 1000;
    for (struct delivery *d = timers; d; d = d->timer_next)
        if (d->due < next)
            next = d->due;
    if (lookups && next_lookup < next)
        next = next_lookup;
    double ms = (next - clock_mono_s()) * 1000;
    return ms < 0 ? 0 : ms > max_ms ? max_ms : (int)ms;
}

size_t pipeline_active(void)
{
    return njobs;
}

bool pipeline_blocked(void)
{
    return blocking_lookups > 0;
}

void pipeline_drain(void)
{
    draining = true;
    (void)pipeline_tick(0);
}

void pipeline_abort_all(void)
{
    while (jobs) {
        struct job *job = jobs;
        job->aborted = true;
        job->pending = 1;
        job_release(job);
    }
    timers = NULL;
    lookups = NULL;
    blocking_lookups = 0;
}
