/* config_cache: see config_cache.h. */
#include "common/config_cache.h"

#include "common/log.h"

int config_cache_init(struct config_cache *cc, const char *what, const char *tables, const char *conninfo,
                      size_t value_size, size_t max_entries, long ttl_ms)
{
    cc->what = what;
    cc->tables = tables;
    cc->ttl_ms = ttl_ms;
    pthread_mutex_init(&cc->lock, NULL);
    pthread_mutex_init(&cc->watch_lock, NULL);
    cc->query = store_new(conninfo);
    cc->watch = store_new(conninfo);
    cc->cache = ttl_cache_new(value_size, max_entries);
    if (!cc->query || !cc->watch || !cc->cache)
        return -1;
    atomic_store(&cc->db_ok, store_ping(cc->query) == 0);
    if (store_listen(cc->watch) < 0) {
        atomic_store(&cc->listen_lost, true);
        log_warn(NULL, "%s: cannot LISTEN for configuration changes yet; will retry", what);
    }
    return 0;
}

unsigned long config_cache_generation(struct config_cache *cc)
{
    return atomic_load(&cc->generation);
}

bool config_cache_put(struct config_cache *cc, const char *key, const void *value, bool found, unsigned long generation)
{
    pthread_mutex_lock(&cc->watch_lock); /* every drop happens under it */
    bool fresh = atomic_load(&cc->generation) == generation;
    if (fresh && found)
        ttl_cache_put(cc->cache, key, value, cc->ttl_ms);
    else if (fresh)
        ttl_cache_put_weak(cc->cache, key, value, CONFIG_CACHE_NEGATIVE_TTL_MS);
    pthread_mutex_unlock(&cc->watch_lock);
    return fresh;
}

void config_cache_db_result(struct config_cache *cc, bool ok)
{
    atomic_store(&cc->db_ok, ok);
}

/* A change: every answer may be stale. Under watch_lock (config_cache_put). */
static void drop(struct config_cache *cc)
{
    ttl_cache_clear(cc->cache);
    atomic_fetch_add(&cc->generation, 1);
}

void config_cache_watch(struct config_cache *cc)
{
    if (!atomic_load(&cc->db_ok)) {
        pthread_mutex_lock(&cc->lock);
        atomic_store(&cc->db_ok, store_ping(cc->query) == 0);
        pthread_mutex_unlock(&cc->lock);
    }
    pthread_mutex_lock(&cc->watch_lock);
    int n = store_changes(cc->watch, cc->tables);
    if (n > 0)
        drop(cc);
    if (n < 0 && !atomic_exchange(&cc->listen_lost, true))
        log_warn(NULL, "%s: lost the LISTEN connection: cached answers are kept until their TTL", cc->what);
    /* Back: whatever changed meanwhile was not notified, so start over from the database. */
    if (n < 0 && store_listen(cc->watch) == 0) {
        drop(cc);
        atomic_store(&cc->listen_lost, false);
        log_info(NULL, "%s: listening for configuration changes again; cache dropped", cc->what);
    }
    pthread_mutex_unlock(&cc->watch_lock);
}

void config_cache_refresh(struct config_cache *cc)
{
    if (pthread_mutex_trylock(&cc->watch_lock) != 0)
        return;
    if (store_changes(cc->watch, cc->tables) > 0) /* a lost LISTEN is left to the watcher */
        drop(cc);
    pthread_mutex_unlock(&cc->watch_lock);
}

int config_cache_fence(struct config_cache *cc, int timeout_ms)
{
    pthread_mutex_lock(&cc->watch_lock);
    int n = store_listen_round_trip(cc->watch, timeout_ms) < 0 ? -1 : store_changes(cc->watch, cc->tables);
    if (n > 0)
        drop(cc);
    pthread_mutex_unlock(&cc->watch_lock);
    /* A lost connection is the watcher's to report and replace (it drops the cache then). */
    return n < 0 ? -1 : 0;
}

bool config_cache_ready(struct config_cache *cc)
{
    return atomic_load(&cc->db_ok);
}

void config_cache_shutdown(struct config_cache *cc)
{
    ttl_cache_free(cc->cache);
    store_free(cc->watch);
    store_free(cc->query);
    pthread_mutex_destroy(&cc->lock);
    pthread_mutex_destroy(&cc->watch_lock);
    cc->cache = NULL;
    cc->watch = cc->query = NULL;
}
