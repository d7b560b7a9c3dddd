/*
 * schemes: the primitives of the signature schemes that are not an HMAC: a plain
 * message digest (HubSpot v1/v2 hash the client secret together with the request)
 * and Ed25519 (Standard Webhooks v1a), on OpenSSL 3 EVP. signature.c decides what is
 * signed and compares; this file only computes.
 */
#include "providers/provider_impl.h"

#include <openssl/evp.h>

#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64

static const EVP_MD *md_of(enum hmac_alg alg)
{
    switch (alg) {
    case HMAC_SHA1:
        return EVP_sha1();
    case HMAC_SHA512:
        return EVP_sha512();
    case HMAC_SHA256:
    default:
        return EVP_sha256();
    }
}

size_t scheme_digest(enum hmac_alg alg, const void *const *parts, const size_t *lens, size_t n, unsigned char *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, md_of(alg), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? len : 0;
}

bool scheme_ed25519_verify(const unsigned char *pub, size_t publen, const void *msg, size_t msglen,
                           const unsigned char *sig, size_t siglen)
{
    if (publen != ED25519_KEY_LEN || siglen != ED25519_SIG_LEN)
        return false;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, publen);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = key && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

int scheme_ed25519_sign(const unsigned char *seed, size_t seedlen, const void *msg, size_t msglen,
                        unsigned char sig[64])
{
    if (seedlen != ED25519_KEY_LEN)
        return -1;
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, seedlen);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = ED25519_SIG_LEN;
    bool ok = key && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
              EVP_DigestSign(ctx, sig, &len, msg, msglen) == 1 && len == ED25519_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}
