/* Unit tests of what the forwarder sends: the envelope bytes, the signatures (two keys
 * during a rotation, Nango's legacy header) and the request made of a routed message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/envelope.h"
#include "forwarder/forwarder.h"

static void splices_json_payload_byte_for_byte(void **state)
{
    (void)state;
    const char payload[] = "{ \"b\" : 1,\n  \"a\": [1, 2.50, \"\\u00e9\"] }";
    size_t len;
    char *body = envelope_build("github-app", "gh", "conn-1", payload, strlen(payload), &len);
    assert_non_null(body);
    const char *expected =
        "{\"from\":\"github-app\",\"type\":\"forward\",\"providerConfigKey\":\"gh\","
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
    assert_string_equal(body,
                        "{\"from\":\"hubspot\",\"type\":\"forward\",\"providerConfigKey\":\"hs\","
                        "\"connectionId\":null,\"payload\":[]}");
    free(body);
}

static void escapes_names_and_non_json_payload(void **state)
{
    (void)state;
    size_t len;
    const char form[] = "payload=%7B%22a%22%3A1%7D&x=\"y\"";
    char *body = envelope_build("slack", "k\"ey", "c\\1", form, strlen(form), &len);
    assert_string_equal(body,
                        "{\"from\":\"slack\",\"type\":\"forward\",\"providerConfigKey\":\"k\\\"ey\","
                        "\"connectionId\":\"c\\\\1\",\"payload\":\"payload=%7B%22a%22%3A1%7D&x=\\\"y\\\"\"}");
    free(body);
    body = envelope_build("x", "y", NULL, "", 0, &len);
    assert_string_equal(body,
                        "{\"from\":\"x\",\"type\":\"forward\",\"providerConfigKey\":\"y\","
                        "\"connectionId\":null,\"payload\":null}");
    free(body);
}

static void binary_payload_is_base64_and_nul_json_is_spliced(void **state)
{
    (void)state;
    size_t len;
    char *body = envelope_build("u", "k", NULL, "name=caf\xe9", 9, &len);
    assert_string_equal(body,
                        "{\"from\":\"u\",\"type\":\"forward\",\"providerConfigKey\":\"k\","
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
    char sig[ENVELOPE_STANDARD_SIG_MAX];
    envelope_sign_standard("key", NULL, "msg_1", 1700000000, "{}", 2, sig);
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
    envelope_sign_standard("key", "", "msg_1", 1700000000, "{}", 2, sig); /* "" is no previous key */
    assert_string_equal(sig, "v1,XaXLFEFQ69Q4+demDWPEv5ydXczDW2mM5crCUEFcFBA=");
}

/* During a rotation's grace period: the current key's entry, a space, the previous
 * key's entry (Python: "v1," + base64(hmac.new(key, b"msg_2.1700000123.{\"a\":1}",
 * sha256).digest()) for each key). */
static void standard_webhooks_signature_with_two_keys(void **state)
{
    (void)state;
    char sig[ENVELOPE_STANDARD_SIG_MAX];
    const char body[] = "{\"a\":1}";
    envelope_sign_standard("new-key", "old-key", "msg_2", 1700000123, body, strlen(body), sig);
    assert_string_equal(sig,
                        "v1,25EKvc5wGgQVLhKts2IVl/QxjsN0mtpYgdGx+rJVzbU= "
                        "v1,QuL2P9EksJmKvNstNF0qmfLiBf6ixN3qT9pSXFKFooo=");
    assert_int_equal(strlen(sig), ENVELOPE_STANDARD_SIG_MAX - 1);
}

/* Nango's legacy X-Nango-Signature: hex(SHA-256(key || body)) (Python: hashlib.sha256(
 * b"key" + body).hexdigest()), not an HMAC. */
static void nango_legacy_signature_is_hex_sha256_of_key_and_body(void **state)
{
    (void)state;
    char sig[65];
    assert_int_equal(envelope_sign_nango_legacy("key", "The quick brown fox jumps over the lazy dog", 43, sig), 0);
    assert_string_equal(sig, "51729876100348eb46ed8c4bf39efa4037a3a2c687f864348ed69292a67ffdbc");
    assert_int_equal(envelope_sign_nango_legacy("k3y", "", 0, sig), 0);
    assert_string_equal(sig, "a49b1287870c10a76f1f46552aca4431842ced5dedf0ee3f28ffa12855a4e86a");
}

/* ---- the request made of a routed message ------------------------------------------ */

static const char *header_of(const struct forward_request *req, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name)) {
            assert_null(found); /* each name at most once */
            found = req->headers[i].value;
        }
    return found;
}

static void routed_fixture(struct msg_routed *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->webhook_id, "wh-1");
    strcpy(r->routed_id, "rt-1");
    strcpy(r->env, "00000000-0000-0000-0000-000000000001");
    strcpy(r->integration, "gh");
    strcpy(r->provider, "github-app");
    strcpy(r->connection, "conn-1");
    strcpy(r->verified, "verified");
    strcpy(r->content_type, "application/json; charset=utf-8");
    r->attributed = true;
}

static void dest_fixture(struct destination *d, bool raw)
{
    memset(d, 0, sizeof *d);
    d->found = d->forward = true;
    d->raw = raw;
    strcpy(d->primary_url, "http://app.example/hook");
    strcpy(d->signing_key, "new-key");
}

static void envelope_request_signs_the_envelope(void **state)
{
    (void)state;
    struct msg_routed r;
    struct destination d;
    struct forward_request req;
    routed_fixture(&r);
    dest_fixture(&d, false);
    const char payload[] = "{\"a\":1}";
    assert_int_equal(request_build(&req, &r, &d, payload, strlen(payload)), 0);
    assert_string_equal(req.body,
                        "{\"from\":\"github-app\",\"type\":\"forward\",\"providerConfigKey\":\"gh\","
                        "\"connectionId\":\"conn-1\",\"payload\":{\"a\":1}}");
    assert_string_equal(header_of(&req, "Content-Type"), "application/json");
    char sig[65];
    envelope_sign_nango("new-key", req.body, req.len, sig);
    assert_string_equal(header_of(&req, "X-Nango-Hmac-Sha256"), sig);
    assert_null(header_of(&req, "X-Nango-Signature")); /* legacy only when asked */
    assert_string_equal(header_of(&req, "X-Hookline-Connection-Id"), "conn-1");
    assert_string_equal(header_of(&req, "X-Hookline-Integration"), "gh");
    request_free(&req);
}

/* Raw mode: the payload bytes themselves, the provider's Content-Type, and every
 * signature over those bytes; the previous key signs only before previous_until. */
static void raw_request_signs_the_payload_and_rotation_ends_on_time(void **state)
{
    (void)state;
    struct msg_routed r;
    struct destination d;
    struct forward_request req;
    routed_fixture(&r);
    dest_fixture(&d, true);
    d.legacy_signature = true;
    strcpy(d.previous_signing_key, "old-key");
    d.previous_until = 1700000124;
    const char payload[] = "{\"a\":1}";
    assert_int_equal(request_build(&req, &r, &d, payload, strlen(payload)), 0);
    assert_ptr_equal(req.body, payload);
    assert_int_equal(req.len, strlen(payload));
    assert_string_equal(header_of(&req, "Content-Type"), "application/json; charset=utf-8");
    char legacy[65];
    assert_int_equal(envelope_sign_nango_legacy("new-key", payload, strlen(payload), legacy), 0);
    assert_string_equal(header_of(&req, "X-Nango-Signature"), legacy);

    /* r.routed_id is the message id of the expected values in the two-key test above. */
    strcpy(r.routed_id, "msg_2");
    request_stamp(&req, 1700000123);
    assert_string_equal(header_of(&req, "webhook-timestamp"), "1700000123");
    assert_string_equal(header_of(&req, "webhook-signature"),
                        "v1,25EKvc5wGgQVLhKts2IVl/QxjsN0mtpYgdGx+rJVzbU= "
                        "v1,QuL2P9EksJmKvNstNF0qmfLiBf6ixN3qT9pSXFKFooo=");
    request_stamp(&req, 1700000124); /* the grace period is over */
    char one[ENVELOPE_STANDARD_SIG_MAX];
    envelope_sign_standard("new-key", NULL, "msg_2", 1700000124, payload, strlen(payload), one);
    assert_string_equal(header_of(&req, "webhook-signature"), one);
    request_free(&req);

    r.content_type[0] = '\0'; /* none from the provider: none sent (curl's default disabled) */
    r.attributed = false;
    assert_int_equal(request_build(&req, &r, &d, "", 0), 0);
    assert_string_equal(header_of(&req, "Content-Type"), "");
    assert_null(header_of(&req, "X-Hookline-Connection-Id"));
    assert_int_equal(req.len, 0);
    request_free(&req);
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
        cmocka_unit_test(standard_webhooks_signature_with_two_keys),
        cmocka_unit_test(nango_legacy_signature_is_hex_sha256_of_key_and_body),
        cmocka_unit_test(envelope_request_signs_the_envelope),
        cmocka_unit_test(raw_request_signs_the_payload_and_rotation_ends_on_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
