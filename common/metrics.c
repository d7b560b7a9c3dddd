/* metrics: see metrics.h. A fixed-size registry keeps updates lock-free. */
#include "common/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const double bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

struct metric {
    const char *name, *labels, *help;
    enum metric_kind kind;
    atomic_long value;                 /* counter/gauge; histogram: count */
    atomic_long buckets[NBUCKETS];     /* histogram: cumulative counts per bound */
    atomic_long sum_us;                /* histogram: sum in microseconds */
};

#define MAX_METRICS 256
static struct metric registry[MAX_METRICS];
static size_t nmetrics;

static struct metric *metrics_add(const char *name, const char *labels, const char *help, enum metric_kind kind)
{
    if (nmetrics >= MAX_METRICS)
        return NULL;
    struct metric *m = &registry[nmetrics++];
    m->name = name;
    m->labels = labels;
    m->help = help;
    m->kind = kind;
    return m;
}

struct metric *metrics_counter(const char *name, const char *labels, const char *help)
{
    return metrics_add(name, labels, help, KIND_COUNTER);
}

struct metric *metrics_gauge(const char *name, const char *labels, const char *help)
{
    return metrics_add(name, labels, help, KIND_GAUGE);
}

struct metric *metrics_histogram(const char *name, const char *labels, const char *help)
{
    return metrics_add(name, labels, help, KIND_HISTOGRAM);
}

void metric_inc(struct metric *m)
{
    metric_add(m, 1);
}

void metric_add(struct metric *m, long v)
{
    if (m)
        atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

void metric_set(struct metric *m, long v)
{
    if (m)
        atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

void metric_observe(struct metric *m, double seconds)
{
    if (!m)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= bucket_bounds[i])
            atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (long)(seconds * 1e6), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        if (b->failed)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Prints HELP/TYPE once per metric name (metrics of one name are registered together). */
static void render_header(struct buf *b, size_t i)
{
    const struct metric *m = &registry[i];
    if (i > 0 && !strcmp(registry[i - 1].name, m->name))
        return;
    static const char *const types[] = {"counter", "gauge", "histogram"};
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, types[m->kind]);
}

char *metrics_render(size_t *len)
{
    struct buf b = {malloc(4096), 0, 4096, 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    for (size_t i = 0; i < nmetrics; i++) {
        const struct metric *m = &registry[i];
        const char *l = m->labels ? m->labels : "";
        const char *sep = *l ? "," : "";
        render_header(&b, i);
        long v = atomic_load_explicit(&m->value, memory_order_relaxed);
        if (m->kind != KIND_HISTOGRAM) {
            buf_printf(&b, *l ? "%s{%s} %ld\n" : "%s%s %ld\n", m->name, l, v);
            continue;
        }
        for (size_t k = 0; k < NBUCKETS; k++)
            buf_printf(&b, "%s_bucket{%s%sle=\"%g\"} %ld\n", m->name, l, sep, bucket_bounds[k],
                       atomic_load_explicit(&m->buckets[k], memory_order_relaxed));
        buf_printf(&b, "%s_bucket{%s%sle=\"+Inf\"} %ld\n", m->name, l, sep, v);
        buf_printf(&b, *l ? "%s_sum{%s} %.6f\n" : "%s_sum%s %.6f\n", m->name, l,
                   (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
        buf_printf(&b, *l ? "%s_count{%s} %ld\n" : "%s_count%s %ld\n", m->name, l, v);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
