/* dedup: drops a second copy of the same provider event (router.h). Each webhook whose
 * provider names its event (provider_event_id) claims (environment, integration, event
 * id) in provider_events with one INSERT .. ON CONFLICT, which PostgreSQL serialises on
 * the primary key: of two copies read by two routers at once exactly one wins, and a
 * restarted router finds its claims where it left them. The claim names the webhook
 * that won, so the same webhook read again (the batch a crash left uncommitted) passes
 * again; a claim older than the window counts for nothing and is taken over, then
 * deleted by dedup_prune. Main thread only; one connection of its own.
 *
 * Routing never waits for it: when the database does not answer, webhooks are routed
 * unchecked for DEDUP_PAUSE_S (counted), as a cached tenant's webhooks are delivered
 * while PostgreSQL is down. A copy may then reach the app, as it did before this
 * module; the claims made before and after still hold. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/pg.h"
#include "providers/provider.h"
#include "router/router.h"

#define DEDUP_TIMEOUT_MS 5000
#define PRUNE_EVERY_S 60.0
#define DEDUP_PAUSE_S 5.0

static PGconn *db;
static char *conninfo;
static long window_s;
static double next_prune;
static double unchecked_until; /* clock_mono_s: no check before (the database did not answer) */
static struct metric *m_unchecked;
static struct metric_family *m_dropped;
static json_t *batch_won; /* "<webhook id> <event id>" of the claims the last dedup_batch_claim won */

static const char claim_sql[] =
    "INSERT INTO provider_events AS pe (environment_id, integration, event_id, webhook_id)"
    " VALUES ($1::uuid, $2, $3, $4)"
    " ON CONFLICT (environment_id, integration, event_id) DO UPDATE"
    " SET webhook_id = EXCLUDED.webhook_id, seen_at = now(), duplicates = 0"
    " WHERE pe.webhook_id = EXCLUDED.webhook_id OR pe.seen_at < now() - make_interval(secs => $5::bigint)"
    " RETURNING 1";

/* The claims of a whole batch in one statement: the rows returned are the claims won. */
static const char batch_sql[] =
    "INSERT INTO provider_events AS pe (environment_id, integration, event_id, webhook_id)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])"
    " ON CONFLICT (environment_id, integration, event_id) DO UPDATE"
    " SET webhook_id = EXCLUDED.webhook_id, seen_at = now(), duplicates = 0"
    " WHERE pe.webhook_id = EXCLUDED.webhook_id OR pe.seen_at < now() - make_interval(secs => $5::bigint)"
    " RETURNING webhook_id, event_id";

/* The claim was lost: count the copy and remember it for `hookline deliveries`. */
static const char lost_sql[] =
    "WITH u AS (UPDATE provider_events SET duplicates = duplicates + 1"
    "  WHERE environment_id = $1::uuid AND integration = $2 AND event_id = $3 RETURNING webhook_id),"
    " d AS (INSERT INTO dropped_duplicates (webhook_id, original_webhook, environment_id, integration, event_id)"
    "  SELECT $4, webhook_id, $1::uuid, $2, $3 FROM u WHERE webhook_id <> $4 ON CONFLICT (webhook_id, event_id) DO NOTHING)"
    " SELECT webhook_id FROM u";

static const char prune_sql[] =
    "WITH e AS (DELETE FROM provider_events WHERE ctid IN (SELECT ctid FROM provider_events"
    "  WHERE seen_at < now() - make_interval(secs => $1::bigint) LIMIT 10000) RETURNING 1),"
    " d AS (DELETE FROM dropped_duplicates WHERE ctid IN (SELECT ctid FROM dropped_duplicates"
    "  WHERE dropped_at < now() - make_interval(secs => $1::bigint) LIMIT 10000) RETURNING 1)"
    " SELECT (SELECT count(*) FROM e) + (SELECT count(*) FROM d)";

int dedup_init(const char *db_conninfo, long window)
{
    window_s = window;
    m_dropped = metrics_counter_family("hookline_router_duplicates_dropped_total", "integration",
                                       "webhooks dropped as a re-sent copy of a provider event, by integration", 200);
    m_unchecked = metrics_counter("hookline_router_duplicates_unchecked_total", NULL,
                                  "webhooks routed without the duplicate check: the database did not answer");
    next_prune = clock_mono_s() + 5;
    if (window_s <= 0)
        return 0;
    conninfo = strdup(db_conninfo);
    return conninfo && m_dropped && m_unchecked ? 0 : -1;
}

/* Whether the check is paused; counts the webhook when it is. */
static bool unchecked(void)
{
    if (clock_mono_s() >= unchecked_until)
        return false;
    metric_inc(m_unchecked);
    return true;
}

/* The database did not answer: route unchecked for a while. */
static void pause_checks(void)
{
    log_warn(NULL, "dedup: database unavailable: routing without the duplicate check for %.0f s", DEDUP_PAUSE_S);
    unchecked_until = clock_mono_s() + DEDUP_PAUSE_S;
}

static PGconn *connection(void)
{
    if (db && PQstatus(db) == CONNECTION_OK)
        return db;
    if (db)
        PQfinish(db);
    db = pg_connect(conninfo, "hookline-router-dedup");
    if (db && PQstatus(db) != CONNECTION_OK) {
        log_warn(NULL, "dedup: database: %s", PQerrorMessage(db));
        PQfinish(db);
        db = NULL;
    }
    return db;
}

/* Runs sql; the result when it answered PGRES_TUPLES_OK, else NULL with *permanent set
 * when the database refused the values themselves. */
static PGresult *run(const char *sql, int n, const char *const *params, bool *permanent)
{
    *permanent = false;
    PGconn *c = connection();
    if (!c)
        return NULL;
    PGresult *res = pg_exec(c, sql, n, params, NULL, NULL, DEDUP_TIMEOUT_MS);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    *permanent = pg_classify(res, c) == PG_PERMANENT;
    log_warn(NULL, "dedup: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(c));
    PQclear(res);
    return NULL;
}

int dedup_claim(const char *env, const char *integration, const char *event_id, const char *wid, char *first,
                size_t firstlen)
{
    if (window_s <= 0 || unchecked())
        return 1;
    char window[32];
    snprintf(window, sizeof window, "%ld", window_s);
    const char *params[5] = {env, integration, event_id, wid, window};
    bool permanent;
    PGresult *res = run(claim_sql, 5, params, &permanent);
    if (!res) {
        if (permanent)
            log_warn(wid, "dedup: the database refused event id of %s: not checked for duplicates", integration);
        else
            pause_checks();
        if (!permanent)
            metric_inc(m_unchecked);
        return 1;
    }
    bool won = PQntuples(res) == 1;
    PQclear(res);
    if (won)
        return 1;
    res = run(lost_sql, 4, params, &permanent);
    if (!res) { /* a copy all the same: dropped, not recorded */
        snprintf(first, firstlen, "(not recorded: %s)", permanent ? "refused" : "database unavailable");
        const char *labels[1] = {integration};
        metric_inc(metric_family_get(m_dropped, labels));
        return 0;
    }
    int rc = -1; /* the claim vanished in between (pruned): claim again */
    if (PQntuples(res) == 1) {
        snprintf(first, firstlen, "%s", PQgetvalue(res, 0, 0));
        rc = 0;
        const char *labels[1] = {integration};
        metric_inc(metric_family_get(m_dropped, labels));
    }
    PQclear(res);
    return rc;
}

void dedup_prune(void)
{
    if (window_s <= 0 || clock_mono_s() < next_prune)
        return;
    next_prune = clock_mono_s() + PRUNE_EVERY_S;
    char window[32];
    snprintf(window, sizeof window, "%ld", window_s);
    const char *params[1] = {window};
    bool permanent;
    PGresult *res = run(prune_sql, 1, params, &permanent);
    if (res && atol(PQgetvalue(res, 0, 0)) > 0)
        log_info(NULL, "dedup: deleted %s expired event ids", PQgetvalue(res, 0, 0));
    PQclear(res);
}

void dedup_shutdown(void)
{
    json_decref(batch_won);
    batch_won = NULL;
    if (db)
        PQfinish(db);
    db = NULL;
    free(conninfo);
    conninfo = NULL;
}

/* The key of a claim in batch_won: a new string, or NULL. */
static char *won_key(const char *wid, const char *event_id)
{
    char *key = NULL;
    return asprintf(&key, "%s %s", wid, event_id) < 0 ? NULL : key;
}

static bool won_in_batch(const char *wid, const char *event_id)
{
    char *key = won_key(wid, event_id);
    bool won = key && json_object_get(batch_won, key);
    free(key);
    return won;
}

/* Claims one event id unless the batch statement did: as dedup_claim; logs a drop. */
static int claim_one(const char *env, const char *integration, const char *event_id, const char *wid)
{
    if (won_in_batch(wid, event_id))
        return 1;
    char first[128] = "";
    int rc = dedup_claim(env, integration, event_id, wid, first, sizeof first);
    if (rc == 0)
        log_info(wid, "dropped: %s already sent event %s as webhook %s", integration, event_id, first);
    return rc;
}

/* A batch whose events carry their own ids: each event is claimed, and the copies
 * (claimed by an earlier webhook, or repeated inside this one) are left out. */
static int dedup_events(char **ids, size_t n, const char *env, const char *integration, const char *wid,
                        struct dedup_drops *out)
{
    bool *drop = calloc(n, sizeof *drop);
    json_t *seen = json_object();
    size_t dropped = 0;
    int rc = drop && seen ? 1 : -1;
    for (size_t i = 0; rc == 1 && i < n; i++) {
        if (!ids[i])
            continue;
        if (json_object_get(seen, ids[i])) {
            drop[i] = true;
            dropped++;
            const char *labels[1] = {integration};
            metric_inc(metric_family_get(m_dropped, labels));
            log_info(wid, "dropped: %s event %s appears twice in the batch", integration, ids[i]);
            continue;
        }
        json_object_set_new(seen, ids[i], json_true());
        int c = claim_one(env, integration, ids[i], wid);
        if (c < 0)
            rc = -1;
        else if (c == 0)
            drop[i] = true, dropped++;
    }
    json_decref(seen);
    if (rc == 1 && dropped == n)
        rc = 0; /* nothing new in it */
    if (rc == 1 && dropped > 0) {
        log_info(wid, "%zu of the batch's %zu events were copies: routing the other %zu", dropped, n, n - dropped);
        out->drop = drop;
        out->n = n;
        return 1;
    }
    free(drop);
    return rc;
}

int dedup_webhook(const struct provider *p, const struct webhook_request *wr, rd_kafka_headers_t *raw, const char *env,
                  const char *integration, const char *wid, struct dedup_drops *out)
{
    *out = (struct dedup_drops){NULL, 0};
    char replay[64], verified[16], event_id[256];
    if (window_s <= 0 || msg_header(raw, MSG_H_REPLAY_ID, replay, sizeof replay))
        return 1;
    /* Only a signed request may claim an id: an unverified one could otherwise claim the
     * id of a genuine event to come (Zoom's event_ts:event can be guessed) and have it
     * dropped. */
    if (!msg_header(raw, MSG_H_VERIFIED, verified, sizeof verified) || strcmp(verified, "verified"))
        return 1;
    if (unchecked())
        return 1;
    char **ids;
    size_t n = provider_event_ids(p, wr, &ids);
    if (n > 0) {
        int rc = dedup_events(ids, n, env, integration, wid, out);
        provider_event_ids_free(ids, n);
        return rc;
    }
    if (provider_event_id(p, wr, event_id, sizeof event_id) == 0)
        return 1;
    return claim_one(env, integration, event_id, wid);
}

void dedup_drops_free(struct dedup_drops *d)
{
    free(d->drop);
    *d = (struct dedup_drops){NULL, 0};
}

/* ---- a batch's claims in one statement -------------------------------------------- */

/* Appends s to the PostgreSQL array literal a as one quoted element. */
static void array_add(json_t *a, const char *s)
{
    json_array_append_new(a, json_string(s));
}

/* The array literal {"a","b"} of the strings in a: a new string, or NULL. */
static char *array_literal(json_t *a)
{
    size_t cap = 3;
    for (size_t i = 0; i < json_array_size(a); i++)
        cap += 2 * strlen(json_string_value(json_array_get(a, i))) + 3;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < json_array_size(a); i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *c = json_string_value(json_array_get(a, i)); *c; c++) {
            if (*c == '"' || *c == '\\')
                *o++ = '\\';
            *o++ = *c;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

/* One claim into the columns, unless it repeats an event already in the batch (that
 * copy is left to dedup_webhook, after the first). */
static void batch_add_claim(json_t *cols[4], json_t *keys, const char *env, const char *integration,
                            const char *event_id, const char *wid)
{
    char *key = NULL;
    if (asprintf(&key, "%s/%s/%s", env, integration, event_id) < 0)
        return;
    if (!json_object_get(keys, key)) {
        json_object_set_new(keys, key, json_true());
        array_add(cols[0], env);
        array_add(cols[1], integration);
        array_add(cols[2], event_id);
        array_add(cols[3], wid);
    }
    free(key);
}

/* The claims of one raw message (each event's for a batch that names them) into the
 * columns, unless it takes no part. */
static void batch_add(const rd_kafka_message_t *rkm, json_t *cols[4], json_t *keys)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h))
        return;
    char replay[64], verified[16], wid[64], env[64], integration[160], provider[64], event_id[256];
    if (msg_header(h, MSG_H_REPLAY_ID, replay, sizeof replay) ||
        !msg_header(h, MSG_H_VERIFIED, verified, sizeof verified) || strcmp(verified, "verified") ||
        !msg_header(h, MSG_H_WEBHOOK_ID, wid, sizeof wid) || !msg_header(h, MSG_H_ENVIRONMENT, env, sizeof env) ||
        !msg_header(h, MSG_H_INTEGRATION, integration, sizeof integration) ||
        !msg_header(h, MSG_H_PROVIDER, provider, sizeof provider) || !id_is_uuid(env))
        return;
    const struct provider *p = provider_find(provider);
    if (!p)
        return;
    struct msg_http_header stored[128];
    struct http_header views[128];
    size_t n = msg_http_headers(h, stored, 128, NULL);
    for (size_t i = 0; i < n; i++)
        views[i] = (struct http_header){stored[i].name, stored[i].value};
    struct webhook_request wr = {.method = "POST",
                                 .url = "",
                                 .path = "",
                                 .query = "",
                                 .headers = views,
                                 .nheaders = n,
                                 .body = rkm->payload ? rkm->payload : (const void *)"",
                                 .body_len = rkm->len};
    char **ids;
    size_t nids = provider_event_ids(p, &wr, &ids);
    size_t len = nids ? 0 : provider_event_id(p, &wr, event_id, sizeof event_id);
    msg_http_headers_free(stored, n);
    for (size_t i = 0; i < nids; i++)
        if (ids[i])
            batch_add_claim(cols, keys, env, integration, ids[i], wid);
    provider_event_ids_free(ids, nids);
    if (len > 0)
        batch_add_claim(cols, keys, env, integration, event_id, wid);
}

void dedup_batch_claim(rd_kafka_message_t *const *batch, size_t n)
{
    json_decref(batch_won);
    batch_won = json_object();
    if (window_s <= 0 || n == 0 || !batch_won || clock_mono_s() < unchecked_until)
        return;
    json_t *cols[4] = {json_array(), json_array(), json_array(), json_array()}, *keys = json_object();
    char *lits[4] = {NULL, NULL, NULL, NULL};
    for (size_t i = 0; keys && cols[3] && i < n; i++)
        if (!batch[i]->err)
            batch_add(batch[i], cols, keys);
    bool ok = keys && cols[3] && json_array_size(cols[3]) > 0;
    for (int c = 0; ok && c < 4; c++)
        ok = (lits[c] = array_literal(cols[c])) != NULL;
    if (ok) {
        char window[32];
        snprintf(window, sizeof window, "%ld", window_s);
        const char *params[5] = {lits[0], lits[1], lits[2], lits[3], window};
        bool permanent;
        /* On failure each message claims alone in dedup_webhook (and waits there while
         * the database is down, or lets a value it refuses through). */
        PGresult *res = run(batch_sql, 5, params, &permanent);
        if (!res && !permanent)
            pause_checks();
        for (int r = 0; res && r < PQntuples(res); r++) {
            char *key = won_key(PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
            if (key)
                json_object_set_new(batch_won, key, json_true());
            free(key);
        }
        PQclear(res);
    }
    for (int c = 0; c < 4; c++) {
        free(lits[c]);
        json_decref(cols[c]);
    }
    json_decref(keys);
}
