/*
 * ttl_cache: a thread-safe map from string keys to small fixed-size values with a
 * time to live, used by the daemons to keep per-webhook PostgreSQL lookups off the
 * hot path. Values are copied in and out under the lock, so a reader never holds a
 * pointer into the cache. The whole cache is dropped when configuration changes
 * (LISTEN/NOTIFY) and when it reaches its entry cap (bounded memory).
 */
#ifndef HOOKLINE_TTL_CACHE_H
#define HOOKLINE_TTL_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct ttl_cache;

/* value_size: size of every value; max_entries: the cap. NULL on allocation failure. */
struct ttl_cache *ttl_cache_new(size_t value_size, size_t max_entries);
void ttl_cache_free(struct ttl_cache *c);

/* Copies the value for key into out and returns true if present and fresh. */
bool ttl_cache_get(struct ttl_cache *c, const char *key, void *out);

/* Stores a copy of value for ttl_ms milliseconds (replacing any older one). */
void ttl_cache_put(struct ttl_cache *c, const char *key, const void *value, long ttl_ms);

/* Drops every entry. */
void ttl_cache_clear(struct ttl_cache *c);

#endif
