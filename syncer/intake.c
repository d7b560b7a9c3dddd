/* intake: webhooks.routed -> sync runs (see syncer.h).
 *
 * A batch of messages becomes runs in one transaction: for each attributed message,
 * every enabled sync of its (environment, integration) whose first matching
 * subscription is its event type or "*" gets one run, inserted with ON CONFLICT DO
 * NOTHING on (routed id, sync, connection). Only after COMMIT are the offsets stored
 * (and committed to Kafka), so a crash re-reads at most the batch in progress and the
 * unique key absorbs it.
 * While the database is down the batch is retried, never skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/signals.h"
#include "syncer/syncer.h"

static struct runs_db *db;

/* The syncs of one (environment, integration), read once per batch. */
struct memo {
    char env[64], integration[160];
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

/* The runs of one message. 0, or -1 on a database error (the batch is retried). */
static int intake_message(struct batch_state *b, const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    char wid[64], rid[64], env[64], integration[160], provider[64], conn[1040], et[256], received[32];
    if (!msg_header(h, MSG_H_WEBHOOK_ID, wid, sizeof wid))
        wid[0] = '\0';
    if (!msg_header(h, MSG_H_CONNECTION, conn, sizeof conn)) {
        metric_inc(g_sm.skipped_unattributed);
        return 0; /* unattributed: no connection, nothing to sync */
    }
    if (!msg_header(h, MSG_H_ROUTED_ID, rid, sizeof rid) || !msg_header(h, MSG_H_ENVIRONMENT, env, sizeof env) ||
        !id_is_uuid(env) || !msg_header(h, MSG_H_INTEGRATION, integration, sizeof integration)) {
        log_warn(wid[0] ? wid : NULL, "%s [%d] offset %lld: no routed id, environment or integration; skipped",
                 rd_kafka_topic_name(rkm->rkt), rkm->partition, (long long)rkm->offset);
        return 0;
    }
    if (!msg_header(h, MSG_H_EVENT_TYPE, et, sizeof et))
        et[0] = '\0';
    if (!msg_header(h, MSG_H_PROVIDER, provider, sizeof provider))
        provider[0] = '\0';
    const char *received_at = msg_header(h, MSG_H_RECEIVED_AT, received, sizeof received);
    if (received_at && received[strspn(received, "0123456789")] != '\0')
        received_at = NULL;

    struct memo *m = syncs_for(b, env, integration);
    if (!m)
        return -1;
    bool matched = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct sync_def *d = &m->defs[i];
        int k = sync_match((const char *const *)d->subs, d->nsubs, et);
        if (k < 0)
            continue;
        matched = true;
        char sync_id[24];
        snprintf(sync_id, sizeof sync_id, "%lld", d->id);
        struct new_run r = {.sync_id = d->id, .env_id = env, .connection_id = conn, .webhook_id = wid,
                            .routed_id = rid, .event_type = et, .subscription = d->subs[k],
                            .provider = provider, .received_at_ms = received_at, .payload = rkm->payload,
                            .payload_len = rkm->len};
        const char *parts[] = {"sync-run", rid, sync_id};
        id_derive(r.id, parts, 3);
        int rc = runs_insert(db, &r);
        if (rc < 0)
            return -1;
        b->created += rc;
        if (rc == 1)
            log_info(wid, "run %s: sync %s for connection %s (%s matched %s)", r.id, d->name, conn,
                     et[0] ? et : "(no event type)", d->subs[k]);
    }
    if (!matched)
        metric_inc(g_sm.skipped_unmatched);
    return 0;
}

/* Every message of the batch in one transaction. 0 committed, -1 not. */
static int intake_all(rd_kafka_message_t **batch, size_t n, long *created)
{
    struct batch_state b = {0};
    int rc = runs_begin(db);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = intake_message(&b, batch[i]);
    if (rc == 0)
        rc = runs_commit(db);
    if (rc < 0)
        runs_rollback(db);
    *created = b.created;
    memos_free(&b);
    return rc;
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
    while (n > 0 && intake_all(batch, n, &created) < 0) {
        if (signals_stopping()) {
            rc = -1;
            break;
        }
        log_warn(NULL, "database unavailable; retrying a batch of %zu messages in %.1f s", n, delay);
        usleep((useconds_t)(delay * 1e6));
        delay = delay * 2 > 5 ? 5 : delay * 2;
    }
    if (rc == 0)
        metric_add(g_sm.created, created);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && kafka_store_offset(consumer, batch[i]) < 0)
            log_warn(NULL, "kafka: cannot store offset (partition revoked?)");
        rd_kafka_message_destroy(batch[i]);
    }
    /* Committed at once: a crash re-reads only the batch in progress. */
    if (rc == 0 && n > 0 && kafka_commit_stored(consumer) < 0)
        log_warn(NULL, "kafka: cannot ask for a commit (the auto commit will do it)");
    return rc;
}
