/* Unit tests of the syncer's pure parts: which sync a webhook starts (first matching
 * subscription, "*"), the job body byte for byte, the notification body and the retry
 * backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "syncer/syncer.h"

static void matches_exact_star_and_first_wins(void **state)
{
    (void)state;
    const char *const a[] = {"contact.propertyChange", "*"};
    assert_int_equal(sync_match(a, 2, "contact.propertyChange", NULL), 0);
    assert_int_equal(sync_match(a, 2, "contact.creation", NULL), 1);
    const char *const b[] = {"*", "contact.creation"};
    assert_int_equal(sync_match(b, 2, "contact.creation", NULL), 0);
    const char *const c[] = {"contact.creation", "deal.creation"};
    assert_int_equal(sync_match(c, 2, "deal.creation", NULL), 1);
    assert_int_equal(sync_match(c, 2, "contact.propertyChange", NULL), -1);
    assert_int_equal(sync_match(c, 2, "contact", NULL), -1);          /* a subscription is not a prefix */
    assert_int_equal(sync_match(c, 2, "CONTACT.CREATION", NULL), -1); /* case matters */
    assert_int_equal(sync_match(c, 0, "contact.creation", NULL), -1);
}

static void empty_event_type_matches_only_star(void **state)
{
    (void)state;
    const char *const a[] = {"", "x"};
    assert_int_equal(sync_match(a, 2, "", NULL), -1);
    assert_int_equal(sync_match(a, 2, NULL, NULL), -1);
    const char *const b[] = {"x", "*"};
    assert_int_equal(sync_match(b, 2, "", NULL), 1);
}

/* Nango's subscriptions name the header value or body field alone ("issues"); hookline's
 * may add the detail ("issues.opened") or use "prefix.*". */
static void matches_nango_type_and_prefix(void **state)
{
    (void)state;
    const char *const nango[] = {"issues"};
    assert_int_equal(sync_match(nango, 1, "issues.opened", "issues"), 0);
    assert_int_equal(sync_match(nango, 1, "issues.opened", NULL), -1); /* only through the Nango type */
    assert_int_equal(sync_match(nango, 1, "pull_request.opened", "pull_request"), -1);
    const char *const detailed[] = {"issues.opened"};
    assert_int_equal(sync_match(detailed, 1, "issues.opened", "issues"), 0);
    assert_int_equal(sync_match(detailed, 1, "issues.closed", "issues"), -1);
    const char *const prefix[] = {"pull_request.*", "contact.*"};
    assert_int_equal(sync_match(prefix, 2, "pull_request.opened", "pull_request"), 0);
    assert_int_equal(sync_match(prefix, 2, "contact.creation", "contact.creation"), 1);
    assert_int_equal(sync_match(prefix, 2, "pull_request", "pull_request"), -1); /* nothing after the dot */
    assert_int_equal(sync_match(prefix, 2, "pull_requests.opened", NULL), -1);
    assert_int_equal(sync_match(prefix, 2, "contact", NULL), -1);
    assert_int_equal(sync_match(prefix, 2, "", ""), -1);
    const char *const star_dot[] = {".*"};
    assert_int_equal(sync_match(star_dot, 1, ".x", NULL), 0);
    assert_int_equal(sync_match(star_dot, 1, "x", NULL), -1);
    /* The first matching subscription is the one recorded. */
    const char *const both[] = {"issues.*", "issues"};
    assert_int_equal(sync_match(both, 2, "issues.opened", "issues"), 0);
    assert_int_equal(sync_match(both, 2, "issues", "issues"), 1);
}

static void parses_subscription_arrays(void **state)
{
    (void)state;
    struct sync_def d = {0};
    assert_int_equal(sync_def_parse_subscriptions(&d, "[\"a.b\",\"*\"]"), 0);
    assert_int_equal(d.nsubs, 2);
    assert_string_equal(d.subs[0], "a.b");
    assert_string_equal(d.subs[1], "*");
    sync_def_clear(&d);
    assert_int_equal(sync_def_parse_subscriptions(&d, "[1]"), -1);
    sync_def_clear(&d);
    assert_int_equal(sync_def_parse_subscriptions(&d, "{}"), -1);
    sync_def_clear(&d);
}

static struct job_fields fields(const char *payload, size_t len)
{
    return (struct job_fields){"0190f0e0-0000-8000-8000-000000000001",
                               "contacts",
                               "conn \"1\"",
                               "hs",
                               "hubspot",
                               "*",
                               "wh-1",
                               2,
                               payload,
                               len};
}

static void job_splices_json_payload(void **state)
{
    (void)state;
    const char payload[] = "[ {\"eventId\": 1} ]";
    struct job_fields f = fields(payload, strlen(payload));
    size_t len = 0;
    char *body = job_build(&f, &len);
    assert_non_null(body);
    assert_string_equal(body,
                        "{\"type\":\"sync.webhook\",\"runId\":\"0190f0e0-0000-8000-8000-000000000001\","
                        "\"syncName\":\"contacts\",\"connectionId\":\"conn \\\"1\\\"\","
                        "\"providerConfigKey\":\"hs\",\"provider\":\"hubspot\",\"subscription\":\"*\","
                        "\"webhookId\":\"wh-1\",\"attempt\":2,\"payload\":[ {\"eventId\": 1} ]}");
    assert_int_equal(len, strlen(body));
    free(body);
}

static void job_encodes_text_and_binary_payloads(void **state)
{
    (void)state;
    size_t len = 0;
    const char text[] = "a=1&b=,\"payload\":";
    struct job_fields f = fields(text, strlen(text));
    char *body = job_build(&f, &len);
    assert_non_null(strstr(body, ",\"attempt\":2,\"payload\":\"a=1&b=,\\\"payload\\\":\"}"));
    free(body);
    const unsigned char bin[] = {0xff, 0x00, 0x01};
    f = fields((const char *)bin, sizeof bin);
    body = job_build(&f, &len);
    assert_non_null(strstr(body, ",\"payload\":\"/wAB\",\"payloadEncoding\":\"base64\"}"));
    free(body);
    f = fields("", 0);
    body = job_build(&f, &len);
    assert_non_null(strstr(body, ",\"payload\":null}"));
    free(body);
}

static void notification_body_with_and_without_counts(void **state)
{
    (void)state;
    size_t len = 0;
    char *body = job_notification("contacts", "c1", "hs", "2026-01-02T03:04:05.678Z",
                                  "{\"added\":3,\"deleted\":1,\"other\":true}", &len);
    assert_string_equal(body,
                        "{\"from\":\"hookline\",\"type\":\"sync\",\"syncType\":\"WEBHOOK\","
                        "\"syncName\":\"contacts\",\"connectionId\":\"c1\",\"providerConfigKey\":\"hs\","
                        "\"success\":true,\"modifiedAfter\":\"2026-01-02T03:04:05.678Z\","
                        "\"responseResults\":{\"added\":3,\"updated\":0,\"deleted\":1}}");
    free(body);
    body = job_notification("s", "c", "i", "t", NULL, &len);
    assert_non_null(strstr(body, "{\"added\":0,\"updated\":0,\"deleted\":0}}"));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_exact_star_and_first_wins),
        cmocka_unit_test(empty_event_type_matches_only_star),
        cmocka_unit_test(matches_nango_type_and_prefix),
        cmocka_unit_test(parses_subscription_arrays),
        cmocka_unit_test(job_splices_json_payload),
        cmocka_unit_test(job_encodes_text_and_binary_payloads),
        cmocka_unit_test(notification_body_with_and_without_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
