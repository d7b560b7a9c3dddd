/* endpoints: one record per destination (scheme, host and port), made on first use and
 * kept in a hash table. A record holds the destination's circuit, its requests in flight
 * and the deliveries queued behind its concurrency limit, and its metric series; an
 * idle one (closed circuit, nothing in flight or queued, and no delivery holding a
 * reference: one in backoff or being handed off still points at it) is forgotten when
 * the table grows past its bound. Used from the forwarder's one event-loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "forwarder/forwarder.h"

#define NBUCKETS 4096
#define MAX_ENDPOINTS 20000 /* idle ones are swept past this */
#define MAX_SERIES 500      /* destinations named in metrics; the rest count as "other" */

static struct endpoint *buckets[NBUCKETS];
static size_t nendpoints;
static struct metric_family *f_outcomes, *f_latency;

static const char *const outcome_names[OUT_COUNT] = {
    [OUT_DELIVERED] = "delivered",
    [OUT_REFUSED] = "refused",
    [OUT_GONE] = "gone",
    [OUT_RETRY_LATER] = "retried",
    [OUT_DEAD_LETTERED] = "dead_lettered",
    [OUT_PARKED] = "circuit_open",
    [OUT_DEFERRED] = "deferred",
};

void endpoints_init(void)
{
    f_outcomes = metrics_counter_family("hookline_forwarder_destination_deliveries_total", "destination,outcome",
                                        "deliveries per destination by outcome (circuit_open: parked without a "
                                        "request; retried: handed to the next retry pass; deferred: the "
                                        "destination was saturated)",
                                        MAX_SERIES * 5);
    f_latency = metrics_histogram_family("hookline_forwarder_destination_attempt_seconds", "destination",
                                         "time of one HTTP attempt per destination", MAX_SERIES);
}

static unsigned long hash(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

static void sweep_idle(void)
{
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct endpoint **pp = &buckets[b];
        while (*pp) {
            struct endpoint *ep = *pp;
            if (ep->circuit == CIRCUIT_CLOSED && !ep->in_flight && !ep->queued && !ep->refs) {
                *pp = ep->hash_next;
                free(ep);
                nendpoints--;
            } else {
                pp = &ep->hash_next;
            }
        }
    }
}

struct endpoint *endpoint_of(const char *url)
{
    char key[256];
    outbound_url_origin(url, key, sizeof key);
    unsigned long b = hash(key) % NBUCKETS;
    for (struct endpoint *ep = buckets[b]; ep; ep = ep->hash_next)
        if (!strcmp(ep->key, key)) {
            ep->refs++;
            return ep;
        }
    if (nendpoints >= MAX_ENDPOINTS)
        sweep_idle();
    struct endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) {
        log_error(NULL, "out of memory for destination %s", key);
        return NULL;
    }
    snprintf(ep->key, sizeof ep->key, "%s", key);
    for (int o = 0; o < OUT_COUNT; o++) {
        if (!outcome_names[o])
            continue;
        const char *labels[2] = {key, outcome_names[o]};
        ep->outcomes[o] = metric_family_get(f_outcomes, labels);
    }
    const char *labels[1] = {key};
    ep->latency = metric_family_get(f_latency, labels);
    ep->hash_next = buckets[b];
    buckets[b] = ep;
    nendpoints++;
    ep->refs = 1;
    return ep;
}

void endpoint_release(struct endpoint *ep)
{
    if (ep && ep->refs > 0)
        ep->refs--;
}

size_t endpoints_count(void)
{
    return nendpoints;
}

void endpoints_shutdown(void)
{
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (buckets[b]) {
            struct endpoint *ep = buckets[b];
            buckets[b] = ep->hash_next;
            free(ep);
        }
    }
    nendpoints = 0;
}
