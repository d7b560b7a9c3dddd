/* Unit tests of common/msg, the wire contract: every message kind encoded and decoded
 * again, the decoders' verdicts, and the stored request headers a forward passes on. The
 * forwarder writes each one as a "name: value" line, so a value holding CR, LF or NUL
 * must never come out of msg_http_headers (it would split the line and add a header of
 * the sender's choosing); everything else must come out unchanged and in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"

#define CAP 16

/* Adds a header with an explicit value size (the value may hold NUL bytes). */
static void add(rd_kafka_headers_t *h, const char *name, const char *value, size_t len)
{
    assert_int_equal(rd_kafka_header_add(h, name, -1, value, (ssize_t)len), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void adds(rd_kafka_headers_t *h, const char *name, const char *value)
{
    add(h, name, value, strlen(value));
}

/* The value copied for name, or NULL if it was not copied. */
static const char *value_of(const struct msg_http_header *hs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(hs[i].name, name))
            return hs[i].value;
    return NULL;
}

/* No copied value may carry a byte that ends a header line. */
static void assert_no_line_breaks(const struct msg_http_header *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_null(strchr(hs[i].value, '\r'));
        assert_null(strchr(hs[i].value, '\n'));
    }
}

static void plain_headers_pass_unchanged_in_order_without_the_prefix(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    adds(h, MSG_H_WEBHOOK_ID, "0190e3c4-0000-7000-8000-000000000001"); /* ours, not a request header */
    adds(h, "http.x-github-event", "push");
    adds(h, "http.x-request-id", "a b\tc: d;e=\"f\""); /* tabs, colons, quotes are fine */
    adds(h, "http.x-empty", "");
    adds(h, "http.x-utf8", "caf\xc3\xa9");
    struct msg_http_header out[CAP];
    size_t n = msg_http_headers(h, out, CAP, NULL);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].name, "x-github-event");
    assert_string_equal(out[0].value, "push");
    assert_string_equal(out[1].name, "x-request-id");
    assert_string_equal(out[1].value, "a b\tc: d;e=\"f\"");
    assert_string_equal(out[2].name, "x-empty");
    assert_string_equal(out[2].value, "");
    assert_string_equal(out[3].value, "caf\xc3\xa9");
    msg_http_headers_free(out, n);
    rd_kafka_headers_destroy(h);
}

/* CR, LF, CRLF (with or without a folded continuation) and NUL anywhere in a value:
 * that header is dropped, the ones around it still pass. */
static void values_with_cr_lf_or_nul_are_dropped(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        size_t len;
    } bad[] = {
        {"a\r\nX-Injected: yes", 19},
        {"a\nX-Injected: yes", 18},
        {"a\rX-Injected: yes", 18},
        {"a\r\n X-Folded: yes", 18},
        {"\r\n", 2},
        {"trailing\n", 9},
        {"a\0\r\nX-Injected: yes", 20}, /* a NUL first hides the CRLF from C string functions */
        {"a\0b", 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(4);
        adds(h, "http.x-before", "1");
        add(h, "http.x-test", bad[i].value, bad[i].len);
        adds(h, "http.x-after", "2");
        struct msg_http_header out[CAP];
        size_t n = msg_http_headers(h, out, CAP, NULL);
        if (value_of(out, n, "x-test"))
            fail_msg("case %zu: a value with CR, LF or NUL was copied as \"%s\"", i, value_of(out, n, "x-test"));
        assert_int_equal(n, 2);
        assert_string_equal(value_of(out, n, "x-before"), "1");
        assert_string_equal(value_of(out, n, "x-after"), "2");
        assert_no_line_breaks(out, n);
        msg_http_headers_free(out, n);
        rd_kafka_headers_destroy(h);
    }
}

static bool keep_not_secret(const char *name)
{
    return strcmp(name, "x-secret") != 0;
}

/* Only names that start exactly with "http." are request headers; keep() sees the
 * name without the prefix; a NULL value is an empty one; cap bounds the copy. */
static void odd_names_keep_null_values_and_the_cap(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    adds(h, "HTTP.x-upper", "no"); /* the contract stores lower-case names */
    adds(h, "httpx-test", "no");
    adds(h, "hl.http.x-test", "no");
    adds(h, "http", "no");
    adds(h, "http.x-secret", "no"); /* refused by keep() */
    assert_int_equal(rd_kafka_header_add(h, "http.x-null", -1, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    adds(h, "http.x-a", "1");
    adds(h, "http.x-b", "2");
    struct msg_http_header out[CAP];
    size_t n = msg_http_headers(h, out, CAP, keep_not_secret);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].name, "x-null");
    assert_string_equal(out[0].value, "");
    assert_string_equal(out[1].name, "x-a");
    assert_string_equal(out[2].name, "x-b");
    msg_http_headers_free(out, n);

    n = msg_http_headers(h, out, 2, keep_not_secret); /* cap */
    assert_int_equal(n, 2);
    assert_string_equal(out[1].name, "x-a");
    msg_http_headers_free(out, n);
    assert_int_equal(msg_http_headers(NULL, out, CAP, NULL), 0);
    rd_kafka_headers_destroy(h);
}

/* msg_header: the last value of a name, NULL when absent or too long for the buffer. */
static void msg_header_reads_the_last_value_within_the_buffer(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    adds(h, MSG_H_CONNECTION, "first");
    adds(h, MSG_H_CONNECTION, "second");
    char buf[7];
    assert_string_equal(msg_header(h, MSG_H_CONNECTION, buf, sizeof buf), "second");
    assert_null(msg_header(h, MSG_H_CONNECTION, buf, 6)); /* 6 bytes and a NUL do not fit in 6 */
    assert_null(msg_header(h, MSG_H_ROUTED_ID, buf, sizeof buf));
    assert_null(msg_header(NULL, MSG_H_ROUTED_ID, buf, sizeof buf));
    rd_kafka_headers_destroy(h);
}

/* ---- the contract: each kind encoded, then decoded ------------------------------------ */

#define ENV "0190e3c4-1111-7000-8000-000000000001"
#define WID "0190e3c4-2222-7000-8000-000000000002"

static void raw_round_trip(void **state)
{
    (void)state;
    const struct msg_raw_meta meta = {WID,
                                      ENV,
                                      "github-prod",
                                      "github-app",
                                      true,
                                      "POST",
                                      "/webhook/x/y",
                                      "a=1",
                                      "https://in.example.com/webhook/x/y?a=1",
                                      1700000000000LL,
                                      NULL};
    rd_kafka_headers_t *h = msg_raw_encode(&meta, 2);
    msg_raw_add_http(h, "X-GitHub-Event", "push");
    msg_raw_add_http(h, "Content-Type", "application/json");
    struct msg_raw m;
    assert_null(msg_raw_decode(&m, h));
    assert_string_equal(m.webhook_id, WID);
    assert_string_equal(m.env, ENV);
    assert_string_equal(m.integration, "github-prod");
    assert_string_equal(m.provider, "github-app");
    assert_string_equal(m.method, "POST");
    assert_string_equal(m.path, "/webhook/x/y");
    assert_string_equal(m.query, "a=1");
    assert_string_equal(m.url, "https://in.example.com/webhook/x/y?a=1");
    assert_int_equal(m.nheaders, 2);
    assert_string_equal(m.headers[0].name, "x-github-event"); /* lower-cased */
    assert_string_equal(m.headers[1].value, "application/json");
    assert_true(m.verified);
    assert_int_equal(m.received_at_ms, 1700000000000LL);
    msg_raw_free(&m);
    rd_kafka_headers_destroy(h);

    /* The router trusts the verdict only as the ingress wrote it. */
    struct msg_raw_meta unverified = meta;
    unverified.verified = false;
    h = msg_raw_encode(&unverified, 0);
    assert_null(msg_raw_decode(&m, h));
    assert_false(m.verified);
    msg_raw_free(&m);
    rd_kafka_header_remove(h, MSG_H_VERIFIED);
    rd_kafka_header_add(h, MSG_H_VERIFIED, -1, "verified-ish", -1);
    rd_kafka_header_remove(h, MSG_H_RECEIVED_AT);
    rd_kafka_header_add(h, MSG_H_RECEIVED_AT, -1, "12x", -1);
    assert_null(msg_raw_decode(&m, h));
    assert_false(m.verified);
    assert_int_equal(m.received_at_ms, 0);
    msg_raw_free(&m);
    rd_kafka_headers_destroy(h);
}

static void raw_decode_says_why(void **state)
{
    (void)state;
    const struct msg_raw_meta meta = {WID, "not-a-uuid", "github", "github-app", false, "POST", "/", "", "", 0, NULL};
    rd_kafka_headers_t *h = msg_raw_encode(&meta, 0);
    struct msg_raw m;
    const char *why = msg_raw_decode(&m, h);
    assert_non_null(why);
    assert_non_null(strstr(why, "UUID"));
    msg_raw_free(&m);
    rd_kafka_headers_destroy(h);
    why = msg_raw_decode(&m, NULL);
    assert_non_null(strstr(why, "hookline headers"));
    msg_raw_free(&m);
}

static rd_kafka_headers_t *routed_headers(const char *conn, const char *event_type)
{
    const struct msg_raw_meta meta = {WID, ENV, "github-prod", "github-app", true, "POST", "/", "", "", 42, NULL};
    rd_kafka_headers_t *h = msg_raw_encode(&meta, 1);
    msg_raw_add_http(h, "X-Test", "yes");
    msg_routed_encode(h, "r-1", conn, event_type);
    return h;
}

static void routed_round_trip(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = routed_headers("conn-1", "issues.opened");
    struct msg_routed m;
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.webhook_id, WID);
    assert_string_equal(m.routed_id, "r-1");
    assert_string_equal(m.env, ENV);
    assert_string_equal(m.connection, "conn-1");
    assert_string_equal(m.event_type, "issues.opened");
    assert_string_equal(m.verified, "verified");
    assert_string_equal(m.received_at, "42");
    assert_true(m.attributed);
    assert_false(m.notification);
    assert_int_equal(m.npass, 0); /* no keep: request headers not read */
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);

    h = routed_headers(NULL, NULL); /* unattributed, no event type */
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_false(m.attributed);
    assert_string_equal(m.event_type, "");
    assert_int_equal(m.unattributed_reason, MSG_UNATTRIBUTED_NONE);
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);
}

/* Every reason survives the wire by name; NONE removes the header; a name this build
 * does not know reads as NONE (nothing to pass on). */
static void unattributed_reason_round_trip(void **state)
{
    (void)state;
    for (int r = MSG_UNATTRIBUTED_NONE + 1; r < MSG_UNATTRIBUTED_REASONS; r++) {
        rd_kafka_headers_t *h = routed_headers(NULL, NULL);
        msg_routed_set_unattributed_reason(h, (enum msg_unattributed_reason)r);
        char buf[64];
        assert_string_equal(msg_header(h, MSG_H_UNATTRIBUTED_REASON, buf, sizeof buf),
                            msg_unattributed_reason_name((enum msg_unattributed_reason)r));
        struct msg_routed m;
        assert_null(msg_routed_decode(&m, h, NULL));
        assert_int_equal(m.unattributed_reason, r);
        msg_routed_free(&m);
        msg_routed_set_unattributed_reason(h, MSG_UNATTRIBUTED_NONE);
        assert_null(msg_header(h, MSG_H_UNATTRIBUTED_REASON, buf, sizeof buf));
        rd_kafka_headers_destroy(h);
    }
    assert_string_equal(msg_unattributed_reason_name(MSG_UNATTRIBUTED_UNREADABLE_BODY), "unreadable-body");
    rd_kafka_headers_t *h = routed_headers(NULL, NULL);
    rd_kafka_header_add(h, MSG_H_UNATTRIBUTED_REASON, -1, "from-the-future", -1);
    struct msg_routed m;
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_int_equal(m.unattributed_reason, MSG_UNATTRIBUTED_NONE);
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);
}

/* The Nango event type travels beside the detailed one; an unusable one reads as none
 * (it is optional) without making the message undeliverable. */
static void routed_nango_event_type(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = routed_headers("conn-1", "issues.opened");
    msg_routed_encode_nango_type(h, "issues");
    msg_routed_encode_nango_type(h, "issues"); /* set, not added twice */
    size_t n = 0;
    const void *v;
    size_t vlen;
    while (rd_kafka_header_get(h, n, MSG_H_NANGO_EVENT_TYPE, &v, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n++;
    assert_int_equal(n, 1);
    struct msg_routed m;
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.event_type, "issues.opened");
    assert_string_equal(m.nango_event_type, "issues");
    assert_false(m.absent & MSG_F_NANGO_EVENT_TYPE);
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);

    h = routed_headers("conn-1", "push");
    msg_routed_encode_nango_type(h, ""); /* none: no header */
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.nango_event_type, "");
    assert_true(m.absent & MSG_F_NANGO_EVENT_TYPE);
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);

    h = routed_headers("conn-1", "push");
    rd_kafka_header_add(h, MSG_H_NANGO_EVENT_TYPE, -1, "pu\r\nsh", -1);
    assert_null(msg_routed_decode(&m, h, NULL)); /* still deliverable */
    assert_string_equal(m.nango_event_type, "");
    assert_true(m.bad & MSG_F_NANGO_EVENT_TYPE);
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);
}

static void raw_verified_is_read(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        const struct msg_raw_meta meta = {WID, ENV, "notion", "notion", v == 1, "POST", "/", "", "", 42, NULL};
        rd_kafka_headers_t *h = msg_raw_encode(&meta, 0);
        struct msg_raw m;
        assert_null(msg_raw_decode(&m, h));
        assert_int_equal(m.verified, v == 1);
        msg_raw_free(&m);
        rd_kafka_headers_destroy(h);
    }
}

/* Verified by the connection's own secret after the ingress could not tell. */
static void routed_verified_by_the_connection(void **state)
{
    (void)state;
    struct msg_routed m;
    const struct msg_raw_meta meta = {WID, ENV, "pd", "pagerduty", false, "POST", "/", "", "", 42, NULL};
    rd_kafka_headers_t *h = msg_raw_encode(&meta, 0);
    msg_routed_encode(h, "r-1", "conn-1", NULL);
    msg_routed_encode_verified(h);
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.verified, "verified");
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);
}

static void routed_problems_follow_the_mask(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = routed_headers("conn-1", "bad\r\nevent");
    rd_kafka_header_remove(h, MSG_H_PROVIDER);
    rd_kafka_header_add(h, MSG_H_PROVIDER, -1, "git\xffhub", -1);
    struct msg_routed m;
    const char *why = msg_routed_decode(&m, h, NULL);
    assert_non_null(why);
    assert_non_null(strstr(why, "provider"));
    assert_true(m.bad & MSG_F_PROVIDER);
    assert_true(m.bad & MSG_F_EVENT_TYPE);
    /* A stage that stores the provider as it is asks without it: the event type is next. */
    why = msg_routed_problem(&m, MSG_F_ROUTED_ID | MSG_F_CONNECTION | MSG_F_EVENT_TYPE);
    assert_non_null(strstr(why, "event type"));
    assert_null(msg_routed_problem(&m, MSG_F_ROUTED_ID | MSG_F_CONNECTION));
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);

    why = msg_routed_decode(&m, NULL, NULL);
    assert_string_equal(why, "no webhook id (hl.webhook-id)");
    assert_true(m.bad & MSG_F_ROUTED_ID);
    assert_false(m.attributed);
    msg_routed_free(&m);
}

static void notification_is_a_routed_message_with_a_kind(void **state)
{
    (void)state;
    const struct msg_notification n = {"sync", "n-1", ENV, "github-prod", "conn-1", "github-app", 7, NULL};
    rd_kafka_headers_t *h = msg_notification_encode(&n);
    struct msg_routed m;
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_true(m.notification);
    assert_string_equal(m.webhook_id, "n-1");
    assert_string_equal(m.routed_id, "n-1");
    assert_string_equal(m.content_type, "application/json");
    assert_string_equal(m.received_at, "7");
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);
    char *key = msg_routed_key(ENV, "github-prod", NULL);
    assert_string_equal(key, ENV "/github-prod/");
    free(key);
}

#define TRACE "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* The traceparent travels as a typed field: set by the ingress on the raw message,
 * replaced by each later hop, read only when valid. */
static void the_trace_is_carried_and_replaced_per_hop(void **state)
{
    (void)state;
    struct msg_raw_meta meta = {WID, ENV, "github-prod", "github-app", true, "POST", "/", "", "", 42, TRACE};
    rd_kafka_headers_t *h = msg_raw_encode(&meta, 0);
    struct msg_raw raw;
    assert_null(msg_raw_decode(&raw, h));
    assert_string_equal(raw.traceparent, TRACE);
    msg_raw_free(&raw);

    const char *hop = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01";
    msg_routed_encode(h, "r-1", "conn-1", NULL);
    msg_trace_encode(h, hop);
    struct msg_routed m;
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.traceparent, hop); /* replaced, not added */
    msg_routed_free(&m);

    msg_trace_encode(h, "00-00000000000000000000000000000000-1111111111111111-01");
    assert_null(msg_routed_decode(&m, h, NULL)); /* an invalid trace never refuses a message */
    assert_string_equal(m.traceparent, "");
    msg_routed_free(&m);
    msg_trace_encode(h, NULL);
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.traceparent, "");
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);

    const struct msg_notification n = {"sync", "n-1", ENV, "github-prod", "conn-1", "github-app", 7, hop};
    h = msg_notification_encode(&n);
    assert_null(msg_routed_decode(&m, h, NULL));
    assert_string_equal(m.traceparent, hop);
    msg_routed_free(&m);
    rd_kafka_headers_destroy(h);
}

static void retry_round_trip_and_topic(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = routed_headers("conn-1", NULL);
    struct msg_retry r = {.due_ms = 1234, .attempts = 3, .pass = 0, .deferrals = 2};
    strcpy(r.url, "https://app.example.com/hooks");
    msg_retry_encode(h, &r);
    r.deferrals = 0; /* encoded again: replaces, and a new pass drops the deferral count */
    r.pass = -1;
    r.attempts = 4;
    msg_retry_encode(h, &r);
    struct msg_retry back;
    msg_retry_decode(&back, h);
    assert_int_equal(back.due_ms, 1234);
    assert_int_equal(back.attempts, 4);
    assert_int_equal(back.pass, -1);
    assert_int_equal(back.deferrals, 0);
    assert_string_equal(back.url, "https://app.example.com/hooks");
    char buf[64];
    assert_int_equal(msg_retry_topic(buf, sizeof buf, "webhooks.forward-retry", "g", 2), 0);
    assert_string_equal(buf, "webhooks.forward-retry.g.2");
    assert_int_equal(msg_retry_topic(buf, 8, "webhooks.forward-retry", "g", 2), -1);
    assert_true(msg_retry_group_valid("hookline-forwarder_1.a"));
    assert_false(msg_retry_group_valid(""));
    assert_false(msg_retry_group_valid("a/b"));
    rd_kafka_headers_destroy(h);
}

static void dead_letter_round_trip_and_redrive(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = routed_headers("conn-1", NULL);
    struct msg_retry r = {.due_ms = 1, .attempts = 9, .pass = 1, .deferrals = 1, .url = "https://a.example"};
    msg_retry_encode(h, &r);
    const struct msg_dead_letter dl = {"https://a.example", 503, "HTTP 503", 9, 99};
    msg_dead_letter_encode(h, &dl);
    struct msg_dead_letter_view *v = malloc(sizeof *v);
    assert_non_null(v);
    msg_dead_letter_decode(v, h);
    assert_string_equal(v->destination, "https://a.example");
    assert_string_equal(v->status, "503");
    assert_string_equal(v->error, "HTTP 503");
    assert_string_equal(v->attempts, "9");
    assert_string_equal(v->at, "99");
    assert_string_equal(v->webhook_id, WID);
    assert_string_equal(v->routed_id, "r-1");
    assert_string_equal(v->connection, "conn-1");

    rd_kafka_headers_t *out = msg_redrive_headers(h, "https://a.example", 500);
    msg_dead_letter_decode(v, out);
    assert_null(v->destination); /* the dead-letter headers are gone */
    assert_null(v->status);
    assert_string_equal(v->webhook_id, WID);
    struct msg_retry back;
    msg_retry_decode(&back, out);
    assert_int_equal(back.due_ms, 500);
    assert_int_equal(back.attempts, 0);
    assert_int_equal(back.pass, -1); /* dead-lettering removed the pass and the deferrals */
    assert_int_equal(back.deferrals, 0);
    assert_string_equal(back.url, "https://a.example");
    free(v);
    rd_kafka_headers_destroy(out);
    rd_kafka_headers_destroy(h);
}

static void rejected_round_trip_and_strip(void **state)
{
    (void)state;
    rd_kafka_headers_t *h = routed_headers(NULL, NULL);
    const struct msg_rejected r = {"why not", "syncer", 5, "webhooks.routed", 3, 1234};
    msg_rejected_encode(h, &r);
    struct msg_rejected_view *v = malloc(sizeof *v);
    assert_non_null(v);
    msg_rejected_decode(v, h);
    assert_string_equal(v->reason, "why not");
    assert_string_equal(v->stage, "syncer");
    assert_string_equal(v->at, "5");
    assert_string_equal(v->topic, "webhooks.routed");
    assert_string_equal(v->partition, "3");
    assert_string_equal(v->offset, "1234");
    assert_string_equal(v->webhook_id, WID);
    assert_string_equal(v->integration, "github-prod");
    msg_rejected_strip(h);
    msg_rejected_decode(v, h);
    assert_null(v->reason);
    assert_null(v->stage);
    assert_null(v->topic);
    assert_string_equal(v->webhook_id, WID);
    free(v);
    rd_kafka_headers_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_headers_pass_unchanged_in_order_without_the_prefix),
        cmocka_unit_test(values_with_cr_lf_or_nul_are_dropped),
        cmocka_unit_test(odd_names_keep_null_values_and_the_cap),
        cmocka_unit_test(msg_header_reads_the_last_value_within_the_buffer),
        cmocka_unit_test(raw_round_trip),
        cmocka_unit_test(raw_verified_is_read),
        cmocka_unit_test(unattributed_reason_round_trip),
        cmocka_unit_test(raw_decode_says_why),
        cmocka_unit_test(routed_round_trip),
        cmocka_unit_test(routed_problems_follow_the_mask),
        cmocka_unit_test(notification_is_a_routed_message_with_a_kind),
        cmocka_unit_test(routed_nango_event_type),
        cmocka_unit_test(routed_verified_by_the_connection),
        cmocka_unit_test(the_trace_is_carried_and_replaced_per_hop),
        cmocka_unit_test(retry_round_trip_and_topic),
        cmocka_unit_test(dead_letter_round_trip_and_redrive),
        cmocka_unit_test(rejected_round_trip_and_strip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
