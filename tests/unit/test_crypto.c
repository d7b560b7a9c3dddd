/*
 * test_crypto: common/crypto.h against published vectors (RFC 4231, RFC 2202,
 * RFC 4648, FIPS 180-2) and against malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/crypto.h"

/* HMAC of data with key, as lower-case hex in out (129 bytes). */
static const char *hmac_hex(enum hmac_alg alg, const void *key, size_t keylen, const char *data, char *out)
{
    unsigned char mac[64];
    size_t n = crypto_hmac1(alg, key, keylen, data, strlen(data), mac);
    assert_true(n > 0);
    return crypto_hex(mac, n, out);
}

static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    char hex[129];
    const char *data = "what do ya want for nothing?";
    assert_string_equal(hmac_hex(HMAC_SHA256, "Jefe", 4, data, hex),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_string_equal(hmac_hex(HMAC_SHA512, "Jefe", 4, data, hex),
                        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    /* RFC 2202 test case 2. */
    assert_string_equal(hmac_hex(HMAC_SHA1, "Jefe", 4, data, hex), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

/* RFC 4231 test case 6: a key longer than the block size is hashed first. */
static void test_hmac_rfc4231_case6(void **state)
{
    (void)state;
    unsigned char key[131];
    char hex[129];
    memset(key, 0xaa, sizeof key);
    assert_string_equal(
        hmac_hex(HMAC_SHA256, key, sizeof key, "Test Using Larger Than Block-Size Key - Hash Key First", hex),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_hmac_parts(void **state)
{
    (void)state;
    unsigned char one[64], many[64];
    const void *parts[] = {"what do ", "", "ya want", " for nothing?"};
    size_t lens[] = {8, 0, 7, 13};
    assert_int_equal(crypto_hmac(HMAC_SHA256, "Jefe", 4, parts, lens, 4, many), 32);
    assert_int_equal(crypto_hmac1(HMAC_SHA256, "Jefe", 4, "what do ya want for nothing?", 28, one), 32);
    assert_memory_equal(one, many, 32);

    /* No parts and an empty key: HMAC-SHA256("", ""). */
    char hex[65];
    assert_int_equal(crypto_hmac(HMAC_SHA256, "", 0, NULL, NULL, 0, many), 32);
    assert_string_equal(crypto_hex(many, 32, hex), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_sha256(void **state)
{
    (void)state;
    unsigned char d[32];
    char hex[65];
    crypto_sha256("abc", 3, d);
    assert_string_equal(crypto_hex(d, 32, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hex_round_trip(void **state)
{
    (void)state;
    unsigned char all[256], back[256];
    char hex[513];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    crypto_hex(all, sizeof all, hex);
    assert_int_equal(strlen(hex), 512);
    assert_memory_equal(hex, "000102", 6);
    assert_string_equal(hex + 506, "fdfeff");
    assert_int_equal(crypto_unhex(hex, 512, back, sizeof back), 256);
    assert_memory_equal(all, back, 256);

    assert_int_equal(crypto_unhex("DEADbeef", 8, back, sizeof back), 4);
    assert_memory_equal(back, "\xde\xad\xbe\xef", 4);
    assert_int_equal(crypto_unhex("", 0, back, sizeof back), 0);
    assert_string_equal(crypto_hex(all, 0, hex), "");
}

static void test_hex_malformed(void **state)
{
    (void)state;
    unsigned char out[4];
    assert_int_equal(crypto_unhex("abc", 3, out, sizeof out), -1); /* odd length */
    assert_int_equal(crypto_unhex("0g", 2, out, sizeof out), -1);  /* not hex */
    assert_int_equal(crypto_unhex("g0", 2, out, sizeof out), -1);
    assert_int_equal(crypto_unhex("0 ", 2, out, sizeof out), -1);
    assert_int_equal(crypto_unhex("0x12", 4, out, sizeof out), -1);
    assert_int_equal(crypto_unhex("0011223344", 10, out, sizeof out), -1); /* over capacity */
    assert_int_equal(crypto_unhex("00112233", 8, out, sizeof out), 4);     /* exactly fits */
}

static void test_base64_rfc4648(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char enc[16];
        unsigned char dec[16];
        size_t len = strlen(plain[i]);
        assert_int_equal(crypto_base64((const unsigned char *)plain[i], len, enc), strlen(coded[i]));
        assert_string_equal(enc, coded[i]);
        assert_int_equal(crypto_unbase64(coded[i], strlen(coded[i]), dec, sizeof dec), (long)len);
        assert_memory_equal(dec, plain[i], len);
    }
}

static void test_base64_round_trip(void **state)
{
    (void)state;
    unsigned char in[300], out[300];
    char enc[4 * 100 + 1];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= 64; len++) {
        size_t n = crypto_base64(in, len, enc);
        assert_int_equal(n, 4 * ((len + 2) / 3));
        assert_int_equal(crypto_unbase64(enc, n, out, sizeof out), (long)len);
        assert_memory_equal(in, out, len);
        /* Padding is optional. */
        while (n && enc[n - 1] == '=')
            n--;
        assert_int_equal(crypto_unbase64(enc, n, out, sizeof out), (long)len);
        assert_memory_equal(in, out, len);
    }
    size_t n = crypto_base64((const unsigned char *)"\xfb\xff\xbf", 3, enc);
    assert_int_equal(n, 4);
    assert_string_equal(enc, "+/+/");
}

static void test_base64_malformed(void **state)
{
    (void)state;
    unsigned char out[8];
    assert_int_equal(crypto_unbase64("Z", 1, out, sizeof out), -1); /* a lone sextet */
    assert_int_equal(crypto_unbase64("Zm9vY", 5, out, sizeof out), -1);
    assert_int_equal(crypto_unbase64("Zm9v!", 5, out, sizeof out), -1);    /* not base64 */
    assert_int_equal(crypto_unbase64("Zm 9v", 5, out, sizeof out), -1);    /* whitespace */
    assert_int_equal(crypto_unbase64("Zm=v", 4, out, sizeof out), -1);     /* inner padding */
    assert_int_equal(crypto_unbase64("Zm9v-_==", 8, out, sizeof out), -1); /* URL alphabet */
    assert_int_equal(crypto_unbase64("Zm9vYmFyYmF6", 12, out, 8), -1);     /* 9 bytes, cap 8 */
    assert_int_equal(crypto_unbase64("Zm9vYmFy", 8, out, 6), 6);
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abcdef", 6, "abcdef", 6));
    assert_false(crypto_equal("abcdef", 6, "abcdeg", 6));
    assert_false(crypto_equal("xbcdef", 6, "abcdef", 6));
    assert_false(crypto_equal("abcdef", 6, "abcde", 5)); /* a prefix is not equal */
    assert_false(crypto_equal("abcde", 5, "abcdef", 6));
    assert_false(crypto_equal("", 0, "a", 1));
    assert_true(crypto_equal("", 0, "", 0));
    assert_true(crypto_equal(NULL, 0, NULL, 0));
}

static void test_random(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0};
    assert_int_equal(crypto_random(a, sizeof a), 0);
    assert_int_equal(crypto_random(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hmac_rfc4231_case6),
        cmocka_unit_test(test_hmac_parts),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_hex_malformed),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_base64_malformed),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
