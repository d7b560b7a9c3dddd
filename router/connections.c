/* connections: which connections an identifier names, cached per (environment,
 * integration, key, value). Negative answers are cached only briefly so a connection
 * created just before its first webhook is found; any configuration change drops the
 * cache (LISTEN hookline_config). Used from the router's main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_cache.h"
#include "router/router.h"

#define CACHED_IDS 4        /* more matches than this are not cached */

struct cached_ids {
    int n;
    char ids[CACHED_IDS][256];
};

static struct config_cache cc;

int connections_init(const char *conninfo, long ttl_ms)
{
    return config_cache_init(&cc, "connections", "environments,integrations,connections", conninfo,
                             sizeof(struct cached_ids), 20000, ttl_ms);
}

static int ids_from_cache(const struct cached_ids *c, char ***ids, size_t *n)
{
    if (c->n == 0)
        return 1;
    char **out = calloc((size_t)c->n, sizeof *out);
    if (!out)
        return -1;
    for (int i = 0; i < c->n; i++) {
        out[i] = strdup(c->ids[i]);
        if (!out[i]) {
            store_ids_free(out, (size_t)i);
            return -1;
        }
    }
    *ids = out;
    *n = (size_t)c->n;
    return 0;
}

static void cache_result(const char *ckey, int rc, char **ids, size_t n)
{
    struct cached_ids c = {.n = 0};
    if (rc == 0) {
        if (n > CACHED_IDS)
            return;
        for (size_t i = 0; i < n; i++) {
            if (strlen(ids[i]) >= sizeof c.ids[0])
                return;
            strcpy(c.ids[i], ids[i]);
        }
        c.n = (int)n;
    }
    config_cache_put(&cc, ckey, &c, rc == 0);
}

int connections_find(enum store_match match, const char *env_id, const char *integration_key, const char *key,
                     const char *value, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    char ckey[1024];
    int klen = snprintf(ckey, sizeof ckey, "%d\x1f%s\x1f%s\x1f%s\x1f%s", (int)match, env_id, integration_key, key,
                        value);
    bool cacheable = klen > 0 && (size_t)klen < sizeof ckey;
    struct cached_ids c;
    config_cache_refresh(&cc); /* a change committed before this webhook is seen */
    if (cacheable && ttl_cache_get(cc.cache, ckey, &c))
        return ids_from_cache(&c, ids, n);
    pthread_mutex_lock(&cc.lock);
    int rc = store_connections_by(cc.query, match, env_id, integration_key, key, value, ids, n);
    pthread_mutex_unlock(&cc.lock);
    config_cache_db_result(&cc, rc >= 0 || rc == STORE_REFUSED); /* a refused value is no outage */
    if (rc >= 0 && cacheable)
        cache_result(ckey, rc, *ids, *n);
    return rc;
}

void connections_watch(void)
{
    config_cache_watch(&cc);
}

bool connections_ready(void)
{
    return config_cache_ready(&cc);
}

void connections_shutdown(void)
{
    config_cache_shutdown(&cc);
}
