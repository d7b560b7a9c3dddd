/*
 * metrics: a tiny Prometheus registry. Metrics are registered at startup (not
 * thread-safe) and updated from any thread (atomic). Rendered by the admin server.
 */
#ifndef HOOKLINE_METRICS_H
#define HOOKLINE_METRICS_H

#include <stddef.h>

struct metric;

/* name: "hookline_ingress_requests_total"; labels: "status=\"200\"" or NULL. Strings
 * are borrowed and must be static. Returns NULL only when the registry is full
 * (updates on NULL are ignored). */
struct metric *metrics_counter(const char *name, const char *labels, const char *help);
struct metric *metrics_gauge(const char *name, const char *labels, const char *help);
/* A histogram with the default latency buckets in seconds (5 ms .. 30 s). */
struct metric *metrics_histogram(const char *name, const char *labels, const char *help);

void metric_inc(struct metric *m);
void metric_add(struct metric *m, long v);
void metric_set(struct metric *m, long v);
void metric_observe(struct metric *m, double seconds);

/* Renders every metric in the Prometheus text format into a new malloc'ed buffer
 * (caller frees). NULL on allocation failure. */
char *metrics_render(size_t *len);

#endif
