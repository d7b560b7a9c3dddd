/* Unit tests of the forwarder's bookkeeping: which offset may be stored when outcomes
 * arrive out of order, what names a destination, its circuit breaker and its lifetime;
 * and of what a routed message may carry to the app: which messages are poison (to be
 * quarantined), which provider headers pass, and that nothing a stranger wrote can
 * split a header line. Nothing here talks to Kafka or the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* ---- lifetime of a destination's record -------------------------------------------- */

/* A delivery in backoff or being handed off holds its endpoint (nothing in flight,
 * nothing queued, circuit closed: idle to the sweep). Past the table's bound the idle
 * ones are swept, never the held one; once released it may go too. Under ASan a freed
 * one read here fails the test. */
static void held_endpoint_survives_a_sweep(void **state)
{
    (void)state;
    g_forwarder.circuit_failures = 5;
    endpoints_init();
    struct endpoint *held = endpoint_of("https://held.example.com/hook");
    assert_non_null(held);
    held->failures = 2; /* a value only this record has */
    char url[64];
    for (int i = 0; i < 19999; i++) { /* the table's bound (MAX_ENDPOINTS), with the held one */
        snprintf(url, sizeof url, "https://idle-%d.example.com/", i);
        struct endpoint *ep = endpoint_of(url);
        assert_non_null(ep);
        endpoint_release(ep);
    }
    size_t before = endpoints_count();
    assert_int_equal(before, 20000);
    struct endpoint *trigger = endpoint_of("https://one-more.example.com/"); /* sweeps */
    assert_non_null(trigger);
    assert_true(endpoints_count() < before);
    assert_int_equal(held->failures, 2); /* still ours, not freed memory */
    assert_string_equal(held->key, "https://held.example.com");
    struct endpoint *again = endpoint_of("https://held.example.com/other");
    assert_ptr_equal(again, held); /* the table still knows it */
    endpoint_release(again);
    endpoint_release(held);
    endpoint_release(trigger);
    endpoints_shutdown();
}

/* ---- routed messages: poison or not ------------------------------------------------- */

#define ENV_ID "0190e3c4-1111-7000-8000-000000000001"

/* The headers of a well-formed routed message. */
static rd_kafka_headers_t *good_headers(void)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    rd_kafka_header_add(h, MSG_H_WEBHOOK_ID, -1, "0190e3c4-2222-7000-8000-000000000002", -1);
    rd_kafka_header_add(h, MSG_H_ROUTED_ID, -1, "0190e3c4-3333-7000-8000-000000000003", -1);
    rd_kafka_header_add(h, MSG_H_ENVIRONMENT, -1, ENV_ID, -1);
    rd_kafka_header_add(h, MSG_H_INTEGRATION, -1, "github-prod", -1);
    rd_kafka_header_add(h, MSG_H_PROVIDER, -1, "github-app", -1);
    rd_kafka_header_add(h, MSG_H_VERIFIED, -1, "verified", -1);
    rd_kafka_header_add(h, MSG_H_CONNECTION, -1, "conn-1", -1);
    rd_kafka_header_add(h, MSG_H_EVENT_TYPE, -1, "installation.created", -1);
    return h;
}

/* The reason routed_read gives for h with name set to value (len bytes; NULL: removed). */
static const char *poison_with(const char *name, const char *value, size_t len)
{
    rd_kafka_headers_t *h = good_headers();
    rd_kafka_header_remove(h, name);
    if (value)
        rd_kafka_header_add(h, name, -1, value, (ssize_t)len);
    struct msg_routed r;
    const char *why = routed_read(&r, h);
    msg_routed_free(&r);
    rd_kafka_headers_destroy(h);
    return why;
}

static void good_routed_message_is_deliverable(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = good_headers();
    struct msg_routed r;
    assert_null(routed_read(&r, h));
    assert_string_equal(r.env, ENV_ID);
    assert_string_equal(r.connection, "conn-1");
    assert_true(r.attributed);
    msg_routed_free(&r);
    rd_kafka_header_remove(h, MSG_H_CONNECTION); /* unattributed is fine */
    assert_null(routed_read(&r, h));
    assert_false(r.attributed);
    msg_routed_free(&r);
    rd_kafka_headers_destroy(h);
    /* The connection id at the one cap every stage shares passes; one byte more does not. */
    char *id = malloc(IDENT_MAX_LEN + 2);
    assert_non_null(id);
    memset(id, 'c', IDENT_MAX_LEN + 1);
    assert_null(poison_with(MSG_H_CONNECTION, id, IDENT_MAX_LEN));
    assert_non_null(poison_with(MSG_H_CONNECTION, id, IDENT_MAX_LEN + 1));
    free(id);
    assert_null(poison_with(MSG_H_CONNECTION, "caf\xc3\xa9", 5)); /* UTF-8 is fine */
}

/* Everything that makes a message undeliverable for ever has a reason (quarantined). */
static void poison_messages_have_a_reason(void **state)
{
    (void)state;
    struct msg_routed r;
    const char *why = routed_read(&r, NULL); /* no headers at all */
    assert_non_null(why);
    msg_routed_free(&r);
    assert_non_null(poison_with(MSG_H_ENVIRONMENT, "%ff", 3));
    assert_non_null(poison_with(MSG_H_ENVIRONMENT, "\xff", 1));
    assert_non_null(poison_with(MSG_H_ENVIRONMENT, NULL, 0));
    assert_non_null(poison_with(MSG_H_CONNECTION, "conn-\xff", 6));       /* not UTF-8 */
    assert_non_null(poison_with(MSG_H_CONNECTION, "conn-\xc0\xaf", 7));   /* overlong */
    assert_non_null(poison_with(MSG_H_CONNECTION, "a\r\nX-Evil: 1", 12)); /* control characters */
    assert_non_null(poison_with(MSG_H_CONNECTION, "a\xc2\x85", 3));       /* C1 NEL */
    assert_non_null(poison_with(MSG_H_CONNECTION, "a\0b", 3));            /* NUL */
    assert_non_null(poison_with(MSG_H_CONNECTION, "", 0));
    assert_non_null(poison_with(MSG_H_WEBHOOK_ID, NULL, 0));
    assert_non_null(poison_with(MSG_H_WEBHOOK_ID, "w\nid", 4));
    assert_non_null(poison_with(MSG_H_ROUTED_ID, NULL, 0));
    assert_non_null(poison_with(MSG_H_ROUTED_ID, "r\xff", 2));
    assert_non_null(poison_with(MSG_H_INTEGRATION, NULL, 0));
    assert_non_null(poison_with(MSG_H_INTEGRATION, "a/b", 3));
    assert_non_null(poison_with(MSG_H_PROVIDER, "p\r\n", 3));
    /* Only passed on, never needed to deliver: cleaned, not a reason. */
    assert_null(poison_with(MSG_H_EVENT_TYPE, "push\r\nX-Evil: 1", 16));
    assert_null(poison_with(MSG_H_VERIFIED, "\xff", 1));
}

/* ---- what reaches the app's request -------------------------------------------------- */

static void header_filter_refuses_framing_hop_by_hop_and_origin_claims(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "transfer-encoding",
        "Transfer-Encoding",
        "content-length",
        "CONTENT-LENGTH",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "proxy-anything",
        "host",
        "content-encoding",
        "content-type",
        "forwarded",
        "x-forwarded-for",
        "X-Forwarded-Host",
        "x-real-ip",
        "webhook-signature",
        "Webhook-Id",
        "webhook-timestamp",
        "x-nango-hmac-sha256",
        "x-hookline-verified",
        "authorization",
        "cookie",
        "expect",
        "via",
        "X-HTTP-Method-Override",
        "x-original-url",
        "x-rewrite-url",
        "true-client-ip",
        "x-forwarded",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (header_passes(refused[i]))
            fail_msg("header %s passes", refused[i]);
    assert_true(header_passes("x-github-event"));
    assert_true(header_passes("x-hub-signature-256"));
    assert_true(header_passes("stripe-signature"));
}

/* Names as libmicrohttpd stores them (trailing space or tab kept) are trimmed before
 * the deny-list sees them; names that are not RFC 9110 tokens never pass; values with
 * CR, LF or NUL never pass. */
static void stored_request_headers_are_trimmed_tokens(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = good_headers();
    static const char *const names[] = {
        "http.transfer-encoding ",
        "http.webhook-signature\t",
        "http. content-length",
        "http.x-forwarded-for\t ",
        "http.x a",
        "http.x:y",
        "http.",
        "http. ",
        "http.x\xff",
        "http.x(y)",
        "http.x-ok ",
        "http.x-github-event",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        rd_kafka_header_add(h, names[i], -1, "chunked", -1);
    rd_kafka_header_add(h, "http.x-split", -1, "a\r\nTransfer-Encoding: chunked", -1);
    rd_kafka_header_add(h, "http.x-nul", -1, "a\0b", 3);
    struct msg_routed r;
    assert_null(routed_read(&r, h));
    assert_int_equal(r.npass, 2);
    assert_string_equal(r.passthrough[0].name, "x-ok");
    assert_string_equal(r.passthrough[1].name, "x-github-event");
    msg_routed_free(&r);
    rd_kafka_headers_destroy(h);
    assert_true(msg_token("x-Ok!#$%&'*+-.^_`|~9", 20));
    assert_false(msg_token("x y", 3));
    assert_false(msg_token("", 0));
    assert_false(msg_token("x\"", 2));
}

/* The request built from a message whose event type and provider headers were
 * planted with CR/LF: no header line of it holds CR, LF or a NUL, every name is a
 * token, and the hop-by-hop ones are not there. */
static void request_headers_never_split_a_line(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = good_headers();
    rd_kafka_header_remove(h, MSG_H_EVENT_TYPE);
    rd_kafka_header_add(h, MSG_H_EVENT_TYPE, -1, "push\r\nTransfer-Encoding: chunked\r\n\r\nGET / HTTP/1.1", -1);
    rd_kafka_header_add(h, "http.content-type", -1, "application/json\r\nX-Evil: 1", -1);
    rd_kafka_header_add(h, "http.transfer-encoding ", -1, "chunked", -1);
    rd_kafka_header_add(h, "http.x-custom", -1, "fine", -1);
    struct msg_routed r;
    assert_null(routed_read(&r, h));
    struct destination dest = {.found = true, .forward = true, .raw = true};
    snprintf(dest.primary_url, sizeof dest.primary_url, "https://app.example.com/hook");
    snprintf(dest.signing_key, sizeof dest.signing_key, "key");
    struct forward_request req;
    assert_int_equal(request_build(&req, &r, &dest, "{}", 2), 0);
    request_stamp(&req, 1700000000);
    bool custom = false, event = false;
    for (size_t i = 0; i < req.nheaders; i++) {
        const char *n = req.headers[i].name, *v = req.headers[i].value;
        if (strpbrk(v, "\r\n"))
            fail_msg("header %s carries CR or LF: %s", n, v);
        if (!msg_token(n, strlen(n)))
            fail_msg("header name '%s' is not a token", n);
        assert_true(strcasecmp(n, "transfer-encoding") != 0);
        custom |= !strcmp(n, "x-custom");
        if (!strcmp(n, "X-Hookline-Event-Type")) {
            event = true;
            assert_string_equal(v, "pushTransfer-Encoding: chunkedGET / HTTP/1.1");
        }
        if (!strcmp(n, "Content-Type"))
            assert_string_equal(v, "application/jsonX-Evil: 1");
    }
    assert_true(custom);
    assert_true(event);
    request_free(&req);
    msg_routed_free(&r);
    rd_kafka_headers_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offsets_store_only_the_final_prefix),
        cmocka_unit_test(offsets_survive_a_long_wait_behind_one_message),
        cmocka_unit_test(circuit_opens_probes_and_closes),
        cmocka_unit_test(held_endpoint_survives_a_sweep),
        cmocka_unit_test(good_routed_message_is_deliverable),
        cmocka_unit_test(poison_messages_have_a_reason),
        cmocka_unit_test(header_filter_refuses_framing_hop_by_hop_and_origin_claims),
        cmocka_unit_test(stored_request_headers_are_trimmed_tokens),
        cmocka_unit_test(request_headers_never_split_a_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
