/* lookup: integration lookups for ingress, through the shared configuration cache so
 * that PostgreSQL is not on the per-webhook path. */
#include <stdio.h>
#include <string.h>

#include "common/config_cache.h"
#include "common/log.h"
#include "ingress/ingress.h"

static struct config_cache cc;

int lookup_init(const char *conninfo, long ttl_ms)
{
    return config_cache_init(&cc, "integrations", "environments,integrations", conninfo,
                             sizeof(struct integration_entry), 10000, ttl_ms);
}

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

int lookup_integration(const char *env_id, const char *key, struct integration_entry *out)
{
    char ckey[200];
    snprintf(ckey, sizeof ckey, "%s/%s", env_id, key);
    config_cache_refresh(&cc);
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
    if (out->found)
        entry_from_row(out, &row, env_id, key);
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
