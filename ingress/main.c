/* hookline-ingress: receives webhooks on /webhook/{environment}/{integration}, verifies
 * them and answers 200 only once Kafka has them. Startup order: config, logging,
 * configuration store, Kafka producer, admin port, HTTP port; shutdown in reverse,
 * draining in-flight requests before the producer is flushed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/admin.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/remote_keys.h"
#include "common/signals.h"
#include "common/store.h"
#include "ingress/ingress.h"

#define DRAIN_GRACE_S 1.0

struct ingress_config g_ingress;
static struct remote_keys_config remote_keys;

static const struct config_item ingress_items[] = {
    {"HOOKLINE_INGRESS_PORT", CONFIG_INT, "8480", 1, 65535, 0, "webhook HTTP port", &g_ingress.port},
    {"HOOKLINE_INGRESS_BIND", CONFIG_STR, "0.0.0.0", 0, 0, 0, "webhook HTTP bind address", &g_ingress.bind},
    {"HOOKLINE_INGRESS_MAX_BODY_BYTES", CONFIG_INT, "1048576", 1024, 16000000, 0,
     "largest accepted body; larger gets 413", &g_ingress.max_body},
    {"HOOKLINE_INGRESS_MAX_BUFFERED_BYTES", CONFIG_INT, "268435456", 1048576, 68719476736, 0,
     "request bodies held in memory at once, all connections together; beyond it 503", &g_ingress.max_buffered},
    {"HOOKLINE_INGRESS_THREADS", CONFIG_INT, "2", 1, 64, 0, "HTTP worker threads", &g_ingress.threads},
    {"HOOKLINE_INGRESS_KAFKA_TIMEOUT_MS", CONFIG_INT, "10000", 1000, 300000, 0,
     "how long a webhook may wait for Kafka before the answer is 503", &g_ingress.kafka_timeout_ms},
    {"HOOKLINE_INGRESS_CACHE_TTL_MS", CONFIG_INT, "30000", 0, 3600000, 0,
     "how long an integration lookup is cached (changes also drop the cache)", &g_ingress.cache_ttl_ms},
    {"HOOKLINE_INGRESS_CONNECTION_TIMEOUT_S", CONFIG_INT, "30", 1, 3600, 0, "idle HTTP connection timeout",
     &g_ingress.connection_timeout_s},
    {"HOOKLINE_INGRESS_REQUEST_TIMEOUT_MS", CONFIG_INT, "30000", 1000, 3600000, 0,
     "a request's headers and body must arrive within this (from the connection's start or the previous "
     "answer); a slower client is cut off",
     &g_ingress.request_timeout_ms},
    {"HOOKLINE_INGRESS_MAX_CONNECTIONS", CONFIG_INT, "10000", 16, 1000000, 0, "open HTTP connections at most",
     &g_ingress.max_connections},
    {"HOOKLINE_INGRESS_MAX_CONNECTIONS_PER_IP", CONFIG_INT, "128", 0, 1000000, 0,
     "open HTTP connections per client address (0: no limit; behind a proxy every client has its address)",
     &g_ingress.max_connections_per_ip},
    {"HOOKLINE_INGRESS_NEGATIVE_CACHE_ENTRIES", CONFIG_INT, "10000", 16, 10000000, 0,
     "unknown (environment, integration) pairs remembered for a second (never evicts a known one)",
     &g_ingress.negative_cache_entries},
    {"HOOKLINE_INGRESS_LOOKUP_QUEUE", CONFIG_INT, "256", 1, 100000, 0,
     "requests waiting for an uncached integration lookup; beyond it 503", &g_ingress.lookup_queue},
    {"HOOKLINE_INGRESS_DIRECTORY_MAX", CONFIG_INT, "1000000", 0, 100000000, 0,
     "(environment, integration) pairs kept in memory so that made-up ones are 404 without a lookup (0: off; "
     "more integrations than this: off)",
     &g_ingress.directory_max},
    {"HOOKLINE_REMOTE_KEYS_ALLOW_CIDRS", CONFIG_STR, "", 0, 0, 0,
     "internal CIDRs providers' published keys may be fetched from (default: public addresses only)",
     &remote_keys.allow_cidrs},
    {"HOOKLINE_REMOTE_KEYS_EXTRA_HOSTS", CONFIG_STR, "", 0, 0, 0,
     "hosts (host or host:port, comma-separated) key URLs may name besides each provider's own",
     &remote_keys.extra_hosts},
    {"HOOKLINE_REMOTE_KEYS_CA_FILE", CONFIG_STR, "", 0, 0, 0,
     "CA bundle that key servers' certificates are checked against (default: the system's)", &remote_keys.ca_file},
    {"HOOKLINE_REMOTE_KEYS_TIMEOUT_MS", CONFIG_INT, "2000", 100, 10000, 0,
     "one key fetch at most; the first webhook that needs a key not yet cached waits this long",
     &remote_keys.timeout_ms},
    {"HOOKLINE_REMOTE_KEYS_DEFAULT_TTL_S", CONFIG_INT, "3600", 60, 86400, 0,
     "how long a fetched key is used when its server sends no Cache-Control max-age", &remote_keys.default_ttl_s},
};

static bool ingress_ready(void *ctx, char *why, size_t whylen)
{
    (void)ctx;
    if (signals_stopping())
        snprintf(why, whylen, "draining");
    else if (!produce_ready())
        snprintf(why, whylen, "kafka unreachable");
    else if (!lookup_ready())
        snprintf(why, whylen, "database unreachable");
    else
        return true;
    return false;
}

int main(int argc, char **argv)
{
    int rc = config_from_args(argc, argv, "hookline-ingress", "receives webhooks and stores them in Kafka", "9480",
                              ingress_items, sizeof ingress_items / sizeof ingress_items[0]);
    if (rc != 0)
        return rc < 0 ? 1 : 0;
    log_init("ingress", g_common.log_level, g_common.log_format);
    signals_install();

    /* Secrets are stored encrypted: without the key this daemon cannot do its work. */
    if (store_require_secrets() < 0)
        return 1;
    if (lookup_init(g_common.database_url, g_ingress.cache_ttl_ms) < 0 || produce_init() < 0)
        return 1;
    produce_watch();
    char err[200];
    if (remote_keys_start(&remote_keys, err, sizeof err) < 0) {
        log_error(NULL, "remote keys: %s", err);
        return 1;
    }
    struct admin *admin = admin_start(g_daemon.admin_bind, (int)g_daemon.admin_port, ingress_ready, NULL);
    struct MHD_Daemon *http = http_start();
    if (!admin || !http)
        return 1;
    log_info(NULL, "listening on %s:%ld, writing to %s", g_ingress.bind, g_ingress.port, g_common.topic_raw);

    double next_check = 0;
    while (!signals_stopping()) {
        usleep(100 * 1000);
        guard_sweep(g_ingress.request_timeout_ms);
        if (clock_mono_s() >= next_check) {
            produce_watch();
            next_check = clock_mono_s() + 1;
        }
    }

    /* Drain: no new connections; requests on open ones are answered 503 with
     * Connection: close; every suspended request gets its answer (the resolver's, then
     * Kafka's, which are abandoned if they do not come in time), and only then does HTTP
     * stop (0.9.75 aborts when stopped with a suspended connection). Clients that keep
     * sending on open connections get DRAIN_GRACE_S to hear that 503 and close, rather
     * than a reset in the middle of a request. */
    http_drain(http);
    log_info(NULL, "draining: %ld requests waiting", http_suspended()); /* after: tests send on seeing it */
    double deadline = clock_mono_s() + (double)g_ingress.kafka_timeout_ms / 1000 + 2;
    bool abandoned = false;
    double grace_end = clock_mono_s() + DRAIN_GRACE_S;
    while (http_suspended() > 0 || (guard_open() > 0 && clock_mono_s() < grace_end)) {
        usleep(20 * 1000);
        guard_sweep(g_ingress.request_timeout_ms);
        if (!abandoned && clock_mono_s() >= deadline) {
            log_warn(NULL, "drain: %ld requests still wait for Kafka: answering them 503", http_suspended());
            produce_abandon();
            abandoned = true;
        }
    }
    produce_drain(5000);
    http_stop(http);
    produce_shutdown();
    admin_stop(admin);
    lookup_shutdown();
    remote_keys_stop();
    log_info(NULL, "stopped");
    return 0;
}
