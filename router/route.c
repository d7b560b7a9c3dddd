/* route: one raw webhook in, its routed messages out. The provider splits the body
 * into groups by connection identifier; each group is matched against connections;
 * every (webhook, connection) pair becomes one message on the routed topic with a
 * deterministic id, so a re-run yields the same ids. A group that names no
 * connection (or names it with a value no stage may use) is still published,
 * unattributed; so is a group whose connection did not prove it is the one named
 * (conn_trust.c: its own secret must verify the webhook), with the reason. The Nango
 * event type travels beside hookline's. A webhook the ingress answered 200 is never
 * dropped: a body the provider cannot read (not its JSON or form, nested too deeply)
 * and a handshake that nobody verified (Notion's verification token) are published
 * unattributed, as received, with the reason in MSG_H_UNATTRIBUTED_REASON and a metric
 * per reason. A message that can never be routed (unreadable contract headers, an
 * identifier the database refuses) is quarantined on the rejected topic with the
 * reason, and the router moves on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/ident.h"
#include "common/ids.h"
#include "common/json_depth.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/quarantine.h"
#include "common/store.h"
#include "providers/provider.h"
#include "router/router.h"

static struct metric *m_routed, *m_unattributed, *m_rejected;
static struct metric *m_q_headers, *m_q_database, *m_q_kafka; /* why quarantined */
static struct metric *m_bad_identifier, *m_bad_event_type;
static struct metric *m_unattributed_why[MSG_UNATTRIBUTED_REASONS]; /* by reason */

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
    m_q_database = metrics_counter("hookline_router_quarantined_total", "reason=\"database_refused\"", qhelp);
    m_q_kafka = metrics_counter("hookline_router_quarantined_total", "reason=\"kafka_refused\"", qhelp);
    static const char bhelp[] = "values from a webhook that no stage may use (not UTF-8, control characters, too long)";
    m_bad_identifier = metrics_counter("hookline_router_invalid_values_total", "field=\"identifier\"", bhelp);
    m_bad_event_type = metrics_counter("hookline_router_invalid_values_total", "field=\"event_type\"", bhelp);
    static const char uhelp[] =
        "webhooks published unattributed as received because they could not be attributed, "
        "by reason";
    static char labels[MSG_UNATTRIBUTED_REASONS][64]; /* the registry keeps the pointer */
    for (int r = MSG_UNATTRIBUTED_NONE + 1; r < MSG_UNATTRIBUTED_REASONS; r++) {
        char *label = labels[r];
        snprintf(label, sizeof labels[r], "reason=\"%s\"",
                 msg_unattributed_reason_name((enum msg_unattributed_reason)r));
        m_unattributed_why[r] = metrics_counter("hookline_router_unattributed_total", label, uhelp);
    }
}

/* Quarantines the raw message (common/quarantine.h): a permanent failure, so the
 * router moves on. omit_body: the copy is sent without it (MSG_H_REJECT_BODY_OMITTED
 * says how large it was). 0 once queued (acknowledged with the batch), -1 if it cannot be. */
static int quarantine_copy(const rd_kafka_message_t *rkm, const char *wid, struct metric *why_metric,
                           const char *reason, bool omit_body)
{
    char clean[QUARANTINE_REASON_MAX + 1];
    quarantine_reason_clean(clean, sizeof clean, reason);
    log_warn(wid, "quarantined %s [%d] offset %lld%s: %s", rd_kafka_topic_name(rkm->rkt), rkm->partition,
             (long long)rkm->offset, omit_body ? " without its body" : "", clean);
    rd_kafka_headers_t *h = quarantine_headers(rkm, "router", reason);
    if (!h)
        return -1;
    if (omit_body)
        quarantine_mark_body_omitted(h, rkm->len);
    if (!omit_body) { /* a copy without it is the same decision, tried again */
        metric_inc(m_rejected);
        metric_inc(why_metric);
    }
    char key[ID_LEN + 1];
    snprintf(key, sizeof key, "%s", wid);
    return publish(g_common.topic_rejected, key, omit_body ? NULL : rkm->payload, omit_body ? 0 : rkm->len, h);
}

static int quarantine(const rd_kafka_message_t *rkm, const char *wid, struct metric *why_metric, const char *reason)
{
    return quarantine_copy(rkm, wid, why_metric, reason, false);
}

int route_quarantine_refused(const rd_kafka_message_t *rkm, const char *why, bool omit_body)
{
    char wid[ID_LEN + 1] = "-";
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t vlen = 0;
    if (rd_kafka_message_headers(rkm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, MSG_H_WEBHOOK_ID, &v, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR && vlen == ID_LEN) {
        memcpy(wid, v, ID_LEN);
        wid[ID_LEN] = '\0';
        if (!ident_valid_str(wid))
            snprintf(wid, sizeof wid, "-");
    }
    char reason[QUARANTINE_REASON_MAX + 1];
    if (omit_body)
        snprintf(
            reason, sizeof reason,
            "%s; the rejected topic refused it too: body omitted, still in %s [%d] at offset %lld until its retention",
            why, rd_kafka_topic_name(rkm->rkt), rkm->partition, (long long)rkm->offset);
    else
        snprintf(reason, sizeof reason, "%s", why);
    return quarantine_copy(rkm, wid, m_q_kafka, reason, omit_body);
}

/* Publishes one group's payload for one connection (or unattributed when conn is NULL;
 * why says why, when it is for a reason of the router's own). own_secret: the
 * connection's own secret verified it (the webhook is then verified, whatever the
 * ingress could tell with the integration's secrets). */
static int publish_routed(const struct provider *p, const struct msg_raw *m, rd_kafka_headers_t *raw,
                          const struct attribution_group *g, const char *conn, enum msg_unattributed_reason why,
                          bool own_secret)
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
    char nango[MSG_ID_BUF];
    provider_nango_event_type(p, g->event_type, nango, sizeof nango);
    msg_routed_encode_nango_type(h, nango);
    if (!conn && why != MSG_UNATTRIBUTED_NONE) {
        msg_routed_set_unattributed_reason(h, why);
        metric_inc(m_unattributed_why[why]);
    }
    if (conn && own_secret)
        msg_routed_encode_verified(h);
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

/* The connections one way of naming them finds: connections_find's contract. */
static int key_lookup(const struct msg_raw *m, enum attribution_source source, enum attribution_match match,
                      const char *key, const char *value, char ***ids, size_t *n)
{
    static const enum connections_match by[3][3] = {
        [ATTR_CONNECTION_CONFIG] = {CONNECTIONS_MATCH_CONFIG, CONNECTIONS_MATCH_CONFIG_KEY,
                                    CONNECTIONS_MATCH_CONFIG_ORIGIN},
        [ATTR_METADATA] = {CONNECTIONS_MATCH_METADATA, CONNECTIONS_MATCH_METADATA_KEY,
                           CONNECTIONS_MATCH_METADATA_ORIGIN},
        [ATTR_CONNECTION_ID] = {CONNECTIONS_MATCH_ID, CONNECTIONS_MATCH_ID, CONNECTIONS_MATCH_ID},
    };
    return connections_find(by[source][match], m->env, m->integration, key, value, ids, n);
}

/* The connections a group names, by its identifier and then its alternatives in
 * order, the first that finds any winning: 0 (ids/n set; n == 0: unattributed), -1
 * transient, STORE_REFUSED when the database refused an identifier. */
static int group_lookup(const struct msg_raw *m, const struct attribution_group *g, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!g->config_key || !g->value)
        return 0;
    int rc = key_lookup(m, g->source, g->match, g->config_key, g->value, ids, n);
    for (size_t i = 0; rc == 1 && i < g->nalts; i++) {
        const struct attribution_key *k = &g->alts[i];
        if (ident_valid_str(k->value))
            rc = key_lookup(m, k->source, k->match, k->config_key, k->value, ids, n);
    }
    return rc == 1 ? 0 : rc;
}

struct group_ids {
    char **ids;
    size_t n;
    int *trusted;    /* per id: conn_trust_check's answer (1, or 2: verified by its own secret) */
    const char *why; /* the first refusal, when no id is trusted */
};

/* Which of a group's connections may have it (conn_trust.c): 0, -1 transient,
 * STORE_REFUSED. */
static int group_trust(const struct conn_trust_request *t, const struct attribution_group *g, struct group_ids *f)
{
    if (f->n == 0)
        return 0;
    if (!(f->trusted = calloc(f->n, sizeof *f->trusted)))
        return -1;
    for (size_t k = 0; k < f->n; k++) {
        const char *why = NULL;
        int rc = conn_trust_check(t, g, f->ids[k], &why);
        if (rc < 0)
            return rc;
        f->trusted[k] = rc;
        if (!f->why)
            f->why = why;
    }
    return 0;
}

/* Every group is looked up before anything is published, so a failure (transient or
 * permanent) leaves no half-routed webhook behind it. */
static int route_groups(const rd_kafka_message_t *rkm, const struct conn_trust_request *t, const struct msg_raw *m,
                        rd_kafka_headers_t *raw, struct attribution *a)
{
    struct group_ids *found = calloc(a->n ? a->n : 1, sizeof *found);
    if (!found)
        return -1;
    int rc = 0;
    size_t looked = 0;
    for (; looked < a->n && rc == 0; looked++) {
        group_sanitise(m->webhook_id, &a->groups[looked]);
        rc = group_lookup(m, &a->groups[looked], &found[looked].ids, &found[looked].n);
        if (rc == 0)
            rc = group_trust(t, &a->groups[looked], &found[looked]);
    }
    if (rc == STORE_REFUSED) {
        rc = quarantine(rkm, m->webhook_id, m_q_database, "the database refused an identifier of this webhook");
    } else if (rc == 0) {
        for (size_t i = 0; i < a->n && rc == 0; i++) {
            size_t sent = 0;
            for (size_t k = 0; k < found[i].n && rc == 0; k++)
                if (found[i].trusted[k] && (rc = publish_routed(t->provider, m, raw, &a->groups[i], found[i].ids[k],
                                                                MSG_UNATTRIBUTED_NONE, found[i].trusted[k] == 2)) == 0)
                    sent++;
            if (sent == 0 && rc == 0)
                rc = publish_routed(t->provider, m, raw, &a->groups[i], NULL,
                                    found[i].why ? msg_unattributed_reason_of(found[i].why) : MSG_UNATTRIBUTED_NONE,
                                    false);
        }
    }
    for (size_t i = 0; i < looked; i++) {
        connections_ids_free(found[i].ids, found[i].n);
        free(found[i].trusted);
    }
    free(found);
    return rc;
}

/* Publishes the webhook as received, unattributed, saying why: the ingress answered
 * it 200, so it is delivered rather than quarantined. */
static int publish_as_received(const struct provider *p, const struct msg_raw *m, rd_kafka_headers_t *raw,
                               const struct webhook_request *wr, enum msg_unattributed_reason why, const char *detail)
{
    log_warn(m->webhook_id, "published unattributed (%s): %s", msg_unattributed_reason_name(why), detail);
    struct attribution_group whole = {.payload = malloc(wr->body_len ? wr->body_len : 1), .payload_len = wr->body_len};
    if (!whole.payload)
        return -1;
    memcpy(whole.payload, wr->body, wr->body_len);
    int rc = publish_routed(p, m, raw, &whole, NULL, why, false);
    free(whole.payload);
    return rc;
}

/* A handshake the provider sends unsigned (Notion's verification token) and the ingress
 * stored unverified: it names no connection, whatever its body or URL says. */
static bool unverified_handshake(const struct provider *p, const struct msg_raw *m, const struct webhook_request *wr)
{
    if (m->verified)
        return false;
    struct provider_secrets none = {0};
    struct handshake_answer ans = {0};
    bool stored = provider_handshake(p, wr, &none, &ans) == 1 && ans.store;
    free(ans.body);
    return stored;
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
        /* Timestamps are judged as the ingress judged them: a backlog or a replay
         * verifies as it did when it arrived. */
        .now = m.received_at_ms > 0 ? (time_t)(m.received_at_ms / 1000) : time(NULL),
    };
    struct dedup_drops copies;
    int fresh = dedup_webhook(p, &wr, raw, m.env, m.integration, m.webhook_id, &copies);
    if (fresh <= 0) {
        rc = fresh; /* 0: a copy, dropped; -1: retried */
        goto out;
    }
    if (unverified_handshake(p, &m, &wr)) {
        dedup_drops_free(&copies);
        rc = publish_as_received(p, &m, raw, &wr, MSG_UNATTRIBUTED_UNVERIFIED_HANDSHAKE, "a handshake nobody verified");
        goto out;
    }
    struct attribution a = {0};
    char err[256] = "";
    int split = provider_attribute_except(p, &wr, copies.drop, copies.n, &a, err, sizeof err);
    dedup_drops_free(&copies);
    if (split < 0) {
        bool deep = !json_depth_within(wr.body, wr.body_len, JSON_NESTING_MAX);
        rc = publish_as_received(p, &m, raw, &wr,
                                 deep ? MSG_UNATTRIBUTED_NESTED_TOO_DEEPLY : MSG_UNATTRIBUTED_UNREADABLE_BODY,
                                 err[0] ? err : "unreadable body");
        goto out;
    }
    const struct conn_trust_request trust = {p, &wr, m.webhook_id, m.env, m.integration, m.verified};
    rc = route_groups(rkm, &trust, &m, raw ? raw : NULL, &a);
    attribution_free(&a);
out:
    msg_raw_free(&m);
    return rc;
}
