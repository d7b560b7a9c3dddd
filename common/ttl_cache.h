/*
 * ttl_cache: a thread-safe map from string keys to small fixed-size values with a
 * time to live, used by the daemons to keep per-webhook PostgreSQL lookups off the
 * hot path. Values are copied in and out under the lock, so a reader never holds a
 * pointer into the cache. The whole cache is dropped when configuration changes
 * (LISTEN/NOTIFY). Memory is bounded: entries are strong (answers about things that
 * exist) or weak (short-lived negative answers, which a stranger can make up by the
 * million); each kind has its own cap, and reaching one drops expired entries of that
 * kind, then all of that kind, so a flood of weak entries never evicts a strong one.
 */
#ifndef HOOKLINE_TTL_CACHE_H
#define HOOKLINE_TTL_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct ttl_cache;

/* value_size: size of every value; max_entries: the cap of strong entries and, unless
 * ttl_cache_set_weak_cap says otherwise, of weak ones. NULL on allocation failure. */
struct ttl_cache *ttl_cache_new(size_t value_size, size_t max_entries);
void ttl_cache_free(struct ttl_cache *c);

/* Copies the value for key into out and returns true if present and fresh. */
bool ttl_cache_get(struct ttl_cache *c, const char *key, void *out);

/* Like ttl_cache_get, but an entry past its time to live (not yet dropped) is copied
 * too: *late_ms is how long ago it expired (<= 0 while fresh). False if absent. */
bool ttl_cache_peek(struct ttl_cache *c, const char *key, void *out, long long *late_ms);

/* Stores a copy of value for ttl_ms milliseconds (replacing any older one, weak or
 * strong), as a strong entry. */
void ttl_cache_put(struct ttl_cache *c, const char *key, const void *value, long ttl_ms);

/* The same as a weak entry (see above). */
void ttl_cache_put_weak(struct ttl_cache *c, const char *key, const void *value, long ttl_ms);

/* Sets the cap of weak entries (at least 1). Call before use. */
void ttl_cache_set_weak_cap(struct ttl_cache *c, size_t max_weak);

/* Entries held now: strong and weak (for tests and metrics). */
void ttl_cache_counts(struct ttl_cache *c, size_t *strong, size_t *weak);

/* Drops every entry. */
void ttl_cache_clear(struct ttl_cache *c);

#endif
