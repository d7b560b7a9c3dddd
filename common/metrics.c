/* metrics: see metrics.h. A fixed-size registry keeps updates lock-free. */
#include "common/metrics.h"

#include <pthread.h>
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
    atomic_long value;             /* counter/gauge; histogram: count */
    atomic_long buckets[NBUCKETS]; /* histogram: cumulative counts per bound */
    atomic_long sum_us;            /* histogram: sum in microseconds */
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

/* Families: their series live in an array made at registration, filled in order under
 * the family's lock; nseries is published after the series is complete, so the
 * renderer reads without the lock. */
struct metric_family {
    const char *name, *label_names, *help;
    enum metric_kind kind;
    size_t nnames, max_series;
    struct metric *series; /* max_series + 1: the last one is "other" */
    char **labels;         /* the rendered label text of each series */
    atomic_size_t nseries;
    pthread_mutex_t lock;
};
#define MAX_FAMILIES 16
static struct metric_family families[MAX_FAMILIES];
static size_t nfamilies;

static struct metric_family *family_add(const char *name, const char *label_names, const char *help,
                                        enum metric_kind kind, size_t max_series)
{
    if (nfamilies >= MAX_FAMILIES)
        return NULL;
    struct metric_family *f = &families[nfamilies];
    f->series = calloc(max_series + 1, sizeof *f->series);
    f->labels = calloc(max_series + 1, sizeof *f->labels);
    if (!f->series || !f->labels) {
        free(f->series);
        free(f->labels);
        return NULL;
    }
    f->name = name;
    f->label_names = label_names;
    f->help = help;
    f->kind = kind;
    f->max_series = max_series;
    f->nnames = 1;
    for (const char *p = label_names; *p; p++)
        f->nnames += *p == ',';
    if (f->nnames > METRICS_FAMILY_LABELS)
        f->nnames = METRICS_FAMILY_LABELS;
    pthread_mutex_init(&f->lock, NULL);
    nfamilies++;
    return f;
}

struct metric_family *metrics_counter_family(const char *name, const char *label_names, const char *help,
                                             size_t max_series)
{
    return family_add(name, label_names, help, KIND_COUNTER, max_series);
}

struct metric_family *metrics_histogram_family(const char *name, const char *label_names, const char *help,
                                               size_t max_series)
{
    return family_add(name, label_names, help, KIND_HISTOGRAM, max_series);
}

/* name="value",name2="value2" with the value escaped as the text format wants. */
static char *family_labels(const struct metric_family *f, const char *const *values)
{
    size_t cap = 64;
    for (size_t i = 0; i < f->nnames; i++)
        cap += strlen(values[i]) * 2 + 8;
    cap += strlen(f->label_names);
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    const char *name = f->label_names;
    for (size_t i = 0; i < f->nnames; i++) {
        size_t nlen = strcspn(name, ",");
        if (i)
            *o++ = ',';
        memcpy(o, name, nlen);
        o += nlen;
        *o++ = '=';
        *o++ = '"';
        for (const char *v = values[i]; *v; v++) {
            if (*v == '\\' || *v == '"' || *v == '\n') {
                *o++ = '\\';
                *o++ = *v == '\n' ? 'n' : *v;
            } else {
                *o++ = *v;
            }
        }
        *o++ = '"';
        name += nlen + (name[nlen] == ',');
    }
    *o = '\0';
    return out;
}

struct metric *metric_family_get(struct metric_family *f, const char *const *values)
{
    if (!f)
        return NULL;
    char *labels = family_labels(f, values);
    if (!labels)
        return NULL;
    struct metric *m = NULL;
    pthread_mutex_lock(&f->lock);
    size_t n = atomic_load(&f->nseries);
    for (size_t i = 0; i < n && !m; i++)
        if (!strcmp(f->labels[i], labels))
            m = &f->series[i];
    if (!m && n == f->max_series) { /* full: everything new shares the "other" series */
        const char *other[METRICS_FAMILY_LABELS] = {"other", "other"};
        free(labels);
        labels = family_labels(f, other);
        if (labels && !f->labels[n]) {
            f->labels[n] = labels;
            labels = NULL;
        }
        m = &f->series[n];
        m->kind = f->kind;
    } else if (!m) {
        m = &f->series[n];
        m->kind = f->kind;
        f->labels[n] = labels;
        labels = NULL;
        atomic_store(&f->nseries, n + 1);
    }
    pthread_mutex_unlock(&f->lock);
    free(labels);
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

static void render_series(struct buf *b, const char *name, const struct metric *m, const char *labels)
{
    const char *l = labels ? labels : "";
    const char *sep = *l ? "," : "";
    long v = atomic_load_explicit(&m->value, memory_order_relaxed);
    if (m->kind != KIND_HISTOGRAM) {
        buf_printf(b, *l ? "%s{%s} %ld\n" : "%s%s %ld\n", name, l, v);
        return;
    }
    for (size_t k = 0; k < NBUCKETS; k++)
        buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %ld\n", name, l, sep, bucket_bounds[k],
                   atomic_load_explicit(&m->buckets[k], memory_order_relaxed));
    buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %ld\n", name, l, sep, v);
    buf_printf(b, *l ? "%s_sum{%s} %.6f\n" : "%s_sum%s %.6f\n", name, l,
               (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
    buf_printf(b, *l ? "%s_count{%s} %ld\n" : "%s_count%s %ld\n", name, l, v);
}

char *metrics_render(size_t *len)
{
    struct buf b = {malloc(4096), 0, 4096, 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    for (size_t i = 0; i < nmetrics; i++) {
        render_header(&b, i);
        render_series(&b, registry[i].name, &registry[i], registry[i].labels);
    }
    for (size_t i = 0; i < nfamilies; i++) {
        struct metric_family *f = &families[i];
        static const char *const types[] = {"counter", "gauge", "histogram"};
        buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->kind]);
        pthread_mutex_lock(&f->lock); /* the "other" series' label is set under it */
        size_t n = atomic_load(&f->nseries);
        for (size_t k = 0; k <= n && k <= f->max_series; k++)
            if (f->labels[k])
                render_series(&b, f->name, &f->series[k], f->labels[k]);
        pthread_mutex_unlock(&f->lock);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
