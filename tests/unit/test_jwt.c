/*
 * test_jwt: the JWT verifier (providers/jwt.h) and public keys (providers/pubkey.h):
 * strict base64url, the parse rules, the alg allow-list and key-type binding, RS256 and
 * ES256 (JOSE r||s) signatures, the time and issuer/audience claims, JWKS key choice,
 * and which key texts are accepted. Tokens are signed here with the test keys of
 * tests/fixtures/signed/. Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "providers/jwt.h"
#include "providers/pubkey.h"

#define NOW 1700000000
#define KEYS "tests/fixtures/signed/"

/* ---- helpers: keys and tokens ---------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run from the repository root)", path);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static struct pubkey *pub(const char *name)
{
    char path[256], why[160] = "";
    snprintf(path, sizeof path, KEYS "%s.pub", name);
    char *text = read_file(path);
    struct pubkey *k = pubkey_from_text(text, why, sizeof why);
    if (!k)
        fail_msg("%s: %s", path, why);
    free(text);
    return k;
}

static EVP_PKEY *priv(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, KEYS "%s.key", name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    return k;
}

static void b64url(const unsigned char *in, size_t len, char *out)
{
    char tmp[2048];
    size_t n = crypto_base64(in, len, tmp);
    size_t o = 0;
    for (size_t i = 0; i < n && tmp[i] != '='; i++)
        out[o++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
    out[o] = '\0';
}

/* SHA-256 signature of msg by key name: RSA PKCS#1 v1.5, or ECDSA as DER or r||s. */
static size_t sign(const char *name, const char *msg, bool raw, unsigned char *sig)
{
    EVP_PKEY *k = priv(name);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 512;
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(ctx);
    if (raw && EVP_PKEY_is_a(k, "EC")) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        assert_non_null(es);
        memset(sig, 0, 64);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
        ECDSA_SIG_free(es);
        len = 64;
    }
    EVP_PKEY_free(k);
    return len;
}

/* A token of header and claims (JSON texts) signed by key name (NULL: signature "x"). */
static char *token(const char *header, const char *claims, const char *name)
{
    char *t = malloc(8192), h[2048], c[4096], s[1024];
    unsigned char sig[512];
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)claims, strlen(claims), c);
    snprintf(t, 8192, "%s.%s", h, c);
    if (name)
        b64url(sig, sign(name, t, true, sig), s);
    else
        strcpy(s, "eA");
    strcat(t, ".");
    strcat(t, s);
    return t;
}

#define RS_HEADER "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define ES_HEADER "{\"alg\":\"ES256\",\"kid\":\"e1\"}"
#define ALL (JWT_ALLOW_RS256 | JWT_ALLOW_ES256)

static int parse(const char *tok, unsigned allowed, struct jwt *t, char *why)
{
    return jwt_parse(tok, strlen(tok), allowed, t, why, 160);
}

/* ---- base64url ----------------------------------------------------------------------- */

static void test_base64url_is_strict(void **state)
{
    (void)state;
    unsigned char out[16];
    assert_int_equal(pubkey_unbase64url("QQ", 2, out, sizeof out), 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(pubkey_unbase64url("-_8", 3, out, sizeof out), 2); /* 0xfb 0xff */
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(pubkey_unbase64url("QQ==", 4, out, sizeof out), -1);  /* padding */
    assert_int_equal(pubkey_unbase64url("+/8", 3, out, sizeof out), -1);   /* base64, not url */
    assert_int_equal(pubkey_unbase64url("Q Q", 3, out, sizeof out), -1);   /* whitespace */
    assert_int_equal(pubkey_unbase64url("QR", 2, out, sizeof out), -1);    /* leftover bits set */
    assert_int_equal(pubkey_unbase64url("QUJDR", 5, out, sizeof out), -1); /* 5 chars: impossible */
    assert_int_equal(pubkey_unbase64url("QUJD", 4, out, 2), -1);           /* longer than the buffer */
    assert_int_equal(pubkey_unbase64url("", 0, out, sizeof out), 0);
}

/* ---- parsing ------------------------------------------------------------------------ */

static void test_parse_refuses_malformed_tokens(void **state)
{
    (void)state;
    struct jwt t;
    char why[160];
    const char *bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9..eA",     /* empty claims */
        "eyJhbGciOiJSUzI1NiJ9.e30=.eA", /* padded */
        "eyJhbGciOiJSUzI1NiJ9.e30.",    /* empty signature */
        "W10.e30.eA",                   /* header is an array */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], ALL, &t, why) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_null(t.header);
        jwt_free(&t);
    }
    char *big = calloc(1, JWT_MAX_LEN + 2);
    memset(big, 'a', JWT_MAX_LEN + 1);
    assert_int_equal(parse(big, ALL, &t, why), -1);
    assert_non_null(strstr(why, "too long"));
    free(big);
}

static void test_parse_enforces_the_alg_allow_list(void **state)
{
    (void)state;
    struct jwt t;
    char why[160];
    const char *headers[] = {"{\"alg\":\"none\"}",  "{\"alg\":\"HS256\"}", "{\"alg\":\"RS512\"}",
                             "{\"alg\":\"rs256\"}", "{\"typ\":\"JWT\"}",   "{\"alg\":256}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *tok = token(headers[i], "{}", NULL);
        if (parse(tok, ALL, &t, why) == 0)
            fail_msg("accepted header %s", headers[i]);
        assert_non_null(strstr(why, "alg"));
        free(tok);
    }
    char *es = token(ES_HEADER, "{}", "ec");
    assert_int_equal(parse(es, JWT_ALLOW_RS256, &t, why), -1); /* a row that signs RS256 only */
    assert_int_equal(parse(es, JWT_ALLOW_ES256, &t, why), 0);
    assert_int_equal(t.alg, JWT_ES256);
    assert_string_equal(t.kid, "e1");
    jwt_free(&t);
    free(es);
}

static void test_parse_refuses_crit_duplicates_and_odd_kid(void **state)
{
    (void)state;
    struct jwt t;
    char why[160];
    const char *cases[][2] = {
        {"{\"alg\":\"RS256\",\"crit\":[\"exp\"]}", "{}"},
        {"{\"alg\":\"RS256\",\"alg\":\"RS256\"}", "{}"},
        {RS_HEADER, "{\"exp\":1,\"exp\":2}"},
        {"{\"alg\":\"RS256\",\"kid\":7}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *tok = token(cases[i][0], cases[i][1], "rsa");
        if (parse(tok, ALL, &t, why) == 0)
            fail_msg("accepted %s . %s", cases[i][0], cases[i][1]);
        free(tok);
    }
}

/* ---- signatures ---------------------------------------------------------------------- */

static void test_rs256_and_es256_signatures(void **state)
{
    (void)state;
    struct jwt t;
    char why[160];
    struct pubkey *rsa = pub("rsa"), *rsa2 = pub("rsa-other"), *ec = pub("ec"), *ec2 = pub("ec-other");

    char *rs = token(RS_HEADER, "{\"sub\":\"x\"}", "rsa");
    assert_int_equal(parse(rs, ALL, &t, why), 0);
    assert_true(jwt_signature_ok(&t, rsa));
    assert_false(jwt_signature_ok(&t, rsa2));
    assert_false(jwt_signature_ok(&t, ec)); /* an RS256 token never checks with an EC key */
    jwt_free(&t);

    /* The same token with one claim byte changed. */
    char *dot = strchr(rs, '.');
    dot[1] = dot[1] == 'e' ? 'f' : 'e';
    if (parse(rs, ALL, &t, why) == 0)
        assert_false(jwt_signature_ok(&t, rsa));
    jwt_free(&t);

    char *es = token(ES_HEADER, "{\"sub\":\"x\"}", "ec");
    assert_int_equal(parse(es, ALL, &t, why), 0);
    assert_true(jwt_signature_ok(&t, ec));
    assert_false(jwt_signature_ok(&t, ec2));
    assert_false(jwt_signature_ok(&t, rsa));
    jwt_free(&t);

    /* An ES256 token must carry r||s: the DER form of a valid signature is refused. */
    char signing[4096], der_b64[1024], derform[8192];
    snprintf(signing, sizeof signing, "%.*s", (int)(strrchr(es, '.') - es), es);
    unsigned char der[512];
    b64url(der, sign("ec", signing, false, der), der_b64);
    snprintf(derform, sizeof derform, "%s.%s", signing, der_b64);
    assert_int_equal(parse(derform, ALL, &t, why), 0);
    assert_false(jwt_signature_ok(&t, ec));
    jwt_free(&t);

    free(rs);
    free(es);
    pubkey_free(rsa);
    pubkey_free(rsa2);
    pubkey_free(ec);
    pubkey_free(ec2);
}

/* ---- claims ---------------------------------------------------------------------------- */

static bool claims_ok(const char *claims, const struct jwt_policy *pol, char *why)
{
    struct jwt t;
    char *tok = token(RS_HEADER, claims, NULL);
    assert_int_equal(parse(tok, ALL, &t, why), 0);
    bool ok = jwt_claims_ok(&t, pol, NOW, why, 160);
    jwt_free(&t);
    free(tok);
    return ok;
}

static void test_time_claims_with_skew(void **state)
{
    (void)state;
    char why[160];
    struct jwt_policy pol = {.skew = 60, .require_exp = true};
    assert_true(claims_ok("{\"exp\":1700000000}", &pol, why));
    assert_true(claims_ok("{\"exp\":1699999940}", &pol, why)); /* expired exactly skew ago */
    assert_false(claims_ok("{\"exp\":1699999939}", &pol, why));
    assert_non_null(strstr(why, "expired"));
    assert_false(claims_ok("{}", &pol, why));
    assert_non_null(strstr(why, "no exp"));
    assert_false(claims_ok("{\"exp\":\"1700000100\"}", &pol, why));
    assert_true(claims_ok("{\"exp\":1700000100.5}", &pol, why));
    assert_true(claims_ok("{\"exp\":1700000100,\"nbf\":1700000060}", &pol, why));
    assert_false(claims_ok("{\"exp\":1700000100,\"nbf\":1700000061}", &pol, why));
    assert_non_null(strstr(why, "nbf"));
    assert_false(claims_ok("{\"exp\":1700000100,\"iat\":1700000061}", &pol, why));
    assert_non_null(strstr(why, "iat"));
    struct jwt_policy age = {.skew = 0, .max_age = 300};
    assert_true(claims_ok("{\"iat\":1699999700}", &age, why));
    assert_false(claims_ok("{\"iat\":1699999699}", &age, why));
    assert_non_null(strstr(why, "too old"));
    assert_false(claims_ok("{}", &age, why));
}

static void test_issuer_and_audience(void **state)
{
    (void)state;
    char why[160];
    struct jwt_policy pol = {.issuers = {"https://a.example", "a.example"}, .audience = "app-1"};
    assert_true(claims_ok("{\"iss\":\"a.example\",\"aud\":\"app-1\"}", &pol, why));
    assert_true(claims_ok("{\"iss\":\"https://a.example\",\"aud\":[\"x\",\"app-1\"]}", &pol, why));
    assert_false(claims_ok("{\"iss\":\"https://b.example\",\"aud\":\"app-1\"}", &pol, why));
    assert_non_null(strstr(why, "iss"));
    assert_false(claims_ok("{\"aud\":\"app-1\"}", &pol, why));
    assert_false(claims_ok("{\"iss\":\"a.example\",\"aud\":\"app-10\"}", &pol, why));
    assert_non_null(strstr(why, "aud"));
    assert_false(claims_ok("{\"iss\":\"a.example\",\"aud\":[\"app-2\"]}", &pol, why));
    assert_false(claims_ok("{\"iss\":\"a.example\"}", &pol, why));
}

/* ---- JWKS ------------------------------------------------------------------------------- */

/* The JWKS entry of the RSA test key, made from its modulus. */
static char *rsa_jwk(const char *kid)
{
    EVP_PKEY *k = priv("rsa");
    BIGNUM *n = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &n), 1);
    unsigned char bin[512];
    int len = BN_bn2bin(n, bin);
    char nb[1024], *out = malloc(2048);
    b64url(bin, (size_t)len, nb);
    snprintf(out, 2048, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"AQAB\"}", kid, nb);
    BN_free(n);
    EVP_PKEY_free(k);
    return out;
}

static void test_jwks_key_choice(void **state)
{
    (void)state;
    char why[160], doc[8192];
    struct jwt t;
    char *j1 = rsa_jwk("k1"), *j2 = rsa_jwk("k2");
    char *tok = token(RS_HEADER, "{}", "rsa");
    assert_int_equal(parse(tok, ALL, &t, why), 0);

    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", j2, j1);
    struct pubkey *k = jwt_key_from_jwks(&t, doc, strlen(doc), why, sizeof why);
    assert_non_null(k);
    assert_true(jwt_signature_ok(&t, k));
    pubkey_free(k);

    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", j2);
    assert_null(jwt_key_from_jwks(&t, doc, strlen(doc), why, sizeof why));
    assert_non_null(strstr(why, "kid"));
    const char *not_jwks[] = {"[]", "{\"keys\":{}}", "not json", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\"}]}"};
    for (size_t i = 0; i < sizeof not_jwks / sizeof not_jwks[0]; i++)
        assert_null(jwt_key_from_jwks(&t, not_jwks[i], strlen(not_jwks[i]), why, sizeof why));
    jwt_free(&t);
    free(tok);

    /* Without a kid: only when exactly one key of the type is published. */
    tok = token("{\"alg\":\"RS256\"}", "{}", "rsa");
    assert_int_equal(parse(tok, ALL, &t, why), 0);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", j1);
    k = jwt_key_from_jwks(&t, doc, strlen(doc), why, sizeof why);
    assert_non_null(k);
    pubkey_free(k);
    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", j1, j2);
    assert_null(jwt_key_from_jwks(&t, doc, strlen(doc), why, sizeof why));
    jwt_free(&t);
    free(tok);
    free(j1);
    free(j2);
}

/* ---- key texts ------------------------------------------------------------------------ */

static void test_key_texts(void **state)
{
    (void)state;
    char why[160];
    char *pem = read_file(KEYS "rsa.pub"), *cert = read_file(KEYS "ca.pem"), *privkey = read_file(KEYS "ec.key");
    struct pubkey *k = pubkey_from_text(pem, why, sizeof why);
    assert_int_equal(pubkey_type(k), PUBKEY_RSA);
    pubkey_free(k);

    /* The bare base64 body, as dashboards show it, with its line breaks or without. */
    char bare[4096] = "";
    for (char *line = strtok(pem, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "-----", 5) != 0)
            strcat(bare, line);
    k = pubkey_from_text(bare, why, sizeof why);
    assert_int_equal(pubkey_type(k), PUBKEY_RSA);
    pubkey_free(k);

    assert_null(pubkey_from_text(cert, why, sizeof why));
    assert_null(pubkey_from_text(privkey, why, sizeof why));
    assert_null(pubkey_from_text("", why, sizeof why));
    assert_null(pubkey_from_text(NULL, why, sizeof why));
    assert_null(pubkey_from_text("whsec_not_a_key", why, sizeof why));
    strcat(bare, "AAAA"); /* trailing bytes after the key */
    assert_null(pubkey_from_text(bare, why, sizeof why));
    /* A 1024-bit RSA key is refused for being short, not for being unreadable. */
    EVP_PKEY *small = EVP_RSA_gen(1024);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, small), 1);
    char small_pem[2048] = "";
    BIO_read(bio, small_pem, sizeof small_pem - 1);
    assert_null(pubkey_from_text(small_pem, why, sizeof why));
    assert_non_null(strstr(why, "2048"));
    BIO_free(bio);
    EVP_PKEY_free(small);
    free(pem);
    free(cert);
    free(privkey);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url_is_strict),
        cmocka_unit_test(test_parse_refuses_malformed_tokens),
        cmocka_unit_test(test_parse_enforces_the_alg_allow_list),
        cmocka_unit_test(test_parse_refuses_crit_duplicates_and_odd_kid),
        cmocka_unit_test(test_rs256_and_es256_signatures),
        cmocka_unit_test(test_time_claims_with_skew),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_jwks_key_choice),
        cmocka_unit_test(test_key_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
