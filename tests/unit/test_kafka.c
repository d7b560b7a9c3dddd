/* Unit tests of common/kafka against librdkafka's mock cluster (in process, no broker):
 * kafka_commit_stored commits what was stored, not what was consumed; a batch ends when
 * the messages stop coming, not when its whole window has passed; only errors about the
 * message itself are permanent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/kafka.h"

#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which common/kafka.h includes */

#define TOPIC "unit.commit"

/* The committed offset of TOPIC [0] for consumer's group, or -1001 (none) on error. */
static int64_t committed(rd_kafka_t *consumer)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, TOPIC, 0);
    int64_t off = RD_KAFKA_OFFSET_INVALID;
    if (!rd_kafka_committed(consumer, parts, 5000))
        off = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    return off;
}

static void commit_stored_commits_the_stored_offset_not_the_position(void **state)
{
    (void)state;
    char errstr[512];
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    assert_non_null(host);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, TOPIC, 1, 1), 0);
    g_common.kafka_brokers = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_t *producer = kafka_producer_new("unit", NULL, NULL, errstr, sizeof errstr);
    assert_non_null(producer);
    char value[1] = {'x'};
    for (int i = 0; i < 10; i++)
        assert_int_equal(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(0),
                                           RD_KAFKA_V_VALUE(value, 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    assert_int_equal(rd_kafka_flush(producer, 10000), 0);

    /* Only our commit may move the committed offset in this test. */
    setenv("HOOKLINE_KAFKA_ENABLE_AUTO_COMMIT", "false", 1);

    rd_kafka_t *consumer = kafka_consumer_new("unit", "unit-group", TOPIC, errstr, sizeof errstr);
    assert_non_null(consumer);
    assert_int_equal(kafka_commit_stored(consumer), 0); /* nothing stored yet: not an error */
    int got = 0;
    double deadline = clock_mono_s() + 30;
    while (got < 10 && clock_mono_s() < deadline) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer, 200);
        if (!rkm)
            continue;
        if (!rkm->err) {
            if (rkm->offset == 5)
                assert_int_equal(kafka_store_offset(consumer, rkm), 0);
            got++;
        }
        rd_kafka_message_destroy(rkm);
    }
    assert_int_equal(got, 10);

    assert_int_equal(kafka_commit_stored(consumer), 0);
    int64_t off = RD_KAFKA_OFFSET_INVALID;
    deadline = clock_mono_s() + 10;
    while (off != 6 && clock_mono_s() < deadline) {
        rd_kafka_poll(consumer, 100); /* serves the commit's answer */
        off = committed(consumer);
    }
    assert_int_equal(off, 6); /* offset 5 was stored (as 6), offsets up to 9 were consumed */

    unsetenv("HOOKLINE_KAFKA_ENABLE_AUTO_COMMIT");
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
}

/* The router and the syncer once waited the whole window for every batch: at light
 * traffic each webhook waited up to 100 ms per stage. A batch now ends at the first gap. */
static void poll_batch_ends_when_messages_stop_not_at_the_window(void **state)
{
    (void)state;
    char errstr[512];
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    assert_non_null(host);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "unit.batch", 1, 1), 0);
    g_common.kafka_brokers = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_t *producer = kafka_producer_new("unit", NULL, NULL, errstr, sizeof errstr);
    assert_non_null(producer);
    char value[1] = {'x'};
    for (int i = 0; i < 10; i++)
        assert_int_equal(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("unit.batch"), RD_KAFKA_V_PARTITION(0),
                                           RD_KAFKA_V_VALUE(value, 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    assert_int_equal(rd_kafka_flush(producer, 10000), 0);
    rd_kafka_t *consumer = kafka_consumer_new("unit", "unit-batch-group", "unit.batch", errstr, sizeof errstr);
    assert_non_null(consumer);

    rd_kafka_message_t *batch[100];
    size_t got = 0;
    double deadline = clock_mono_s() + 30;
    while (got < 10 && clock_mono_s() < deadline) { /* the group join comes first */
        double started = clock_mono_s();
        size_t n = kafka_poll_batch(consumer, batch, 100, 60000);
        /* With messages, it returned long before its 60 s window: at their end. */
        if (n > 0)
            assert_true(clock_mono_s() - started < 20);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(batch[i]);
        got += n;
    }
    assert_int_equal(got, 10);

    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
}

/* Only what re-sending cannot cure is permanent: a broker that is down, slow, or refuses
 * everyone for a while (an ACL, a missing topic, a full queue) must make a stage wait, not
 * quarantine every webhook it reads meanwhile. */
static void only_message_errors_are_permanent(void **state)
{
    (void)state;
    const rd_kafka_resp_err_t permanent[] = {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE,
                                             RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_RECORD};
    const rd_kafka_resp_err_t transient[] = {
        RD_KAFKA_RESP_ERR_NO_ERROR,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
        RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
        RD_KAFKA_RESP_ERR__QUEUE_FULL,
        RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR__PURGE_INFLIGHT,
        RD_KAFKA_RESP_ERR__PURGE_QUEUE,
    };
    for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
        assert_true(kafka_err_refuses_message(permanent[i]));
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        assert_false(kafka_err_refuses_message(transient[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_message_errors_are_permanent),
        cmocka_unit_test(commit_stored_commits_the_stored_offset_not_the_position),
        cmocka_unit_test(poll_batch_ends_when_messages_stop_not_at_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
