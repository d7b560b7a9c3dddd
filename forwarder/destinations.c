/* destinations: the environment's forwarding URLs and signing key, through the shared
 * configuration cache so the forwarder does not query PostgreSQL per webhook. */
#include <stdio.h>
#include <string.h>

#include "common/config_cache.h"
#include "forwarder/forwarder.h"

static struct config_cache cc;

int destinations_init(const char *conninfo, long ttl_ms)
{
    return config_cache_init(&cc, "destinations", conninfo, sizeof(struct destination), 10000, ttl_ms);
}

int destinations_get(const char *env_id, struct destination *out)
{
    if (ttl_cache_get(cc.cache, env_id, out))
        return 0;
    struct environment_row row;
    pthread_mutex_lock(&cc.lock);
    int rc = store_environment(cc.query, env_id, &row);
    pthread_mutex_unlock(&cc.lock);
    config_cache_db_result(&cc, rc >= 0);
    if (rc < 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->found = rc == 0;
    if (out->found) {
        snprintf(out->webhook_url, sizeof out->webhook_url, "%s", row.webhook_url ? row.webhook_url : "");
        snprintf(out->secondary_url, sizeof out->secondary_url, "%s",
                 row.secondary_webhook_url ? row.secondary_webhook_url : "");
        snprintf(out->signing_key, sizeof out->signing_key, "%s", row.signing_key ? row.signing_key : "");
    }
    environment_row_clear(&row);
    config_cache_put(&cc, env_id, out, out->found);
    return 0;
}

void destinations_watch(void)
{
    config_cache_watch(&cc);
}

bool destinations_ready(void)
{
    return config_cache_ready(&cc);
}

void destinations_shutdown(void)
{
    config_cache_shutdown(&cc);
}
