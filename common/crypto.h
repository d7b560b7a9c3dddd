/*
 * crypto: the few primitives hookline needs, on OpenSSL. All functions are pure and
 * thread-safe. Comparisons of secrets or signatures go through crypto_equal, which is
 * constant-time and treats a length mismatch as "different", not as an error.
 */
#ifndef HOOKLINE_CRYPTO_H
#define HOOKLINE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

enum hmac_alg { HMAC_SHA1, HMAC_SHA256, HMAC_SHA512 };

/* HMAC of the concatenation of n parts (parts[i], lens[i]) with key. Writes the digest
 * to out (at least 64 bytes) and returns its length, or 0 on failure. */
size_t crypto_hmac(enum hmac_alg alg, const void *key, size_t keylen, const void *const *parts, const size_t *lens,
                   size_t n, unsigned char *out);

/* Single-part convenience form. */
size_t crypto_hmac1(enum hmac_alg alg, const void *key, size_t keylen, const void *data, size_t len,
                    unsigned char *out);

void crypto_sha256(const void *data, size_t len, unsigned char out[32]);

/* Constant-time equality; false if lengths differ. */
bool crypto_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Lower-case hex of in into out (2*len+1 bytes, NUL-terminated). Returns out. */
char *crypto_hex(const unsigned char *in, size_t len, char *out);

/* Decodes hex (either case). Returns bytes written, or -1 if malformed or too long. */
long crypto_unhex(const char *in, size_t inlen, unsigned char *out, size_t outcap);

/* Standard base64 with padding into out (4*((len+2)/3)+1 bytes). Returns length. */
size_t crypto_base64(const unsigned char *in, size_t len, char *out);

/* Decodes standard base64 (padding optional, no whitespace). Returns bytes written or -1. */
long crypto_unbase64(const char *in, size_t inlen, unsigned char *out, size_t outcap);

/* Cryptographically secure random bytes. Returns 0 or -1. */
int crypto_random(void *out, size_t len) __attribute__((warn_unused_result));

#endif
