/* resolver: the forwarder's one thread that waits on PostgreSQL, so the delivery loop
 * never does. It resolves the destinations of messages whose lookup missed the cache
 * (and warms the cache of their URLs' gone flags), and it runs the configuration watch
 * (re-LISTEN, re-check an unreachable database). The loop hands requests over and takes
 * the answered ones back; a byte on the wake pipe tells it there are some. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "forwarder/forwarder.h"

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct resolve_req *queue_head, *queue_tail, *done;
static bool stopping, started;
static int wake;

static void answer(struct resolve_req *r)
{
    r->rc = destinations_get(r->env, r->integration, r->connection, r->out);
    if (r->rc < 0)
        return;
    /* The gone flags the loop will ask for next: cached now, answered from memory there. */
    const char *urls[2] = {r->retry_url ? r->retry_url : r->out->primary_url,
                           r->retry_url ? "" : r->out->secondary_url};
    for (int i = 0; i < 2; i++)
        if (urls[i][0] && destinations_gone(urls[i], NULL, 0) < 0)
            break; /* the database went away: the loop asks again when it needs to */
}

static void *run(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping || queue_head) {
        if (!queue_head) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&cond, &lock, &until);
            pthread_mutex_unlock(&lock);
            destinations_watch(); /* may wait on the database: never on the loop */
            pthread_mutex_lock(&lock);
            continue;
        }
        struct resolve_req *r = queue_head;
        queue_head = r->next;
        if (!queue_head)
            queue_tail = NULL;
        pthread_mutex_unlock(&lock);
        answer(r);
        pthread_mutex_lock(&lock);
        r->next = done;
        done = r;
        if (write(wake, "r", 1) < 0 && errno != EAGAIN)
            log_debug(NULL, "resolver: wake: %s", strerror(errno));
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int resolver_init(int wake_fd)
{
    wake = wake_fd;
    if (pthread_create(&thread, NULL, run, NULL) != 0) {
        log_error(NULL, "cannot start the resolver thread");
        return -1;
    }
    started = true;
    return 0;
}

void resolver_submit(struct resolve_req *r)
{
    r->next = NULL;
    pthread_mutex_lock(&lock);
    if (queue_tail)
        queue_tail->next = r;
    else
        queue_head = r;
    queue_tail = r;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

struct resolve_req *resolver_done(void)
{
    pthread_mutex_lock(&lock);
    struct resolve_req *list = done;
    done = NULL;
    pthread_mutex_unlock(&lock);
    return list;
}

void resolver_shutdown(void)
{
    if (!started)
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    started = false;
}
