/* lookup: integration lookups for ingress, through the shared configuration cache so
 * that PostgreSQL is not on the per-webhook path. */
#include <stdio.h>
#include <string.h>

#include "common/config_cache.h"
#include "ingress/ingress.h"

static struct config_cache cc;

int lookup_init(const char *conninfo, long ttl_ms)
{
    return config_cache_init(&cc, "integrations", conninfo, sizeof(struct integration_entry), 10000, ttl_ms);
}

int lookup_integration(const char *env_id, const char *key, struct integration_entry *out)
{
    char ckey[200];
    snprintf(ckey, sizeof ckey, "%s/%s", env_id, key);
    if (ttl_cache_get(cc.cache, ckey, out))
        return 0;

    struct integration_row row;
    pthread_mutex_lock(&cc.lock);
    int rc = store_integration(cc.query, env_id, key, &row);
    pthread_mutex_unlock(&cc.lock);
    config_cache_db_result(&cc, rc >= 0);
    if (rc < 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->found = rc == 0;
    if (out->found) {
        snprintf(out->provider, sizeof out->provider, "%s", row.provider);
        snprintf(out->webhook_secret, sizeof out->webhook_secret, "%s", row.webhook_secret ? row.webhook_secret : "");
        snprintf(out->client_secret, sizeof out->client_secret, "%s", row.client_secret ? row.client_secret : "");
    }
    integration_row_clear(&row);
    config_cache_put(&cc, ckey, out, out->found);
    return 0;
}

void lookup_watch(void)
{
    config_cache_watch(&cc);
}

bool lookup_ready(void)
{
    return config_cache_ready(&cc);
}

void lookup_shutdown(void)
{
    config_cache_shutdown(&cc);
}
