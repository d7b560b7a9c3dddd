/* replays: /v1/replays, `hookline replay` over the API. POST validates the body, takes
 * one of HOOKLINE_API_REPLAYS_MAX places (429 beyond), records the replay (replays
 * table, db/migrations/013_replays.sql) and runs it on a worker thread of its own
 * (common/replay.h), which writes its counts and a heartbeat at most every ~500 ms and
 * reads back a cancel asked on any API instance. A key limited to environments must
 * name one of them in filters.env and the replay is filtered on it, so it can never
 * copy another tenant's webhooks; a key of all environments may replay everything.
 *
 * Outcomes: done, cancelled (POST .../cancel), failed (error says why), interrupted
 * (this API stopped before the end: on SIGTERM a running replay is stopped cleanly,
 * what it published stays published; or its process died, seen from a stale heartbeat). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/replay.h"
#include "common/timetext.h"

#define PLACES_MAX 16
#define PROGRESS_EVERY_S 0.5
#define STALE_AFTER_S 60 /* a heartbeat older than this: its process is gone */
#define DRAIN_WAIT_S 45
#define FILTER_MAX 512

#define SCOPE(rq) ((rq)->key->all_envs ? NULL : (rq)->key->envs)
#define ENV_OK(col) "($1::uuid[] IS NULL OR " col " = ANY($1::uuid[]))"
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define REPLAY_COLS                                                                                                    \
    "r.id, r.environment_id, r.stage, " TS("r.from_at") " AS \"from\", " TS("r.to_at") " AS \"to\", r.filters,"        \
    " r.dry_run, r.rate, r.status, r.total, r.read, r.matched, r.published, r.cancel_requested, r.error, r.key_id,"    \
    " " TS("r.created_at") " AS created_at, " TS("r.heartbeat_at") " AS heartbeat_at, " TS(                           \
        "r.finished_at") " AS finished_at"

/* One running replay: what its worker owns (freed by the worker when it ends). */
struct job {
    char id[ID_LEN + 1];
    atomic_bool cancel;
    json_t *filters; /* holds the filter strings the params point into */
    struct replay_params p;
    double last_write;
};

static struct job *running[PLACES_MAX];
static int nrunning;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stopping;

/* ---- the worker ------------------------------------------------------------------- */

/* Writes the counts and the heartbeat, and the outcome when status is not NULL. Returns
 * 1 when a cancel was asked meanwhile (on any instance: read back in the same
 * statement), 0, or -1 when it could not be written. */
static int write_row(const struct job *j, const struct replay_counts *c, const char *status, const char *error)
{
    char n[4][24];
    snprintf(n[0], 24, "%lld", (long long)c->total);
    snprintf(n[1], 24, "%ld", c->read);
    snprintf(n[2], 24, "%ld", c->matched);
    snprintf(n[3], 24, "%ld", c->acked);
    const char *p[] = {j->id, n[0], n[1], n[2], n[3], status, error};
    PGconn *db = db_thread();
    struct api_response rs = {0};
    PGresult *res = db ? db_query(db, &rs,
                                  "UPDATE replays SET total = $2::bigint, read = $3::bigint, matched = $4::bigint,"
                                  " published = $5::bigint, heartbeat_at = now(), status = coalesce($6, status),"
                                  " error = coalesce($7, error), finished_at = CASE WHEN $6 IS NULL THEN finished_at"
                                  " ELSE now() END WHERE id = $1::uuid RETURNING cancel_requested",
                                  7, p)
                       : NULL;
    free(rs.body);
    int rc = !res ? -1 : PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t") ? 1 : 0;
    PQclear(res);
    return rc;
}

static void on_progress(const struct replay_counts *c, bool last, void *ctx)
{
    struct job *j = ctx;
    if (last || clock_mono_s() - j->last_write < PROGRESS_EVERY_S * 0.8)
        return; /* (the last counts are written with the outcome) */
    j->last_write = clock_mono_s();
    if (write_row(j, c, NULL, NULL) == 1)
        atomic_store(&j->cancel, true);
}

static void on_warn(const char *text, void *ctx)
{
    const struct job *j = ctx;
    log_warn(NULL, "replay %s: %s", j->id, text);
}

static void finish(struct job *j, const struct replay_result *r, int rc)
{
    const char *status = rc < 0                   ? "failed"
                         : !r->cancelled          ? "done"
                         : atomic_load(&stopping) ? "interrupted"
                                                  : "cancelled";
    const char *error = rc < 0                           ? (r->error[0] ? r->error : "the replay failed")
                        : !strcmp(status, "interrupted") ? "hookline-api stopped before the replay finished"
                                                         : NULL;
    if (write_row(j, &r->counts, status, error) < 0) /* left 'running': interrupted once its heartbeat is stale */
        log_error(NULL, "replay %s: its outcome (%s) could not be recorded", j->id, status);
    log_info(NULL, "replay %s %s: read %ld, matched %ld, published %ld%s%s", j->id, status, r->counts.read,
             r->counts.matched, r->counts.acked, error ? ": " : "", error ? error : "");
}

static void job_free(struct job *j)
{
    json_decref(j->filters);
    free(j);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct replay_result r;
    int rc = replay_run(&j->p, on_progress, on_warn, j, &j->cancel, &r);
    finish(j, &r, rc);
    replay_result_free(&r);
    db_thread_done();
    pthread_mutex_lock(&lock);
    for (int i = 0; i < PLACES_MAX; i++)
        if (running[i] == j)
            running[i] = NULL;
    pthread_mutex_unlock(&lock);
    job_free(j);
    pthread_mutex_lock(&lock);
    nrunning--; /* last: the drain waits for this, so nothing of the replay outlives it */
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Takes a place for j: 0, or -1 when every place is taken or the API is stopping. */
static int place_take(struct job *j)
{
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (!atomic_load(&stopping) && nrunning < g_api.replays_max)
        for (int i = 0; i < PLACES_MAX && rc < 0; i++)
            if (!running[i]) {
                running[i] = j;
                nrunning++;
                rc = 0;
            }
    pthread_mutex_unlock(&lock);
    return rc;
}

static void place_give_back(struct job *j)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < PLACES_MAX; i++)
        if (running[i] == j) {
            running[i] = NULL;
            nrunning--;
        }
    pthread_mutex_unlock(&lock);
}

/* Sets the cancel flag of the replay id when it runs here (else its own instance reads
 * cancel_requested at its next progress write). */
static void cancel_local(const char *id)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < PLACES_MAX; i++)
        if (running[i] && !strcasecmp(running[i]->id, id))
            atomic_store(&running[i]->cancel, true);
    pthread_mutex_unlock(&lock);
}

static int places_taken(void)
{
    pthread_mutex_lock(&lock);
    int n = nrunning;
    pthread_mutex_unlock(&lock);
    return n;
}

/* ---- lifecycle (main.c) --------------------------------------------------------------- */

void replays_reap_stale(PGconn *db)
{
    char stale[24];
    snprintf(stale, sizeof stale, "%d", STALE_AFTER_S);
    const char *p[] = {stale};
    struct api_response rs = {0};
    PGresult *res = db ? db_query(db, &rs,
                                  "UPDATE replays SET status = 'interrupted', finished_at = now(), error ="
                                  " 'its hookline-api process stopped (no heartbeat for ' || $1 || ' s)'"
                                  " WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::int)",
                                  1, p)
                       : NULL;
    if (res && strcmp(PQcmdTuples(res), "0"))
        log_warn(NULL, "%s replay(s) marked interrupted: their API process stopped without finishing them",
                 PQcmdTuples(res));
    free(rs.body);
    PQclear(res);
}

void replays_stop(void)
{
    atomic_store(&stopping, true);
    pthread_mutex_lock(&lock);
    if (nrunning > 0)
        log_info(NULL, "draining: stopping %d replay(s)", nrunning);
    for (int i = 0; i < PLACES_MAX; i++)
        if (running[i])
            atomic_store(&running[i]->cancel, true);
    pthread_mutex_unlock(&lock);
    double deadline = clock_mono_s() + DRAIN_WAIT_S;
    int left;
    while ((left = places_taken()) > 0 && clock_mono_s() < deadline)
        usleep(50 * 1000);
    if (left > 0)
        log_error(NULL, "%d replay(s) did not stop in %d s", left, DRAIN_WAIT_S);
}

/* ---- the request ------------------------------------------------------------------------ */

static bool filter_text_ok(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= FILTER_MAX;
}

/* Reads body's filters into j (its strings borrowed from j->filters). 0, or -1 with rs
 * holding the 400 that says why. */
static int read_filters(json_t *body, int stage, struct job *j, struct api_response *rs)
{
    json_t *f = json_object_get(body, "filters");
    if (f && json_is_null(f))
        f = NULL;
    if (f && !json_is_object(f))
        return api_problem(rs, 400, "Bad Request", "filters must be an object"), -1;
    j->filters = f ? json_deep_copy(f) : json_object();
    if (!j->filters)
        return api_problem(rs, 500, "Internal Server Error", "out of memory"), -1;
    const char *key;
    json_t *v;
    struct replay_filters *rf = &j->p.f;
    json_object_foreach(j->filters, key, v)
    {
        const char **slot = !strcmp(key, "env")           ? &rf->env
                            : !strcmp(key, "integration") ? &rf->integration
                            : !strcmp(key, "provider")    ? &rf->provider
                            : !strcmp(key, "connection")  ? &rf->connection
                            : !strcmp(key, "event_type")  ? &rf->event_type
                                                          : NULL;
        if (slot) {
            if (!filter_text_ok(v))
                return api_problem(rs, 400, "Bad Request", "filters.%s must be a non-empty string (at most %d bytes)",
                                   key, FILTER_MAX),
                       -1;
            *slot = json_string_value(v);
        } else if (!strcmp(key, "webhook_ids")) {
            size_t i;
            json_t *w;
            if (!json_is_array(v) || json_array_size(v) > REPLAY_WEBHOOK_IDS_MAX)
                return api_problem(rs, 400, "Bad Request", "filters.webhook_ids must be an array of at most %d ids",
                                   REPLAY_WEBHOOK_IDS_MAX),
                       -1;
            json_array_foreach(v, i, w)
            {
                if (!json_is_string(w) || !id_is_uuid(json_string_value(w)))
                    return api_problem(rs, 400, "Bad Request", "filters.webhook_ids[%zu] is not a webhook id (a UUID)",
                                       i),
                           -1;
                rf->webhook_ids[rf->nwebhook_ids++] = json_string_value(w);
            }
        } else {
            return api_problem(rs, 400, "Bad Request",
                               "unknown filter '%.64s' (env, integration, provider, connection, event_type, "
                               "webhook_ids)",
                               key),
                   -1;
        }
    }
    if (rf->env && !id_is_uuid(rf->env))
        return api_problem(rs, 400, "Bad Request", "filters.env must be an environment id (a UUID)"), -1;
    if (stage == REPLAY_ROUTER && (rf->connection || rf->event_type))
        return api_problem(rs, 400, "Bad Request",
                           "filters.connection and filters.event_type need stage forwarder or syncer: the router's "
                           "input is not attributed yet"),
               -1;
    return 0;
}

/* Reads the top level of the body into j. 0, or -1 with rs holding a 400. */
static int read_body(json_t *o, struct job *j, struct api_response *rs)
{
    static const char *const known[] = {"stage", "from", "to", "filters", "dry_run", "rate"};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok)
            return api_problem(rs, 400, "Bad Request",
                               "unknown member '%.64s' (stage, from, to, filters, dry_run, rate)", key),
                   -1;
    }
    json_t *stage = json_object_get(o, "stage");
    int s = json_is_string(stage) ? replay_stage_parse(json_string_value(stage)) : -1;
    if (s < 0)
        return api_problem(rs, 400, "Bad Request", "stage is required: router, forwarder or syncer"), -1;
    int64_t now = clock_unix_ms();
    json_t *from = json_object_get(o, "from"), *to = json_object_get(o, "to");
    if (!json_is_string(from) || timetext_parse_ms(json_string_value(from), now, &j->p.from_ms) < 0)
        return api_problem(rs, 400, "Bad Request",
                           "from is required: RFC 3339 (2026-12-03T14:00:00Z) or relative to now (-2h, -30m)"),
               -1;
    j->p.to_ms = now;
    if (to && !json_is_null(to) &&
        (!json_is_string(to) || timetext_parse_ms(json_string_value(to), now, &j->p.to_ms) < 0))
        return api_problem(rs, 400, "Bad Request",
                           "to must be RFC 3339 (2026-12-03T14:00:00Z) or relative to now (-2h); default now"),
               -1;
    if (j->p.to_ms <= j->p.from_ms)
        return api_problem(rs, 400, "Bad Request", "to must be after from"), -1;
    json_t *dry = json_object_get(o, "dry_run"), *rate = json_object_get(o, "rate");
    if (dry && !json_is_null(dry) && !json_is_boolean(dry))
        return api_problem(rs, 400, "Bad Request", "dry_run must be a boolean"), -1;
    j->p.dry_run = json_is_true(dry);
    if (rate && !json_is_null(rate) &&
        (!json_is_number(rate) || !(json_number_value(rate) > 0 && json_number_value(rate) <= 1e6)))
        return api_problem(rs, 400, "Bad Request", "rate must be a number of copies a second, above 0 and at most 1e6"),
               -1;
    j->p.rate = rate ? json_number_value(rate) : 0;
    if (read_filters(o, s, j, rs) < 0)
        return -1;
    j->p.source = s == REPLAY_ROUTER ? g_common.topic_raw : g_common.topic_routed;
    j->p.target = g_api.topic_replay[s];
    return s;
}

/* The key may replay in the environment the filters name: 0, or -1 with rs holding the
 * answer (400 when a limited key names none, 404 when it is not one of its own). */
static int check_scope(PGconn *db, const struct api_request *rq, const struct job *j, struct api_response *rs)
{
    if (!j->p.f.env) {
        if (rq->key->all_envs)
            return 0;
        return api_problem(rs, 400, "Bad Request",
                           "this key is limited to some environments: name one in filters.env (GET /v1/me)"),
               -1;
    }
    return api_env_visible(db, rq, rs, j->p.f.env, true);
}

static unsigned record(PGconn *db, struct api_request *rq, struct api_response *rs, const struct job *j, int stage)
{
    char from[32], to[32], rate[32];
    snprintf(from, sizeof from, "%lld", (long long)j->p.from_ms);
    snprintf(to, sizeof to, "%lld", (long long)j->p.to_ms);
    snprintf(rate, sizeof rate, "%.17g", j->p.rate);
    char *filters = json_dumps(j->filters, JSON_COMPACT | JSON_SORT_KEYS);
    if (!filters)
        return api_problem(rs, 500, "Internal Server Error", "out of memory");
    const char *p[] = {j->id,      j->p.f.env, replay_stage_names[stage],       from,
                       to,         filters,    j->p.dry_run ? "true" : "false", j->p.rate > 0 ? rate : NULL,
                       rq->key->id};
    unsigned st = db_json(db, rs, 202, "not recorded",
                          "WITH r AS (INSERT INTO replays (id, environment_id, stage, from_at, to_at, filters, dry_run,"
                          " rate, key_id) VALUES ($1::uuid, $2::uuid, $3, to_timestamp($4::float8 / 1000),"
                          " to_timestamp($5::float8 / 1000), $6::jsonb, $7::boolean, $8::float8, $9) RETURNING *)"
                          " SELECT to_json(t)::text FROM (SELECT " REPLAY_COLS " FROM r) t",
                          9, p);
    free(filters);
    return st;
}

unsigned replay_create(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    snprintf(rq->target, sizeof rq->target, "replay");
    json_error_t err;
    json_t *o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(o)) {
        json_decref(o);
        return api_problem(rs, 400, "Bad Request", "the body must be a JSON object");
    }
    struct job *j = calloc(1, sizeof *j);
    int stage = j ? read_body(o, j, rs) : -1;
    json_decref(o);
    if (!j)
        return api_problem(rs, 500, "Internal Server Error", "out of memory");
    if (stage < 0 || check_scope(db, rq, j, rs) < 0)
        goto refused;
    if (id_new(j->id) < 0) {
        api_problem(rs, 500, "Internal Server Error", "cannot make a replay id");
        goto refused;
    }
    snprintf(rq->target, sizeof rq->target, "replay %s", j->id);
    j->p.id = j->id;
    j->p.group = "hookline-api-replay";
    j->p.client_id = "hookline-api";
    j->p.progress_every_s = PROGRESS_EVERY_S;
    if (place_take(j) < 0) {
        snprintf(rs->retry_after, sizeof rs->retry_after, "10");
        api_problem(rs, 429, "Too Many Requests",
                    "%ld replay(s) already run on this API instance (HOOKLINE_API_REPLAYS_MAX): wait for one to "
                    "end or cancel one",
                    g_api.replays_max);
        goto refused;
    }
    if (record(db, rq, rs, j, stage) != 202) {
        place_give_back(j);
        goto refused;
    }
    log_info(NULL, "replay %s started by key %s: stage %s%s", j->id, rq->key->id, replay_stage_names[stage],
             j->p.dry_run ? " (dry run)" : "");
    pthread_t t; /* from here j is the worker's (it frees it) */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, worker, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        place_give_back(j);
        const char *p[] = {j->id};
        struct api_response ignored = {0};
        PQclear(db_query(db, &ignored,
                         "UPDATE replays SET status = 'failed', error = 'no thread to run it', finished_at = now()"
                         " WHERE id = $1::uuid",
                         1, p));
        free(ignored.body);
        api_problem(rs, 503, "Service Unavailable", "cannot start a thread for the replay");
        goto refused;
    }
    snprintf(rs->location, sizeof rs->location, "/v1/replays/%s", rq->target + strlen("replay "));
    return rs->status;
refused:
    job_free(j);
    return rs->status;
}

unsigned replay_list(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    const char *env = api_query(rq, "env"), *status = api_query(rq, "status");
    if (api_env_visible(db, rq, rs, env, false) < 0)
        return rs->status;
    const char *p[] = {SCOPE(rq), env, status};
    /* Newest first; the cursor is the creation time to the microsecond, then the id. */
    return db_page(
        db, rq, rs,
        "SELECT to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '|' || r.id"
        " AS _cursor, " REPLAY_COLS " FROM replays r WHERE " ENV_OK(
            "r.environment_id") " AND ($2::uuid IS NULL OR r.environment_id = $2::uuid) AND ($3::text IS NULL OR r.status = $3)",
        3, p, true);
}

static unsigned replay_one(PGconn *db, struct api_request *rq, struct api_response *rs, unsigned status)
{
    const char *p[] = {SCOPE(rq), rq->params[0]};
    return db_json(db, rs, status, "no such replay",
                   "SELECT to_json(t)::text FROM (SELECT " REPLAY_COLS
                   " FROM replays r WHERE r.id = $2::uuid AND " ENV_OK("r.environment_id") ") t",
                   2, p);
}

unsigned replay_get(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    if (!id_is_uuid(rq->params[0]))
        return api_problem(rs, 404, "Not Found", "no such replay");
    return replay_one(db, rq, rs, 200);
}

unsigned replay_cancel(PGconn *db, struct api_request *rq, struct api_response *rs)
{
    snprintf(rq->target, sizeof rq->target, "replay %s", rq->params[0]);
    if (!id_is_uuid(rq->params[0]))
        return api_problem(rs, 404, "Not Found", "no such replay");
    const char *p[] = {SCOPE(rq), rq->params[0]};
    PGresult *res = db_query(db, rs,
                             "UPDATE replays r SET cancel_requested = true WHERE r.id = $2::uuid AND r.status ="
                             " 'running' AND " ENV_OK("r.environment_id"),
                             2, p);
    if (!res)
        return rs->status;
    bool asked = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    if (asked)
        cancel_local(rq->params[0]);
    unsigned st = replay_one(db, rq, rs, asked ? 202 : 200);
    if (st != 200 || asked)
        return st;
    json_t *r = json_loads(rs->body, 0, NULL);
    const char *now = json_string_value(json_object_get(r, "status"));
    api_problem(rs, 409, "Conflict", "the replay is %s, not running", now ? now : "finished");
    json_decref(r);
    return rs->status;
}
