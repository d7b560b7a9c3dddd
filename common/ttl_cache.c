/* ttl_cache: see ttl_cache.h. Chained hash table (FNV-1a), one mutex. */
#include "common/ttl_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    struct entry *next;
    long long expires_ms;
    char *key;
    unsigned char value[]; /* value_size bytes */
};

struct ttl_cache {
    pthread_mutex_t lock;
    size_t value_size, max_entries, count, nbuckets;
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
    c->nbuckets = max_entries < 64 ? 64 : max_entries;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void clear_locked(struct ttl_cache *c)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct entry *e = c->buckets[i];
        while (e) {
            struct entry *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
        c->buckets[i] = NULL;
    }
    c->count = 0;
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

bool ttl_cache_get(struct ttl_cache *c, const char *key, void *out)
{
    bool hit = false;
    long long now = now_ms();
    pthread_mutex_lock(&c->lock);
    for (struct entry *e = c->buckets[hash_key(key, c->nbuckets)]; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            if (e->expires_ms > now) {
                memcpy(out, e->value, c->value_size);
                hit = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void ttl_cache_put(struct ttl_cache *c, const char *key, const void *value, long ttl_ms)
{
    long long expires = now_ms() + ttl_ms;
    pthread_mutex_lock(&c->lock);
    struct entry **slot = &c->buckets[hash_key(key, c->nbuckets)];
    for (struct entry *e = *slot; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            memcpy(e->value, value, c->value_size);
            e->expires_ms = expires;
            goto out;
        }
    }
    if (c->count >= c->max_entries)
        clear_locked(c); /* crude but bounded: a full cache starts over */
    struct entry *e = malloc(sizeof *e + c->value_size);
    if (!e)
        goto out;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        goto out;
    }
    memcpy(e->value, value, c->value_size);
    e->expires_ms = expires;
    e->next = *slot;
    *slot = e;
    c->count++;
out:
    pthread_mutex_unlock(&c->lock);
}

void ttl_cache_clear(struct ttl_cache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}
