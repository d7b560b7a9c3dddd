/* hookline-api: the admin REST API, the OpenAPI document, the web console and the
 * webhook log's writer. Startup order: config, logging, keys and rate limits, the
 * redrive producer, the webhook log consumer, admin port, HTTP port; shutdown in
 * reverse: stop taking connections, let requests in flight finish, stop the running
 * replays (marked interrupted; what they published stays published), stop the log
 * consumer (it commits what it wrote), flush the producer. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api/api.h"
#include "common/admin.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/signals.h"

struct api_config g_api;

static const struct config_item api_items[] = {
    {"HOOKLINE_API_PORT", CONFIG_INT, "8485", 1, 65535, 0, "API and console HTTP port", &g_api.port},
    {"HOOKLINE_API_BIND", CONFIG_STR, "127.0.0.1", 0, 0, 0, "API bind address", &g_api.bind},
    {"HOOKLINE_API_THREADS", CONFIG_INT, "4", 1, 64, 0, "HTTP worker threads (one database connection each)",
     &g_api.threads},
    {"HOOKLINE_API_RATE_PER_S", CONFIG_INT, "20", 1, 100000, 0, "requests per second one API key may make",
     &g_api.rate_per_s},
    {"HOOKLINE_API_RATE_BURST", CONFIG_INT, "100", 1, 1000000, 0, "requests one API key may make in a burst",
     &g_api.rate_burst},
    {"HOOKLINE_API_CORS_ORIGINS", CONFIG_STR, "", 0, 0, 0,
     "origins allowed to call the API from another site's pages (comma-separated; empty: none)", &g_api.cors_origins},
    {"HOOKLINE_API_LOG", CONFIG_BOOL, "true", 0, 0, 0, "write the webhook log from the pipeline's topics",
     &g_api.log_enabled},
    {"HOOKLINE_API_LOG_GROUP", CONFIG_STR, "hookline-api-log", 0, 0, 0, "the webhook log consumer's group",
     &g_api.log_group},
    {"HOOKLINE_API_LOG_BATCH", CONFIG_INT, "500", 1, 10000, 0, "messages per webhook log transaction",
     &g_api.log_batch},
    {"HOOKLINE_API_LOG_RETENTION_DAYS", CONFIG_INT, "30", 1, 3650, 0,
     "webhook log rows older than this are deleted (hourly)", &g_api.log_retention_days},
    {"HOOKLINE_TOPIC_FORWARD_RETRY", CONFIG_STR, "webhooks.forward-retry", 0, 0, 0,
     "prefix of the forwarder's retry topics (redrives go to <prefix>.<group>.1)", &g_api.retry_topic_prefix},
    {"HOOKLINE_FORWARDER_GROUP", CONFIG_STR, "hookline-forwarder", 0, 0, 0, "the forwarder's consumer group",
     &g_api.forwarder_group},
    {"HOOKLINE_FORWARDER_ALLOW_CIDRS", CONFIG_STR, "", 0, 0, 0,
     "the forwarder's non-public destinations: a redrive to another address is refused", &g_api.forwarder_allow_cidrs},
    {"HOOKLINE_API_REPLAYS_MAX", CONFIG_INT, "2", 1, 16, 0,
     "replays (POST /v1/replays) one API instance runs at once; more answer 429", &g_api.replays_max},
    {"HOOKLINE_TOPIC_REPLAY_ROUTER", CONFIG_STR, "webhooks.replay.router", 0, 0, 0,
     "topic a replay for the router sends raw webhooks to (the router reads it)", &g_api.topic_replay[0]},
    {"HOOKLINE_TOPIC_REPLAY_FORWARDER", CONFIG_STR, "webhooks.replay.forwarder", 0, 0, 0,
     "topic a replay for the forwarder sends routed webhooks to", &g_api.topic_replay[1]},
    {"HOOKLINE_TOPIC_REPLAY_SYNCER", CONFIG_STR, "webhooks.replay.syncer", 0, 0, 0,
     "topic a replay for the syncer sends routed webhooks to", &g_api.topic_replay[2]},
    {"HOOKLINE_API_DB_TIMEOUT_MS", CONFIG_INT, "10000", 100, 600000, 0, "longest wait for one SQL statement",
     &g_api.db_timeout_ms},
};

struct MHD_Daemon *http_start(void);
void http_stop(struct MHD_Daemon *d);
long http_inflight(void);

static bool api_ready(void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    if (signals_stopping())
        snprintf(why, whylen, "draining");
    else if (!db_ready())
        snprintf(why, whylen, "database unreachable");
    else if (!redrive_ready())
        snprintf(why, whylen, "kafka unreachable");
    else if (g_api.log_enabled && !weblog_ready())
        snprintf(why, whylen, "webhook log consumer not running");
    else
        return true;
    return false;
}

int main(int argc, char **argv)
{
    int rc = config_from_args(argc, argv, "hookline-api", "the admin REST API, the web console and the webhook log",
                              "9484", api_items, sizeof api_items / sizeof api_items[0]);
    if (rc != 0)
        return rc < 0 ? 1 : 0;
    log_init("api", g_common.log_level, g_common.log_format);
    signals_install();
    auth_init();

    char errstr[512];
    if (redrive_init(errstr, sizeof errstr) < 0) {
        log_error(NULL, "cannot start redrives: %s", errstr);
        return 1;
    }
    if (g_api.log_enabled && weblog_start() < 0)
        return 1;
    struct admin *admin = admin_start(g_daemon.admin_bind, (int)g_daemon.admin_port, api_ready, NULL);
    struct MHD_Daemon *http = http_start();
    if (!admin || !http)
        return 1;
    log_info(NULL, "API and console on http://%s:%ld/", g_api.bind, g_api.port);

    double next_check = 0, next_reap = 0;
    while (!signals_stopping()) {
        usleep(100 * 1000);
        if (clock_mono_s() >= next_check) { /* what /readyz reports */
            PGconn *db = db_thread();
            PGresult *res = db ? pg_exec(db, "SELECT 1", 0, NULL, NULL, NULL, 3000) : NULL;
            PQclear(res);
            redrive_watch();
            next_check = clock_mono_s() + 2;
        }
        if (clock_mono_s() >= next_reap) { /* replays of a process that died */
            replays_reap_stale(db_thread());
            next_reap = clock_mono_s() + 30;
        }
    }

    log_info(NULL, "draining: %ld requests in flight", http_inflight());
    MHD_quiesce_daemon(http);
    double deadline = clock_mono_s() + (double)g_api.db_timeout_ms / 1000 + 5;
    while (http_inflight() > 0 && clock_mono_s() < deadline)
        usleep(20 * 1000);
    http_stop(http);
    replays_stop();
    weblog_stop();
    redrive_shutdown();
    admin_stop(admin);
    db_thread_done();
    log_info(NULL, "stopped");
    return 0;
}
