/* crypto: see crypto.h. */
#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdint.h>
#include <openssl/sha.h>
#include <string.h>

#include "common/random.h"

static const char *digest_name(enum hmac_alg alg)
{
    switch (alg) {
    case HMAC_SHA1:
        return "SHA1";
    case HMAC_SHA512:
        return "SHA512";
    case HMAC_SHA256:
    default:
        return "SHA256";
    }
}

/* One HMAC context per digest, made once with its digest set: each call duplicates it
 * and sets only the key. Setting the digest by name on every call fetched the digest
 * again (a provider lookup: a few % of the ingress's CPU per webhook). */
static EVP_MAC_CTX *hmac_templates[3];
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_make_templates(void)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return;
    static const enum hmac_alg algs[] = {HMAC_SHA256, HMAC_SHA1, HMAC_SHA512};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t)digest_name(algs[i]), 0),
            OSSL_PARAM_construct_end(),
        };
        if (ctx && !EVP_MAC_CTX_set_params(ctx, params)) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
        }
        hmac_templates[algs[i]] = ctx;
    }
    EVP_MAC_free(mac); /* each context holds its own reference */
}

size_t crypto_hmac(enum hmac_alg alg, const void *key, size_t keylen, const void *const *parts, const size_t *lens,
                   size_t n, unsigned char *out)
{
    pthread_once(&hmac_once, hmac_make_templates);
    if ((unsigned)alg >= sizeof hmac_templates / sizeof hmac_templates[0] || !hmac_templates[alg])
        return 0;
    size_t outlen = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(hmac_templates[alg]);
    if (!ctx)
        return 0;
    static const unsigned char empty_key[1];
    if (!EVP_MAC_init(ctx, keylen ? key : empty_key, keylen, NULL))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (lens[i] && !EVP_MAC_update(ctx, parts[i], lens[i]))
            goto out;
    size_t len = 0;
    if (EVP_MAC_final(ctx, out, &len, 64))
        outlen = len;
out:
    EVP_MAC_CTX_free(ctx);
    return outlen;
}

size_t crypto_hmac1(enum hmac_alg alg, const void *key, size_t keylen, const void *data, size_t len, unsigned char *out)
{
    const void *parts[1] = {data};
    size_t lens[1] = {len};
    return crypto_hmac(alg, key, keylen, parts, lens, 1, out);
}

void crypto_sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

bool crypto_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return alen == 0 || CRYPTO_memcmp(a, b, alen) == 0;
}

char *crypto_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long crypto_unhex(const char *in, size_t inlen, unsigned char *out, size_t outcap)
{
    if (inlen % 2 || inlen / 2 > outcap)
        return -1;
    for (size_t i = 0; i < inlen / 2; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(inlen / 2);
}

size_t crypto_base64(const unsigned char *in, size_t len, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long crypto_unbase64(const char *in, size_t inlen, unsigned char *out, size_t outcap)
{
    while (inlen && in[inlen - 1] == '=')
        inlen--;
    if (inlen % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < inlen; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

int crypto_random(void *out, size_t len)
{
    return random_fill(out, len);
}
