/*
 * pubkey: public keys and the SHA-256 signatures made with them (RSA PKCS#1 v1.5 and
 * ECDSA P-256), for providers that sign with a private key and publish the public one:
 * configured as text (PEM, or the bare base64 DER that some dashboards show) or served
 * as a JWK by a key endpoint. On OpenSSL's EVP interface.
 *
 * Pure and thread-safe. Keys are new references (free with pubkey_free, NULL-safe).
 */
#ifndef HOOKLINE_PUBKEY_H
#define HOOKLINE_PUBKEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct pubkey;

enum pubkey_type { PUBKEY_RSA = 1, PUBKEY_EC_P256 };

/* How an ECDSA signature is encoded: ASN.1 DER (SendGrid) or JOSE's fixed 64-byte
 * r||s (ES256 JWTs). RSA signatures are the same either way. */
enum pubkey_sig_form { PUBKEY_SIG_DER = 0, PUBKEY_SIG_RAW };

/* A "-----BEGIN PUBLIC KEY-----" PEM, or its base64 body alone (whitespace ignored).
 * Only RSA (2048 bits or more) and P-256 keys are accepted. NULL with a reason in why. */
struct pubkey *pubkey_from_text(const char *text, char *why, size_t whylen);

/* A JWK object: {"kty":"RSA","n","e"} or {"kty":"EC","crv":"P-256","x","y"}
 * (base64url members). NULL with a reason in why. */
struct pubkey *pubkey_from_jwk(json_t *jwk, char *why, size_t whylen);

enum pubkey_type pubkey_type(const struct pubkey *k);

/* True only when sig is a valid signature of SHA-256(msg) by k. */
bool pubkey_verify_sha256(const struct pubkey *k, const void *msg, size_t msglen, const unsigned char *sig,
                          size_t siglen, enum pubkey_sig_form form);

void pubkey_free(struct pubkey *k);

/* Strict base64url (RFC 7515 section 2: no padding, no whitespace, no '+' or '/', the
 * unused low bits zero). Returns bytes written, or -1 when malformed or longer than
 * outcap. */
long pubkey_unbase64url(const char *in, size_t inlen, unsigned char *out, size_t outcap);

#endif
