/* Unit tests of what the forwarder sends: the envelope bytes and both signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "forwarder/envelope.h"

static void splices_json_payload_byte_for_byte(void **state)
{
    (void)state;
    const char payload[] = "{ \"b\" : 1,\n  \"a\": [1, 2.50, \"\\u00e9\"] }";
    size_t len;
    char *body = envelope_build("github-app", "gh", "conn-1", payload, strlen(payload), &len);
    assert_non_null(body);
    const char *expected = "{\"from\":\"github-app\",\"type\":\"forward\",\"providerConfigKey\":\"gh\","
                           "\"connectionId\":\"conn-1\",\"payload\":{ \"b\" : 1,\n  \"a\": [1, 2.50, \"\\u00e9\"] }}";
    assert_int_equal(len, strlen(expected));
    assert_memory_equal(body, expected, len);
    free(body);
}

static void unattributed_is_null_connection(void **state)
{
    (void)state;
    size_t len;
    char *body = envelope_build("hubspot", "hs", NULL, "[]", 2, &len);
    assert_string_equal(body, "{\"from\":\"hubspot\",\"type\":\"forward\",\"providerConfigKey\":\"hs\","
                              "\"connectionId\":null,\"payload\":[]}");
    free(body);
}

static void escapes_names_and_non_json_payload(void **state)
{
    (void)state;
    size_t len;
    const char form[] = "payload=%7B%22a%22%3A1%7D&x=\"y\"";
    char *body = envelope_build("slack", "k\"ey", "c\\1", form, strlen(form), &len);
    assert_string_equal(body, "{\"from\":\"slack\",\"type\":\"forward\",\"providerConfigKey\":\"k\\\"ey\","
                              "\"connectionId\":\"c\\\\1\",\"payload\":\"payload=%7B%22a%22%3A1%7D&x=\\\"y\\\"\"}");
    free(body);
    body = envelope_build("x", "y", NULL, "", 0, &len);
    assert_string_equal(body, "{\"from\":\"x\",\"type\":\"forward\",\"providerConfigKey\":\"y\","
                              "\"connectionId\":null,\"payload\":null}");
    free(body);
}

static void binary_payload_is_base64_and_nul_json_is_spliced(void **state)
{
    (void)state;
    size_t len;
    char *body = envelope_build("u", "k", NULL, "name=caf\xe9", 9, &len);
    assert_string_equal(body, "{\"from\":\"u\",\"type\":\"forward\",\"providerConfigKey\":\"k\","
                              "\"connectionId\":null,\"payload\":\"bmFtZT1jYWbp\",\"payloadEncoding\":\"base64\"}");
    free(body);
    const char nul_json[] = "{\"a\":\"\\u0000\"}";
    body = envelope_build("u", "k", NULL, nul_json, strlen(nul_json), &len);
    assert_non_null(strstr(body, "\"payload\":{\"a\":\"\\u0000\"}}"));
    free(body);
    body = envelope_build("u", "k", NULL, "1\0", 2, &len); /* a raw NUL is not JSON: text */
    assert_string_equal(strstr(body, "\"payload\""), "\"payload\":\"1\\u0000\"}");
    free(body);
}

/* Signatures checked against values computed independently (Python's hmac module). */
static void nango_signature_is_hex_hmac_of_body(void **state)
{
    (void)state;
    char sig[65];
    envelope_sign_nango("key", "The quick brown fox jumps over the lazy dog", 43, sig);
    assert_string_equal(sig, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

static void standard_webhooks_signature(void **state)
{
    (void)state;
    char sig[128];
    envelope_sign_standard("key", "msg_1", 1700000000, "{}", 2, sig, sizeof sig);
    /* base64(HMAC-SHA256("key", "msg_1.1700000000.{}")) */
    unsigned char mac[64];
    const char *msg = "msg_1.1700000000.{}";
    size_t m = crypto_hmac1(HMAC_SHA256, "key", 3, msg, strlen(msg), mac);
    char b64[100];
    crypto_base64(mac, m, b64);
    char expected[120] = "v1,";
    strcat(expected, b64);
    assert_string_equal(sig, expected);
    assert_string_equal(sig, "v1,XaXLFEFQ69Q4+demDWPEv5ydXczDW2mM5crCUEFcFBA=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splices_json_payload_byte_for_byte),
        cmocka_unit_test(unattributed_is_null_connection),
        cmocka_unit_test(escapes_names_and_non_json_payload),
        cmocka_unit_test(binary_payload_is_base64_and_nul_json_is_spliced),
        cmocka_unit_test(nango_signature_is_hex_hmac_of_body),
        cmocka_unit_test(standard_webhooks_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
