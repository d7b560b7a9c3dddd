/* weblog: the webhook log's writer, a consumer thread in its own group
 * (HOOKLINE_API_LOG_GROUP) on webhooks.raw, .routed, .dead-letters and .rejected. Off
 * the hot path: the pipeline never waits for it, and if it falls behind only the log
 * is late. Each batch is one transaction: the messages become rows of webhook_events
 * (unique per topic/partition/offset, so a batch read again after a crash adds
 * nothing) and update the per-webhook summary in webhook_log; offsets are stored only
 * after COMMIT. A database that is away holds the batch (the consumer keeps its group
 * membership, common/kafka.h); a batch the database refuses (a value it cannot take)
 * is written row by row and the refused rows are logged and skipped. Rows older than
 * HOOKLINE_API_LOG_RETENTION_DAYS are deleted hourly. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/msg.h"
#include "common/pg.h"
#include "common/signals.h"

static pthread_t thread;
static bool started;
static atomic_bool stop_flag, running;
static rd_kafka_t *consumer;
static struct metric *m_rows, *m_batches, *m_refused;

#define UUID_RE "'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'"

static const char INSERT_SQL[] =
    "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(webhook_id text, kind text, at_ms bigint,"
    " environment_id text, integration text, provider text, connection_id text, event_type text, detail jsonb,"
    " topic text, kafka_partition int, kafka_offset bigint)),"
    " ins AS (INSERT INTO webhook_events (webhook_id, kind, at, environment_id, integration, provider, connection_id,"
    " event_type, detail, topic, kafka_partition, kafka_offset)"
    " SELECT webhook_id, kind, to_timestamp(at_ms / 1000.0), CASE WHEN environment_id ~ " UUID_RE
    " THEN environment_id::uuid END, integration, provider, connection_id, nullif(event_type, ''),"
    " coalesce(detail, '{}'), topic, kafka_partition, kafka_offset FROM r"
    " ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING RETURNING *)"
    " INSERT INTO webhook_log AS l (webhook_id, received_at, environment_id, integration, provider, verified,"
    " event_type, connections, attributed, dead_lettered_at, quarantined_at)"
    " SELECT webhook_id, coalesce(min(at) FILTER (WHERE kind = 'received'), min(at)),"
    " (array_agg(environment_id) FILTER (WHERE environment_id IS NOT NULL))[1],"
    " (array_agg(integration) FILTER (WHERE integration IS NOT NULL))[1],"
    " (array_agg(provider) FILTER (WHERE provider IS NOT NULL))[1],"
    " (array_agg(detail->>'verified') FILTER (WHERE kind = 'received'))[1],"
    " (array_agg(event_type) FILTER (WHERE event_type IS NOT NULL))[1],"
    " coalesce(array_agg(DISTINCT connection_id) FILTER (WHERE kind = 'routed' AND connection_id IS NOT NULL), '{}'),"
    " bool_or(connection_id IS NOT NULL) FILTER (WHERE kind = 'routed'),"
    " max(at) FILTER (WHERE kind = 'dead-lettered'), max(at) FILTER (WHERE kind = 'quarantined')"
    " FROM ins GROUP BY webhook_id"
    " ON CONFLICT (webhook_id) DO UPDATE SET received_at = least(l.received_at, excluded.received_at),"
    " environment_id = coalesce(l.environment_id, excluded.environment_id),"
    " integration = coalesce(l.integration, excluded.integration), provider = coalesce(l.provider, excluded.provider),"
    " verified = coalesce(l.verified, excluded.verified), event_type = coalesce(l.event_type, excluded.event_type),"
    " connections = ARRAY(SELECT DISTINCT c FROM unnest(l.connections || excluded.connections) c ORDER BY c),"
    " attributed = CASE WHEN excluded.attributed IS NULL THEN l.attributed"
    "  ELSE coalesce(l.attributed, false) OR excluded.attributed END,"
    " dead_lettered_at = greatest(l.dead_lettered_at, excluded.dead_lettered_at),"
    " quarantined_at = greatest(l.quarantined_at, excluded.quarantined_at)";

/* A header as a JSON string, or null (absent, too long, or not UTF-8). New reference. */
static json_t *hdr(rd_kafka_headers_t *h, const char *name)
{
    char buf[2048];
    const char *v = msg_header(h, name, buf, sizeof buf);
    json_t *s = v ? json_string(v) : NULL;
    return s ? s : json_null();
}

static long long hdr_ms(rd_kafka_headers_t *h, const char *name, const rd_kafka_message_t *rkm)
{
    char buf[32];
    const char *v = msg_header(h, name, buf, sizeof buf);
    char *end;
    long long ms = v ? strtoll(v, &end, 10) : 0;
    if (v && !*end && ms > 0)
        return ms;
    rd_kafka_timestamp_type_t tt;
    ms = rd_kafka_message_timestamp(rkm, &tt);
    return ms > 0 ? ms : clock_unix_ms();
}

/* The log row of one message (new reference), or NULL when it names no webhook. */
static json_t *row_of(const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    char wid[64];
    if (!msg_header(h, MSG_H_WEBHOOK_ID, wid, sizeof wid) || !*wid)
        return NULL;
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    json_t *row = json_object(), *detail = json_object();
    const char *kind;
    long long at;
    if (!strcmp(topic, g_common.topic_raw)) {
        kind = "received";
        at = hdr_ms(h, MSG_H_RECEIVED_AT, rkm);
        json_object_set_new(detail, "verified", hdr(h, MSG_H_VERIFIED));
        json_object_set_new(detail, "method", hdr(h, MSG_H_METHOD));
        json_object_set_new(detail, "bytes", json_integer((json_int_t)rkm->len));
    } else if (!strcmp(topic, g_common.topic_routed)) {
        kind = "routed";
        at = hdr_ms(h, "", rkm);
        json_object_set_new(detail, "delivery_id", hdr(h, MSG_H_ROUTED_ID));
        char conn[8];
        json_object_set_new(detail, "attributed",
                            json_boolean(h && rd_kafka_header_get_last(h, MSG_H_CONNECTION, (const void **)&conn,
                                                                       (size_t[1]){0}) == 0));
        json_object_set_new(row, "connection_id", hdr(h, MSG_H_CONNECTION));
        json_object_set_new(row, "event_type", hdr(h, MSG_H_EVENT_TYPE));
    } else if (!strcmp(topic, g_common.topic_dead_letters)) {
        kind = "dead-lettered";
        at = hdr_ms(h, MSG_H_DL_AT, rkm);
        json_object_set_new(detail, "delivery_id", hdr(h, MSG_H_ROUTED_ID));
        json_object_set_new(detail, "destination", hdr(h, MSG_H_DL_DESTINATION));
        json_object_set_new(detail, "status", hdr(h, MSG_H_DL_STATUS));
        json_object_set_new(detail, "error", hdr(h, MSG_H_DL_ERROR));
        json_object_set_new(detail, "attempts", hdr(h, MSG_H_DL_ATTEMPTS));
        json_object_set_new(row, "connection_id", hdr(h, MSG_H_CONNECTION));
    } else {
        kind = "quarantined";
        at = hdr_ms(h, MSG_H_REJECT_AT, rkm);
        json_object_set_new(detail, "reason", hdr(h, MSG_H_REJECT_REASON));
        json_object_set_new(detail, "stage", hdr(h, MSG_H_REJECT_STAGE));
        json_object_set_new(detail, "from_topic", hdr(h, MSG_H_REJECT_TOPIC));
        json_object_set_new(detail, "from_partition", hdr(h, MSG_H_REJECT_PARTITION));
        json_object_set_new(detail, "from_offset", hdr(h, MSG_H_REJECT_OFFSET));
        json_object_set_new(row, "connection_id", hdr(h, MSG_H_CONNECTION));
    }
    json_object_set_new(row, "webhook_id", json_string(wid));
    json_object_set_new(row, "kind", json_string(kind));
    json_object_set_new(row, "at_ms", json_integer(at));
    json_object_set_new(row, "environment_id", hdr(h, MSG_H_ENVIRONMENT));
    json_object_set_new(row, "integration", hdr(h, MSG_H_INTEGRATION));
    json_object_set_new(row, "provider", hdr(h, MSG_H_PROVIDER));
    json_object_set_new(row, "detail", detail);
    json_object_set_new(row, "topic", json_string(topic));
    json_object_set_new(row, "kafka_partition", json_integer(rkm->partition));
    json_object_set_new(row, "kafka_offset", json_integer(rkm->offset));
    return row;
}

/* Writes rows in one transaction. 0 committed, PG_TRANSIENT+1 / PG_PERMANENT+1 failed. */
static int write_rows(PGconn *db, json_t *rows)
{
    char *text = json_dumps(rows, JSON_COMPACT);
    if (!text)
        return 1 + PG_TRANSIENT;
    const char *p[] = {text};
    PGresult *res = pg_exec(db, INSERT_SQL, 1, p, NULL, NULL, (int)g_api.db_timeout_ms);
    int rc = 0;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = 1 + (int)pg_classify(res, db);
        log_warn(NULL, "webhook log: batch of %zu not written: %s", json_array_size(rows),
                 res ? PQresultErrorMessage(res) : PQerrorMessage(db));
    }
    PQclear(res);
    free(text);
    return rc;
}

static void prune(PGconn *db)
{
    char days[16];
    snprintf(days, sizeof days, "%ld", g_api.log_retention_days);
    const char *p[] = {days};
    PGresult *a = pg_exec(db, "DELETE FROM webhook_events WHERE at < now() - $1::int * interval '1 day'", 1, p, NULL,
                          NULL, 60000);
    PGresult *b = pg_exec(db, "DELETE FROM webhook_log WHERE received_at < now() - $1::int * interval '1 day'", 1, p,
                          NULL, NULL, 60000);
    if (a && b && PQresultStatus(a) == PGRES_COMMAND_OK && PQresultStatus(b) == PGRES_COMMAND_OK)
        log_info(NULL, "webhook log: pruned %s events and %s webhooks older than %s days", PQcmdTuples(a),
                 PQcmdTuples(b), days);
    PQclear(a);
    PQclear(b);
}

static void *run(void *arg)
{
    (void)arg;
    size_t max = (size_t)g_api.log_batch;
    rd_kafka_message_t **batch = calloc(max, sizeof *batch);
    double next_prune = 0;
    atomic_store(&running, batch != NULL);
    while (batch && !atomic_load(&stop_flag)) {
        size_t n = kafka_poll_batch(consumer, batch, max, 500);
        PGconn *db = NULL;
        if (clock_mono_s() >= next_prune && (db = db_thread())) {
            prune(db);
            next_prune = clock_mono_s() + 3600;
        }
        if (!n)
            continue;
        json_t *rows = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *row = row_of(batch[i]);
            if (row)
                json_array_append_new(rows, row);
        }
        bool committed = false;
        for (;;) {
            int rc = json_array_size(rows) == 0 ? 0 : (db = db_thread()) ? write_rows(db, rows) : 1 + PG_TRANSIENT;
            if (rc == 1 + PG_PERMANENT) { /* row by row; the refused ones are skipped */
                for (size_t i = 0; i < json_array_size(rows); i++) {
                    json_t *one = json_array();
                    json_array_append(one, json_array_get(rows, i));
                    int r1;
                    while ((r1 = write_rows(db, one)) == 1 + PG_TRANSIENT && !atomic_load(&stop_flag))
                        kafka_consumer_hold(consumer, 1000), db = db_thread();
                    if (r1 == 1 + PG_PERMANENT) {
                        metric_inc(m_refused);
                        log_warn(json_string_value(json_object_get(json_array_get(rows, i), "webhook_id")),
                                 "webhook log: a row the database refused was skipped");
                    }
                    json_decref(one);
                }
                kafka_consumer_release(consumer);
                rc = 0;
            }
            if (rc == 0) {
                committed = true;
                break;
            }
            if (atomic_load(&stop_flag))
                break;
            kafka_consumer_hold(consumer, 1000);
        }
        kafka_consumer_release(consumer);
        metric_add(m_rows, (long)json_array_size(rows));
        metric_inc(m_batches);
        json_decref(rows);
        for (size_t i = 0; i < n; i++) {
            if (committed) /* only once the transaction committed */
                kafka_store_offset(consumer, batch[i]);
            rd_kafka_message_destroy(batch[i]);
        }
    }
    free(batch);
    atomic_store(&running, false);
    db_thread_done();
    return NULL;
}

int weblog_start(void)
{
    m_rows = metrics_counter("hookline_api_log_rows_total", NULL, "webhook log rows written");
    m_batches = metrics_counter("hookline_api_log_batches_total", NULL, "webhook log batches written");
    m_refused = metrics_counter("hookline_api_log_refused_total", NULL, "webhook log rows the database refused");
    const char *topics[] = {g_common.topic_raw, g_common.topic_routed, g_common.topic_dead_letters,
                            g_common.topic_rejected};
    char errstr[512];
    consumer = kafka_consumer_new_topics("hookline-api", g_api.log_group, topics, 4, errstr, sizeof errstr);
    if (!consumer) {
        log_error(NULL, "webhook log: cannot create the consumer: %s", errstr);
        return -1;
    }
    if (pthread_create(&thread, NULL, run, NULL) != 0) {
        log_error(NULL, "webhook log: cannot start its thread");
        rd_kafka_destroy(consumer);
        consumer = NULL;
        return -1;
    }
    started = true;
    return 0;
}

void weblog_stop(void)
{
    if (!started)
        return;
    atomic_store(&stop_flag, true);
    pthread_join(thread, NULL);
    rd_kafka_consumer_close(consumer); /* commits the stored offsets */
    rd_kafka_destroy(consumer);
    consumer = NULL;
    started = false;
}

bool weblog_ready(void)
{
    return atomic_load(&running);
}
