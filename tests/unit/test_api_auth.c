/* Unit tests of api/auth: the per-key token buckets (a burst, then 429 with a wait, keys
 * limited apart from one another, refilled over time) and the Authorization header's
 * shape checks, which refuse a malformed key before the database is asked, and a key's
 * environment list kept whole however long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"

struct api_config g_api; /* defined by api/main.c in the daemon */

static void test_burst_then_wait(void **state)
{
    (void)state;
    auth_init();
    g_api.rate_per_s = 2;
    g_api.rate_burst = 3;
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth_rate_take("00000000000000aa"), 0);
    int wait = auth_rate_take("00000000000000aa");
    assert_true(wait >= 1);
    /* Another key has its own bucket. */
    assert_int_equal(auth_rate_take("00000000000000bb"), 0);
    /* Half a second refills one token at 2/s. */
    usleep(600 * 1000);
    assert_int_equal(auth_rate_take("00000000000000aa"), 0);
    assert_true(auth_rate_take("00000000000000aa") >= 1);
}

static void test_many_keys_never_looser(void **state)
{
    (void)state;
    auth_init();
    g_api.rate_per_s = 1;
    g_api.rate_burst = 1;
    char id[17];
    /* Four times more keys than there are buckets: once the table is full, keys share
     * buckets as they are, so the keys together never get more than every bucket's
     * burst (a shared bucket handed out afresh to each newcomer would let a client
     * rotate keys past any limit). */
    int granted = 0;
    for (int i = 0; i < 4096; i++) {
        snprintf(id, sizeof id, "%016x", i);
        granted += auth_rate_take(id) == 0;
    }
    assert_true(granted >= 1000); /* the first keys each had their own bucket */
    assert_true(granted <= 1024 + 50);
    snprintf(id, sizeof id, "%016x", 4095);
    assert_true(auth_rate_take(id) >= 1);
}

static void test_malformed_keys_refused_without_the_database(void **state)
{
    (void)state;
    struct api_key key;
    /* db is NULL: any of these reaching the database would crash the test. */
    assert_int_equal(auth_check(NULL, NULL, &key), AUTH_MISSING);
    assert_int_equal(auth_check(NULL, "", &key), AUTH_MISSING);
    assert_int_equal(auth_check(NULL, "Basic dXNlcjpwYXNz", &key), AUTH_MISSING);
    assert_int_equal(auth_check(NULL, "Bearer nonsense", &key), AUTH_INVALID);
    assert_int_equal(auth_check(NULL, "Bearer hlk_0123456789ABCDEF_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &key),
                     AUTH_INVALID); /* the id is lower-case hex */
    assert_int_equal(auth_check(NULL, "Bearer hlk_0123456789abcdef-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &key),
                     AUTH_INVALID);
    char longkey[300];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    memcpy(longkey, "Bearer hlk_0123456789abcdef_", 28);
    assert_int_equal(auth_check(NULL, longkey, &key), AUTH_INVALID);
}

/* A key bound to many environments keeps every one of them: its uuid[] text is kept
 * whole, however long (a cut one is no valid array: every request of the key failed). */
static void test_many_environments_kept_whole(void **state)
{
    (void)state;
    enum { N = 300 }; /* 300 ids: 11 KB of text, more than any fixed buffer held */
    char *text = malloc(N * 37 + 3);
    assert_non_null(text);
    size_t used = (size_t)sprintf(text, "{");
    for (int i = 0; i < N; i++)
        used += (size_t)sprintf(text + used, "%s%08x-0000-4000-8000-%012x", i ? "," : "", i, i);
    sprintf(text + used, "}");
    struct api_key key = {0};
    assert_int_equal(auth_key_set(&key, true, false, text), 0);
    assert_string_equal(key.envs, text);
    assert_true(key.write && !key.all_envs);
    /* Set again (a key of every environment): no list, nothing leaked. */
    assert_int_equal(auth_key_set(&key, false, true, "{}"), 0);
    assert_null(key.envs);
    assert_true(key.all_envs && !key.write);
    auth_key_free(&key);
    auth_key_free(&key); /* twice is harmless */
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_wait),
        cmocka_unit_test(test_many_keys_never_looser),
        cmocka_unit_test(test_many_environments_kept_whole),
        cmocka_unit_test(test_malformed_keys_refused_without_the_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
