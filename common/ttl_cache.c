/* ttl_cache: see ttl_cache.h. Chained hash table (FNV-1a), one mutex; strong and weak
 * entries share the table and are counted apart. */
#include "common/ttl_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    struct entry *next;
    long long expires_ms;
    bool weak;
    char *key;
    unsigned char value[]; /* value_size bytes */
};

struct ttl_cache {
    pthread_mutex_t lock;
    size_t value_size, max_entries, max_weak, count, nweak, nbuckets;
    struct entry **buckets;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t hash_key(const char *s, size_t nbuckets)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h % nbuckets);
}

struct ttl_cache *ttl_cache_new(size_t value_size, size_t max_entries)
{
    struct ttl_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->value_size = value_size;
    c->max_entries = max_entries;
    c->max_weak = max_entries;
    c->nbuckets = max_entries < 64 ? 64 : max_entries;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

/* Drops the entries of one kind (weak or strong) that expired before now, or all of
 * that kind when now is 0. */
static void drop_locked(struct ttl_cache *c, bool weak, long long now)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct entry **link = &c->buckets[i];
        while (*link) {
            struct entry *e = *link;
            if (e->weak != weak || (now && e->expires_ms > now)) {
                link = &e->next;
                continue;
            }
            *link = e->next;
            *(weak ? &c->nweak : &c->count) -= 1;
            free(e->key);
            free(e);
        }
    }
}

static void clear_locked(struct ttl_cache *c)
{
    drop_locked(c, false, 0);
    drop_locked(c, true, 0);
}

/* Makes room for one more entry of a kind: expired ones go first, then (crude but
 * bounded) every entry of that kind, also when too few had expired for the sweep to be
 * worth repeating at the next insert. */
static void make_room_locked(struct ttl_cache *c, bool weak, long long now)
{
    size_t cap = weak ? c->max_weak : c->max_entries;
    if ((weak ? c->nweak : c->count) < cap)
        return;
    drop_locked(c, weak, now);
    if ((weak ? c->nweak : c->count) >= cap - cap / 4)
        drop_locked(c, weak, 0);
}

void ttl_cache_free(struct ttl_cache *c)
{
    if (!c)
        return;
    clear_locked(c);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}

static struct entry *find_locked(struct ttl_cache *c, const char *key)
{
    for (struct entry *e = c->buckets[hash_key(key, c->nbuckets)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

bool ttl_cache_peek(struct ttl_cache *c, const char *key, void *out, long long *late_ms)
{
    long long now = now_ms();
    pthread_mutex_lock(&c->lock);
    struct entry *e = find_locked(c, key);
    if (e) {
        memcpy(out, e->value, c->value_size);
        *late_ms = now - e->expires_ms;
    }
    pthread_mutex_unlock(&c->lock);
    return e != NULL;
}

bool ttl_cache_get(struct ttl_cache *c, const char *key, void *out)
{
    long long now = now_ms();
    pthread_mutex_lock(&c->lock);
    struct entry *e = find_locked(c, key);
    bool hit = e && e->expires_ms > now;
    if (hit)
        memcpy(out, e->value, c->value_size);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void put(struct ttl_cache *c, const char *key, const void *value, long ttl_ms, bool weak)
{
    long long now = now_ms(), expires = now + ttl_ms;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find_locked(c, key);
    if (e) {
        memcpy(e->value, value, c->value_size);
        e->expires_ms = expires;
        if (e->weak != weak) {
            *(e->weak ? &c->nweak : &c->count) -= 1;
            *(weak ? &c->nweak : &c->count) += 1;
            e->weak = weak;
        }
        goto out;
    }
    make_room_locked(c, weak, now);
    struct entry **slot = &c->buckets[hash_key(key, c->nbuckets)];
    e = malloc(sizeof *e + c->value_size);
    if (!e)
        goto out;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        goto out;
    }
    memcpy(e->value, value, c->value_size);
    e->expires_ms = expires;
    e->weak = weak;
    e->next = *slot;
    *slot = e;
    *(weak ? &c->nweak : &c->count) += 1;
out:
    pthread_mutex_unlock(&c->lock);
}

void ttl_cache_put(struct ttl_cache *c, const char *key, const void *value, long ttl_ms)
{
    put(c, key, value, ttl_ms, false);
}

void ttl_cache_put_weak(struct ttl_cache *c, const char *key, const void *value, long ttl_ms)
{
    put(c, key, value, ttl_ms, true);
}

void ttl_cache_set_weak_cap(struct ttl_cache *c, size_t max_weak)
{
    pthread_mutex_lock(&c->lock);
    c->max_weak = max_weak ? max_weak : 1;
    pthread_mutex_unlock(&c->lock);
}

void ttl_cache_counts(struct ttl_cache *c, size_t *strong, size_t *weak)
{
    pthread_mutex_lock(&c->lock);
    *strong = c->count;
    *weak = c->nweak;
    pthread_mutex_unlock(&c->lock);
}

void ttl_cache_clear(struct ttl_cache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}
