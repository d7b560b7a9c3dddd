/* intake: webhooks.routed -> sync runs (see syncer.h).
 *
 * A batch of messages becomes runs in one transaction: for each attributed message,
 * every enabled sync of its (environment, integration) with a matching
 * subscription (sync_match: its event type, its Nango type, "*" or "prefix.*") gets one run, inserted with ON CONFLICT DO
 * NOTHING on (routed id, sync, connection). Only after COMMIT are the offsets stored
 * (and committed to Kafka), so a crash re-reads at most the batch in progress and the
 * unique key absorbs it. While the database is down the batch is retried, never
 * skipped. A message that can never start a run (unreadable contract headers, a value
 * the database refuses) is quarantined on the rejected topic instead, so it cannot stop
 * the intake: the batch is then redone with a savepoint per message, and the refused
 * one undone alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/ident.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/quarantine.h"
#include "common/signals.h"
#include "providers/provider.h"
#include "syncer/syncer.h"

static struct runs_db *db;

/* The syncs of one (environment, integration), read once per batch. */
struct memo {
    char env[MSG_ID_BUF], integration[MSG_KEY_BUF];
    struct sync_def *defs;
    size_t n;
};

struct batch_state {
    struct memo *memos;
    size_t nmemos, cap;
    long created;
};

static void memos_free(struct batch_state *b)
{
    for (size_t i = 0; i < b->nmemos; i++)
        runs_syncs_free(b->memos[i].defs, b->memos[i].n);
    free(b->memos);
    memset(b, 0, sizeof *b);
}

static struct memo *syncs_for(struct batch_state *b, const char *env, const char *integration)
{
    for (size_t i = 0; i < b->nmemos; i++)
        if (!strcmp(b->memos[i].env, env) && !strcmp(b->memos[i].integration, integration))
            return &b->memos[i];
    if (b->nmemos == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct memo *m = realloc(b->memos, cap * sizeof *m);
        if (!m)
            return NULL;
        b->memos = m;
        b->cap = cap;
    }
    struct memo *m = &b->memos[b->nmemos];
    memset(m, 0, sizeof *m);
    snprintf(m->env, sizeof m->env, "%s", env);
    snprintf(m->integration, sizeof m->integration, "%s", integration);
    if (runs_syncs_of(db, env, integration, &m->defs, &m->n) < 0)
        return NULL;
    b->nmemos++;
    return m;
}

/* What became of one message. */
enum verdict {
    TAKEN = 0,      /* its runs exist (or it starts none) */
    TRANSIENT = -1, /* the database could not be asked: the batch is retried */
    POISON = -2,    /* it can never start a run (reason given): quarantined */
    POISON_DB = -3, /* the same, found by a statement the database refused: the
                        * transaction is aborted, so the batch is redone with savepoints */
};

/* What a run needs of a routed message: a bad webhook id or provider is stored as it
 * is (the database refuses what it cannot hold: POISON_DB). */
#define RUN_FIELDS (MSG_F_ROUTED_ID | MSG_F_ENVIRONMENT | MSG_F_INTEGRATION | MSG_F_CONNECTION | MSG_F_EVENT_TYPE)

static enum verdict intake_routed(struct batch_state *b, const rd_kafka_message_t *rkm, const struct msg_routed *msg,
                                  char *why, size_t whylen);

/* The runs of one message (see enum verdict; why gets a POISON's reason). */
static enum verdict intake_message(struct batch_state *b, const rd_kafka_message_t *rkm, char *why, size_t whylen)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    struct msg_routed msg;
    msg_routed_decode(&msg, h, NULL); /* the syncer's verdict is its own: RUN_FIELDS */
    if (!msg.attributed) {
        metric_inc(g_sm.skipped_unattributed);
        return TAKEN; /* unattributed: no connection, nothing to sync */
    }
    enum verdict v = intake_routed(b, rkm, &msg, why, whylen);
    msg_routed_free(&msg);
    return v;
}

/* The runs of routed message msg (attributed). */
static enum verdict intake_routed(struct batch_state *b, const rd_kafka_message_t *rkm, const struct msg_routed *msg,
                                  char *why, size_t whylen)
{
    const char *problem = msg_routed_problem(msg, RUN_FIELDS);
    if (problem) {
        snprintf(why, whylen, "%s", problem);
        return POISON;
    }
    const char *wid = msg->bad & MSG_F_WEBHOOK_ID ? "" : msg->webhook_id;
    const char *rid = msg->routed_id, *env = msg->env, *integration = msg->integration, *conn = msg->connection;
    const char *et = msg->event_type, *provider = msg->provider;
    const char *received_at = msg->received_at[0] ? msg->received_at : NULL;

    /* The Nango type the router wrote; a message routed before it wrote one gets it
     * from its provider. */
    char nango[MSG_ID_BUF];
    const struct provider *p = msg->nango_event_type[0] ? NULL : provider_find(provider);
    snprintf(nango, sizeof nango, "%s", msg->nango_event_type);
    if (p)
        provider_nango_event_type(p, et, nango, sizeof nango);

    struct memo *m = syncs_for(b, env, integration);
    if (!m)
        goto db_failed;
    bool matched = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct sync_def *d = &m->defs[i];
        int k = sync_match((const char *const *)d->subs, d->nsubs, et, nango);
        if (k < 0)
            continue;
        matched = true;
        char sync_id[24];
        snprintf(sync_id, sizeof sync_id, "%lld", d->id);
        struct new_run r = {.sync_id = d->id,
                            .env_id = env,
                            .connection_id = conn,
                            .webhook_id = wid,
                            .routed_id = rid,
                            .event_type = et,
                            .subscription = d->subs[k],
                            .provider = provider,
                            .received_at_ms = received_at,
                            .traceparent = msg->traceparent,
                            .payload = rkm->payload,
                            .payload_len = rkm->len};
        const char *parts[] = {"sync-run", rid, sync_id};
        id_derive(r.id, parts, 3);
        int rc = runs_insert(db, &r);
        if (rc < 0)
            goto db_failed;
        b->created += rc;
        if (rc == 1)
            log_info(wid, "run %s: sync %s for connection %s (%s matched %s)", r.id, d->name, conn,
                     et[0] ? et : "(no event type)", d->subs[k]);
    }
    if (!matched)
        metric_inc(g_sm.skipped_unmatched);
    return TAKEN;
db_failed:
    if (!runs_db_refused(db))
        return TRANSIENT;
    snprintf(why, whylen, "the database refused a value of this message");
    return POISON_DB;
}

/* The messages of a batch that can never start a run, with why (owned). */
struct poison {
    char **why; /* [n]: NULL for a message that was taken */
    size_t n;
};

static void poison_clear(struct poison *p)
{
    for (size_t i = 0; p->why && i < p->n; i++)
        free(p->why[i]);
    memset(p->why, 0, p->n * sizeof *p->why);
}

/* Every message of the batch in one transaction. 0 committed (poison: what was left
 * out), -1 not (transient), 1 redo with savepoints (careful was false and the database
 * refused a message, which aborts the transaction). With careful, each message runs
 * after a savepoint and one the database refuses is undone alone. */
static int intake_all(rd_kafka_message_t **batch, size_t n, bool careful, struct poison *poison, long *created)
{
    struct batch_state b = {0};
    poison_clear(poison);
    int rc = runs_begin(db);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char why[QUARANTINE_REASON_MAX + 1] = "";
        if (careful && runs_savepoint(db) < 0) {
            rc = -1;
            break;
        }
        enum verdict v = intake_message(&b, batch[i], why, sizeof why);
        if (v == POISON_DB && !careful)
            rc = 1;
        else if (v == POISON_DB && runs_rollback_to_savepoint(db) < 0)
            rc = -1;
        else if (v == TRANSIENT)
            rc = -1;
        if (rc == 0 && v != TAKEN && !(poison->why[i] = strdup(why)))
            rc = -1;
    }
    if (rc == 0)
        rc = runs_commit(db);
    if (rc != 0)
        runs_rollback(db);
    *created = b.created;
    memos_free(&b);
    return rc;
}

/* One quarantine copy of rkm, without its value when omit_body; waits for Kafka. 0, -1
 * or RUNNER_REFUSED (runner_produce_wait). */
static int quarantine_copy(const rd_kafka_message_t *rkm, const char *why, bool omit_body, char *err, size_t errlen)
{
    char reason[QUARANTINE_REASON_MAX + 1];
    snprintf(reason, sizeof reason, "%s%s", why,
             omit_body ? "; the rejected topic refused it whole: body omitted, still at the origin until retention"
                       : "");
    rd_kafka_headers_t *h = quarantine_headers(rkm, "syncer", reason);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (omit_body)
        quarantine_mark_body_omitted(h, rkm->len);
    return runner_produce_wait(g_common.topic_rejected, "syncer", omit_body ? NULL : rkm->payload,
                               omit_body ? 0 : rkm->len, h, g_syncer.http_timeout_ms, err, errlen);
}

/* Puts the batch's poison messages on the rejected topic and waits for Kafka's
 * acknowledgement. 0 all there, -1 not (the batch is retried; its runs exist already,
 * and the unique key absorbs them). A copy Kafka refuses for size is sent again (the
 * first refusal may be for the batch it shared with a runner's message), then without
 * its body, and one refused even so is logged where it stays and skipped: a message
 * must never stop the syncer. */
static int quarantine_poison(rd_kafka_message_t **batch, const struct poison *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!p->why[i])
            continue;
        const rd_kafka_message_t *rkm = batch[i];
        char err[256];
        bool omitted = false;
        int rc = quarantine_copy(rkm, p->why[i], false, err, sizeof err);
        if (rc == RUNNER_REFUSED)
            rc = quarantine_copy(rkm, p->why[i], false, err, sizeof err);
        if (rc == RUNNER_REFUSED) {
            log_warn(NULL, "the quarantine copy of %s [%d] offset %lld was refused (%s): sending it without its body",
                     rd_kafka_topic_name(rkm->rkt), rkm->partition, (long long)rkm->offset, err);
            omitted = true;
            rc = quarantine_copy(rkm, p->why[i], true, err, sizeof err);
        }
        if (rc == RUNNER_REFUSED) {
            log_error(NULL,
                      "%s [%d] offset %lld could not be quarantined (%s): skipped; it stays there until its "
                      "retention",
                      rd_kafka_topic_name(rkm->rkt), rkm->partition, (long long)rkm->offset, err);
            continue;
        }
        if (rc < 0) {
            log_warn(NULL, "cannot quarantine %s [%d] offset %lld: %s", rd_kafka_topic_name(rkm->rkt), rkm->partition,
                     (long long)rkm->offset, err);
            return -1;
        }
        log_warn(NULL, "quarantined %s [%d] offset %lld%s: %s", rd_kafka_topic_name(rkm->rkt), rkm->partition,
                 (long long)rkm->offset, omitted ? " without its body" : "", p->why[i]);
        metric_inc(g_sm.quarantined);
    }
    return 0;
}

int intake_init(void)
{
    db = runs_db_new(g_common.database_url);
    return db ? 0 : -1;
}

void intake_watch(void)
{
    runs_ping(db);
}

bool intake_db_ok(void)
{
    return db && runs_db_ok(db);
}

void intake_shutdown(void)
{
    runs_db_free(db);
    db = NULL;
}

int intake_batch(rd_kafka_t *consumer, rd_kafka_message_t **batch)
{
    size_t n = kafka_poll_batch(consumer, batch, (size_t)g_syncer.batch_size, 100);
    int rc = 0;
    long created = 0;
    double delay = 0.2;
    bool careful = false, held = false;
    struct poison poison = {calloc(n ? n : 1, sizeof(char *)), n};
    if (!poison.why)
        rc = -1;
    /* Transient failures wait (holding the consumer, so a long database outage does not
     * cost the group membership); permanent ones were set aside by intake_all. */
    while (rc == 0 && n > 0) {
        int all = intake_all(batch, n, careful, &poison, &created);
        if (all == 1) {
            careful = true;
            continue;
        }
        if (all == 0 && quarantine_poison(batch, &poison) == 0)
            break;
        if (signals_stopping()) {
            rc = -1;
            break;
        }
        log_warn(NULL, "database or Kafka unavailable; retrying a batch of %zu messages in %.1f s", n, delay);
        kafka_consumer_hold(consumer, (int)(delay * 1000));
        held = true;
        delay = delay * 2 > 5 ? 5 : delay * 2;
    }
    if (held)
        kafka_consumer_release(consumer);
    if (rc == 0)
        metric_add(g_sm.created, created);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && kafka_store_offset(consumer, batch[i]) < 0)
            log_warn(NULL, "kafka: cannot store offset (partition revoked?)");
        rd_kafka_message_destroy(batch[i]);
    }
    /* Committed soon: a crash re-reads only the batches of the last commit interval
     * (their runs exist already, so nothing is created twice). */
    if (rc == 0 && n > 0 && kafka_commit_stored_every(consumer, KAFKA_BATCH_COMMIT_MS) < 0)
        log_warn(NULL, "kafka: cannot ask for a commit (the auto commit will do it)");
    poison_clear(&poison);
    free(poison.why);
    return rc;
}
