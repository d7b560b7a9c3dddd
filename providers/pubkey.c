/* pubkey: see pubkey.h. */
#include "providers/pubkey.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

#define KEY_TEXT_MAX 16384
#define RSA_MIN_BITS 2048

struct pubkey {
    EVP_PKEY *pkey;
    enum pubkey_type type;
};

static void say(char *why, size_t whylen, const char *msg)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long pubkey_unbase64url(const char *in, size_t inlen, unsigned char *out, size_t outcap)
{
    if (inlen % 4 == 1)
        return -1;
    size_t need = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
    if (need > outcap)
        return -1;
    unsigned long acc = 0;
    size_t bits = 0, n = 0;
    for (size_t i = 0; i < inlen; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1UL << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: the leftover bits must be zero */
        return -1;
    return (long)n;
}

/* Wraps a key and checks it is one hookline accepts; takes pkey (freed on refusal). */
static struct pubkey *wrap(EVP_PKEY *pkey, char *why, size_t whylen)
{
    if (!pkey)
        return NULL;
    enum pubkey_type type = 0;
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) >= RSA_MIN_BITS)
            type = PUBKEY_RSA;
        else
            say(why, whylen, "the RSA key is shorter than 2048 bits");
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[32] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) == 1 &&
            strcmp(group, "prime256v1") == 0)
            type = PUBKEY_EC_P256;
        else
            say(why, whylen, "the EC key is not on P-256");
    } else {
        say(why, whylen, "the key is neither RSA nor EC P-256");
    }
    struct pubkey *k = type ? malloc(sizeof *k) : NULL;
    if (!k) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    k->pkey = pkey;
    k->type = type;
    return k;
}

/* The base64 body of a PEM, or the text itself, without whitespace, decoded as DER. */
static EVP_PKEY *from_base64_der(const char *text, size_t len)
{
    char *b64 = malloc(len + 1);
    unsigned char *der = malloc(len);
    EVP_PKEY *pkey = NULL;
    if (!b64 || !der)
        goto out;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", text[i]))
            b64[n++] = text[i];
    long dlen = crypto_unbase64(b64, n, der, len);
    if (dlen > 0) {
        const unsigned char *p = der;
        pkey = d2i_PUBKEY(NULL, &p, dlen);
        if (pkey && p != der + dlen) { /* trailing bytes: not one key */
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
out:
    free(b64);
    free(der);
    return pkey;
}

struct pubkey *pubkey_from_text(const char *text, char *why, size_t whylen)
{
    size_t len = text ? strnlen(text, KEY_TEXT_MAX + 1) : 0;
    if (len == 0 || len > KEY_TEXT_MAX) {
        say(why, whylen, len ? "the public key is too long" : "no public key is configured");
        return NULL;
    }
    static const char begin[] = "-----BEGIN PUBLIC KEY-----", end[] = "-----END PUBLIC KEY-----";
    const char *body = text, *stop = text + len;
    const char *b = strstr(text, begin);
    if (b) {
        body = b + sizeof begin - 1;
        stop = strstr(body, end);
        if (!stop) {
            say(why, whylen, "the public key PEM has no END line");
            return NULL;
        }
    } else if (strstr(text, "-----BEGIN")) {
        say(why, whylen, "the key is not a PUBLIC KEY PEM (a certificate or a private key?)");
        return NULL;
    }
    say(why, whylen, "the public key is not base64 DER SubjectPublicKeyInfo");
    return wrap(from_base64_der(body, (size_t)(stop - body)), why, whylen);
}

/* A base64url JWK member as a big number; NULL when absent or malformed. */
static BIGNUM *jwk_bn(json_t *jwk, const char *name, size_t maxlen, unsigned char *buf)
{
    json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v))
        return NULL;
    long n = pubkey_unbase64url(json_string_value(v), json_string_length(v), buf, maxlen);
    return n > 0 ? BN_bin2bn(buf, (int)n, NULL) : NULL;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(json_t *jwk)
{
    unsigned char buf[1024];
    BIGNUM *n = jwk_bn(jwk, "n", sizeof buf, buf), *e = jwk_bn(jwk, "e", sizeof buf, buf);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
        pkey = fromdata("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    json_t *x = json_object_get(jwk, "x"), *y = json_object_get(jwk, "y");
    unsigned char point[65] = {0x04}; /* uncompressed: 04 || x || y, 32 bytes each */
    if (!crv || strcmp(crv, "P-256") != 0 || !json_is_string(x) || !json_is_string(y) ||
        pubkey_unbase64url(json_string_value(x), json_string_length(x), point + 1, 32) != 32 ||
        pubkey_unbase64url(json_string_value(y), json_string_length(y), point + 33, 32) != 32)
        return NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) == 1)
        pkey = fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

struct pubkey *pubkey_from_jwk(json_t *jwk, char *why, size_t whylen)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    EVP_PKEY *pkey = NULL;
    if (kty && strcmp(kty, "RSA") == 0)
        pkey = rsa_from_jwk(jwk);
    else if (kty && strcmp(kty, "EC") == 0)
        pkey = ec_from_jwk(jwk);
    say(why, whylen, "the JWK is not a well-formed RSA or EC P-256 public key");
    return wrap(pkey, why, whylen);
}

enum pubkey_type pubkey_type(const struct pubkey *k)
{
    return k ? k->type : 0;
}

/* JOSE's r||s (32 bytes each) as the DER ECDSA-Sig-Value OpenSSL verifies. Returns a
 * new buffer (caller frees with OPENSSL_free) and its length in *len, or NULL. */
static unsigned char *raw_to_der(const unsigned char *sig, size_t siglen, int *len)
{
    if (siglen != 64)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        *len = i2d_ECDSA_SIG(es, &der);
        if (*len <= 0) {
            OPENSSL_free(der);
            der = NULL;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

bool pubkey_verify_sha256(const struct pubkey *k, const void *msg, size_t msglen, const unsigned char *sig,
                          size_t siglen, enum pubkey_sig_form form)
{
    if (!k || !sig || siglen == 0)
        return false;
    unsigned char *der = NULL;
    int derlen = 0;
    if (k->type == PUBKEY_EC_P256 && form == PUBKEY_SIG_RAW) {
        der = raw_to_der(sig, siglen, &derlen);
        if (!der)
            return false;
        sig = der;
        siglen = (size_t)derlen;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

void pubkey_free(struct pubkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}
