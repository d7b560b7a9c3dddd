/*
 * conn_trust: whether a webhook may be attributed to a connection it names, checked
 * with the connection's own secret (migration 010, `connection create --secret`).
 *
 *   - A connection that has its own secret gets a webhook only when that secret verifies
 *     it, whatever named the connection.
 *   - A verified webhook whose identifier the integration's signature does not cover
 *     (the URL's ?nangoConnectionId=, a header an HMAC of the body leaves out, anything a
 *     provider's shared token or Basic credential "verifies", or any identifier of a row
 *     whose connections have their own secrets: provider_group_needs_connection_secret,
 *     provider_unsigned_locator) is attributed only to a
 *     connection whose own secret verified it: the integration-wide secret proves where
 *     the bytes came from, not which connection the unsigned part names, so a delivery
 *     captured by one customer could otherwise be re-posted naming another.
 *   - An unverified webhook (the unauthenticated provider, an integration that allows
 *     unverified webhooks while it has no secret) is forwarded as unverified: its
 *     attribution is a claim the app can see as such, as before.
 * A refusal publishes the webhook unattributed with the reason (MSG_H_UNATTRIBUTED_WHY),
 * logged and counted. The secret itself is never logged.
 *
 * Whether a connection has a secret is cached like the connection lookups (dropped on
 * every configuration change); the secret is read from the database each time it is
 * needed, so it lives in memory only while one webhook is checked.
 */
#include <stdio.h>
#include <string.h>

#include "common/config_cache.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/store.h"
#include "providers/provider.h"
#include "router/router.h"

struct secret_flag {
    bool has_secret;
};

static struct config_cache cc;
static struct metric *m_mismatch, *m_missing, *m_unreadable;

int conn_trust_init(const char *conninfo, long ttl_ms)
{
    static const char help[] = "webhooks not attributed to the connection they named, by why";
    m_mismatch = metrics_counter("hookline_router_connection_refused_total", "reason=\"" CONN_TRUST_MISMATCH "\"",
                                 help);
    m_missing = metrics_counter("hookline_router_connection_refused_total", "reason=\"" CONN_TRUST_MISSING "\"", help);
    m_unreadable = metrics_counter("hookline_router_connection_refused_total", "reason=\"" CONN_TRUST_UNREADABLE "\"",
                                   help);
    return config_cache_init(&cc, "connection secrets", "integrations,connections", conninfo,
                             sizeof(struct secret_flag), 20000, ttl_ms);
}

/* 1 the connection has a secret, 0 not (or no longer exists), -1 / STORE_REFUSED. */
static int has_secret(const char *env, const char *integration, const char *conn)
{
    char ckey[1400];
    int klen = snprintf(ckey, sizeof ckey, "%s\x1f%s\x1f%s", env, integration, conn);
    bool cacheable = klen > 0 && (size_t)klen < sizeof ckey;
    struct secret_flag f;
    config_cache_refresh(&cc);
    if (cacheable && ttl_cache_get(cc.cache, ckey, &f))
        return f.has_secret;
    const char *params[3] = {env, integration, conn};
    unsigned long generation = config_cache_generation(&cc);
    pthread_mutex_lock(&cc.lock);
    PGresult *res = store_query(cc.query,
                                "SELECT c.webhook_secret IS NOT NULL FROM connections c"
                                " JOIN integrations i ON i.id = c.integration_id"
                                " WHERE i.environment_id = $1::uuid AND i.key = $2 AND c.connection_id = $3",
                                3, params);
    int rc = res ? 0 : store_failure(cc.query);
    pthread_mutex_unlock(&cc.lock);
    config_cache_db_result(&cc, rc == 0 || rc == STORE_REFUSED);
    if (!res)
        return rc;
    bool found = PQntuples(res) == 1;
    f.has_secret = found && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (cacheable)
        config_cache_put(&cc, ckey, &f, found, generation);
    return f.has_secret;
}

/* 2 the connection's secret verifies wr, 0 not (*why set), -1 / STORE_REFUSED. */
static int verify_with_secret(const struct provider *p, const struct webhook_request *wr, const char *wid,
                              const char *env, const char *integration, const char *conn, const char **why)
{
    struct connection_secret_row row;
    pthread_mutex_lock(&cc.lock);
    int rc = store_connection_secret(cc.query, env, integration, conn, &row);
    pthread_mutex_unlock(&cc.lock);
    if (rc < 0)
        return rc;
    int ok = 0;
    if (rc == 1 || (!row.webhook_secret && !row.unreadable)) {
        *why = CONN_TRUST_MISSING; /* removed since it was cached */
        metric_inc(m_missing);
    } else if (row.unreadable) {
        log_error(wid, "the secret of connection %s cannot be decrypted (see HOOKLINE_ENCRYPTION_KEY): not attributed",
                  conn);
        *why = CONN_TRUST_UNREADABLE;
        metric_inc(m_unreadable);
    } else {
        char reason[128] = "";
        enum verify_result v = provider_verify_connection(p, wr, row.webhook_secret, row.verify_config, reason,
                                                          sizeof reason);
        ok = v == VERIFY_VALID ? 2 : 0;
        if (!ok) {
            log_warn(wid, "connection %s: its own secret does not verify this webhook (%s): not attributed", conn,
                     reason[0] ? reason : "invalid");
            *why = CONN_TRUST_MISMATCH;
            metric_inc(m_mismatch);
        }
    }
    connection_secret_row_clear(&row);
    return ok;
}

int conn_trust_check(const struct conn_trust_request *t, const struct attribution_group *g, const char *conn,
                     const char **why)
{
    *why = NULL;
    int hs = has_secret(t->env, t->integration, conn);
    if (hs < 0)
        return hs;
    if (hs)
        return verify_with_secret(t->provider, t->wr, t->webhook_id, t->env, t->integration, conn, why);
    if (t->verified && provider_group_needs_connection_secret(t->provider, g)) {
        log_warn(t->webhook_id,
                 "connection %s is named by %s=%s, which the integration's signature does not cover, and has no "
                 "secret of its own (connection update --secret): not attributed",
                 conn, g->config_key, g->value);
        *why = CONN_TRUST_MISSING;
        metric_inc(m_missing);
        return 0;
    }
    return 1;
}

void conn_trust_watch(void)
{
    config_cache_watch(&cc);
}

void conn_trust_shutdown(void)
{
    config_cache_shutdown(&cc);
}
