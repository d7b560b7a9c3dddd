/* circuit_log: the circuit breakers' state where the API can read it
 * (destination_circuits, db/migrations/011). Only transitions are written, never a
 * delivery: circuit.c queues one when a circuit opens, goes half-open or closes, and a
 * writer thread with its own connection applies them (an open or half-open circuit is a
 * row of this process; a closed one is no row). While some row of this process exists
 * the writer refreshes seen_at every CIRCUIT_LOG_HEARTBEAT_S, so a reader can tell the
 * state of a live forwarder from what a killed one left behind; a drained forwarder
 * deletes its rows. Like the attempt log it is observability, never a dependency of
 * delivery: a full queue drops the oldest transition, a database away delays them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/pg.h"
#include "forwarder/forwarder.h"

#define CIRCUIT_LOG_QUEUE 256
#define CIRCUIT_LOG_HEARTBEAT_S 30
#define CIRCUIT_LOG_TIMEOUT_MS 5000

struct transition {
    char endpoint[256];
    enum circuit_state state;
    long failures;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct transition queue[CIRCUIT_LOG_QUEUE];
static size_t head, count;
static bool running, stopping;
static pthread_t writer;
static struct pg_session *session;
static char instance[ID_LEN + 1], host[128];

static const char *state_name(enum circuit_state s)
{
    return s == CIRCUIT_OPEN ? "open" : s == CIRCUIT_HALF_OPEN ? "half-open" : "closed";
}

void circuit_log_transition(const char *endpoint, enum circuit_state state, long failures)
{
    pthread_mutex_lock(&lock);
    if (running) {
        if (count == CIRCUIT_LOG_QUEUE) { /* the oldest goes: a later one of its endpoint follows */
            head = (head + 1) % CIRCUIT_LOG_QUEUE;
            count--;
        }
        struct transition *t = &queue[(head + count) % CIRCUIT_LOG_QUEUE];
        snprintf(t->endpoint, sizeof t->endpoint, "%s", endpoint);
        t->state = state;
        t->failures = failures;
        count++;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
}

/* Applies t; false when the database did not take it (kept for the next round). */
static bool apply(const struct transition *t)
{
    char failures[24];
    snprintf(failures, sizeof failures, "%ld", t->failures);
    const char *p[] = {t->endpoint, instance, host, state_name(t->state), failures};
    PGresult *res = t->state == CIRCUIT_CLOSED
                        ? pg_session_exec(session,
                                          "DELETE FROM destination_circuits WHERE endpoint = $1 AND forwarder = $2", 2,
                                          p, NULL, NULL)
                        : pg_session_exec(
                              session,
                              "INSERT INTO destination_circuits (endpoint, forwarder, host, state, failures)"
                              " VALUES ($1, $2, $3, $4, $5::int) ON CONFLICT (endpoint, forwarder) DO UPDATE"
                              " SET state = $4, failures = $5::int, changed_at = now(), seen_at = now()",
                              5, p, NULL, NULL);
    if (res)
        PQclear(res);
    return res != NULL || pg_session_refused(session); /* a refused value is not retried */
}

static void exec_quiet(const char *sql)
{
    const char *p[] = {instance};
    PGresult *res = pg_session_exec(session, sql, 1, p, NULL, NULL);
    if (res)
        PQclear(res);
}

static void *write_loop(void *arg)
{
    (void)arg;
    double last_beat = clock_mono_s();
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!count && !stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&wake, &lock, &until);
            if (clock_mono_s() - last_beat >= CIRCUIT_LOG_HEARTBEAT_S)
                break;
        }
        if (stopping && !count)
            break;
        struct transition t = {0};
        bool have = count > 0;
        if (have)
            t = queue[head];
        pthread_mutex_unlock(&lock);
        if (have && apply(&t)) {
            pthread_mutex_lock(&lock);
            if (count && !strcmp(queue[head].endpoint, t.endpoint) && queue[head].state == t.state) {
                head = (head + 1) % CIRCUIT_LOG_QUEUE;
                count--;
            }
            pthread_mutex_unlock(&lock);
        } else if (have) {
            sleep(1); /* the database is away: the transition waits */
        }
        if (clock_mono_s() - last_beat >= CIRCUIT_LOG_HEARTBEAT_S) {
            exec_quiet("UPDATE destination_circuits SET seen_at = now() WHERE forwarder = $1");
            last_beat = clock_mono_s();
        }
        pthread_mutex_lock(&lock);
        if (stopping && !pg_session_ok(session))
            break; /* draining with the database away: what is queued is lost, like the rows */
    }
    pthread_mutex_unlock(&lock);
    exec_quiet("DELETE FROM destination_circuits WHERE forwarder = $1"); /* a drained forwarder holds none */
    return NULL;
}

int circuit_log_init(const char *conninfo)
{
    if (id_new(instance) < 0) {
        log_error(NULL, "circuit log: no random bytes for this process's id");
        return -1;
    }
    if (gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "unknown");
    session = pg_session_new(conninfo, "hookline-forwarder-circuits", CIRCUIT_LOG_TIMEOUT_MS, PG_SESSION_RETRY_ONCE);
    if (!session)
        return -1;
    running = true;
    if (pthread_create(&writer, NULL, write_loop, NULL) != 0) {
        log_error(NULL, "circuit log: cannot start its thread");
        running = false;
        pg_session_free(session);
        session = NULL;
        return -1;
    }
    return 0;
}

void circuit_log_shutdown(void)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return;
    }
    running = false;
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(writer, NULL);
    pg_session_free(session);
    session = NULL;
}
