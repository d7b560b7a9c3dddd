/* attempt_log: see attempt_log.h. The queue is a singly linked list of records packed
 * into one allocation each (most strings are short: a full struct attempt_record is
 * ~3.7 KB, a packed one a few hundred bytes), so max_queued bounds the memory without
 * reserving it. The writer holds the lock only to take a batch off the head or put it
 * back; every database call is made without it, so recording never waits for I/O. */
#include "forwarder/attempt_log.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pg.h"

#define NPARAMS 13 /* per row, in the order of insert_sql_row */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000

static const char *const result_names[ATTEMPT_RESULT_COUNT] = {
    [ATTEMPT_DELIVERED] = "delivered",
    [ATTEMPT_FAILED] = "failed",
    [ATTEMPT_REFUSED] = "refused",
    [ATTEMPT_GONE] = "gone",
    [ATTEMPT_PARKED] = "parked",
    [ATTEMPT_DEAD_LETTERED] = "dead-lettered",
    [ATTEMPT_RETRY_SCHEDULED] = "retry-scheduled",
};

struct node {
    struct node *next;
    int pass;
    long attempt, status;
    double seconds;
    long long at_ms;
    enum attempt_result result;
    const char *webhook_id, *routed_id, *env, *integration, *connection, *destination, *error; /* into text */
    char text[];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* a full batch waits, or a stop was requested */
    struct node *head, *tail; /* oldest first */
    size_t count, max;
    bool running;            /* accepting records */
    bool stopping;           /* the writer should flush and exit */
    double stop_deadline;    /* clock_mono_s() the writer gives up at when stopping */
    long dropped_unreported; /* since the last warning */
    double last_warn;
    pthread_t thread;
    char *conninfo;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

struct attempt_log_config g_attempt_log;

static struct metric *m_dropped, *m_written, *m_queued;
static atomic_long n_dropped, n_written;

const char *attempt_result_name(enum attempt_result result)
{
    return (unsigned)result < ATTEMPT_RESULT_COUNT ? result_names[result] : NULL;
}

/* ---- the queue (callers hold q.lock) ------------------------------------------------ */

static void count_dropped(long n)
{
    atomic_fetch_add(&n_dropped, n);
    metric_add(m_dropped, n);
    q.dropped_unreported += n;
}

/* Drops the oldest records until at most max remain. */
static void trim_locked(void)
{
    while (q.count > q.max) {
        struct node *n = q.head;
        q.head = n->next;
        if (!q.head)
            q.tail = NULL;
        q.count--;
        free(n);
        count_dropped(1);
    }
}

/* Takes up to ATTEMPT_LOG_BATCH records off the head into batch; returns how many. */
static size_t take_batch_locked(struct node **batch)
{
    size_t n = 0;
    while (q.head && n < ATTEMPT_LOG_BATCH) {
        batch[n++] = q.head;
        q.head = q.head->next;
        q.count--;
    }
    if (!q.head)
        q.tail = NULL;
    metric_set(m_queued, (long)q.count);
    return n;
}

/* Puts a batch that could not be written back at the head, in order (it is older than
 * anything queued meanwhile), then drops the oldest beyond the bound. */
static void requeue_batch_locked(struct node **batch, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        batch[i]->next = q.head;
        q.head = batch[i];
        if (!q.tail)
            q.tail = batch[i];
        q.count++;
    }
    trim_locked();
    metric_set(m_queued, (long)q.count);
}

/* A warning about drops, at most every ATTEMPT_LOG_WARN_EVERY_S; the count to report
 * (0: nothing to say now). */
static long drops_to_report_locked(void)
{
    double now = clock_mono_s();
    if (!q.dropped_unreported || now - q.last_warn < ATTEMPT_LOG_WARN_EVERY_S)
        return 0;
    long n = q.dropped_unreported;
    q.dropped_unreported = 0;
    q.last_warn = now;
    return n;
}

static void report_drops(long n)
{
    if (n)
        log_warn(NULL,
                 "attempt log: dropped %ld delivery attempt record(s): the database is unavailable or "
                 "too slow (queue of %zu full; deliveries are not affected)",
                 n, q.max);
}

/* ---- recording ------------------------------------------------------------------- */

/* Copies s (at most cap-1 bytes of it) to *p and sets *field; NULL for "" when nullable. */
static void pack(char **p, const char **field, const char *s, size_t cap, bool nullable)
{
    size_t len = strnlen(s, cap - 1);
    if (nullable && len == 0) {
        *field = NULL;
        return;
    }
    memcpy(*p, s, len);
    (*p)[len] = '\0';
    *field = *p;
    *p += len + 1;
}

#define PACKED_LEN(s) (strnlen((s), sizeof(s) - 1) + 1)

static struct node *node_new(const struct attempt_record *rec)
{
    size_t len = PACKED_LEN(rec->webhook_id) + PACKED_LEN(rec->routed_id) + PACKED_LEN(rec->env) +
                 PACKED_LEN(rec->integration) + PACKED_LEN(rec->connection) + PACKED_LEN(rec->destination) +
                 PACKED_LEN(rec->error);
    struct node *n = malloc(sizeof *n + len);
    if (!n)
        return NULL;
    *n = (struct node){.pass = rec->pass,
                       .attempt = rec->attempt,
                       .status = rec->status,
                       .seconds = rec->seconds,
                       .at_ms = rec->at_ms,
                       .result = rec->result};
    char *p = n->text;
    pack(&p, &n->webhook_id, rec->webhook_id, sizeof rec->webhook_id, false);
    pack(&p, &n->routed_id, rec->routed_id, sizeof rec->routed_id, false);
    pack(&p, &n->env, id_is_uuid(rec->env) ? rec->env : "", sizeof rec->env, true);
    pack(&p, &n->integration, rec->integration, sizeof rec->integration, false);
    pack(&p, &n->connection, rec->connection, sizeof rec->connection, true);
    pack(&p, &n->destination, rec->destination, sizeof rec->destination, false);
    pack(&p, &n->error, rec->error, sizeof rec->error, true);
    return n;
}

void attempt_log_record(const struct attempt_record *rec)
{
    if (!attempt_result_name(rec->result))
        return;
    struct node *n = node_new(rec); /* allocated before the lock is taken */
    pthread_mutex_lock(&q.lock);
    if (!q.running) {
        pthread_mutex_unlock(&q.lock);
        free(n);
        return;
    }
    if (!n) {
        count_dropped(1);
    } else {
        if (q.tail)
            q.tail->next = n;
        else
            q.head = n;
        q.tail = n;
        q.count++;
        trim_locked();
        if (q.count >= ATTEMPT_LOG_BATCH)
            pthread_cond_signal(&q.wake);
    }
    metric_set(m_queued, (long)q.count);
    long report = drops_to_report_locked();
    pthread_mutex_unlock(&q.lock);
    report_drops(report);
}

/* Fills the fields every record of r to url shares. */
static void record_of(struct attempt_record *rec, const struct msg_routed *r, const char *url, int pass, long attempt)
{
    snprintf(rec->webhook_id, sizeof rec->webhook_id, "%s", r->webhook_id);
    snprintf(rec->routed_id, sizeof rec->routed_id, "%s", r->routed_id);
    snprintf(rec->env, sizeof rec->env, "%s", r->env);
    snprintf(rec->integration, sizeof rec->integration, "%s", r->integration);
    snprintf(rec->connection, sizeof rec->connection, "%s", r->attributed ? r->connection : "");
    snprintf(rec->destination, sizeof rec->destination, "%s", url);
    rec->pass = pass;
    rec->attempt = attempt;
}

void attempt_log_http(const struct msg_routed *r, const char *url, int pass, long attempt,
                      const struct delivery_result *res, bool refused)
{
    struct attempt_record rec;
    record_of(&rec, r, url, pass, attempt);
    bool ok = res->status >= 200 && res->status < 300;
    rec.status = res->status;
    rec.seconds = res->seconds;
    rec.at_ms = clock_unix_ms() - (long long)(res->seconds * 1000);
    rec.result = ok                   ? ATTEMPT_DELIVERED
                 : !refused           ? ATTEMPT_FAILED
                 : res->status == 410 ? ATTEMPT_GONE
                                      : ATTEMPT_REFUSED;
    if (ok)
        rec.error[0] = '\0';
    else if (res->refused[0])
        snprintf(rec.error, sizeof rec.error, "refused: %s", res->refused);
    else if (res->error[0])
        snprintf(rec.error, sizeof rec.error, "%s", res->error);
    else
        snprintf(rec.error, sizeof rec.error, "HTTP %ld", res->status);
    attempt_log_record(&rec);
}

void attempt_log_step(const struct msg_routed *r, const char *url, int pass, long attempts, enum attempt_result result,
                      long status, const char *error)
{
    struct attempt_record rec;
    record_of(&rec, r, url, pass, attempts);
    rec.status = status;
    rec.seconds = 0;
    rec.at_ms = clock_unix_ms();
    rec.result = result;
    snprintf(rec.error, sizeof rec.error, "%s", error ? error : "");
    attempt_log_record(&rec);
}

/* ---- the writer ------------------------------------------------------------------- */

/* "INSERT ... VALUES (...), (...)" for n rows of placeholders only (values travel as
 * parameters). New string (caller frees) or NULL. */
static char *insert_sql(size_t n)
{
    static const char head[] =
        "INSERT INTO delivery_attempts (webhook_id, routed_id, environment_id, integration,"
        " connection_id, destination, pass, attempt, status, error, latency_ms, result,"
        " attempted_at) VALUES ";
    static const char row[] =
        "($%zu,$%zu,$%zu::uuid,$%zu,$%zu,$%zu,$%zu::int,$%zu::int,$%zu::int,$%zu,"
        "$%zu::float8,$%zu,to_timestamp($%zu::float8/1000))";
    size_t cap = sizeof head + n * (sizeof row + NPARAMS * 6 + 1);
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t i = 0; i < n; i++) {
        size_t b = i * NPARAMS;
        len += (size_t)snprintf(sql + len, cap - len, "%s", i ? "," : "");
        len += (size_t)snprintf(sql + len, cap - len, row, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8,
                                b + 9, b + 10, b + 11, b + 12, b + 13);
    }
    return sql;
}

struct row_numbers {
    char pass[16], attempt[24], status[24], latency[32], at[32];
};

/* Inserts the batch. 0 written; 1 the connection broke (keep the batch); -1 the
 * database refused it (logged: a bug, the batch is dropped). */
static int insert_batch(struct pg_session *db, struct node **batch, size_t n)
{
    char *sql = insert_sql(n);
    const char **params = calloc(n * NPARAMS, sizeof *params);
    struct row_numbers *nums = calloc(n, sizeof *nums);
    int rc = 1; /* out of memory: keep the batch and try again */
    if (!sql || !params || !nums)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct node *r = batch[i];
        struct row_numbers *x = &nums[i];
        snprintf(x->pass, sizeof x->pass, "%d", r->pass);
        snprintf(x->attempt, sizeof x->attempt, "%ld", r->attempt);
        snprintf(x->status, sizeof x->status, "%ld", r->status);
        snprintf(x->latency, sizeof x->latency, "%.3f", r->seconds * 1000);
        snprintf(x->at, sizeof x->at, "%lld", r->at_ms);
        const char *row[NPARAMS] = {r->webhook_id, r->routed_id,   r->env,     r->integration,
                                    r->connection, r->destination, x->pass,    x->attempt,
                                    x->status,     r->error,       x->latency, attempt_result_name(r->result),
                                    x->at};
        memcpy(params + i * NPARAMS, row, sizeof row);
    }
    PGresult *res = pg_session_exec(db, sql, (int)(n * NPARAMS), params, NULL, NULL);
    if (res) {
        rc = 0;
    } else if (!pg_session_ok(db)) {
        rc = 1; /* the connection broke: keep the batch */
    } else {
        const char *state = pg_session_sqlstate(db);
        log_error(NULL, "attempt log: the database refused %zu record(s) (%s: %s)%s; they are dropped", n,
                  state[0] ? state : "?", pg_session_error(db),
                  !strcmp(state, "42P01") ? " (run 'hookline migrate')" : "");
        rc = -1;
    }
    PQclear(res);
out:
    free(nums);
    free(params);
    free(sql);
    return rc;
}

/* Waits on q.wake for at most ms (woken early by a signal of it). Holds q.lock. */
static void wait_ms_locked(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&q.wake, &q.lock, &ts);
}

static bool give_up_locked(void)
{
    return q.stopping && (q.count == 0 || clock_mono_s() >= q.stop_deadline);
}

static void *writer_main(void *arg)
{
    (void)arg;
    /* The statement's deadline: a database that stops answering drops the connection. */
    struct pg_session *db = pg_session_new(q.conninfo, "hookline-forwarder-attempt-log", 10000, PG_SESSION_QUIET);
    bool connected = false;
    long backoff = BACKOFF_MIN_MS;
    bool outage_logged = false;
    struct node *batch[ATTEMPT_LOG_BATCH];

    pthread_mutex_lock(&q.lock);
    for (;;) {
        if (!q.stopping && q.count < ATTEMPT_LOG_BATCH)
            wait_ms_locked(ATTEMPT_LOG_FLUSH_MS); /* woken early by a full batch or a stop */
        if (give_up_locked())
            break;
        if (q.count == 0)
            continue;
        if (!connected) {
            pthread_mutex_unlock(&q.lock);
            connected = db && pg_session_conn(db);
            if (connected && outage_logged)
                log_info(NULL, "attempt log: connected to the database again");
            else if (!connected && !outage_logged)
                log_warn(NULL,
                         "attempt log: cannot connect to the database; keeping up to %zu records and "
                         "retrying",
                         q.max);
            outage_logged = !connected;
            pthread_mutex_lock(&q.lock);
            if (!connected) {
                if (!give_up_locked())
                    wait_ms_locked(backoff);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = BACKOFF_MIN_MS;
        }
        size_t n = take_batch_locked(batch);
        pthread_mutex_unlock(&q.lock);
        int rc = insert_batch(db, batch, n);
        if (rc != 1)
            for (size_t i = 0; i < n; i++)
                free(batch[i]);
        if (rc > 0 && !pg_session_peek(db))
            connected = false; /* reconnect (logged as an outage) before the next batch */
        pthread_mutex_lock(&q.lock);
        if (rc == 0) {
            atomic_fetch_add(&n_written, (long)n);
            metric_add(m_written, (long)n);
        } else if (rc < 0) {
            count_dropped((long)n);
        } else {
            requeue_batch_locked(batch, n);
            if (!give_up_locked())
                wait_ms_locked(backoff);
        }
    }
    size_t left = q.count;
    q.max = 0;
    trim_locked(); /* drops and counts what is left */
    pthread_mutex_unlock(&q.lock);
    if (left)
        log_warn(NULL, "attempt log: %zu record(s) not written at shutdown (database unavailable)", left);
    pg_session_free(db);
    return NULL;
}

int attempt_log_init(const char *conninfo, size_t max_queued)
{
    if (!m_dropped) {
        m_dropped = metrics_counter("hookline_forwarder_attempt_log_dropped_total", NULL,
                                    "delivery attempt records lost (queue full while the database was unavailable)");
        m_written = metrics_counter("hookline_forwarder_attempt_log_written_total", NULL,
                                    "delivery attempt records written to delivery_attempts");
        m_queued = metrics_gauge("hookline_forwarder_attempt_log_queued", NULL,
                                 "delivery attempt records waiting to be written");
    }
    q.conninfo = strdup(conninfo);
    if (!q.conninfo) {
        log_error(NULL, "attempt log: out of memory");
        return -1;
    }
    q.max = max_queued ? max_queued : 1;
    q.stopping = false;
    q.running = true;
    /* The writer takes no signals: they belong to the main loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&q.thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        log_error(NULL, "attempt log: cannot start the writer thread: %s", strerror(err));
        q.running = false;
        free(q.conninfo);
        q.conninfo = NULL;
        return -1;
    }
    return 0;
}

void attempt_log_shutdown(long flush_timeout_ms)
{
    pthread_mutex_lock(&q.lock);
    bool was_running = q.running;
    q.running = false;
    q.stopping = true;
    q.stop_deadline = clock_mono_s() + (double)flush_timeout_ms / 1000;
    pthread_cond_signal(&q.wake);
    long report = drops_to_report_locked();
    pthread_mutex_unlock(&q.lock);
    report_drops(report);
    if (!was_running)
        return;
    pthread_join(q.thread, NULL); /* bounded: connect_timeout and statement_timeout */
    free(q.conninfo);
    q.conninfo = NULL;
}

void attempt_log_stats(struct attempt_log_stats *out)
{
    pthread_mutex_lock(&q.lock);
    out->queued = q.count;
    pthread_mutex_unlock(&q.lock);
    out->written = atomic_load(&n_written);
    out->dropped = atomic_load(&n_dropped);
}
