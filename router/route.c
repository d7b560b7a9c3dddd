/* route: one raw webhook in, its routed messages out. The provider splits the body
 * into groups by connection identifier; each group is matched against connections;
 * every (webhook, connection) pair becomes one message on the routed topic with a
 * deterministic id, so a re-run yields the same ids. A group that names no
 * connection is still published, unattributed. A body the provider cannot read goes
 * to the rejected topic with the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/store.h"
#include "providers/provider.h"
#include "router/router.h"

#define MAX_HEADERS 128

static struct metric *m_routed, *m_unattributed, *m_rejected;

void route_metrics_init(void)
{
    m_routed = metrics_counter("hookline_router_messages_total", "outcome=\"routed\"",
                               "routed messages published, by outcome");
    m_unattributed = metrics_counter("hookline_router_messages_total", "outcome=\"unattributed\"",
                                     "routed messages published, by outcome");
    m_rejected = metrics_counter("hookline_router_messages_total", "outcome=\"rejected\"",
                                 "routed messages published, by outcome");
}

/* The raw message's metadata, as NUL-terminated copies of its headers. */
struct raw_meta {
    char webhook_id[64], env[64], integration[160], provider[64];
    char method[16], path[512], query[2048], url[4096];
    struct msg_http_header stored[MAX_HEADERS];
    struct http_header headers[MAX_HEADERS]; /* borrowed views of stored, for providers */
    size_t nheaders;
};

static void meta_free(struct raw_meta *m)
{
    msg_http_headers_free(m->stored, m->nheaders);
    m->nheaders = 0;
}

static void meta_read(struct raw_meta *m, rd_kafka_headers_t *h)
{
    memset(m, 0, sizeof *m);
    msg_header(h, MSG_H_WEBHOOK_ID, m->webhook_id, sizeof m->webhook_id);
    msg_header(h, MSG_H_ENVIRONMENT, m->env, sizeof m->env);
    msg_header(h, MSG_H_INTEGRATION, m->integration, sizeof m->integration);
    msg_header(h, MSG_H_PROVIDER, m->provider, sizeof m->provider);
    msg_header(h, MSG_H_METHOD, m->method, sizeof m->method);
    msg_header(h, MSG_H_PATH, m->path, sizeof m->path);
    msg_header(h, MSG_H_QUERY, m->query, sizeof m->query);
    msg_header(h, MSG_H_URL, m->url, sizeof m->url);
    m->nheaders = msg_http_headers(h, m->stored, MAX_HEADERS, NULL);
    for (size_t i = 0; i < m->nheaders; i++)
        m->headers[i] = (struct http_header){m->stored[i].name, m->stored[i].value};
}

/* Publishes the raw message to the rejected topic with the reason. */
static int reject(const rd_kafka_message_t *rkm, rd_kafka_headers_t *raw, const char *wid, const char *reason)
{
    log_warn(wid, "rejected: %s", reason);
    rd_kafka_headers_t *h = raw ? rd_kafka_headers_copy(raw) : rd_kafka_headers_new(1);
    rd_kafka_header_add(h, MSG_H_REJECT_REASON, -1, reason, -1);
    metric_inc(m_rejected);
    return publish(g_common.topic_rejected, wid, rkm->payload, rkm->len, h);
}

/* Publishes one group's payload for one connection (or unattributed when conn is NULL). */
static int publish_routed(const struct raw_meta *m, rd_kafka_headers_t *raw, const struct attribution_group *g,
                          const char *conn)
{
    char routed_id[ID_LEN + 1], key[1024];
    const char *parts[3] = {m->webhook_id, conn ? conn : "", g->value ? g->value : ""};
    id_derive(routed_id, parts, 3);
    snprintf(key, sizeof key, "%s/%s/%s", m->env, m->integration, conn ? conn : "");
    rd_kafka_headers_t *h = rd_kafka_headers_copy(raw);
    rd_kafka_header_add(h, MSG_H_ROUTED_ID, -1, routed_id, -1);
    if (conn)
        rd_kafka_header_add(h, MSG_H_CONNECTION, -1, conn, -1);
    if (g->event_type)
        rd_kafka_header_add(h, MSG_H_EVENT_TYPE, -1, g->event_type, -1);
    metric_inc(conn ? m_routed : m_unattributed);
    log_info(m->webhook_id, "routed %s to %s (%s=%s)", routed_id, conn ? conn : "(unattributed)",
             g->config_key ? g->config_key : "-", g->value ? g->value : "-");
    return publish(g_common.topic_routed, key, g->payload, g->payload_len, h);
}

static int route_group(const struct raw_meta *m, rd_kafka_headers_t *raw, const struct attribution_group *g)
{
    if (!g->config_key || !g->value)
        return publish_routed(m, raw, g, NULL);
    char **ids;
    size_t n;
    static const enum store_match match_of[] = {
        [ATTR_CONNECTION_CONFIG] = STORE_MATCH_CONFIG,
        [ATTR_METADATA] = STORE_MATCH_METADATA,
        [ATTR_CONNECTION_ID] = STORE_MATCH_ID,
    };
    int rc = connections_find(match_of[g->source], m->env, m->integration, g->config_key, g->value, &ids, &n);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return publish_routed(m, raw, g, NULL);
    int out = 0;
    for (size_t i = 0; i < n && out == 0; i++)
        out = publish_routed(m, raw, g, ids[i]);
    store_ids_free(ids, n);
    return out;
}

int route_message(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *raw = NULL;
    if (rd_kafka_message_headers(rkm, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR)
        raw = NULL;
    struct raw_meta m;
    meta_read(&m, raw);
    int rc = 0;
    const struct provider *p = provider_find(m.provider);
    if (!m.webhook_id[0] || !m.env[0] || !m.integration[0]) {
        rc = reject(rkm, raw, m.webhook_id[0] ? m.webhook_id : "-", "missing hookline headers");
        goto out;
    }
    if (!p) {
        rc = reject(rkm, raw, m.webhook_id, "unknown provider");
        goto out;
    }
    struct webhook_request wr = {
        .method = m.method, .url = m.url, .path = m.path, .query = m.query,
        .headers = m.headers, .nheaders = m.nheaders,
        .body = rkm->payload ? rkm->payload : (const void *)"", .body_len = rkm->len,
    };
    struct attribution a = {0};
    char err[256] = "";
    if (provider_attribute(p, &wr, &a, err, sizeof err) < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "attribution failed: %s", err[0] ? err : "unreadable body");
        rc = reject(rkm, raw, m.webhook_id, reason);
        goto out;
    }
    for (size_t i = 0; i < a.n && rc == 0; i++)
        rc = route_group(&m, raw, &a.groups[i]);
    attribution_free(&a);
out:
    meta_free(&m);
    return rc;
}
