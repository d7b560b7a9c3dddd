/* janitor: once a second, what no worker does on its own (see syncer.h):
 *   - a run still running past HOOKLINE_SYNCER_RUN_TIMEOUT_MS lost its process (killed
 *     mid-run): it is queued again (or failed, if that was its last attempt);
 *   - a run queued for longer than HOOKLINE_SYNCER_MAX_AGE_S is expired, with the
 *     reason in last_error, never dropped silently;
 *   - a success notification still due a while after the run finished (the process
 *     died between the two) is sent again, with the same id. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/signals.h"
#include "syncer/syncer.h"

#define NOTIFY_RESEND_AFTER_S 10
#define NOTIFY_BATCH 100

static pthread_t thread;
static bool started;

static void sweep(struct runs_db *db)
{
    int n = runs_reclaim_leases(db, g_syncer.run_timeout_ms);
    if (n > 0)
        log_warn(NULL, "%d run(s) had no outcome within %ld ms and were queued again", n, g_syncer.run_timeout_ms);
    n = runs_expire(db, g_syncer.max_age_s);
    if (n > 0) {
        metric_add(g_sm.expired, n);
        log_warn(NULL, "%d run(s) expired: queued for more than %ld s", n, g_syncer.max_age_s);
    }
    struct run *runs = NULL;
    size_t nruns = 0;
    if (runs_pending_notifications(db, NOTIFY_RESEND_AFTER_S, NOTIFY_BATCH, &runs, &nruns) < 0)
        return;
    for (size_t i = 0; i < nruns && !signals_stopping(); i++)
        (void)dispatch_notify(db, &runs[i], runs[i].result);
    for (size_t i = 0; i < nruns; i++)
        run_clear(&runs[i]);
    free(runs);
}

static void *janitor(void *arg)
{
    (void)arg;
    struct runs_db *db = runs_db_new(g_common.database_url);
    if (!db) {
        log_error(NULL, "janitor: out of memory");
        return NULL;
    }
    while (!signals_stopping()) {
        sweep(db);
        for (int i = 0; i < 10 && !signals_stopping(); i++)
            usleep(100 * 1000);
    }
    runs_db_free(db);
    return NULL;
}

int janitor_start(void)
{
    if (pthread_create(&thread, NULL, janitor, NULL) != 0)
        return -1;
    started = true;
    return 0;
}

void janitor_join(void)
{
    if (started)
        pthread_join(thread, NULL);
    started = false;
}
