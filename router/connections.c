/* connections: which connections an identifier names, cached per (environment,
 * integration, key, value). Negative answers are cached only briefly so a connection
 * created just before its first webhook is found; any configuration change drops the
 * cache (LISTEN hookline_config). Used from the router's main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_cache.h"
#include "router/router.h"

void connections_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Containment (@>) uses the GIN indexes; the value may be stored as a string or, when
 * it is all digits, as a number, so both forms are asked for, alone or in a list. */
#define DIGITS "$4 ~ '^-?[0-9]{1,18}$'"
#define AS_NUMBER "CASE WHEN " DIGITS " THEN $4::bigint END"
#define MATCH_JSON(col)                                                                                                \
    "  c." col                                                                                                         \
    " @> jsonb_build_object($3::text, $4::text) OR "                                                                   \
    "  c." col                                                                                                         \
    " @> jsonb_build_object($3::text, jsonb_build_array($4::text)) OR "                                                \
    "  (" DIGITS " AND (c." col " @> jsonb_build_object($3::text, " AS_NUMBER                                          \
    ") OR "                                                                                                            \
    "    c." col " @> jsonb_build_object($3::text, jsonb_build_array(" AS_NUMBER "))))"
/* Nango's metadata lookup: jsonb's ? (a key of an object, an element of a list of
 * strings, or the string itself). No index serves it; the integration bounds the scan. */
#define MATCH_KEY(col) "  (c." col " -> $3::text) ? $4::text"
/* hookline_url_origin (migration 009) normalises the stored URL as the provider module
 * normalised the request's (attribution_url_origin). */
#define MATCH_ORIGIN(col) "  hookline_url_origin(c." col " ->> $3::text) = $4::text"

#define BY_INTEGRATION                                                                                                 \
    "SELECT c.connection_id FROM connections c JOIN integrations i ON i.id = c.integration_id "                        \
    "WHERE i.environment_id = $1::uuid AND i.key = $2 AND "

/* Connection ids of the integration whose field (enum connections_match) has key ==
 * value (a string, or the same digits as a number): 0 found (ids/n set), 1 none, -1
 * error, STORE_REFUSED when the database refused the values (e.g. not UTF-8). */
static int connections_by(struct store *st, enum connections_match match, const char *env_id,
                          const char *integration_key, const char *key, const char *value, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    static const char *const sql[] = {
        [CONNECTIONS_MATCH_CONFIG] = BY_INTEGRATION "(" MATCH_JSON("connection_config") ") ORDER BY c.id",
        [CONNECTIONS_MATCH_METADATA] = BY_INTEGRATION "(" MATCH_JSON("metadata") ") ORDER BY c.id",
        [CONNECTIONS_MATCH_ID] = BY_INTEGRATION "$3::text IS NOT NULL AND c.connection_id = $4 ORDER BY c.id",
        [CONNECTIONS_MATCH_CONFIG_KEY] = BY_INTEGRATION "(" MATCH_KEY("connection_config") ") ORDER BY c.id",
        [CONNECTIONS_MATCH_METADATA_KEY] = BY_INTEGRATION "(" MATCH_KEY("metadata") ") ORDER BY c.id",
        [CONNECTIONS_MATCH_CONFIG_ORIGIN] = BY_INTEGRATION "(" MATCH_ORIGIN("connection_config") ") ORDER BY c.id",
        [CONNECTIONS_MATCH_METADATA_ORIGIN] = BY_INTEGRATION "(" MATCH_ORIGIN("metadata") ") ORDER BY c.id",
    };
    const char *params[4] = {env_id, integration_key, key ? key : "", value};
    PGresult *res = store_query(st, sql[match], 4, params);
    if (!res)
        return store_failure(st);
    int rows = PQntuples(res);
    int rc = 1;
    if (rows > 0) {
        char **out = calloc((size_t)rows, sizeof *out);
        if (!out) {
            rc = -1;
            goto done;
        }
        for (int r = 0; r < rows; r++) {
            out[r] = strdup(PQgetvalue(res, r, 0));
            if (!out[r]) {
                connections_ids_free(out, (size_t)r);
                rc = -1;
                goto done;
            }
        }
        *ids = out;
        *n = (size_t)rows;
        rc = 0;
    }
done:
    PQclear(res);
    return rc;
}

#define CACHED_IDS 4 /* more matches than this are not cached */

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
            connections_ids_free(out, (size_t)i);
            return -1;
        }
    }
    *ids = out;
    *n = (size_t)c->n;
    return 0;
}

static void cache_result(const char *ckey, int rc, char **ids, size_t n, unsigned long generation)
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
    config_cache_put(&cc, ckey, &c, rc == 0, generation);
}

int connections_find(enum connections_match match, const char *env_id, const char *integration_key, const char *key,
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
    unsigned long generation = config_cache_generation(&cc);
    pthread_mutex_lock(&cc.lock);
    int rc = connections_by(cc.query, match, env_id, integration_key, key, value, ids, n);
    pthread_mutex_unlock(&cc.lock);
    config_cache_db_result(&cc, rc >= 0 || rc == STORE_REFUSED); /* a refused value is no outage */
    if (rc >= 0 && cacheable)
        cache_result(ckey, rc, *ids, *n, generation);
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
