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

/* A family of series told apart by label values known only at run time (e.g. one per
 * destination). Registered at startup like the metrics above; series are added from
 * any thread. label_names: "destination,outcome" (at most METRICS_FAMILY_LABELS
 * names). Past max_series the values are replaced by "other", so a flood of distinct
 * values cannot grow memory or the scrape without bound. */
#define METRICS_FAMILY_LABELS 2
struct metric_family;
struct metric_family *metrics_counter_family(const char *name, const char *label_names, const char *help,
                                             size_t max_series);
struct metric_family *metrics_histogram_family(const char *name, const char *label_names, const char *help,
                                               size_t max_series);
/* The series for these label values (as many as the family has names), created on
 * first use; values are copied (and escaped). NULL only when out of memory. */
struct metric *metric_family_get(struct metric_family *f, const char *const *values);

/* Renders every metric in the Prometheus text format into a new malloc'ed buffer
 * (caller frees). NULL on allocation failure. */
char *metrics_render(size_t *len);

#endif
