/* Unit tests of common/backoff: the one backoff-with-jitter of every retry loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/backoff.h"

static void delay_doubles_and_is_capped(void **state)
{
    (void)state;
    assert_int_equal(backoff_delay_ms(100, 10000, 1), 100);
    assert_int_equal(backoff_delay_ms(100, 10000, 0), 100); /* before the first: as the first */
    assert_int_equal(backoff_delay_ms(100, 10000, 3), 400);
    assert_int_equal(backoff_delay_ms(100, 1000, 30), 1000);
    assert_int_equal(backoff_delay_ms(1000, 60000, 1000000), 60000); /* no overflow */
}

static void jitter_is_twenty_percent_either_way(void **state)
{
    (void)state;
    assert_int_equal(backoff_jitter_ms(100, 0.5), 100);
    assert_int_equal(backoff_jitter_ms(100, 0.0), 80);
    assert_true(backoff_jitter_ms(100, 0.999) <= 120 && backoff_jitter_ms(100, 0.999) >= 119);
    assert_int_equal(backoff_jitter_ms(1, 0.0), 1); /* never rounds a wait down to none */
    assert_int_equal(backoff_jitter_ms(0, 0.9), 0);
}

static void random_waits_stay_in_bounds_and_spread(void **state)
{
    (void)state;
    long lo = 1000000, hi = 0;
    for (int i = 0; i < 2000; i++) {
        double u = backoff_random();
        assert_true(u >= 0.0 && u < 1.0);
        long ms = backoff_ms(1000, 60000, 3);
        assert_true(ms >= 3200 && ms <= 4800);
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }
    assert_true(hi - lo > 800); /* 2000 draws cover most of the ±20% */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delay_doubles_and_is_capped),
        cmocka_unit_test(jitter_is_twenty_percent_either_way),
        cmocka_unit_test(random_waits_stay_in_bounds_and_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
