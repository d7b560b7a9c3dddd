/* directory: every (environment, integration key) pair that exists, in memory, so that
 * a request for one that does not exist (a flood of random UUIDs) is answered 404 at
 * once: no database query, no place taken in the resolver's queue, which stays free for
 * the tenants that do exist, a tenant created a moment ago included.
 *
 * It is authoritative only while it is as new as the configuration cache: each change
 * notification (LISTEN) bumps the cache's generation and the resolver thread reloads
 * the directory for it; meanwhile, and while LISTEN is down or the table is larger than
 * HOOKLINE_INGRESS_DIRECTORY_MAX, lookups fall back to the cache and the resolver. A
 * pair created just now is not missing from here once its notification is read: it
 * makes the old directory stale first. The notification trails the commit by the
 * listening backend's scheduling delay (config_cache.h), so "not here" means "not there
 * as of the notifications read so far": lookup.c answers 404 only after a fence has read
 * every one committed before the request (read your writes), and reloads the directory
 * in between when one arrived.
 *
 * The set is an open-addressing hash table of "<environment uuid lower-case>/<key>"
 * strings, built by the resolver thread on its own connection and swapped in under a
 * read-write lock that HTTP workers take for reading. */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "ingress/ingress.h"

#define LOAD_TIMEOUT_MS 5000 /* as long as any lookup may take */
#define RETRY_S 1.0          /* after a failed load */

struct set {
    char **slots; /* NULL or an owned "env/key" */
    size_t mask;  /* slots - 1, a power of two minus one */
    unsigned long generation;
};

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct set *current; /* guarded by lock; NULL: not authoritative */
static char *conninfo;
static PGconn *conn;    /* resolver thread only */
static double retry_at; /* resolver thread only */
static size_t max_entries;
static struct metric *m_entries;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void set_free(struct set *st)
{
    if (!st)
        return;
    for (size_t i = 0; i <= st->mask; i++)
        free(st->slots[i]);
    free(st->slots);
    free(st);
}

/* "<env lower-case>/<key>" into out; false if it cannot be a stored pair. */
static bool pair(char out[ID_LEN + IDENT_INTEGRATION_KEY_MAX_LEN + 2], const char *env, const char *key)
{
    size_t elen = strlen(env), klen = strlen(key);
    if (elen != ID_LEN || klen > IDENT_INTEGRATION_KEY_MAX_LEN)
        return false;
    for (size_t i = 0; i < elen; i++)
        out[i] = (char)tolower((unsigned char)env[i]);
    out[elen] = '/';
    memcpy(out + elen + 1, key, klen + 1);
    return true;
}

static bool set_has(const struct set *st, const char *s)
{
    for (size_t i = hash(s) & st->mask;; i = (i + 1) & st->mask) {
        if (!st->slots[i])
            return false;
        if (strcmp(st->slots[i], s) == 0)
            return true;
    }
}

int directory_has(const char *env_id, const char *key, unsigned long generation)
{
    char p[ID_LEN + IDENT_INTEGRATION_KEY_MAX_LEN + 2];
    if (!pair(p, env_id, key))
        return 0;
    pthread_rwlock_rdlock(&lock);
    bool usable = current && (generation == DIRECTORY_ANY || current->generation == generation);
    int rc = usable ? set_has(current, p) : -1;
    pthread_rwlock_unlock(&lock);
    return rc;
}

/* The set of res's rows (column 0: "env/key"), or NULL when out of memory. */
static struct set *build(const PGresult *res, unsigned long generation)
{
    size_t n = (size_t)PQntuples(res), cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    struct set *st = calloc(1, sizeof *st);
    if (!st || !(st->slots = calloc(cap, sizeof *st->slots))) {
        free(st);
        return NULL;
    }
    st->mask = cap - 1;
    st->generation = generation;
    for (size_t r = 0; r < n; r++) {
        const char *v = PQgetvalue(res, (int)r, 0);
        size_t i = hash(v) & st->mask;
        while (st->slots[i])
            i = (i + 1) & st->mask;
        if (!(st->slots[i] = strdup(v))) {
            set_free(st);
            return NULL;
        }
    }
    return st;
}

static void install(struct set *st)
{
    pthread_rwlock_wrlock(&lock);
    struct set *old = current;
    current = st;
    pthread_rwlock_unlock(&lock);
    set_free(old);
}

void directory_refresh(unsigned long generation, bool listening)
{
    pthread_rwlock_rdlock(&lock);
    bool fresh = current && current->generation == generation;
    pthread_rwlock_unlock(&lock);
    /* Without LISTEN a load could miss later changes: wait until it is back (which
     * drops the cache, so the generation moves on and the old set is stale). */
    if (!listening || fresh || clock_mono_s() < retry_at)
        return;
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        conn = pg_connect(conninfo, "hookline-ingress-directory");
    }
    char limit[32];
    snprintf(limit, sizeof limit, "%zu", max_entries + 1);
    const char *params[1] = {limit};
    PGresult *res = PQstatus(conn) == CONNECTION_OK
                        ? pg_exec(conn,
                                  "SELECT lower(environment_id::text) || '/' || key FROM integrations LIMIT $1::bigint",
                                  1, params, NULL, NULL, LOAD_TIMEOUT_MS)
                        : NULL;
    /* On failure the stale set stays: not authoritative, still a hint (DIRECTORY_ANY). */
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn(NULL, "directory: cannot load the integrations: %s", PQerrorMessage(conn));
        /* A connection that died with a restarted server: a new one at the next turn. */
        retry_at = clock_mono_s() + (PQstatus(conn) == CONNECTION_OK ? RETRY_S : 0.1);
    } else if ((size_t)PQntuples(res) > max_entries) {
        log_warn(NULL, "directory: more than HOOKLINE_INGRESS_DIRECTORY_MAX=%zu integrations: not used", max_entries);
        retry_at = clock_mono_s() + 60;
        install(NULL);
    } else {
        struct set *st = build(res, generation);
        if (st) {
            metric_set(m_entries, PQntuples(res));
            install(st);
        } else {
            log_error(NULL, "directory: out of memory");
            retry_at = clock_mono_s() + RETRY_S;
        }
    }
    PQclear(res);
}

int directory_init(const char *db, size_t max)
{
    max_entries = max;
    m_entries = metrics_gauge("hookline_ingress_directory_entries", NULL,
                              "(environment, integration) pairs the ingress knows exist");
    return (conninfo = strdup(db)) ? 0 : -1;
}

void directory_shutdown(void)
{
    install(NULL);
    PQfinish(conn);
    conn = NULL;
    free(conninfo);
    conninfo = NULL;
}
