/* Unit tests of the rules every stage applies to what a stranger controls: identifiers
 * (common/ident.c), the quarantine's reason and headers (common/quarantine.c), and which
 * database failures are permanent (common/pg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/msg.h"
#include "common/pg.h"
#include "common/quarantine.h"

#define BYTES(s) (s), sizeof(s) - 1

static void utf8_accepts_well_formed_text_only(void **state)
{
    (void)state;
    assert_true(ident_utf8_valid(BYTES("")));
    assert_true(ident_utf8_valid(BYTES("plain ascii")));
    assert_true(ident_utf8_valid(BYTES("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"))); /* é € 😀 */
    assert_false(ident_utf8_valid(BYTES("\xff")));
    assert_false(ident_utf8_valid(BYTES("\x80")));             /* a lone continuation byte */
    assert_false(ident_utf8_valid(BYTES("\xc3")));             /* cut short */
    assert_false(ident_utf8_valid(BYTES("\xc0\xaf")));         /* overlong '/' */
    assert_false(ident_utf8_valid(BYTES("\xe0\x80\xaf")));     /* overlong, 3 bytes */
    assert_false(ident_utf8_valid(BYTES("\xed\xa0\x80")));     /* a UTF-16 surrogate */
    assert_false(ident_utf8_valid(BYTES("\xf4\x90\x80\x80"))); /* beyond U+10FFFF */
    assert_false(ident_utf8_valid(BYTES("ok\xe2\x82")));       /* truncated at the end */
}

static void identifiers_are_utf8_without_controls_within_the_cap(void **state)
{
    (void)state;
    assert_true(ident_valid(BYTES("conn-42")));
    assert_true(
        ident_valid(BYTES("Gro\xc3\x9f"
                          "e GmbH")));
    assert_false(ident_valid(BYTES("")));
    assert_false(ident_valid(BYTES("a\rb")));
    assert_false(ident_valid(BYTES("a\nb")));
    assert_false(ident_valid(BYTES("a\tb")));
    assert_false(ident_valid(BYTES("a\x7f")));
    assert_false(ident_valid(BYTES("a\xc2\x85"))); /* U+0085, a C1 control (NEL) */
    assert_false(ident_valid("a\0b", 3));
    assert_false(ident_valid(BYTES("%\xff")));
    char *big = malloc(IDENT_MAX_LEN + 2);
    assert_non_null(big);
    memset(big, 'x', IDENT_MAX_LEN + 1);
    big[IDENT_MAX_LEN + 1] = '\0';
    assert_false(ident_valid_str(big));
    big[IDENT_MAX_LEN] = '\0';
    assert_true(ident_valid_str(big));
    free(big);
    assert_false(ident_valid_str(NULL));
}

static void integration_keys_follow_the_cli_pattern(void **state)
{
    (void)state;
    assert_true(ident_is_integration_key("github"));
    assert_true(ident_is_integration_key("hubspot-prod_2.v1"));
    assert_false(ident_is_integration_key(""));
    assert_false(ident_is_integration_key("-github"));
    assert_false(ident_is_integration_key("git hub"));
    assert_false(ident_is_integration_key("\xff"));
    assert_false(ident_is_integration_key("%ff"));
    assert_false(ident_is_integration_key(NULL));
    char key[IDENT_INTEGRATION_KEY_MAX_LEN + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_false(ident_is_integration_key(key));
    key[IDENT_INTEGRATION_KEY_MAX_LEN] = '\0';
    assert_true(ident_is_integration_key(key));
}

static void reasons_are_printable_and_capped(void **state)
{
    (void)state;
    char out[16];
    quarantine_reason_clean(out, sizeof out, "bad\r\nX-Injected: \xff");
    assert_string_equal(out, "bad??X-Injected"); /* 15 bytes and the NUL */
    quarantine_reason_clean(out, sizeof out, NULL);
    assert_string_equal(out, "");
}

static const char *header(rd_kafka_headers_t *h, const char *name, char *buf, size_t len)
{
    return msg_header(h, name, buf, len);
}

static void quarantine_headers_keep_the_message_and_say_why_and_where(void **state)
{
    (void)state;
    rd_kafka_headers_t *orig = rd_kafka_headers_new(4);
    rd_kafka_header_add(orig, MSG_H_WEBHOOK_ID, -1, "w-1", -1);
    rd_kafka_header_add(orig, MSG_H_REJECT_REASON, -1, "an earlier story", -1);
    /* A message built by hand has no headers (librdkafka gives them only to messages it
     * made): the copy is then the quarantine headers alone; stripping is tested on orig.
     * librdkafka reads a message's headers from the private struct around it, so the
     * message sits at the start of zeroed room (on the stack alone, that read went past
     * it: a crash in the release build). */
    static union {
        rd_kafka_message_t rkm;
        unsigned char room[4096];
    } msg;
    memset(&msg, 0, sizeof msg);
    msg.rkm.partition = 3;
    msg.rkm.offset = 1234;
    rd_kafka_headers_t *h = quarantine_headers(&msg.rkm, "router", "not\nUTF-8");
    assert_non_null(h);
    char buf[64];
    assert_string_equal(header(h, MSG_H_REJECT_REASON, buf, sizeof buf), "not?UTF-8");
    assert_string_equal(header(h, MSG_H_REJECT_STAGE, buf, sizeof buf), "router");
    assert_string_equal(header(h, MSG_H_REJECT_PARTITION, buf, sizeof buf), "3");
    assert_string_equal(header(h, MSG_H_REJECT_OFFSET, buf, sizeof buf), "1234");
    assert_non_null(header(h, MSG_H_REJECT_AT, buf, sizeof buf));
    rd_kafka_headers_destroy(h);

    quarantine_headers_strip(orig);
    assert_null(header(orig, MSG_H_REJECT_REASON, buf, sizeof buf));
    assert_string_equal(header(orig, MSG_H_WEBHOOK_ID, buf, sizeof buf), "w-1");
    rd_kafka_headers_destroy(orig);
}

static void database_failures_without_a_server_verdict_are_transient(void **state)
{
    (void)state;
    /* No result or no connection: the database could not be asked, never "permanent". */
    assert_int_equal(pg_classify(NULL, NULL), PG_TRANSIENT);
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    assert_int_equal(pg_classify(res, NULL), PG_TRANSIENT);
    PQclear(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_accepts_well_formed_text_only),
        cmocka_unit_test(identifiers_are_utf8_without_controls_within_the_cap),
        cmocka_unit_test(integration_keys_follow_the_cli_pattern),
        cmocka_unit_test(reasons_are_printable_and_capped),
        cmocka_unit_test(quarantine_headers_keep_the_message_and_say_why_and_where),
        cmocka_unit_test(database_failures_without_a_server_verdict_are_transient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
