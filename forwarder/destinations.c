/* destinations: where and how a message is forwarded (see struct destination), through
 * the shared configuration cache so the forwarder does not query PostgreSQL per
 * webhook. One entry per (environment, integration, connection): a connection's
 * override and an integration's switch differ between entries of one environment. */
#include <stdio.h>
#include <string.h>

#include "common/config_cache.h"
#include "forwarder/forwarder.h"

static struct config_cache cc;
/* URLs flagged gone (410), cached apart: a retry names one URL, which need not be any
 * environment's current one. */
static struct config_cache gone_cc;
struct gone_answer {
    bool gone;
    char since[32];
};

int destinations_init(const char *conninfo, long ttl_ms)
{
    if (config_cache_init(&cc, "destinations", "environments,integrations,connections", conninfo,
                          sizeof(struct destination), 10000, ttl_ms) < 0)
        return -1;
    return config_cache_init(&gone_cc, "gone destinations", "gone_destinations", conninfo, sizeof(struct gone_answer),
                             10000, ttl_ms);
}

/* Copies s ("" for NULL) into dst; false when it does not fit (nothing is cut: a URL or
 * a key cut short would send elsewhere or sign wrong). */
static bool copy(char *dst, size_t cap, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    dst[0] = '\0';
    if (len >= cap)
        return false;
    memcpy(dst, s ? s : "", len + 1);
    return true;
}
#define COPY(dst, s) copy((dst), sizeof(dst), (s))

/* Fills out from the two rows (fs is NULL when the integration no longer exists). A
 * URL or key longer than its buffer (written past the CLI's limits) makes it unusable. */
static void resolve(struct destination *out, const struct environment_row *env, const struct forward_settings_row *fs)
{
    out->forward = fs ? fs->forward_enabled : true;
    out->overridden = fs && fs->webhook_url_override && *fs->webhook_url_override;
    bool fits = COPY(out->primary_url, out->overridden ? fs->webhook_url_override : env->webhook_url) &&
                COPY(out->secondary_url, env->secondary_webhook_url);
    if (!fits)
        snprintf(out->unusable_why, sizeof out->unusable_why, "a webhook URL is longer than %d bytes: set it again",
                 DESTINATION_URL_MAX);
    if (!COPY(out->signing_key, env->signing_key) || !COPY(out->previous_signing_key, env->previous_signing_key)) {
        fits = false;
        snprintf(out->unusable_why, sizeof out->unusable_why, "its signing key is longer than %zu bytes",
                 sizeof out->signing_key - 1);
    }
    out->unusable = !fits;
    out->previous_until = env->previous_until;
    out->raw = env->forward_mode == STORE_FORWARD_RAW;
    out->legacy_signature = env->legacy_signature;
}

/* Unambiguous: a UUID, a key without '/', then the connection id ("" unattributed, as
 * a connection id is never empty). */
#define CACHE_KEY_MAX (64 + 160 + 1040 + 3)
static void cache_key(char key[CACHE_KEY_MAX], const char *env_id, const char *integration, const char *connection)
{
    snprintf(key, CACHE_KEY_MAX, "%s/%s/%s", env_id, integration, connection ? connection : "");
}

bool destinations_cached(const char *env_id, const char *integration, const char *connection, struct destination *out)
{
    char key[CACHE_KEY_MAX];
    cache_key(key, env_id, integration, connection);
    config_cache_refresh(&cc); /* a change committed before this webhook is seen */
    return ttl_cache_get(cc.cache, key, out);
}

int destinations_get(const char *env_id, const char *integration, const char *connection, struct destination *out)
{
    char key[CACHE_KEY_MAX];
    cache_key(key, env_id, integration, connection);
    config_cache_refresh(&cc); /* a change committed before this webhook is seen */
    if (ttl_cache_get(cc.cache, key, out))
        return 0;
    struct environment_row env;
    struct forward_settings_row fs;
    int fs_rc = 1;
    unsigned long generation = config_cache_generation(&cc);
    pthread_mutex_lock(&cc.lock);
    int rc = store_environment(cc.query, env_id, &env);
    if (rc == 0)
        fs_rc = queries_forward_settings(cc.query, env_id, integration, connection, &fs);
    /* -1 from a database that answers at once: the row itself cannot be used (a signing
     * key that cannot be decrypted, logged by the store), not the database. */
    bool unusable = rc == -1 && store_ping(cc.query) == 0;
    pthread_mutex_unlock(&cc.lock);
    /* A refusal is an answer of a database that works: the message is at fault. */
    bool refused = rc == STORE_REFUSED || fs_rc == STORE_REFUSED;
    config_cache_db_result(&cc, unusable || refused || (rc >= 0 && fs_rc >= 0));
    memset(out, 0, sizeof *out);
    out->found = rc == 0;
    if (rc == 0 && fs_rc >= 0)
        resolve(out, &env, fs_rc == 0 ? &fs : NULL);
    if (fs_rc == 0)
        forward_settings_row_clear(&fs);
    environment_row_clear(&env);
    if (refused)
        return STORE_REFUSED;
    if (unusable)
        snprintf(out->unusable_why, sizeof out->unusable_why,
                 "its signing key cannot be decrypted: check HOOKLINE_ENCRYPTION_KEY and _OLD_KEYS");
    if (unusable || out->unusable) { /* remembered briefly: its messages ask again, the database once a second */
        out->found = out->unusable = true;
        config_cache_put(&cc, key, out, false, generation);
        return 0;
    }
    if (rc < 0 || fs_rc < 0)
        return -1;
    config_cache_put(&cc, key, out, out->found, generation);
    return 0;
}

int destinations_gone(const char *url, char *since, size_t sincelen)
{
    struct gone_answer a;
    config_cache_refresh(&gone_cc);
    if (!ttl_cache_get(gone_cc.cache, url, &a)) {
        memset(&a, 0, sizeof a);
        unsigned long generation = config_cache_generation(&gone_cc);
        pthread_mutex_lock(&gone_cc.lock);
        int rc = queries_destination_gone(gone_cc.query, url, a.since, sizeof a.since);
        pthread_mutex_unlock(&gone_cc.lock);
        config_cache_db_result(&gone_cc, rc >= 0);
        if (rc < 0)
            return -1;
        a.gone = rc == 0;
        config_cache_put(&gone_cc, url, &a, true, generation); /* "not gone" is an answer to keep too */
    }
    if (a.gone && since)
        snprintf(since, sincelen, "%s", a.since);
    return a.gone ? 0 : 1;
}

bool destinations_gone_cached(const char *url, int *gone, char *since, size_t sincelen)
{
    struct gone_answer a;
    config_cache_refresh(&gone_cc);
    if (!ttl_cache_get(gone_cc.cache, url, &a))
        return false;
    *gone = a.gone ? 0 : 1;
    if (since)
        snprintf(since, sincelen, "%s", a.gone ? a.since : "");
    return true;
}

int destinations_flag_gone(const char *url, long status, const char *wid)
{
    pthread_mutex_lock(&gone_cc.lock);
    int rc = queries_flag_destination_gone(gone_cc.query, url, status, wid);
    pthread_mutex_unlock(&gone_cc.lock);
    config_cache_db_result(&gone_cc, rc >= 0);
    return rc;
}

void destinations_watch(void)
{
    config_cache_watch(&cc);
    config_cache_watch(&gone_cc);
}

bool destinations_ready(void)
{
    return config_cache_ready(&cc) && config_cache_ready(&gone_cc);
}

void destinations_shutdown(void)
{
    config_cache_shutdown(&cc);
    config_cache_shutdown(&gone_cc);
}
