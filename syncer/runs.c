/* runs: every statement the syncer runs on syncs and sync_runs (see syncer.h). One
 * connection per caller; user data only ever travels as parameters. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "syncer/syncer.h"

/* Longer means the database is in trouble: the connection is dropped and the caller
 * retries later (a claim, a record), rather than a worker hanging. */
#define RUNS_QUERY_TIMEOUT_MS 10000

struct runs_db {
    struct pg_session *db; /* common/pg.h: reconnects, bounded waits, the last verdict */
};

/* Any key will do as long as every syncer uses the same one: claims are serialised. */
#define CLAIM_LOCK "SELECT pg_advisory_xact_lock(7311482093)"

struct runs_db *runs_db_new(const char *conninfo)
{
    struct runs_db *db = calloc(1, sizeof *db);
    if (db && !(db->db = pg_session_new(conninfo, "hookline-syncer", RUNS_QUERY_TIMEOUT_MS, 0))) {
        free(db);
        db = NULL;
    }
    return db;
}

void runs_db_free(struct runs_db *db)
{
    if (!db)
        return;
    pg_session_free(db->db);
    free(db);
}

bool runs_db_ok(const struct runs_db *db)
{
    return pg_session_ok(db->db);
}

bool runs_db_refused(const struct runs_db *db)
{
    return pg_session_refused(db->db);
}

/* Runs one statement (never twice: it may be inside a transaction); text parameters
 * except where formats says binary. NULL on error (logged). The caller PQclear()s. */
static PGresult *run_sql(struct runs_db *db, const char *sql, int n, const char *const *params, const int *lengths,
                         const int *formats)
{
    return pg_session_exec(db->db, sql, n, params, lengths, formats);
}

/* A statement whose result only matters as "how many rows": that count, or -1. */
static int run_count(struct runs_db *db, const char *sql, int n, const char *const *params)
{
    PGresult *res = run_sql(db, sql, n, params, NULL, NULL);
    if (!res)
        return -1;
    int count = atoi(PQcmdTuples(res));
    PQclear(res);
    return count;
}

void runs_ping(struct runs_db *db)
{
    (void)run_count(db, "SELECT 1", 0, NULL);
}

int runs_begin(struct runs_db *db)
{
    return run_count(db, "BEGIN", 0, NULL) < 0 ? -1 : 0;
}

int runs_commit(struct runs_db *db)
{
    return run_count(db, "COMMIT", 0, NULL) < 0 ? -1 : 0;
}

int runs_savepoint(struct runs_db *db)
{
    return run_count(db, "SAVEPOINT intake_message", 0, NULL) < 0 ? -1 : 0;
}

int runs_rollback_to_savepoint(struct runs_db *db)
{
    return run_count(db, "ROLLBACK TO SAVEPOINT intake_message", 0, NULL) < 0 ? -1 : 0;
}

void runs_rollback(struct runs_db *db)
{
    PGconn *c = pg_session_peek(db->db); /* a new connection has no transaction to roll back */
    if (c)
        PQclear(pg_exec(c, "ROLLBACK", 0, NULL, NULL, NULL, RUNS_QUERY_TIMEOUT_MS));
}

int runs_syncs_of(struct runs_db *db, const char *env_id, const char *integration, struct sync_def **defs, size_t *n)
{
    *defs = NULL;
    *n = 0;
    const char *params[] = {env_id, integration};
    PGresult *res = run_sql(db,
                            "SELECT s.id, s.name, array_to_json(s.subscriptions)::text FROM syncs s"
                            " JOIN integrations i ON i.id = s.integration_id"
                            " WHERE i.environment_id = $1::uuid AND i.key = $2 AND s.enabled ORDER BY s.id",
                            2, params, NULL, NULL);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    struct sync_def *d = calloc(rows ? (size_t)rows : 1, sizeof *d);
    int rc = d ? 0 : -1;
    for (int i = 0; d && i < rows; i++) {
        d[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        d[i].name = strdup(PQgetvalue(res, i, 1));
        if (!d[i].name || sync_def_parse_subscriptions(&d[i], PQgetvalue(res, i, 2)) < 0)
            rc = -1;
    }
    PQclear(res);
    if (rc < 0) {
        runs_syncs_free(d, d ? (size_t)rows : 0);
        return -1;
    }
    *defs = d;
    *n = (size_t)rows;
    return 0;
}

void runs_syncs_free(struct sync_def *defs, size_t n)
{
    for (size_t i = 0; defs && i < n; i++)
        sync_def_clear(&defs[i]);
    free(defs);
}

int runs_insert(struct runs_db *db, const struct new_run *r)
{
    char sync_id[24];
    snprintf(sync_id, sizeof sync_id, "%lld", r->sync_id);
    const char *params[] = {r->id,
                            sync_id,
                            r->env_id,
                            r->connection_id,
                            r->webhook_id,
                            r->routed_id,
                            r->event_type,
                            r->subscription,
                            r->provider,
                            r->payload ? (const char *)r->payload : "",
                            r->received_at_ms,
                            r->traceparent && r->traceparent[0] ? r->traceparent : NULL};
    int lengths[12] = {0}, formats[12] = {0};
    lengths[9] = (int)r->payload_len;
    formats[9] = 1; /* the payload as bytes, never as text */
    PGresult *res = run_sql(
        db,
        "INSERT INTO sync_runs (id, sync_id, environment_id, connection_id, webhook_id,"
        " routed_id, event_type, matched_subscription, provider, payload, webhook_received_at, traceparent)"
        " VALUES ($1::uuid, $2::bigint, $3::uuid, $4, $5, $6, $7, $8, $9, $10::bytea,"
        " to_timestamp($11::bigint / 1000.0), $12)"
        " ON CONFLICT DO NOTHING",
        12, params, lengths, formats);
    if (!res)
        return -1;
    int created = atoi(PQcmdTuples(res));
    PQclear(res);
    return created > 0 ? 1 : 0;
}

/* What struct run is read from (r: sync_runs, s: syncs, i: integrations). */
#define RUN_COLUMNS                                                                                                    \
    "r.id, r.environment_id, r.sync_id, s.name, r.connection_id, i.key, i.provider,"                                   \
    " r.matched_subscription, r.webhook_id, s.runner_url, s.runner_topic, r.attempts, s.max_attempts,"                 \
    " r.payload, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"                       \
    " r.result::text, r.traceparent"

static char *dup_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

void run_clear(struct run *r)
{
    if (!r)
        return;
    free(r->sync_name);
    free(r->connection_id);
    free(r->integration);
    free(r->provider);
    free(r->subscription);
    free(r->webhook_id);
    free(r->runner_url);
    free(r->runner_topic);
    PQfreemem(r->payload);
    free(r->result);
    memset(r, 0, sizeof *r);
}

/* Row `row` of a RUN_COLUMNS result into out. 0, or -1 out of memory (out cleared). */
static int read_run(const PGresult *res, int row, struct run *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, row, 0));
    snprintf(out->env_id, sizeof out->env_id, "%s", PQgetvalue(res, row, 1));
    out->sync_id = strtoll(PQgetvalue(res, row, 2), NULL, 10);
    out->sync_name = dup_value(res, row, 3);
    out->connection_id = dup_value(res, row, 4);
    out->integration = dup_value(res, row, 5);
    out->provider = dup_value(res, row, 6);
    out->subscription = dup_value(res, row, 7);
    out->webhook_id = dup_value(res, row, 8);
    out->runner_url = dup_value(res, row, 9);
    out->runner_topic = dup_value(res, row, 10);
    out->attempt = strtol(PQgetvalue(res, row, 11), NULL, 10);
    out->max_attempts = strtol(PQgetvalue(res, row, 12), NULL, 10);
    out->payload = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 13), &out->payload_len);
    snprintf(out->started_iso, sizeof out->started_iso, "%s", PQgetvalue(res, row, 14));
    out->result = dup_value(res, row, 15);
    snprintf(out->traceparent, sizeof out->traceparent, "%s", PQgetvalue(res, row, 16)); /* "" when NULL */
    if (!out->sync_name || !out->connection_id || !out->integration || !out->provider || !out->subscription ||
        !out->webhook_id || (!out->runner_url && !out->runner_topic) || !out->payload) {
        run_clear(out);
        return -1;
    }
    return 0;
}

int runs_claim(struct runs_db *db, long max_per_env, struct run *out)
{
    char max[24];
    snprintf(max, sizeof max, "%ld", max_per_env);
    const char *params[] = {max};
    if (runs_begin(db) < 0)
        return -1;
    if (run_count(db, CLAIM_LOCK, 0, NULL) < 0) {
        runs_rollback(db);
        return -1;
    }
    PGresult *res = run_sql(
        db,
        "WITH pick AS (SELECT q.id FROM sync_runs q"
        "  WHERE q.status = 'queued' AND q.next_attempt_at <= now()"
        "  AND NOT EXISTS (SELECT 1 FROM sync_runs p WHERE p.sync_id = q.sync_id"
        "   AND p.connection_id = q.connection_id AND p.seq < q.seq AND p.status IN ('queued', 'running'))"
        "  AND (SELECT count(*) FROM sync_runs w WHERE w.environment_id = q.environment_id"
        "   AND w.status = 'running') < $1::int"
        "  ORDER BY q.seq LIMIT 1 FOR UPDATE OF q SKIP LOCKED)"
        " UPDATE sync_runs r SET status = 'running', attempts = r.attempts + 1, started_at = now()"
        " FROM pick, syncs s, integrations i"
        " WHERE r.id = pick.id AND s.id = r.sync_id AND i.id = s.integration_id"
        " RETURNING " RUN_COLUMNS,
        1, params, NULL, NULL);
    if (!res || runs_commit(db) < 0) {
        PQclear(res);
        runs_rollback(db);
        return -1;
    }
    int rc = PQntuples(res) == 1 ? 1 : 0;
    if (rc == 1 && read_run(res, 0, out) < 0) {
        log_error(NULL, "out of memory reading a claimed run (the lease will return it)");
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int runs_succeed(struct runs_db *db, const struct run *r, const char *result_json, bool *notify)
{
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%ld", r->attempt);
    const char *params[] = {r->id, attempt, result_json};
    *notify = false;
    /* A lease that expired put the run back in the queue: this attempt's success still
     * counts unless another attempt has started since. */
    PGresult *res = run_sql(db,
                            "UPDATE sync_runs r SET status = 'succeeded', finished_at = now(), result = $3::jsonb,"
                            " last_error = NULL, notification_due = e.sync_notifications"
                            " FROM environments e WHERE e.id = r.environment_id AND r.id = $1::uuid"
                            " AND r.attempts = $2::int AND r.status IN ('running', 'queued')"
                            " RETURNING r.notification_due",
                            3, params, NULL, NULL);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? 1 : 0;
    *notify = rc == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

int runs_fail(struct runs_db *db, const struct run *r, const char *error, long backoff_ms, bool *final)
{
    char attempt[24], backoff[24];
    snprintf(attempt, sizeof attempt, "%ld", r->attempt);
    snprintf(backoff, sizeof backoff, "%ld", backoff_ms);
    const char *params[] = {r->id, attempt, error, backoff};
    PGresult *res = run_sql(db,
                            "UPDATE sync_runs r SET last_error = $3,"
                            " status = CASE WHEN r.attempts >= s.max_attempts THEN 'failed' ELSE 'queued' END,"
                            " finished_at = CASE WHEN r.attempts >= s.max_attempts THEN now() END,"
                            " next_attempt_at = now() + $4::bigint * interval '1 millisecond'"
                            " FROM syncs s WHERE s.id = r.sync_id AND r.id = $1::uuid AND r.attempts = $2::int"
                            " AND r.status = 'running' RETURNING r.status",
                            4, params, NULL, NULL);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? 1 : 0;
    *final = rc == 1 && !strcmp(PQgetvalue(res, 0, 0), "failed");
    PQclear(res);
    return rc;
}

int runs_release(struct runs_db *db, const struct run *r)
{
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%ld", r->attempt);
    const char *params[] = {r->id, attempt};
    return run_count(db,
                     "UPDATE sync_runs SET status = 'queued', attempts = attempts - 1, next_attempt_at = now()"
                     " WHERE id = $1::uuid AND attempts = $2::int AND status = 'running'",
                     2, params) < 0
               ? -1
               : 0;
}

int runs_notified(struct runs_db *db, const char *run_id)
{
    const char *params[] = {run_id};
    return run_count(db, "UPDATE sync_runs SET notification_due = false, notified_at = now() WHERE id = $1::uuid", 1,
                     params) < 0
               ? -1
               : 0;
}

int runs_reclaim_leases(struct runs_db *db, long timeout_ms)
{
    char timeout[24];
    snprintf(timeout, sizeof timeout, "%ld", timeout_ms);
    const char *params[] = {timeout};
    return run_count(db,
                     "UPDATE sync_runs r SET next_attempt_at = now(),"
                     " status = CASE WHEN r.attempts >= s.max_attempts THEN 'failed' ELSE 'queued' END,"
                     " finished_at = CASE WHEN r.attempts >= s.max_attempts THEN now() END,"
                     " last_error = 'no outcome within HOOKLINE_SYNCER_RUN_TIMEOUT_MS (' || $1 || ' ms):"
                     " the syncer running it stopped'"
                     " FROM syncs s WHERE s.id = r.sync_id AND r.status = 'running'"
                     " AND r.started_at < now() - $1::bigint * interval '1 millisecond'",
                     1, params);
}

int runs_expire(struct runs_db *db, long max_age_s)
{
    char age[24];
    snprintf(age, sizeof age, "%ld", max_age_s);
    const char *params[] = {age};
    return run_count(db,
                     "UPDATE sync_runs SET status = 'expired', finished_at = now(),"
                     " last_error = 'expired: still queued ' || $1 || ' s after it was queued"
                     " (HOOKLINE_SYNCER_MAX_AGE_S)' || coalesce('; last error: ' || last_error, '')"
                     " WHERE status = 'queued' AND queued_at < now() - $1::bigint * interval '1 second'",
                     1, params);
}

int runs_pending_notifications(struct runs_db *db, long min_age_s, size_t max, struct run **out, size_t *n)
{
    char age[24], limit[24];
    snprintf(age, sizeof age, "%ld", min_age_s);
    snprintf(limit, sizeof limit, "%zu", max);
    const char *params[] = {age, limit};
    *out = NULL;
    *n = 0;
    PGresult *res = run_sql(db,
                            "SELECT " RUN_COLUMNS
                            " FROM sync_runs r JOIN syncs s ON s.id = r.sync_id"
                            " JOIN integrations i ON i.id = s.integration_id WHERE r.notification_due"
                            " AND r.finished_at < now() - $1::bigint * interval '1 second'"
                            " ORDER BY r.finished_at LIMIT $2::int",
                            2, params, NULL, NULL);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    struct run *runs = calloc(rows ? (size_t)rows : 1, sizeof *runs);
    size_t got = 0;
    for (int i = 0; runs && i < rows; i++)
        if (read_run(res, i, &runs[got]) == 0)
            got++;
    PQclear(res);
    if (!runs)
        return -1;
    *out = runs;
    *n = got;
    return 0;
}
