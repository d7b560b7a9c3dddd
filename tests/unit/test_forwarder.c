/* Unit tests of the forwarder's bookkeeping: which offset may be stored when outcomes
 * arrive out of order, what names a destination, and its circuit breaker. Nothing here
 * talks to Kafka or the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "forwarder/forwarder.h"

struct forwarder_config g_forwarder; /* main.c's, which is not linked here */

static int64_t done(struct offset_ticket t)
{
    const char *topic = NULL;
    int32_t partition = -1;
    int64_t next = offsets_done(t, &topic, &partition);
    if (next >= 0) {
        assert_string_equal(topic, "routed");
        assert_int_equal(partition, 3);
    }
    return next;
}

/* The stored offset never passes a message that is not final, and jumps over all the
 * final ones behind it when that message ends. */
static void offsets_store_only_the_final_prefix(void **state)
{
    (void)state;
    struct offset_ticket t[4];
    for (int i = 0; i < 4; i++)
        t[i] = offsets_track("routed", 3, 100 + i);
    struct offset_ticket other = offsets_track("routed", 1, 7);
    assert_int_equal(done(t[2]), -1); /* 100 and 101 still in flight */
    assert_int_equal(done(t[1]), -1);
    assert_int_equal(done(t[0]), 103); /* 100, 101, 102 final: read 103 next */
    assert_int_equal(done(t[3]), 104);
    assert_int_equal(done(t[3]), -1); /* twice is harmless */
    const char *topic;
    int32_t partition;
    assert_int_equal(offsets_done(other, &topic, &partition), 8); /* partitions are apart */
    assert_int_equal(partition, 1);
    offsets_shutdown();
}

/* Thousands in flight behind one slow message: the ring grows and keeps them in order. */
static void offsets_survive_a_long_wait_behind_one_message(void **state)
{
    (void)state;
    enum { N = 5000 };
    static struct offset_ticket t[N];
    for (int i = 0; i < N; i++) {
        t[i] = offsets_track("routed", 3, i);
        assert_non_null(t[i].pt);
    }
    for (int i = N - 1; i >= 1; i--)
        assert_int_equal(done(t[i]), -1);
    assert_int_equal(done(t[0]), N);
    /* Read again from an earlier offset (a partition given back): tracked afresh. */
    struct offset_ticket again = offsets_track("routed", 3, 10);
    assert_int_equal(done(again), 11);
    offsets_shutdown();
}

/* A destination is its scheme, host and port: never the path (it may hold a token) nor
 * credentials. */
static void endpoint_key_drops_path_query_and_credentials(void **state)
{
    (void)state;
    char key[256];
    endpoint_key("https://app.example.com:8443/hooks/tok3n?sig=x", key, sizeof key);
    assert_string_equal(key, "https://app.example.com:8443");
    endpoint_key("https://user:secret@app.example.com/hooks", key, sizeof key);
    assert_string_equal(key, "https://app.example.com");
    endpoint_key("http://[::1]:9000#frag", key, sizeof key);
    assert_string_equal(key, "http://[::1]:9000");
}

/* Opens after the configured failed passes, parks until the cooldown ends, lets one
 * probe through (and parks the rest while it is out), closes on success. */
static void circuit_opens_probes_and_closes(void **state)
{
    (void)state;
    g_forwarder.circuit_failures = 3;
    g_forwarder.circuit_cooldown_ms = 100;
    endpoints_init();
    struct endpoint *ep = endpoint_of("https://flaky.example.com/hook");
    assert_non_null(ep);
    assert_ptr_equal(ep, endpoint_of("https://flaky.example.com/other-path"));
    long wait_ms;
    for (int i = 0; i < 3; i++) {
        assert_true(circuit_allow(ep, &wait_ms));
        circuit_record(ep, false);
    }
    assert_false(circuit_allow(ep, &wait_ms));
    assert_true(wait_ms > 0 && wait_ms <= 101);
    usleep(120 * 1000);
    assert_true(circuit_allow(ep, &wait_ms));  /* the probe */
    assert_false(circuit_allow(ep, &wait_ms)); /* others wait while it is out */
    assert_int_equal(wait_ms, 0);
    circuit_record(ep, true);
    assert_true(circuit_allow(ep, &wait_ms));
    assert_int_equal(ep->failures, 0);
    endpoints_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offsets_store_only_the_final_prefix),
        cmocka_unit_test(offsets_survive_a_long_wait_behind_one_message),
        cmocka_unit_test(endpoint_key_drops_path_query_and_credentials),
        cmocka_unit_test(circuit_opens_probes_and_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
