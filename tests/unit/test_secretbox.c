/*
 * test_secretbox: common/secretbox.h. Round trips, what must not decrypt (tampered
 * nonce, ciphertext or tag; another row or column; a relabelled key id; an unknown
 * key), rotation with old keys, legacy plain text, and malformed key variables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/secretbox.h"

#define COL "integrations.webhook_secret"
#define ROW "0190f0c4-1b2c-7d3e-8f40-5a6b7c8d9e0f/github-prod"

/* 32 bytes of 0x01 / 0x02 / 0x03, base64. */
#define KEY1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KEY2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define KEY3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="

static struct secretbox *keyring(const char *current, const char *old)
{
    struct secretbox *kr = NULL;
    char err[256] = "";
    assert_int_equal(secretbox_parse(current, old, &kr, err, sizeof err), 0);
    assert_non_null(kr);
    return kr;
}

static char *seal(const struct secretbox *kr, const char *plain, const char *column, const char *row)
{
    char err[256] = "";
    char *s = secretbox_encrypt(kr, plain, column, row, err, sizeof err);
    assert_non_null(s);
    return s;
}

/* Decrypts and returns the result; *plain (may be NULL) gets the text. */
static enum secretbox_result open_with(const struct secretbox *kr, const char *stored, const char *column,
                                       const char *row, char **plain)
{
    char *p = NULL, err[256] = "";
    enum secretbox_result r = secretbox_decrypt(kr, stored, column, row, &p, err, sizeof err);
    if (secretbox_readable(r)) {
        assert_non_null(p);
    } else {
        assert_null(p);
        assert_true(err[0] != '\0');
    }
    if (plain)
        *plain = p;
    else
        secretbox_free_str(p);
    return r;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct secretbox *kr = keyring("k1:" KEY1, NULL);
    const char *secrets[] = {"s3cret", "", "It's a Secret to Everybody \xc3\xa9\n", "x"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        char *stored = seal(kr, secrets[i], COL, ROW), *plain;
        assert_true(!strncmp(stored, "hl1:k1:", 7));
        if (strlen(secrets[i]) >= 6) /* shorter ones may occur in any base64 text */
            assert_null(strstr(stored, secrets[i]));
        assert_true(secretbox_is_current(kr, stored));
        assert_int_equal(open_with(kr, stored, COL, ROW, &plain), SECRETBOX_OK);
        assert_string_equal(plain, secrets[i]);
        secretbox_free_str(plain);
        secretbox_free_str(stored);
    }
    /* A fresh nonce each time: the same secret never gives the same text. */
    char *a = seal(kr, "same", COL, ROW), *b = seal(kr, "same", COL, ROW);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    assert_string_equal(secretbox_current_id(kr), "k1");
    secretbox_free(kr);
}

/* Flips one bit of the decoded value at offset (from the start, or from the end when
 * negative) and re-encodes it. */
static char *tamper(const char *stored, long offset)
{
    const char *b64 = strchr(stored + 4, ':') + 1;
    unsigned char raw[512];
    long n = crypto_unbase64(b64, strlen(b64), raw, sizeof raw);
    assert_true(n > 28);
    raw[offset >= 0 ? offset : n + offset] ^= 0x01;
    char *out = malloc(strlen(stored) + 8);
    assert_non_null(out);
    size_t head = (size_t)(b64 - stored);
    memcpy(out, stored, head);
    crypto_base64(raw, (size_t)n, out + head);
    return out;
}

static void test_tampering_fails(void **state)
{
    (void)state;
    struct secretbox *kr = keyring("k1:" KEY1, NULL);
    char *stored = seal(kr, "a webhook secret", COL, ROW);
    long where[] = {0, 11, 12, 20, -16, -1}; /* nonce, ciphertext, tag */
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        char *bad = tamper(stored, where[i]);
        assert_int_equal(open_with(kr, bad, COL, ROW, NULL), SECRETBOX_ERR_AUTH);
        free(bad);
    }
    /* Truncated, or not base64 at all. */
    char *cut = strdup(stored);
    cut[strlen(cut) - 30] = '\0';
    assert_int_equal(open_with(kr, cut, COL, ROW, NULL), SECRETBOX_ERR_FORMAT);
    assert_int_equal(open_with(kr, "hl1:k1:AAAA", COL, ROW, NULL), SECRETBOX_ERR_FORMAT);
    assert_int_equal(open_with(kr, "hl1:k1:!!!!not-base64!!!!!!!!!!!!!!!!!!!!!!!!!!!", COL, ROW, NULL),
                     SECRETBOX_ERR_FORMAT);
    assert_int_equal(open_with(kr, "hl1:", COL, ROW, NULL), SECRETBOX_ERR_FORMAT);
    assert_int_equal(open_with(kr, "hl1:no colon", COL, ROW, NULL), SECRETBOX_ERR_FORMAT);
    free(cut);
    free(stored);
    secretbox_free(kr);
}

static void test_wrong_place_fails(void **state)
{
    (void)state;
    struct secretbox *kr = keyring("k1:" KEY1, "k2:" KEY2);
    char *stored = seal(kr, "a webhook secret", COL, ROW);
    /* Another column of the same row, the same column of another row. */
    assert_int_equal(open_with(kr, stored, "integrations.client_secret", ROW, NULL), SECRETBOX_ERR_AUTH);
    assert_int_equal(open_with(kr, stored, COL, "0190f0c4-1b2c-7d3e-8f40-5a6b7c8d9e0f/github-dev", NULL),
                     SECRETBOX_ERR_AUTH);
    /* Column and row are separate fields: moving the boundary does not match. */
    assert_int_equal(open_with(kr, stored, "integrations.webhook_secre", "t" ROW, NULL), SECRETBOX_ERR_AUTH);
    /* Relabelled with the other key's id. */
    char *relabelled = strdup(stored);
    relabelled[5] = '2';
    assert_int_equal(open_with(kr, relabelled, COL, ROW, NULL), SECRETBOX_ERR_AUTH);
    free(relabelled);
    free(stored);
    secretbox_free(kr);
}

static void test_unknown_key_id(void **state)
{
    (void)state;
    struct secretbox *k1 = keyring("k1:" KEY1, NULL), *k3 = keyring("k3:" KEY3, NULL);
    char *stored = seal(k1, "a webhook secret", COL, ROW), *plain = NULL, err[256] = "";
    assert_int_equal(secretbox_decrypt(k3, stored, COL, ROW, &plain, err, sizeof err), SECRETBOX_ERR_UNKNOWN_KEY);
    assert_null(plain);
    assert_non_null(strstr(err, "'k1'"));
    assert_non_null(strstr(err, SECRETBOX_ENV_OLD_KEYS));
    /* No keyring at all: only plain text is readable. */
    assert_int_equal(secretbox_decrypt(NULL, stored, COL, ROW, &plain, err, sizeof err), SECRETBOX_ERR_NO_KEYRING);
    assert_non_null(strstr(err, SECRETBOX_ENV_KEY));
    assert_null(secretbox_encrypt(NULL, "x", COL, ROW, err, sizeof err));
    assert_non_null(strstr(err, SECRETBOX_ENV_KEY));
    /* The same id with another key does not authenticate. */
    struct secretbox *other = keyring("k1:" KEY3, NULL);
    assert_int_equal(open_with(other, stored, COL, ROW, NULL), SECRETBOX_ERR_AUTH);
    secretbox_free(other);
    free(stored);
    secretbox_free(k1);
    secretbox_free(k3);
}

static void test_rotation(void **state)
{
    (void)state;
    struct secretbox *before = keyring("k1:" KEY1, NULL);
    char *old = seal(before, "rotated secret", COL, ROW), *plain;
    secretbox_free(before);

    struct secretbox *after = keyring("k2:" KEY2, " k0:" KEY3 " , k1:" KEY1 " ");
    assert_false(secretbox_is_current(after, old));
    assert_int_equal(open_with(after, old, COL, ROW, &plain), SECRETBOX_OLD_KEY);
    assert_string_equal(plain, "rotated secret");
    char *fresh = seal(after, plain, COL, ROW);
    secretbox_free_str(plain);
    assert_true(!strncmp(fresh, "hl1:k2:", 7));
    assert_true(secretbox_is_current(after, fresh));
    assert_int_equal(open_with(after, fresh, COL, ROW, NULL), SECRETBOX_OK);
    /* A key id that is a prefix of the current one is not the current one. */
    struct secretbox *k = keyring("k:" KEY3, "k2:" KEY2);
    assert_false(secretbox_is_current(k, fresh));
    assert_int_equal(open_with(k, fresh, COL, ROW, NULL), SECRETBOX_OLD_KEY);
    secretbox_free(k);
    free(fresh);
    free(old);
    secretbox_free(after);
}

static void test_legacy_plaintext(void **state)
{
    (void)state;
    struct secretbox *kr = keyring("k1:" KEY1, NULL);
    char *plain;
    assert_int_equal(open_with(kr, "plain-old-secret", COL, ROW, &plain), SECRETBOX_LEGACY);
    assert_string_equal(plain, "plain-old-secret");
    secretbox_free_str(plain);
    assert_false(secretbox_is_current(kr, "plain-old-secret"));
    assert_int_equal(open_with(NULL, "plain-old-secret", COL, ROW, NULL), SECRETBOX_LEGACY);
    assert_int_equal(open_with(kr, "", COL, ROW, NULL), SECRETBOX_LEGACY);
    assert_int_equal(open_with(kr, "HL1:k1:AAAA", COL, ROW, NULL), SECRETBOX_LEGACY);
    secretbox_free(kr);
}

/* secretbox_parse must fail, naming the variable and never echoing the value. */
static void parse_fails(const char *current, const char *old, const char *names)
{
    struct secretbox *kr = (struct secretbox *)1;
    char err[256] = "";
    assert_int_equal(secretbox_parse(current, old, &kr, err, sizeof err), -1);
    assert_null(kr);
    assert_non_null(strstr(err, names));
    assert_null(strstr(err, "AQEB"));
    assert_null(strstr(err, "AgIC"));
}

static void test_malformed_keys(void **state)
{
    (void)state;
    parse_fails(KEY1, NULL, SECRETBOX_ENV_KEY);              /* no key id */
    parse_fails("k1:", NULL, SECRETBOX_ENV_KEY);             /* no key */
    parse_fails("k1:AQEBAQEB", NULL, SECRETBOX_ENV_KEY);     /* too short */
    parse_fails("k1:" KEY1 "AQEB", NULL, SECRETBOX_ENV_KEY); /* too long */
    parse_fails("k1:" KEY1 "*", NULL, SECRETBOX_ENV_KEY);    /* not base64 */
    parse_fails("bad id:" KEY1, NULL, SECRETBOX_ENV_KEY);    /* key id charset */
    parse_fails("k:1:" KEY1, NULL, SECRETBOX_ENV_KEY);
    parse_fails("abcdefghijklmnopqrstuvwxyz0123456:" KEY1, NULL, SECRETBOX_ENV_KEY); /* 33 chars */
    parse_fails(NULL, "k1:" KEY1, SECRETBOX_ENV_OLD_KEYS); /* old keys without a current one */
    parse_fails("k1:" KEY1, "k2:" KEY2 ",", SECRETBOX_ENV_OLD_KEYS " entry 2");
    parse_fails("k1:" KEY1, "k2:" KEY2 ",k3", SECRETBOX_ENV_OLD_KEYS " entry 2");
    parse_fails("k1:" KEY1, "k1:" KEY2, "twice");
    parse_fails("k1:" KEY1, "k2:" KEY2 ",k2:" KEY3, "twice");

    /* Nothing set at all is not an error: there is simply no keyring. */
    struct secretbox *kr = (struct secretbox *)1;
    char err[256] = "";
    assert_int_equal(secretbox_parse(NULL, NULL, &kr, err, sizeof err), 0);
    assert_null(kr);
    assert_int_equal(secretbox_parse("", " ", &kr, err, sizeof err), 0);
    assert_null(kr);
    /* Surrounding blanks and a trailing newline (from a file) are fine. */
    kr = keyring(" k1:" KEY1 "\n", "");
    secretbox_free(kr);
}

static void test_new_key(void **state)
{
    (void)state;
    char text[SECRETBOX_KEY_TEXT_MAX], other[SECRETBOX_KEY_TEXT_MAX], err[200];
    assert_int_equal(secretbox_new_key("k20260101", text, err, sizeof err), 0);
    assert_int_equal(secretbox_new_key("k20260101", other, err, sizeof err), 0);
    assert_string_not_equal(text, other);
    assert_true(!strncmp(text, "k20260101:", 10));
    struct secretbox *kr = keyring(text, NULL);
    assert_string_equal(secretbox_current_id(kr), "k20260101");
    secretbox_free(kr);
    assert_int_equal(secretbox_new_key("has space", text, err, sizeof err), -1);
    assert_int_equal(secretbox_new_key("", text, err, sizeof err), -1);
    assert_int_equal(secretbox_new_key("abcdefghijklmnopqrstuvwxyz0123456", text, err, sizeof err), -1);
    assert_int_equal(secretbox_new_key("abcdefghijklmnopqrstuvwxyz012345", text, err, sizeof err), 0);
}

static void test_too_long(void **state)
{
    (void)state;
    struct secretbox *kr = keyring("k1:" KEY1, NULL);
    char *big = malloc(SECRETBOX_MAX_PLAINTEXT + 2), err[256];
    assert_non_null(big);
    memset(big, 'a', SECRETBOX_MAX_PLAINTEXT + 1);
    big[SECRETBOX_MAX_PLAINTEXT + 1] = '\0';
    assert_null(secretbox_encrypt(kr, big, COL, ROW, err, sizeof err));
    big[SECRETBOX_MAX_PLAINTEXT] = '\0';
    char *stored = seal(kr, big, COL, ROW), *plain;
    assert_int_equal(open_with(kr, stored, COL, ROW, &plain), SECRETBOX_OK);
    assert_string_equal(plain, big);
    secretbox_free_str(plain);
    free(stored);
    free(big);
    secretbox_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_tampering_fails),
        cmocka_unit_test(test_wrong_place_fails), cmocka_unit_test(test_unknown_key_id),
        cmocka_unit_test(test_rotation),          cmocka_unit_test(test_legacy_plaintext),
        cmocka_unit_test(test_malformed_keys),    cmocka_unit_test(test_new_key),
        cmocka_unit_test(test_too_long),
    };
    return cmocka_run_group_tests_name("secretbox", tests, NULL, NULL);
}
