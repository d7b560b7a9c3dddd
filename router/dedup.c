/* dedup: drops a second copy of the same provider event (router.h). Each webhook whose
 * provider names its event (provider_event_id) claims (environment, integration, event
 * id) in provider_events with one INSERT .. ON CONFLICT, which PostgreSQL serialises on
 * the primary key: of two copies read by two routers at once exactly one wins, and a
 * restarted router finds its claims where it left them. The claim names the webhook
 * that won, so the same webhook read again (the batch a crash left uncommitted) passes
 * again; a claim older than the window counts for nothing and is taken over, then
 * deleted by dedup_prune. Main thread only; one connection of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/pg.h"
#include "providers/provider.h"
#include "router/router.h"

#define DEDUP_TIMEOUT_MS 5000
#define PRUNE_EVERY_S 60.0

static PGconn *db;
static char *conninfo;
static long window_s;
static double next_prune;
static struct metric_family *m_dropped;

static const char claim_sql[] =
    "INSERT INTO provider_events AS pe (environment_id, integration, event_id, webhook_id)"
    " VALUES ($1::uuid, $2, $3, $4)"
    " ON CONFLICT (environment_id, integration, event_id) DO UPDATE"
    " SET webhook_id = EXCLUDED.webhook_id, seen_at = now(), duplicates = 0"
    " WHERE pe.webhook_id = EXCLUDED.webhook_id OR pe.seen_at < now() - make_interval(secs => $5::bigint)"
    " RETURNING 1";

/* The claim was lost: count the copy and remember it for `hookline deliveries`. */
static const char lost_sql[] =
    "WITH u AS (UPDATE provider_events SET duplicates = duplicates + 1"
    "  WHERE environment_id = $1::uuid AND integration = $2 AND event_id = $3 RETURNING webhook_id),"
    " d AS (INSERT INTO dropped_duplicates (webhook_id, original_webhook, environment_id, integration, event_id)"
    "  SELECT $4, webhook_id, $1::uuid, $2, $3 FROM u WHERE webhook_id <> $4 ON CONFLICT (webhook_id) DO NOTHING)"
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
    next_prune = clock_mono_s() + 5;
    if (window_s <= 0)
        return 0;
    conninfo = strdup(db_conninfo);
    return conninfo && m_dropped ? 0 : -1;
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
    if (window_s <= 0)
        return 1;
    char window[32];
    snprintf(window, sizeof window, "%ld", window_s);
    const char *params[5] = {env, integration, event_id, wid, window};
    bool permanent;
    PGresult *res = run(claim_sql, 5, params, &permanent);
    if (!res) {
        if (permanent)
            log_warn(wid, "dedup: the database refused event id of %s: not checked for duplicates", integration);
        return permanent ? 1 : -1;
    }
    bool won = PQntuples(res) == 1;
    PQclear(res);
    if (won)
        return 1;
    res = run(lost_sql, 4, params, &permanent);
    if (!res)
        return permanent ? 1 : -1;
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
    if (db)
        PQfinish(db);
    db = NULL;
    free(conninfo);
    conninfo = NULL;
}

int dedup_webhook(const struct provider *p, const struct webhook_request *wr, rd_kafka_headers_t *raw,
                  const char *env, const char *integration, const char *wid)
{
    char replay[64], verified[16], event_id[256], first[128] = "";
    if (window_s <= 0 || msg_header(raw, MSG_H_REPLAY_ID, replay, sizeof replay))
        return 1;
    /* Only a signed request may claim an id: an unverified one could otherwise claim the
     * id of a genuine event to come (Zoom's event_ts:event can be guessed) and have it
     * dropped. */
    if (!msg_header(raw, MSG_H_VERIFIED, verified, sizeof verified) || strcmp(verified, "verified"))
        return 1;
    if (provider_event_id(p, wr, event_id, sizeof event_id) == 0)
        return 1;
    int rc = dedup_claim(env, integration, event_id, wid, first, sizeof first);
    if (rc == 0)
        log_info(wid, "dropped: %s already sent event %s as webhook %s", integration, event_id, first);
    return rc;
}
