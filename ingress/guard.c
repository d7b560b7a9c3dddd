/* guard: a deadline for the whole request, which libmicrohttpd does not have (its
 * connection timeout is an idle timeout: a client sending one byte a second is never
 * idle, and would hold a connection forever). Every open connection has a slot here,
 * registered by MHD's connection notifications; the clock of a request starts when the
 * connection opens or the previous answer is complete, and stops while the request is
 * suspended on our side (waiting for Kafka or the resolver, both bounded). main's loop
 * sweeps: a connection past the deadline is shut down, which MHD sees as the peer
 * going away and closes the connection itself.
 *
 * The slot list is guarded by one mutex, held while a socket is shut down: MHD
 * notifies CLOSED (which unlinks the slot under that mutex) before it closes the
 * socket, so a swept descriptor always still belongs to its connection. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingress/ingress.h"

struct guard_slot {
    struct guard_slot *prev, *next;
    int fd;
    _Atomic double since; /* when the current request's clock started */
    atomic_bool waiting;  /* suspended on our side: the clock does not run */
    bool cut;             /* already shut down (guarded by lock) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *m_cut;
static struct guard_slot *slots;
static atomic_long open_count;

void guard_init(void)
{
    m_cut = metrics_counter("hookline_ingress_connections_cut_total", NULL,
                            "connections cut off at HOOKLINE_INGRESS_REQUEST_TIMEOUT_MS");
}

void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct guard_slot *s = calloc(1, sizeof *s);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!s || !ci) {
            free(s);
            return; /* unguarded: only MHD's own timeouts apply to it */
        }
        s->fd = ci->connect_fd;
        atomic_store(&s->since, clock_mono_s());
        pthread_mutex_lock(&lock);
        s->next = slots;
        if (slots)
            slots->prev = s;
        slots = s;
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&open_count, 1);
        *socket_context = s;
        return;
    }
    struct guard_slot *s = *socket_context;
    if (!s)
        return;
    pthread_mutex_lock(&lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        slots = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&lock);
    atomic_fetch_sub(&open_count, 1);
    free(s);
    *socket_context = NULL;
}

long guard_open(void)
{
    return atomic_load(&open_count);
}

struct guard_slot *guard_slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void guard_restart(struct guard_slot *s)
{
    if (s)
        atomic_store(&s->since, clock_mono_s());
}

void guard_waiting(struct guard_slot *s, bool waiting)
{
    if (!s)
        return;
    if (!waiting)
        atomic_store(&s->since, clock_mono_s()); /* the answer gets a whole deadline to leave */
    atomic_store(&s->waiting, waiting);
}

int guard_sweep(long deadline_ms)
{
    double now = clock_mono_s(), limit = (double)deadline_ms / 1000;
    int cut = 0;
    pthread_mutex_lock(&lock);
    for (struct guard_slot *s = slots; s; s = s->next) {
        if (s->cut || atomic_load(&s->waiting) || now - atomic_load(&s->since) < limit)
            continue;
        shutdown(s->fd, SHUT_RDWR);
        s->cut = true;
        cut++;
    }
    pthread_mutex_unlock(&lock);
    if (cut) {
        metric_add(m_cut, cut);
        log_warn(NULL, "cut off %d connection(s) without a whole request within %ld ms (slow or idle clients)", cut,
                 deadline_ms);
    }
    return cut;
}
