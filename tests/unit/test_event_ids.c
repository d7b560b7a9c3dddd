/* Unit tests of per-event duplicate suppression's provider side: the id of every event
 * of a batch (provider_event_ids) and attribution with some events left out
 * (provider_attribute_except), whose payloads must keep the remaining events' bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

/* HubSpot: a batch of three events, two portals, with odd spacing kept byte for byte. */
static const char hubspot_batch[] =
    "[ {\"eventId\": 11, \"portalId\": 7, \"subscriptionType\": \"contact.creation\"},"
    "{\"eventId\":12,\"portalId\":8,\"subscriptionType\":\"deal.creation\"} ,\n"
    "{\"eventId\":13,\"portalId\":7,\"subscriptionType\":\"contact.deletion\"}]";

static struct webhook_request request_of(const char *body)
{
    return (struct webhook_request){.method = "POST",
                                    .url = "https://hooks.example.com/webhook/e/hubspot",
                                    .path = "/webhook/e/hubspot",
                                    .query = "",
                                    .body = (const unsigned char *)body,
                                    .body_len = strlen(body)};
}

static void batch_events_have_their_own_ids(void **state)
{
    (void)state;
    struct webhook_request req = request_of(hubspot_batch);
    char **ids;
    size_t n = provider_event_ids(provider_find("hubspot"), &req, &ids);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "11");
    assert_string_equal(ids[1], "12");
    assert_string_equal(ids[2], "13");
    provider_event_ids_free(ids, n);
}

static void an_event_without_an_id_has_none(void **state)
{
    (void)state;
    struct webhook_request req = request_of("[{\"eventId\":1,\"portalId\":7},{\"portalId\":7},{\"eventId\":\"\"}]");
    char **ids;
    size_t n = provider_event_ids(provider_find("hubspot"), &req, &ids);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "1");
    assert_null(ids[1]);
    assert_null(ids[2]);
    provider_event_ids_free(ids, n);
}

static void a_single_event_object_is_a_batch_of_one(void **state)
{
    (void)state;
    struct webhook_request req = request_of("{\"eventId\":42,\"portalId\":7}");
    char **ids;
    size_t n = provider_event_ids(provider_find("hubspot"), &req, &ids);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "42");
    provider_event_ids_free(ids, n);
}

static void unbatched_or_unreadable_bodies_have_no_event_ids(void **state)
{
    (void)state;
    char **ids = (char **)1;
    struct webhook_request req = request_of("{\"id\":\"evt_1\",\"type\":\"charge.succeeded\"}");
    assert_int_equal(provider_event_ids(provider_find("stripe"), &req, &ids), 0);
    assert_null(ids);
    req = request_of("[{\"eventId\":1,");
    assert_int_equal(provider_event_ids(provider_find("hubspot"), &req, &ids), 0);
    assert_null(ids);
}

static const struct attribution_group *group_of(const struct attribution *a, const char *portal)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->groups[i].value && strcmp(a->groups[i].value, portal) == 0)
            return &a->groups[i];
    return NULL;
}

static void left_out_events_leave_their_group(void **state)
{
    (void)state;
    struct webhook_request req = request_of(hubspot_batch);
    const bool drop[3] = {true, false, false};
    struct attribution a;
    char err[128];
    assert_int_equal(provider_attribute_except(provider_find("hubspot"), &req, drop, 3, &a, err, sizeof err), 0);
    assert_int_equal(a.n, 2);
    const struct attribution_group *g7 = group_of(&a, "7"), *g8 = group_of(&a, "8");
    assert_non_null(g7);
    assert_non_null(g8);
    /* portal 7 keeps only event 13, its bytes unchanged; its type is read from it. */
    assert_string_equal(g7->payload, "[{\"eventId\":13,\"portalId\":7,\"subscriptionType\":\"contact.deletion\"}]");
    assert_string_equal(g7->event_type, "contact.deletion");
    assert_string_equal(g8->payload, "[{\"eventId\":12,\"portalId\":8,\"subscriptionType\":\"deal.creation\"}]");
    attribution_free(&a);
}

static void one_group_left_is_spliced_not_the_whole_body(void **state)
{
    (void)state;
    struct webhook_request req = request_of(hubspot_batch);
    const bool drop[3] = {false, true, false};
    struct attribution a;
    char err[128];
    assert_int_equal(provider_attribute_except(provider_find("hubspot"), &req, drop, 3, &a, err, sizeof err), 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.groups[0].value, "7");
    assert_string_equal(a.groups[0].payload,
                        "[{\"eventId\": 11, \"portalId\": 7, \"subscriptionType\": \"contact.creation\"},"
                        "{\"eventId\":13,\"portalId\":7,\"subscriptionType\":\"contact.deletion\"}]");
    assert_int_equal(a.groups[0].payload_len, strlen(a.groups[0].payload));
    attribution_free(&a);
}

static void nothing_left_out_keeps_the_body_whole(void **state)
{
    (void)state;
    const char *body = "[{\"eventId\":1,\"portalId\":7} , {\"eventId\":2,\"portalId\":7}]";
    struct webhook_request req = request_of(body);
    const bool drop[2] = {false, false};
    struct attribution a;
    char err[128];
    assert_int_equal(provider_attribute_except(provider_find("hubspot"), &req, drop, 2, &a, err, sizeof err), 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.groups[0].payload, body);
    attribution_free(&a);
}

static void every_event_left_out_leaves_no_group(void **state)
{
    (void)state;
    struct webhook_request req = request_of(hubspot_batch);
    const bool drop[3] = {true, true, true};
    struct attribution a;
    char err[128];
    assert_int_equal(provider_attribute_except(provider_find("hubspot"), &req, drop, 3, &a, err, sizeof err), 0);
    assert_int_equal(a.n, 0);
    attribution_free(&a);
}

static void a_mask_of_another_length_is_refused(void **state)
{
    (void)state;
    struct webhook_request req = request_of(hubspot_batch);
    const bool drop[2] = {true, false};
    struct attribution a;
    char err[128] = "";
    assert_int_equal(provider_attribute_except(provider_find("hubspot"), &req, drop, 2, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "3 events"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_events_have_their_own_ids),
        cmocka_unit_test(an_event_without_an_id_has_none),
        cmocka_unit_test(a_single_event_object_is_a_batch_of_one),
        cmocka_unit_test(unbatched_or_unreadable_bodies_have_no_event_ids),
        cmocka_unit_test(left_out_events_leave_their_group),
        cmocka_unit_test(one_group_left_is_spliced_not_the_whole_body),
        cmocka_unit_test(nothing_left_out_keeps_the_body_whole),
        cmocka_unit_test(every_event_left_out_leaves_no_group),
        cmocka_unit_test(a_mask_of_another_length_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
