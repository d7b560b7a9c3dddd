/*
 * config_cache: what every daemon needs to read configuration from PostgreSQL off the
 * hot path: a query connection (behind a lock), a TTL cache of answers, and a second
 * connection that LISTENs for configuration changes and drops the cache. A change is
 * seen once its notification has been read, which trails the commit (see
 * config_cache_refresh); config_cache_fence waits until every notification committed
 * before it has been, for a caller that must read its client's writes. Answers that say
 * "not found" are cached only briefly, and as weak entries (ttl_cache.h): however many a
 * stranger makes up, they never evict a known answer.
 *
 * When the LISTEN connection is lost (PostgreSQL restarting, a network cut), the cache
 * is kept: cached answers are served until their TTL, so known tenants keep flowing
 * through a database restart. The watcher re-LISTENs and drops the cache once LISTEN is
 * back, so changes made while nobody listened are seen then.
 */
#ifndef HOOKLINE_CONFIG_CACHE_H
#define HOOKLINE_CONFIG_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/store.h"
#include "common/ttl_cache.h"

#define CONFIG_CACHE_NEGATIVE_TTL_MS 1000

struct config_cache {
    struct store *query; /* guarded by lock */
    struct store *watch; /* guarded by watch_lock */
    pthread_mutex_t watch_lock;
    pthread_mutex_t lock;
    struct ttl_cache *cache;
    long ttl_ms;
    atomic_bool db_ok;
    atomic_bool listen_lost; /* LISTEN is down (or not up yet): changes may be missed */
    atomic_ulong generation; /* +1 each time the cache is dropped for a change */
    const char *what;        /* for log lines, e.g. "integrations" */
    const char *tables;      /* what its answers are read from: changes elsewhere keep it */
};

/* tables: the comma-separated tables the cached answers are read from (static); a
 * change notification about another table (a sync, a flag) leaves the cache alone. */
int config_cache_init(struct config_cache *cc, const char *what, const char *tables, const char *conninfo,
                      size_t value_size, size_t max_entries, long ttl_ms) __attribute__((warn_unused_result));

/* The cache's generation: read it before the query whose answer config_cache_put will
 * cache. */
unsigned long config_cache_generation(struct config_cache *cc);

/* Caches value under key (found answers for ttl_ms, not-found ones briefly), unless the
 * cache was dropped since generation: an answer read before a change must not outlive
 * the change's notification (a "not found" read just before a creation would deny it
 * for its TTL). False when not cached. Takes the watcher's lock, so it may wait while
 * the watcher listens again after a lost connection (bounded by the connect timeout). */
bool config_cache_put(struct config_cache *cc, const char *key, const void *value, bool found,
                      unsigned long generation);

/* Records whether the last query reached the database (for readiness). */
void config_cache_db_result(struct config_cache *cc, bool ok);

/* Call periodically (one thread): drops the cache on change notifications and once a
 * lost LISTEN connection is back (not when it is lost), and re-checks an unreachable
 * database. */
void config_cache_watch(struct config_cache *cc);

/* Cheap and non-blocking: drops the cache if a change notification has arrived (a lost
 * LISTEN connection is the watcher's business: see above). Call it right before using
 * the cache for a webhook, so that a change committed before the webhook arrived is seen
 * once its notification is here. PostgreSQL signals the listening backend at commit,
 * and that backend forwards it when it is next scheduled: well under a millisecond
 * normally, more on a starved machine, so a webhook sent the instant a commit returns
 * can still meet the old answer. Where that matters (the ingress's 404),
 * config_cache_fence closes the window at a round trip. Thread-safe; a caller that
 * finds another thread checking (or a fence running) skips the check. */
void config_cache_refresh(struct config_cache *cc);

/* The read-your-writes fence: one round trip on the LISTEN connection (within
 * timeout_ms), then the notifications it brought, like config_cache_watch. Once it
 * returns 0, every change committed before it was called has dropped the cache (the
 * generation moved on). -1: LISTEN is lost or did not answer in time (the connection is
 * dropped; the watcher listens again): nothing is known. Blocks: one thread (the
 * watcher's); config_cache_refresh skips its check meanwhile. */
int config_cache_fence(struct config_cache *cc, int timeout_ms);

bool config_cache_ready(struct config_cache *cc);
void config_cache_shutdown(struct config_cache *cc);

#endif
