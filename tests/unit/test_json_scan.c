/* Unit tests of common/json_scan.c: the ordering key's scanner finds what jansson finds
 * in a valid document, and says "unsure" (parse it) wherever the two could differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/json_scan.h"

/* The scanner's answer for path in doc, and the value's text in out. */
static enum json_scan_result scan(const char *doc, const char *path, char *out, size_t outlen)
{
    const char *v = NULL;
    size_t n = 0;
    enum json_scan_result r = json_scan_path(doc, strlen(doc), path, &v, &n);
    out[0] = '\0';
    if ((r == JSON_SCAN_STRING || r == JSON_SCAN_INTEGER) && n < outlen) {
        memcpy(out, v, n);
        out[n] = '\0';
    }
    return r;
}

static void finds_nested_integers_and_strings(void **state)
{
    (void)state;
    char v[64];
    const char *push =
        "{\"ref\":\"refs/heads/main\",\"commits\":[{\"id\":\"a\",\"x\":[1,2,{\"y\":null}]}],"
        "\"installation\" : { \"node\": \"MDQ6\", \"id\" : 42 },\"after\":\"b\"}";
    assert_int_equal(scan(push, "installation.id", v, sizeof v), JSON_SCAN_INTEGER);
    assert_string_equal(v, "42");
    assert_int_equal(scan(push, "installation.node", v, sizeof v), JSON_SCAN_STRING);
    assert_string_equal(v, "MDQ6");
    assert_int_equal(scan(push, "after", v, sizeof v), JSON_SCAN_STRING);
    assert_string_equal(v, "b");
    assert_int_equal(scan("{\"portalId\":-7}", "portalId", v, sizeof v), JSON_SCAN_INTEGER);
    assert_string_equal(v, "-7");
    /* Keys that only start like the one wanted, or sit deeper, are not it. */
    assert_int_equal(scan("{\"a\":{\"idx\":1},\"b\":{\"id\":2}}", "a.id", v, sizeof v), JSON_SCAN_ABSENT);
}

static void absent_when_the_path_names_no_scalar(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(scan("{}", "id", v, sizeof v), JSON_SCAN_ABSENT);
    assert_int_equal(scan("{\"id\":null}", "id", v, sizeof v), JSON_SCAN_ABSENT);
    assert_int_equal(scan("{\"id\":true}", "id", v, sizeof v), JSON_SCAN_ABSENT);
    assert_int_equal(scan("{\"id\":{\"a\":1}}", "id", v, sizeof v), JSON_SCAN_ABSENT);
    assert_int_equal(scan("{\"id\":[1]}", "id", v, sizeof v), JSON_SCAN_ABSENT);
    assert_int_equal(scan("{\"a\":5}", "a.b", v, sizeof v), JSON_SCAN_ABSENT);
    assert_int_equal(scan("[1,2]", "a", v, sizeof v), JSON_SCAN_ABSENT);
}

static void unsure_where_jansson_could_answer_otherwise(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(scan("{\"id\":\"a\\\"b\"}", "id", v, sizeof v), JSON_SCAN_UNSURE); /* escaped */
    assert_int_equal(scan("{\"i\\u0064\":1}", "id", v, sizeof v), JSON_SCAN_UNSURE);    /* escaped key */
    assert_int_equal(scan("{\"id\":1.5}", "id", v, sizeof v), JSON_SCAN_UNSURE);        /* a real */
    assert_int_equal(scan("{\"id\":1e3}", "id", v, sizeof v), JSON_SCAN_UNSURE);
    assert_int_equal(scan("{\"id\":-0}", "id", v, sizeof v), JSON_SCAN_UNSURE); /* jansson: 0 */
    assert_int_equal(scan("{\"id\":12345678901234567890}", "id", v, sizeof v), JSON_SCAN_UNSURE);
    assert_int_equal(scan("{\"id\":[1]}", "id.[0]", v, sizeof v), JSON_SCAN_UNSURE); /* an index */
    assert_int_equal(scan("{\"a\":1", "id", v, sizeof v), JSON_SCAN_UNSURE);         /* cut short */
    assert_int_equal(scan("{\"a\":\"x", "id", v, sizeof v), JSON_SCAN_UNSURE);
    assert_int_equal(scan("", "id", v, sizeof v), JSON_SCAN_UNSURE);
}

static void nesting_is_bounded(void **state)
{
    (void)state;
    char doc[4 * JSON_SCAN_MAX_DEPTH + 64], v[8];
    size_t n = 0;
    n += (size_t)snprintf(doc + n, sizeof doc - n, "{\"a\":");
    for (int i = 0; i < JSON_SCAN_MAX_DEPTH + 1; i++)
        doc[n++] = '[';
    for (int i = 0; i < JSON_SCAN_MAX_DEPTH + 1; i++)
        doc[n++] = ']';
    n += (size_t)snprintf(doc + n, sizeof doc - n, ",\"id\":1}");
    assert_int_equal(scan(doc, "id", v, sizeof v), JSON_SCAN_UNSURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_nested_integers_and_strings),
        cmocka_unit_test(absent_when_the_path_names_no_scalar),
        cmocka_unit_test(unsure_where_jansson_could_answer_otherwise),
        cmocka_unit_test(nesting_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
