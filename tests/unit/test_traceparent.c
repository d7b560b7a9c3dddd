/* Unit tests of common/traceparent: the W3C Trace Context `traceparent` value that the
 * stages carry from the ingress to the app and the sync job. A value hookline accepts
 * must be exactly what the specification allows (anything else starts a new trace), and
 * every hop must keep the trace id while naming a new span. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "common/traceparent.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void a_valid_value_round_trips(void **state)
{
    (void)state;
    struct traceparent tp;
    assert_true(traceparent_parse(GOOD, &tp));
    assert_int_equal(tp.trace_id[0], 0x4b);
    assert_int_equal(tp.span_id[7], 0xb7);
    assert_int_equal(tp.flags, 1);
    char out[TRACEPARENT_BUF], id[TRACEPARENT_TRACE_ID_LEN + 1];
    assert_string_equal(traceparent_format(&tp, out), GOOD);
    assert_string_equal(traceparent_trace_id(&tp, id), "4bf92f3577b34da6a3ce929d0e0e4736");
}

static void malformed_values_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    /* version ff is forbidden */
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    /* version not hex */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    /* all-zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    /* all-zero parent id */
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",     /* trace id one digit short */
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",   /* trace id one digit long */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",     /* parent id short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",     /* flags short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-00", /* version 00 has 4 fields */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",   /* trailing byte */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    /* upper-case hex */
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",    /* wrong separators */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",    /* flags not hex */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   /* later version: '-' after */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct traceparent tp;
        if (traceparent_parse(bad[i], &tp))
            fail_msg("accepted %s", bad[i] ? bad[i] : "(null)");
    }
}

static void a_later_version_is_read_as_00(void **state)
{
    (void)state;
    struct traceparent tp;
    assert_true(traceparent_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next", &tp));
    char out[TRACEPARENT_BUF];
    assert_string_equal(traceparent_format(&tp, out), GOOD);
    assert_true(traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &tp));
}

static void the_next_hop_keeps_the_trace_and_names_a_new_span(void **state)
{
    (void)state;
    char next[TRACEPARENT_BUF];
    traceparent_next(GOOD, next);
    struct traceparent tp;
    assert_true(traceparent_parse(next, &tp));
    assert_memory_equal(next, GOOD, 36); /* version and trace id */
    assert_memory_not_equal(next + 36, GOOD + 36, 16);
    assert_string_equal(next + 52, "-01"); /* the sampled flag is passed on */
}

static void an_invalid_or_missing_value_starts_a_new_trace(void **state)
{
    (void)state;
    char a[TRACEPARENT_BUF], b[TRACEPARENT_BUF];
    traceparent_next("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", a);
    traceparent_next(NULL, b);
    struct traceparent tp;
    assert_true(traceparent_parse(a, &tp));
    assert_true(traceparent_parse(b, &tp));
    assert_memory_not_equal(a + 3, "4bf92f3577b34da6a3ce929d0e0e4736", 32);
    assert_memory_not_equal(a + 3, b + 3, 32); /* two new traces differ */
    assert_string_equal(a + 52, "-00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_value_round_trips),
        cmocka_unit_test(malformed_values_are_refused),
        cmocka_unit_test(a_later_version_is_read_as_00),
        cmocka_unit_test(the_next_hop_keeps_the_trace_and_names_a_new_span),
        cmocka_unit_test(an_invalid_or_missing_value_starts_a_new_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
