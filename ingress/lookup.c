/* lookup: integration lookups for the ingress, through the shared configuration cache
 * so that PostgreSQL is never on an HTTP worker thread. A request whose integration is
 * cached as found is answered at once; any other is suspended and handed to one
 * resolver thread, which resumes it with the answer. A pair not cached is queued for a
 * lookup (PostgreSQL; the answer is cached). The queue is bounded: should it fill (a
 * cold start, or the directory unusable while LISTEN is down), the overflow is answered
 * 503 (retry later, never a wrong 404), while cached tenants never wait behind it.
 *
 * Read your writes: a pair that memory says does not exist (the directory, directory.c,
 * or a cached "not found") may have been created a moment before the request, its
 * creation's notification (LISTEN) still on its way (config_cache.h). Such a request
 * waits for the next fence (run_fence): one round trip on the LISTEN connection, after
 * which every notification committed before the request arrived has dropped the cache
 * and made the directory stale; it is then decided again from the reloaded memory, so
 * a webhook sent the instant its integration's creation returns is accepted, and a
 * made-up pair is 404 after at most ~20 ms without any lookup. A fence that fails
 * (LISTEN lost, no answer in time) answers 503. While LISTEN is down there are no
 * fences: the directory is not used and cached "not found" answers stand for their
 * CONFIG_CACHE_NEGATIVE_TTL_MS. The resolver also runs the configuration watch and the
 * directory's loads, so no other thread ever waits for the database. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config_cache.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingress/ingress.h"

/* After a failed query, how long other misses are answered 503 without asking again
 * (the watch pings the database meanwhile): a database that is down must not make
 * every queued request wait for its own timeout. */
#define UNAVAILABLE_HOLD_S 1.0
/* See cached(). */
#define REFRESH_GRACE_MS 1000
/* Read-your-writes fences (see run_fence): at most one per FENCE_INTERVAL_S, so that a
 * flood of made-up pairs costs at most ~50 round trips a second on the LISTEN connection
 * and waits ~20 ms per request at worst; FENCE_TIMEOUT_MS bounds a backend that does not
 * answer (its waiters get 503, never a wrong 404); past FENCE_WAITERS_MAX waiting
 * requests (a flood faster than fences), the others get their 404 at once, as before
 * fences existed: the memory a flood can hold is bounded. */
#define FENCE_INTERVAL_S 0.02
#define FENCE_TIMEOUT_MS 2000
#define FENCE_WAITERS_MAX 4096

/* A pair to look up, with the requests waiting for it (coalesced: a pair is queued once
 * however many requests ask, so a burst for one tenant, genuine or forged, takes one
 * place); none for a background refresh of a known integration. */
struct job {
    char env[ID_LEN + 1];
    char key[IDENT_INTEGRATION_KEY_MAX_LEN + 1];
    struct lookup_answer *waiters; /* linked by next; answered and woken by the resolver */
};

/* Two rings of g_ingress.lookup_queue jobs each: pairs the directory holds (tenants
 * whose entry was dropped or expired: taken first, never crowded out) and the others
 * (a pair created a moment ago, or a stranger's while the directory cannot tell). */
struct ring {
    struct job *jobs;
    size_t head, count;
};

static struct config_cache cc;
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct ring rings[2]; /* [0] known pairs, [1] the others */
    size_t cap;
    struct lookup_answer *fenced; /* waiting for the next fence, linked by next */
    size_t nfenced;
    bool stop;
    bool started;
    pthread_t thread;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};
static double failed_at = -1e9; /* resolver thread only */
static struct metric *m_queued, *m_full, *m_queries, *m_fences, *m_fence_full;

/* Copies text into a fixed field; false when it does not fit (never truncate a secret:
 * a shortened secret would turn every webhook into a silent 401). */
static bool copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return false;
    memcpy(dst, src ? src : "", n + 1);
    return true;
}

static void entry_from_row(struct integration_entry *e, const struct integration_row *row, const char *env_id,
                           const char *key)
{
    snprintf(e->provider, sizeof e->provider, "%s", row->provider);
    e->allow_unverified = row->allow_unverified;
    bool fits = copy_field(e->webhook_secret, sizeof e->webhook_secret, row->webhook_secret) &&
                copy_field(e->client_secret, sizeof e->client_secret, row->client_secret) &&
                copy_field(e->previous_webhook_secret, sizeof e->previous_webhook_secret,
                           row->previous_webhook_secret) &&
                copy_field(e->previous_client_secret, sizeof e->previous_client_secret, row->previous_client_secret) &&
                copy_field(e->verify_config, sizeof e->verify_config, row->verify_config);
    if (!fits)
        log_error(NULL, "integration %s/%s: a secret or verify_config is longer than the ingress holds", env_id, key);
    e->secrets_unreadable = row->secrets_unreadable || !fits;
}

static void cache_key(char out[ID_LEN + IDENT_INTEGRATION_KEY_MAX_LEN + 2], const char *env_id, const char *key)
{
    snprintf(out, ID_LEN + IDENT_INTEGRATION_KEY_MAX_LEN + 2, "%s/%s", env_id, key);
}

static int enqueue(const char *env_id, const char *key, struct lookup_answer *waiter);

/* From the cache. stale_ok: a known integration whose entry is past its TTL is still
 * served, while LISTEN is up (a change would have dropped it, so it is still what the
 * database says), and the resolver reads it again in the background: a tenant the
 * ingress knows never waits in the queue that floods of unknown pairs fill. A second
 * of grace keeps its next requests from queueing the same refresh. */
static enum lookup_status cached(const char *env_id, const char *key, struct integration_entry *entry, bool stale_ok)
{
    char ckey[ID_LEN + IDENT_INTEGRATION_KEY_MAX_LEN + 2];
    cache_key(ckey, env_id, key);
    config_cache_refresh(&cc); /* a change committed before this webhook is seen */
    long long late;
    if (!ttl_cache_peek(cc.cache, ckey, entry, &late))
        return LOOKUP_MISS;
    if (late < 0)
        return entry->found ? LOOKUP_FOUND : LOOKUP_UNKNOWN;
    if (!stale_ok || !entry->found || atomic_load(&cc.listen_lost))
        return LOOKUP_MISS;
    ttl_cache_put(cc.cache, ckey, entry, REFRESH_GRACE_MS);
    if (enqueue(env_id, key, NULL) < 0)
        log_debug(NULL, "refresh of %s/%s postponed: lookup queue full", env_id, key);
    return LOOKUP_FOUND;
}

/* From the cache, then the directory: UNKNOWN is as new as the change notifications
 * read so far (the directory and negative answers are as new as the cache). */
static enum lookup_status from_memory(const char *env_id, const char *key, struct integration_entry *entry)
{
    enum lookup_status st = cached(env_id, key, entry, true);
    /* Not cached: a pair the directory (as new as the cache, read after its refresh)
     * does not hold does not exist. */
    if (st == LOOKUP_MISS && !atomic_load(&cc.listen_lost) &&
        directory_has(env_id, key, atomic_load(&cc.generation)) == 0)
        return LOOKUP_UNKNOWN;
    return st;
}

enum lookup_status lookup_cached(const char *env_id, const char *key, struct integration_entry *entry)
{
    enum lookup_status st = from_memory(env_id, key, entry);
    /* A notification may still be on its way (config_cache.h): not 404 before a fence.
     * Without LISTEN there is no fence: the negative answer stands for its short TTL. */
    return st == LOOKUP_UNKNOWN && !atomic_load(&cc.listen_lost) ? LOOKUP_FENCE : st;
}

/* Resolver thread: the answer for one queued pair. */
static void resolve(const struct job *j, struct lookup_answer *a)
{
    memset(a, 0, sizeof *a);
    /* Found just before, for another request? A "not found" is asked again: it may have
     * been read before this job's requests arrived, and before the pair was created. */
    a->status = cached(j->env, j->key, &a->entry, false);
    if (a->status == LOOKUP_FOUND)
        return;
    if (!atomic_load(&cc.db_ok) && clock_mono_s() - failed_at < UNAVAILABLE_HOLD_S) {
        a->status = LOOKUP_UNAVAILABLE;
        return;
    }
    struct integration_row row;
    unsigned long generation = config_cache_generation(&cc);
    pthread_mutex_lock(&cc.lock);
    int rc = store_integration(cc.query, j->env, j->key, &row);
    pthread_mutex_unlock(&cc.lock);
    metric_inc(m_queries);
    /* Values the database refuses for good name nothing: not found, and not a sign
     * that the database is down. */
    config_cache_db_result(&cc, rc >= 0 || rc == STORE_REFUSED);
    if (rc < 0 && rc != STORE_REFUSED) {
        failed_at = clock_mono_s();
        a->status = LOOKUP_UNAVAILABLE;
        return;
    }
    struct integration_entry *e = &a->entry;
    e->found = rc == 0;
    if (e->found)
        entry_from_row(e, &row, j->env, j->key);
    integration_row_clear(&row);
    char ckey[ID_LEN + IDENT_INTEGRATION_KEY_MAX_LEN + 2];
    cache_key(ckey, j->env, j->key);
    config_cache_put(&cc, ckey, e, e->found, generation); /* still true for a's waiters */
    a->status = e->found ? LOOKUP_FOUND : LOOKUP_UNKNOWN;
}

/* Takes the oldest job into j, known pairs first; waits for one up to 100 ms, or until
 * next_fence (monotonic seconds) while requests wait for a fence. False if none. */
static bool next_job(struct job *j, double next_fence)
{
    pthread_mutex_lock(&q.lock);
    double wait = q.nfenced ? next_fence - clock_mono_s() : 0.1;
    if (q.rings[0].count + q.rings[1].count == 0 && !q.stop && wait > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)((wait < 0.1 ? wait : 0.1) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q.wake, &q.lock, &ts);
    }
    struct ring *r = q.rings[0].count ? &q.rings[0] : q.rings[1].count ? &q.rings[1] : NULL;
    if (r) {
        *j = r->jobs[r->head];
        r->head = (r->head + 1) % q.cap;
        r->count--;
        metric_add(m_queued, -1);
    }
    pthread_mutex_unlock(&q.lock);
    return r != NULL;
}

/* Gives every waiter of j a copy of a (or UNAVAILABLE when a is NULL) and wakes it. */
static void answer_waiters(struct lookup_answer *w, const struct lookup_answer *a)
{
    while (w) {
        struct lookup_answer *next = w->next; /* w belongs to its request once woken */
        void (*done)(void *) = w->done;
        void *ctx = w->ctx;
        if (a) {
            *w = *a;
        } else {
            memset(w, 0, sizeof *w);
            w->status = LOOKUP_UNAVAILABLE;
        }
        done(ctx);
        w = next;
    }
}

static struct lookup_answer resolved; /* resolver thread only */

/* The requests waiting for a fence, taken (all of them: each arrived before now); n:
 * how many, if not NULL. */
static struct lookup_answer *take_fenced(size_t *n)
{
    pthread_mutex_lock(&q.lock);
    struct lookup_answer *w = q.fenced;
    if (n)
        *n = q.nfenced;
    q.fenced = NULL;
    q.nfenced = 0;
    pthread_mutex_unlock(&q.lock);
    return w;
}

/* Resolver thread: the read-your-writes fence. One round trip on the LISTEN connection
 * brings every change notification committed before it started (config_cache_fence),
 * hence before each waiter's request arrived; with the cache dropped and the directory
 * reloaded for them, what memory says is as new as those requests, and is answered: a
 * pair still unknown is 404, a found one proceeds, any other is queued for a lookup. One
 * fence serves every request that waits: a flood of made-up pairs costs one round trip
 * per FENCE_INTERVAL_S, and no lookup. */
static void run_fence(void)
{
    size_t n;
    struct lookup_answer *w = take_fenced(&n);
    if (!w)
        return;
    metric_inc(m_fences);
    if (atomic_load(&cc.listen_lost) || config_cache_fence(&cc, FENCE_TIMEOUT_MS) < 0) {
        log_warn(NULL,
                 "lookup: read-your-writes fence failed (LISTEN connection lost, or no answer within %d ms): %zu "
                 "requests for integrations not known here answered 503",
                 FENCE_TIMEOUT_MS, n);
        answer_waiters(w, NULL);
        config_cache_watch(&cc); /* notices the lost connection at once and listens again */
        return;
    }
    if (g_ingress.directory_max > 0)
        directory_refresh(atomic_load(&cc.generation), !atomic_load(&cc.listen_lost));
    while (w) {
        struct lookup_answer *next = w->next;
        enum lookup_status st = from_memory(w->env, w->key, &w->entry);
        if (st == LOOKUP_MISS && enqueue(w->env, w->key, w) == 0) { /* w is the job's waiter now */
            w = next;
            continue;
        }
        w->status = st == LOOKUP_MISS ? LOOKUP_BUSY : st;
        w->done(w->ctx); /* w belongs to its request once woken */
        w = next;
    }
}

static void *resolver_loop(void *arg)
{
    (void)arg;
    double next_watch = 0, next_fence = 0;
    for (;;) {
        struct job j;
        bool got = next_job(&j, next_fence);
        pthread_mutex_lock(&q.lock);
        bool stop = q.stop;
        bool fence_due = q.nfenced && clock_mono_s() >= next_fence;
        pthread_mutex_unlock(&q.lock);
        if (stop)
            answer_waiters(take_fenced(NULL), NULL);
        if (got && stop) {
            answer_waiters(j.waiters, NULL);
        } else if (got) {
            resolve(&j, &resolved);
            answer_waiters(j.waiters, &resolved);
            explicit_bzero(&resolved, sizeof resolved); /* it held the integration's secrets */
        } else if (stop) {
            return NULL;
        }
        if (!stop && clock_mono_s() >= next_watch) {
            config_cache_watch(&cc);
            next_watch = clock_mono_s() + 0.1;
        }
        if (!stop && g_ingress.directory_max > 0)
            directory_refresh(atomic_load(&cc.generation), !atomic_load(&cc.listen_lost));
        if (!stop && fence_due) {
            next_fence = clock_mono_s() + FENCE_INTERVAL_S;
            run_fence();
        }
    }
}

int lookup_init(const char *conninfo, long ttl_ms)
{
    if (config_cache_init(&cc, "integrations", "environments,integrations", conninfo, sizeof(struct integration_entry),
                          10000, ttl_ms) < 0)
        return -1;
    ttl_cache_set_weak_cap(cc.cache, (size_t)g_ingress.negative_cache_entries);
    if (directory_init(conninfo, (size_t)g_ingress.directory_max) < 0)
        return -1;
    m_queued = metrics_gauge("hookline_ingress_lookups_queued", NULL, "uncached lookups waiting for the resolver");
    m_full = metrics_counter("hookline_ingress_lookups_refused_total", NULL,
                             "uncached lookups answered 503 because the resolver queue was full");
    m_queries = metrics_counter("hookline_ingress_lookup_queries_total", NULL,
                                "integration lookups that asked PostgreSQL");
    m_fences = metrics_counter("hookline_ingress_lookup_fences_total", NULL,
                               "read-your-writes fences: round trips on the LISTEN connection before a 404");
    m_fence_full = metrics_counter("hookline_ingress_lookup_fence_overflow_total", NULL,
                                   "requests answered 404 without a fence because too many waited for one");
    q.cap = (size_t)g_ingress.lookup_queue;
    q.rings[0].jobs = calloc(q.cap, sizeof *q.rings[0].jobs);
    q.rings[1].jobs = calloc(q.cap, sizeof *q.rings[1].jobs);
    if (!q.rings[0].jobs || !q.rings[1].jobs || pthread_create(&q.thread, NULL, resolver_loop, NULL) != 0) {
        log_error(NULL, "cannot start the lookup resolver");
        return -1;
    }
    q.started = true;
    return 0;
}

/* The pending job for (env, key) in ring r, or NULL. Under q.lock. */
static struct job *pending(struct ring *r, const char *env_id, const char *key)
{
    for (size_t i = 0; i < r->count; i++) {
        struct job *j = &r->jobs[(r->head + i) % q.cap];
        if (strcmp(j->key, key) == 0 && strcasecmp(j->env, env_id) == 0)
            return j;
    }
    return NULL;
}

/* Queues (env, key) with waiter (NULL: a background refresh). 0, or -1 when its ring is
 * full or the resolver stopped. */
static int enqueue(const char *env_id, const char *key, struct lookup_answer *waiter)
{
    bool known = directory_has(env_id, key, DIRECTORY_ANY) == 1;
    pthread_mutex_lock(&q.lock);
    struct job *j = q.stop ? NULL : pending(&q.rings[0], env_id, key);
    if (!j && !q.stop)
        j = pending(&q.rings[1], env_id, key);
    struct ring *r = &q.rings[known ? 0 : 1];
    bool ok = !q.stop && (j || r->count < q.cap);
    if (ok && !j) {
        j = &r->jobs[(r->head + r->count) % q.cap];
        snprintf(j->env, sizeof j->env, "%s", env_id);
        snprintf(j->key, sizeof j->key, "%s", key);
        j->waiters = NULL;
        r->count++;
        metric_add(m_queued, 1);
        pthread_cond_signal(&q.wake);
    }
    if (ok && waiter) {
        waiter->next = j->waiters;
        j->waiters = waiter;
    }
    pthread_mutex_unlock(&q.lock);
    if (!ok)
        metric_inc(m_full);
    return ok ? 0 : -1;
}

/* Adds waiter to the requests waiting for the next fence. 0, or -1 (waiter->status set). */
static int wait_fence(const char *env_id, const char *key, struct lookup_answer *waiter)
{
    snprintf(waiter->env, sizeof waiter->env, "%s", env_id);
    snprintf(waiter->key, sizeof waiter->key, "%s", key);
    pthread_mutex_lock(&q.lock);
    bool stop = q.stop, ok = !stop && q.nfenced < FENCE_WAITERS_MAX;
    if (ok) {
        waiter->next = q.fenced;
        q.fenced = waiter;
        if (q.nfenced++ == 0)
            pthread_cond_signal(&q.wake);
    }
    pthread_mutex_unlock(&q.lock);
    if (ok)
        return 0;
    waiter->status = stop ? LOOKUP_BUSY : LOOKUP_UNKNOWN;
    if (!stop)
        metric_inc(m_fence_full);
    return -1;
}

int lookup_resolve(const char *env_id, const char *key, bool fence, struct lookup_answer *answer,
                   void (*done)(void *ctx), void *ctx)
{
    answer->done = done;
    answer->ctx = ctx;
    if (fence)
        return wait_fence(env_id, key, answer);
    answer->status = LOOKUP_BUSY;
    return enqueue(env_id, key, answer);
}

bool lookup_ready(void)
{
    return config_cache_ready(&cc);
}

void lookup_shutdown(void)
{
    if (q.started) {
        pthread_mutex_lock(&q.lock);
        q.stop = true;
        pthread_cond_signal(&q.wake);
        pthread_mutex_unlock(&q.lock);
        pthread_join(q.thread, NULL);
        q.started = false;
    }
    for (int i = 0; i < 2; i++) {
        free(q.rings[i].jobs);
        q.rings[i].jobs = NULL;
    }
    directory_shutdown();
    config_cache_shutdown(&cc);
}
