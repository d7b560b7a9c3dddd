/* resolver: the forwarder's one thread that waits on PostgreSQL, so the delivery loop
 * never does. It resolves the destinations of messages whose lookup missed the cache
 * and their URLs' gone flags, flags the URLs that answered 410, and runs the
 * configuration watch (re-LISTEN, re-check an unreachable database). The loop hands
 * requests over and takes the answered ones back; a byte on the wake pipe tells it
 * there are some. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "forwarder/forwarder.h"

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct resolve_req *queue_head, *queue_tail, *done;

/* A URL to flag gone (owned copies). */
struct flag_req {
    char *url;
    long status;
    char wid[64];
    struct flag_req *next;
};
static struct flag_req *flags_head, *flags_tail;
static bool stopping, started;
static int wake;

static void answer(struct resolve_req *r)
{
    r->gone[0] = r->gone[1] = 1;
    r->since[0][0] = r->since[1][0] = '\0';
    r->rc = destinations_get(r->env, r->integration, r->connection, r->out);
    if (r->rc < 0)
        return;
    const char *urls[2] = {r->retry_url ? r->retry_url : r->out->primary_url,
                           r->retry_url ? "" : r->out->secondary_url};
    for (int i = 0; i < 2; i++) {
        if (!urls[i][0])
            continue;
        r->gone[i] = destinations_gone(urls[i], r->since[i], sizeof r->since[i]);
        if (r->gone[i] < 0) {
            r->rc = -1; /* the database went away: the loop asks again a second later */
            return;
        }
    }
}

static void flag(struct flag_req *f)
{
    char key[256];
    outbound_url_origin(f->url, key, sizeof key);
    if (destinations_flag_gone(f->url, f->status, f->wid) == 0)
        log_error(f->wid[0] ? f->wid : NULL,
                  "%s answered %ld Gone: flagged, nothing more is sent there until 'hookline destinations clear'", key,
                  f->status);
    free(f->url);
    free(f);
}

static void *run(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping || queue_head || flags_head) {
        if (flags_head) {
            struct flag_req *f = flags_head;
            flags_head = f->next;
            if (!flags_head)
                flags_tail = NULL;
            pthread_mutex_unlock(&lock);
            flag(f);
            pthread_mutex_lock(&lock);
            continue;
        }
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

void resolver_flag_gone(const char *url, long status, const char *wid)
{
    struct flag_req *f = calloc(1, sizeof *f);
    if (!f || !(f->url = strdup(url))) {
        free(f);
        log_error(wid, "out of memory: a destination that answered 410 is not flagged");
        return;
    }
    f->status = status;
    snprintf(f->wid, sizeof f->wid, "%s", wid ? wid : "");
    pthread_mutex_lock(&lock);
    if (flags_tail)
        flags_tail->next = f;
    else
        flags_head = f;
    flags_tail = f;
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
