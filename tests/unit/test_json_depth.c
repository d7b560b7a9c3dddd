/* test_json_depth: the shared JSON nesting limit (common/json_depth.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/json_depth.h"

static bool within(const char *s, size_t max)
{
    return json_depth_within(s, strlen(s), max);
}

static void test_counts_arrays_and_objects(void **state)
{
    (void)state;
    assert_true(within("{}", 1));
    assert_false(within("[{}]", 1));
    assert_true(within("[{}]", 2));
    assert_true(within("[1,[2],{\"a\":[3]}]", 3));
    assert_false(within("[1,[2],{\"a\":[3]}]", 2));
    assert_true(within("[[]][[]][[]]", 2)); /* siblings do not add up */
    assert_true(within("", 0));
}

static void test_brackets_in_strings_do_not_count(void **state)
{
    (void)state;
    assert_true(within("{\"a\":\"[[[[{{{{\"}", 1));
    assert_true(within("[\"\\\"[[[[\"]", 1));   /* an escaped quote does not end the string */
    assert_false(within("[\"\\\\\",[[]]]", 2)); /* an escaped backslash does */
}

static void test_stray_closers_do_not_hide_depth(void **state)
{
    (void)state;
    assert_false(within("]]]]][[[", 2));
    assert_true(within("]]]]][[", 2));
}

static void test_the_limit_and_its_text_agree(void **state)
{
    (void)state;
    char text[16];
    snprintf(text, sizeof text, "%d", JSON_NESTING_MAX);
    assert_string_equal(text, JSON_NESTING_MAX_TEXT);
}

static void test_looks_json(void **state)
{
    (void)state;
    assert_true(json_depth_looks_json(" \r\n\t[", 5));
    assert_true(json_depth_looks_json("{", 1));
    assert_false(json_depth_looks_json("a=[", 3));
    assert_false(json_depth_looks_json("   ", 3));
    assert_false(json_depth_looks_json(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_arrays_and_objects),
        cmocka_unit_test(test_brackets_in_strings_do_not_count),
        cmocka_unit_test(test_stray_closers_do_not_hide_depth),
        cmocka_unit_test(test_the_limit_and_its_text_agree),
        cmocka_unit_test(test_looks_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
