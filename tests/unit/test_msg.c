/* Unit tests of common/msg: the stored request headers a forward passes on. The
 * forwarder writes each one as a "name: value" line, so a value holding CR, LF or NUL
 * must never come out of msg_http_headers (it would split the line and add a header of
 * the sender's choosing); everything else must come out unchanged and in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
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
    adds(h, "http.x-request-id", "a b\tc: d;e=\"f\"");                  /* tabs, colons, quotes are fine */
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
    adds(h, "HTTP.x-upper", "no");     /* the contract stores lower-case names */
    adds(h, "httpx-test", "no");
    adds(h, "hl.http.x-test", "no");
    adds(h, "http", "no");
    adds(h, "http.x-secret", "no");    /* refused by keep() */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_headers_pass_unchanged_in_order_without_the_prefix),
        cmocka_unit_test(values_with_cr_lf_or_nul_are_dropped),
        cmocka_unit_test(odd_names_keep_null_values_and_the_cap),
        cmocka_unit_test(msg_header_reads_the_last_value_within_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
