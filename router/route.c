/* route: one raw webhook in, its routed messages out. The provider splits the body
 * into groups by connection identifier; each group is matched against connections;
 * every (webhook, connection) pair becomes one message on the routed topic with a
 * deterministic id, so a re-run yields the same ids. A group that names no
 * connection (or names it with a value no stage may use) is still published,
 * unattributed. A message that can never be routed (unreadable contract headers, a
 * body the provider cannot read, an identifier the database refuses) is quarantined
 * on the rejected topic with the reason, and the router moves on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/ident.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/quarantine.h"
#include "common/store.h"
#include "providers/provider.h"
#include "router/router.h"

static struct metric *m_routed, *m_unattributed, *m_rejected;
static struct metric *m_q_headers, *m_q_attribution, *m_q_database; /* why quarantined */
static struct metric *m_bad_identifier, *m_bad_event_type;

void route_metrics_init(void)
{
    m_routed = metrics_counter("hookline_router_messages_total", "outcome=\"routed\"",
                               "routed messages published, by outcome");
    m_unattributed = metrics_counter("hookline_router_messages_total", "outcome=\"unattributed\"",
                                     "routed messages published, by outcome");
    m_rejected = metrics_counter("hookline_router_messages_total", "outcome=\"rejected\"",
                                 "routed messages published, by outcome");
    static const char qhelp[] = "raw messages quarantined on the rejected topic, by reason";
    m_q_headers = metrics_counter("hookline_router_quarantined_total", "reason=\"contract_headers\"", qhelp);
    m_q_attribution = metrics_counter("hookline_router_quarantined_total", "reason=\"attribution\"", qhelp);
    m_q_database = metrics_counter("hookline_router_quarantined_total", "reason=\"database_refused\"", qhelp);
    static const char bhelp[] = "values from a webhook that no stage may use (not UTF-8, control characters, too long)";
    m_bad_identifier = metrics_counter("hookline_router_invalid_values_total", "field=\"identifier\"", bhelp);
    m_bad_event_type = metrics_counter("hookline_router_invalid_values_total", "field=\"event_type\"", bhelp);
}

/* Quarantines the raw message (common/quarantine.h): a permanent failure, so the
 * router moves on. 0 once queued (acknowledged with the batch), -1 if it cannot be. */
static int quarantine(const rd_kafka_message_t *rkm, const char *wid, struct metric *why_metric, const char *reason)
{
    char clean[QUARANTINE_REASON_MAX + 1];
    quarantine_reason_clean(clean, sizeof clean, reason);
    log_warn(wid, "quarantined %s [%d] offset %lld: %s", rd_kafka_topic_name(rkm->rkt), rkm->partition,
             (long long)rkm->offset, clean);
    rd_kafka_headers_t *h = quarantine_headers(rkm, "router", reason);
    if (!h)
        return -1;
    metric_inc(m_rejected);
    metric_inc(why_metric);
    char key[ID_LEN + 1];
    snprintf(key, sizeof key, "%s", wid);
    return publish(g_common.topic_rejected, key, rkm->payload, rkm->len, h);
}

/* Publishes one group's payload for one connection (or unattributed when conn is NULL). */
static int publish_routed(const struct msg_raw *m, rd_kafka_headers_t *raw, const struct attribution_group *g,
                          const char *conn)
{
    char routed_id[ID_LEN + 1];
    const char *parts[3] = {m->webhook_id, conn ? conn : "", g->value ? g->value : ""};
    id_derive(routed_id, parts, 3);
    char *key = msg_routed_key(m->env, m->integration, conn);
    rd_kafka_headers_t *h = rd_kafka_headers_copy(raw);
    if (!key || !h) {
        free(key);
        if (h)
            rd_kafka_headers_destroy(h);
        return -1;
    }
    msg_routed_encode(h, routed_id, conn, g->event_type);
    char trace[TRACEPARENT_BUF]; /* the router's span for this connection's message */
    msg_trace_encode(h, traceparent_next(m->traceparent, trace));
    metric_inc(conn ? m_routed : m_unattributed);
    log_info(m->webhook_id, "routed %s to %s (%s=%s), trace %.32s", routed_id, conn ? conn : "(unattributed)",
             g->config_key ? g->config_key : "-", g->value ? g->value : "-", trace[0] ? trace + 3 : "-");
    int rc = publish(g_common.topic_routed, key, g->payload, g->payload_len, h);
    free(key);
    return rc;
}

/* Makes a group safe for every later stage (common/ident.h): an identifier that is not
 * a usable one names no connection (the group is published unattributed), and an event
 * type that is not one is left out. Both come from the sender, never from us. */
static void group_sanitise(const char *wid, struct attribution_group *g)
{
    if (g->value && !ident_valid_str(g->value)) {
        log_warn(wid, "identifier %s is not %d bytes of UTF-8 without control characters: unattributed",
                 g->config_key ? g->config_key : "-", IDENT_MAX_LEN);
        metric_inc(m_bad_identifier);
        free(g->value);
        free(g->config_key);
        g->value = g->config_key = NULL;
    }
    if (g->event_type && !ident_valid_str(g->event_type)) {
        log_warn(wid, "event type is not %d bytes of UTF-8 without control characters: left out", IDENT_MAX_LEN);
        metric_inc(m_bad_event_type);
        free(g->event_type);
        g->event_type = NULL;
    }
}

/* The connections a group names: 0 (ids/n set; n == 0: unattributed), -1 transient,
 * STORE_REFUSED when the database refused the identifier. */
static int group_lookup(const struct msg_raw *m, const struct attribution_group *g, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!g->config_key || !g->value)
        return 0;
    static const enum connections_match match_of[] = {
        [ATTR_CONNECTION_CONFIG] = CONNECTIONS_MATCH_CONFIG,
        [ATTR_METADATA] = CONNECTIONS_MATCH_METADATA,
        [ATTR_CONNECTION_ID] = CONNECTIONS_MATCH_ID,
    };
    int rc = connections_find(match_of[g->source], m->env, m->integration, g->config_key, g->value, ids, n);
    return rc == 1 ? 0 : rc;
}

struct group_ids {
    char **ids;
    size_t n;
};

/* Every group is looked up before anything is published, so a failure (transient or
 * permanent) leaves no half-routed webhook behind it. */
static int route_groups(const rd_kafka_message_t *rkm, const struct msg_raw *m, rd_kafka_headers_t *raw,
                        struct attribution *a)
{
    struct group_ids *found = calloc(a->n ? a->n : 1, sizeof *found);
    if (!found)
        return -1;
    int rc = 0;
    size_t looked = 0;
    for (; looked < a->n && rc == 0; looked++) {
        group_sanitise(m->webhook_id, &a->groups[looked]);
        rc = group_lookup(m, &a->groups[looked], &found[looked].ids, &found[looked].n);
    }
    if (rc == STORE_REFUSED) {
        rc = quarantine(rkm, m->webhook_id, m_q_database, "the database refused an identifier of this webhook");
    } else if (rc == 0) {
        for (size_t i = 0; i < a->n && rc == 0; i++) {
            if (found[i].n == 0)
                rc = publish_routed(m, raw, &a->groups[i], NULL);
            for (size_t k = 0; k < found[i].n && rc == 0; k++)
                rc = publish_routed(m, raw, &a->groups[i], found[i].ids[k]);
        }
    }
    for (size_t i = 0; i < looked; i++)
        connections_ids_free(found[i].ids, found[i].n);
    free(found);
    return rc;
}

int route_message(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *raw = NULL;
    if (rd_kafka_message_headers(rkm, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR)
        raw = NULL;
    struct msg_raw m;
    const char *problem = msg_raw_decode(&m, raw);
    const struct provider *p = problem ? NULL : provider_find(m.provider);
    if (!problem && !p)
        problem = "unknown provider";
    int rc = 0;
    const char *wid = ident_valid_str(m.webhook_id) ? m.webhook_id : "-";
    if (problem) {
        rc = quarantine(rkm, wid, m_q_headers, problem);
        goto out;
    }
    struct http_header views[MSG_RAW_MAX_HEADERS]; /* borrowed views of m.headers, for providers */
    for (size_t i = 0; i < m.nheaders; i++)
        views[i] = (struct http_header){m.headers[i].name, m.headers[i].value};
    struct webhook_request wr = {
        .method = m.method,
        .url = m.url,
        .path = m.path,
        .query = m.query,
        .headers = views,
        .nheaders = m.nheaders,
        .body = rkm->payload ? rkm->payload : (const void *)"",
        .body_len = rkm->len,
    };
    int fresh = dedup_webhook(p, &wr, raw, m.env, m.integration, m.webhook_id);
    if (fresh <= 0) {
        rc = fresh; /* 0: a copy, dropped; -1: retried */
        goto out;
    }
    struct attribution a = {0};
    char err[256] = "";
    if (provider_attribute(p, &wr, &a, err, sizeof err) < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "attribution failed: %s", err[0] ? err : "unreadable body");
        rc = quarantine(rkm, m.webhook_id, m_q_attribution, reason);
        goto out;
    }
    rc = route_groups(rkm, &m, raw ? raw : NULL, &a);
    attribution_free(&a);
out:
    msg_raw_free(&m);
    return rc;
}
