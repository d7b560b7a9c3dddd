/* Unit tests of common/: ids, the TTL cache, the config table, metrics rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/ids.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "common/ttl_cache.h"

static void new_ids_are_v7_uuids_in_time_order(void **state)
{
    (void)state;
    char a[ID_LEN + 1], b[ID_LEN + 1];
    assert_int_equal(id_new(a), 0);
    usleep(2000);
    assert_int_equal(id_new(b), 0);
    assert_true(id_is_uuid(a));
    assert_int_equal(a[14], '7');
    assert_true(strcmp(a, b) < 0);
}

static void derived_ids_are_deterministic_and_unambiguous(void **state)
{
    (void)state;
    char x[ID_LEN + 1], y[ID_LEN + 1], z[ID_LEN + 1];
    const char *p1[2] = {"ab", "c"}, *p2[2] = {"a", "bc"};
    id_derive(x, p1, 2);
    id_derive(y, p1, 2);
    id_derive(z, p2, 2);
    assert_string_equal(x, y);
    assert_string_not_equal(x, z);
    assert_true(id_is_uuid(x));
    assert_false(id_is_uuid("not-a-uuid"));
    assert_false(id_is_uuid("0123456789abcdef0123456789abcdef0123"));
}

static void cache_expires_clears_and_stays_bounded(void **state)
{
    (void)state;
    struct ttl_cache *c = ttl_cache_new(sizeof(int), 3);
    int v = 7, out = 0;
    ttl_cache_put(c, "a", &v, 50);
    assert_true(ttl_cache_get(c, "a", &out));
    assert_int_equal(out, 7);
    usleep(80 * 1000);
    assert_false(ttl_cache_get(c, "a", &out));
    ttl_cache_put(c, "a", &v, 10000);
    ttl_cache_clear(c);
    assert_false(ttl_cache_get(c, "a", &out));
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        ttl_cache_put(c, k, &i, 10000);
    }
    assert_true(ttl_cache_get(c, "k9", &out)); /* the newest survives the cap */
    assert_int_equal(out, 9);
    ttl_cache_free(c);
}

static long port;
static bool flag;
static const char *name;
static const struct config_item items[] = {
    {"HL_TEST_PORT", CONFIG_INT, "8080", 1, 65535, 0, "a port", &port},
    {"HL_TEST_FLAG", CONFIG_BOOL, "false", 0, 0, 0, "a flag", &flag},
    {"HL_TEST_NAME", CONFIG_STR, "dflt", 0, 0, 0, "a name", &name},
};

static void config_parses_defaults_values_and_rejects_bad_input(void **state)
{
    (void)state;
    unsetenv("HL_TEST_PORT");
    unsetenv("HL_TEST_FLAG");
    unsetenv("HL_TEST_NAME");
    assert_int_equal(config_load(items, 3), 0);
    assert_int_equal(port, 8080);
    assert_false(flag);
    assert_string_equal(name, "dflt");
    setenv("HL_TEST_PORT", "9", 1);
    setenv("HL_TEST_FLAG", "yes", 1);
    setenv("HL_TEST_NAME", "x", 1);
    assert_int_equal(config_load(items, 3), 0);
    assert_int_equal(port, 9);
    assert_true(flag);
    assert_string_equal(name, "x");
    setenv("HL_TEST_PORT", "70000", 1);
    assert_int_equal(config_load(items, 3), -1);
    setenv("HL_TEST_PORT", "12ab", 1);
    assert_int_equal(config_load(items, 3), -1);
    setenv("HL_TEST_PORT", "9", 1);
    setenv("HL_TEST_FLAG", "maybe", 1);
    assert_int_equal(config_load(items, 3), -1);
}

/* A deprecated name is read when the new one is not set, and ignored when it is. */
static void config_reads_deprecated_aliases(void **state)
{
    (void)state;
    long timeout = 0;
    const struct config_item table[] = {
        {"HL_TEST_NEW_TIMEOUT", CONFIG_INT, "5", 1, 100, 0, "timeout", &timeout},
        {"HL_TEST_OLD_TIMEOUT", CONFIG_ALIAS, "HL_TEST_NEW_TIMEOUT", 0, 0, 0, NULL, NULL},
    };
    unsetenv("HL_TEST_NEW_TIMEOUT");
    unsetenv("HL_TEST_OLD_TIMEOUT");
    assert_int_equal(config_load(table, 2), 0);
    assert_int_equal(timeout, 5);
    setenv("HL_TEST_OLD_TIMEOUT", "7", 1);
    assert_int_equal(config_load(table, 2), 0);
    assert_int_equal(timeout, 7);
    setenv("HL_TEST_NEW_TIMEOUT", "9", 1);
    assert_int_equal(config_load(table, 2), 0);
    assert_int_equal(timeout, 9); /* the new name wins */
    unsetenv("HL_TEST_NEW_TIMEOUT");
    setenv("HL_TEST_OLD_TIMEOUT", "700", 1);
    assert_int_equal(config_load(table, 2), -1); /* the new name's bounds */
    unsetenv("HL_TEST_OLD_TIMEOUT");
}

/* A session whose server cannot be reached: no result, a transient failure with its
 * reason, no connection made, and the next statement tries again. */
static void pg_session_reports_an_unreachable_server(void **state)
{
    (void)state;
    struct pg_session *s = pg_session_new("postgresql://hookline@127.0.0.1:1/hookline", "test", 1000, PG_SESSION_QUIET);
    assert_non_null(s);
    assert_null(pg_session_peek(s));
    for (int i = 0; i < 2; i++) {
        assert_null(pg_session_exec(s, "SELECT 1", 0, NULL, NULL, NULL));
        assert_false(pg_session_ok(s));
        assert_false(pg_session_refused(s)); /* the connection's failure, never the data's */
        assert_true(pg_session_error(s)[0] != '\0');
        assert_string_equal(pg_session_sqlstate(s), "");
        assert_int_equal(pg_session_generation(s), 0);
    }
    pg_session_free(s);
    pg_session_free(NULL);
}

/* Series made at run time (one per destination): the same labels give the same series,
 * values are escaped, and past the bound everything new shares one "other" series. */
static void metric_family_series_by_label_bounded_and_escaped(void **state)
{
    (void)state;
    struct metric_family *f = metrics_counter_family("hl_fam_total", "destination,outcome", "test family", 2);
    const char *a[2] = {"https://a.example:443", "delivered"};
    const char *a2[2] = {"https://a.example:443", "delivered"};
    const char *b[2] = {"say \"hi\"\n\\", "gone"};
    const char *c[2] = {"https://c.example:443", "delivered"};
    const char *d[2] = {"https://d.example:443", "refused"};
    struct metric *ma = metric_family_get(f, a);
    assert_ptr_equal(ma, metric_family_get(f, a2));
    metric_add(ma, 2);
    metric_inc(metric_family_get(f, b));
    struct metric *other = metric_family_get(f, c);
    assert_ptr_equal(other, metric_family_get(f, d));
    metric_add(other, 5);
    size_t len;
    char *text = metrics_render(&len);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE hl_fam_total counter\n"));
    assert_non_null(strstr(text, "hl_fam_total{destination=\"https://a.example:443\",outcome=\"delivered\"} 2\n"));
    assert_non_null(strstr(text, "hl_fam_total{destination=\"say \\\"hi\\\"\\n\\\\\",outcome=\"gone\"} 1\n"));
    assert_non_null(strstr(text, "hl_fam_total{destination=\"other\",outcome=\"other\"} 5\n"));
    assert_null(strstr(text, "c.example"));
    free(text);
}

static void metrics_render_prometheus_text(void **state)
{
    (void)state;
    struct metric *ok = metrics_counter("hl_test_total", "status=\"200\"", "test counter");
    struct metric *bad = metrics_counter("hl_test_total", "status=\"500\"", "test counter");
    struct metric *h = metrics_histogram("hl_test_seconds", NULL, "test histogram");
    metric_add(ok, 3);
    metric_inc(bad);
    metric_observe(h, 0.02);
    metric_observe(h, 3);
    size_t len;
    char *text = metrics_render(&len);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE hl_test_total counter\n"));
    assert_non_null(strstr(text, "hl_test_total{status=\"200\"} 3\n"));
    assert_non_null(strstr(text, "hl_test_total{status=\"500\"} 1\n"));
    assert_non_null(strstr(text, "hl_test_seconds_bucket{le=\"0.025\"} 1\n"));
    assert_non_null(strstr(text, "hl_test_seconds_bucket{le=\"5\"} 2\n"));
    assert_non_null(strstr(text, "hl_test_seconds_count 2\n"));
    /* HELP/TYPE once per name */
    assert_null(strstr(strstr(text, "# TYPE hl_test_total") + 1, "# TYPE hl_test_total"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_ids_are_v7_uuids_in_time_order),
        cmocka_unit_test(derived_ids_are_deterministic_and_unambiguous),
        cmocka_unit_test(cache_expires_clears_and_stays_bounded),
        cmocka_unit_test(config_parses_defaults_values_and_rejects_bad_input),
        cmocka_unit_test(config_reads_deprecated_aliases),
        cmocka_unit_test(pg_session_reports_an_unreachable_server),
        cmocka_unit_test(metrics_render_prometheus_text),
        cmocka_unit_test(metric_family_series_by_label_bounded_and_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
