/* Unit tests of common/timetext: the moments `hookline replay`, `rewind` and the API's
 * replays accept, and the text they refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/replay.h"
#include "common/timetext.h"

#define NOW 1764770400000LL /* 2025-12-03T14:00:00Z */

static int64_t parsed(const char *s)
{
    int64_t out = -42;
    assert_int_equal(timetext_parse_ms(s, NOW, &out), 0);
    return out;
}

static void rfc3339_with_zone_or_z(void **state)
{
    (void)state;
    assert_int_equal(parsed("2025-12-03T14:00:00Z"), NOW);
    assert_int_equal(parsed("2025-12-03T16:00:00+02:00"), NOW);
    assert_int_equal(parsed("2025-12-03T13:30:00-00:30"), NOW);
    assert_int_equal(parsed("2025-12-03T14:00:00.5Z"), NOW + 500);
    assert_int_equal(parsed("2025-12-03T14:00:00.123Z"), NOW + 123);
    assert_int_equal(parsed("2025-12-03 14:00:00Z"), NOW);
}

static void relative_to_now(void **state)
{
    (void)state;
    assert_int_equal(parsed("now"), NOW);
    assert_int_equal(parsed("-2h"), NOW - 7200000);
    assert_int_equal(parsed("-30m"), NOW - 1800000);
    assert_int_equal(parsed("-90s"), NOW - 90000);
    assert_int_equal(parsed("-1d"), NOW - 86400000);
    assert_int_equal(parsed("+1h"), NOW + 3600000);
}

static void refuses_what_is_not_a_moment(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "yesterday",
                         "-2",
                         "-h",
                         "-2w",
                         "--2h",
                         "-2h ",
                         "2025-12-03T14:00:00",
                         "2025-12-03",
                         "2025-12-03T14:00:00+2",
                         "2025-12-03T14:00:00Zx",
                         "-999999999999d",
                         "2025-12-03T14:00:00+25:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t out;
        if (timetext_parse_ms(bad[i], NOW, &out) == 0)
            fail_msg("'%s' was taken as %lld", bad[i], (long long)out);
    }
}

static void stage_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < REPLAY_STAGES; i++)
        assert_int_equal(replay_stage_parse(replay_stage_names[i]), i);
    assert_int_equal(replay_stage_parse("mailer"), -1);
    assert_int_equal(replay_stage_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_with_zone_or_z),
        cmocka_unit_test(relative_to_now),
        cmocka_unit_test(refuses_what_is_not_a_moment),
        cmocka_unit_test(stage_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
