/* secretbox: see secretbox.h. AES-256-GCM through OpenSSL's EVP interface; a fresh
 * random 96-bit nonce per value (at the volumes of configuration secrets, random
 * nonces are far from the birthday bound). Key bytes live only in the keyring and in
 * OpenSSL's context, and are wiped when freed. */
#include "common/secretbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/crypto.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX_LEN (sizeof SECRETBOX_PREFIX - 1)

struct secretbox_key {
    char id[SECRETBOX_KEY_ID_MAX + 1];
    unsigned char bytes[SECRETBOX_KEY_BYTES];
};

struct secretbox {
    size_t n; /* keys[0] is the current key, the others decrypt only */
    struct secretbox_key keys[];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool valid_id(const char *s, size_t len)
{
    if (len == 0 || len > SECRETBOX_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Parses one "<id>:<base64>" of len bytes (surrounding blanks allowed) into k.
 * what names the value in messages, which never quote it. */
static int parse_key(const char *s, size_t len, struct secretbox_key *k, const char *what, char *err, size_t errlen)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    const char *colon = memchr(s, ':', len);
    if (!colon) {
        set_err(err, errlen, "%s: expected <key id>:<base64 of %d bytes> (see 'hookline secrets new-key')", what,
                SECRETBOX_KEY_BYTES);
        return -1;
    }
    size_t idlen = (size_t)(colon - s);
    if (!valid_id(s, idlen)) {
        set_err(err, errlen, "%s: the key id (before ':') must be 1 to %d letters, digits, '.', '_' or '-'", what,
                SECRETBOX_KEY_ID_MAX);
        return -1;
    }
    unsigned char raw[SECRETBOX_KEY_BYTES + 3];
    long n = crypto_unbase64(colon + 1, len - idlen - 1, raw, sizeof raw);
    if (n != SECRETBOX_KEY_BYTES) {
        OPENSSL_cleanse(raw, sizeof raw);
        set_err(err, errlen, "%s: the key (after ':') must be the base64 of exactly %d bytes", what,
                SECRETBOX_KEY_BYTES);
        return -1;
    }
    memcpy(k->id, s, idlen);
    k->id[idlen] = '\0';
    memcpy(k->bytes, raw, SECRETBOX_KEY_BYTES);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

static const struct secretbox_key *find_key(const struct secretbox *kr, const char *id, size_t idlen)
{
    for (size_t i = 0; kr && i < kr->n; i++)
        if (strlen(kr->keys[i].id) == idlen && !memcmp(kr->keys[i].id, id, idlen))
            return &kr->keys[i];
    return NULL;
}

static bool blank(const char *s)
{
    return !s || !s[strspn(s, " \t\r\n")];
}

int secretbox_parse(const char *current, const char *old_keys, struct secretbox **out, char *err, size_t errlen)
{
    *out = NULL;
    if (blank(current)) {
        if (!blank(old_keys)) {
            set_err(err, errlen, "%s is set but %s is not: old keys only decrypt, a current key is needed",
                    SECRETBOX_ENV_OLD_KEYS, SECRETBOX_ENV_KEY);
            return -1;
        }
        return 0;
    }
    struct secretbox *kr = calloc(1, sizeof *kr + (1 + SECRETBOX_MAX_OLD_KEYS) * sizeof kr->keys[0]);
    if (!kr) {
        set_err(err, errlen, "out of memory loading the encryption keys");
        return -1;
    }
    if (parse_key(current, strlen(current), &kr->keys[0], SECRETBOX_ENV_KEY, err, errlen) < 0)
        goto fail;
    kr->n = 1;
    for (const char *p = blank(old_keys) ? NULL : old_keys; p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char what[64];
        snprintf(what, sizeof what, "%s entry %zu", SECRETBOX_ENV_OLD_KEYS, kr->n);
        if (kr->n > SECRETBOX_MAX_OLD_KEYS) {
            set_err(err, errlen, "%s: at most %d old keys", SECRETBOX_ENV_OLD_KEYS, SECRETBOX_MAX_OLD_KEYS);
            goto fail;
        }
        struct secretbox_key *k = &kr->keys[kr->n];
        if (parse_key(p, len, k, what, err, errlen) < 0)
            goto fail;
        if (find_key(kr, k->id, strlen(k->id))) {
            set_err(err, errlen, "%s: key id '%s' is given twice (in %s or %s)", what, k->id, SECRETBOX_ENV_KEY,
                    SECRETBOX_ENV_OLD_KEYS);
            goto fail;
        }
        kr->n++;
        p = comma ? comma + 1 : NULL;
    }
    *out = kr;
    return 0;
fail:
    secretbox_free(kr);
    return -1;
}

int secretbox_from_env(struct secretbox **out, char *err, size_t errlen)
{
    return secretbox_parse(getenv(SECRETBOX_ENV_KEY), getenv(SECRETBOX_ENV_OLD_KEYS), out, err, errlen);
}

void secretbox_free(struct secretbox *kr)
{
    if (!kr)
        return;
    OPENSSL_cleanse(kr->keys, (1 + SECRETBOX_MAX_OLD_KEYS) * sizeof kr->keys[0]);
    free(kr);
}

const char *secretbox_current_id(const struct secretbox *kr)
{
    return kr ? kr->keys[0].id : NULL;
}

void secretbox_free_str(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

int secretbox_new_key(const char *id, char out[SECRETBOX_KEY_TEXT_MAX], char *err, size_t errlen)
{
    if (!valid_id(id, strlen(id))) {
        set_err(err, errlen, "a key id must be 1 to %d letters, digits, '.', '_' or '-'", SECRETBOX_KEY_ID_MAX);
        return -1;
    }
    unsigned char raw[SECRETBOX_KEY_BYTES];
    if (crypto_random(raw, sizeof raw) < 0) {
        set_err(err, errlen, "no randomness available");
        return -1;
    }
    size_t idlen = strlen(id);
    memcpy(out, id, idlen);
    out[idlen] = ':';
    crypto_base64(raw, sizeof raw, out + idlen + 1);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

/* The associated data "hl1:<id>" NUL column NUL row, as a new buffer of *len bytes. */
static unsigned char *make_aad(const char *id, size_t idlen, const char *column, const char *row, size_t *len)
{
    size_t clen = strlen(column), rlen = strlen(row);
    *len = PREFIX_LEN + idlen + 1 + clen + 1 + rlen;
    unsigned char *aad = malloc(*len);
    if (!aad)
        return NULL;
    unsigned char *p = aad;
    memcpy(p, SECRETBOX_PREFIX, PREFIX_LEN);
    p += PREFIX_LEN;
    memcpy(p, id, idlen);
    p += idlen;
    *p++ = '\0';
    memcpy(p, column, clen);
    p += clen;
    *p++ = '\0';
    memcpy(p, row, rlen);
    return aad;
}

/* One AES-256-GCM pass: encrypt (tag written) or decrypt (tag checked) len bytes of
 * in into out. Returns 0, or -1 (for decryption: does not authenticate). */
static int gcm(bool encrypt, const unsigned char key[SECRETBOX_KEY_BYTES], const unsigned char nonce[NONCE_LEN],
               const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t len, unsigned char *out,
               unsigned char tag[TAG_LEN])
{
    int rc = -1, n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -1;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
        goto out;
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

char *secretbox_encrypt(const struct secretbox *kr, const char *plain, const char *column, const char *row, char *err,
                        size_t errlen)
{
    if (!kr) {
        set_err(err, errlen, "%s is not set: secrets cannot be encrypted (see 'hookline secrets new-key')",
                SECRETBOX_ENV_KEY);
        return NULL;
    }
    size_t len = strlen(plain);
    if (len > SECRETBOX_MAX_PLAINTEXT) {
        set_err(err, errlen, "a secret is limited to %d bytes", SECRETBOX_MAX_PLAINTEXT);
        return NULL;
    }
    const struct secretbox_key *k = &kr->keys[0];
    size_t idlen = strlen(k->id), aadlen, rawlen = NONCE_LEN + len + TAG_LEN;
    size_t outlen = PREFIX_LEN + idlen + 1 + 4 * ((rawlen + 2) / 3) + 1;
    unsigned char *aad = make_aad(k->id, idlen, column, row, &aadlen);
    unsigned char *raw = malloc(rawlen);
    char *out = malloc(outlen);
    if (!aad || !raw || !out) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (crypto_random(raw, NONCE_LEN) < 0) {
        set_err(err, errlen, "no randomness available");
        goto fail;
    }
    if (gcm(true, k->bytes, raw, aad, aadlen, (const unsigned char *)plain, len, raw + NONCE_LEN,
            raw + NONCE_LEN + len) < 0) {
        set_err(err, errlen, "encryption failed (OpenSSL)");
        goto fail;
    }
    snprintf(out, outlen, "%s%s:", SECRETBOX_PREFIX, k->id);
    crypto_base64(raw, rawlen, out + PREFIX_LEN + idlen + 1);
    free(aad);
    free(raw);
    return out;
fail:
    free(aad);
    free(raw);
    free(out);
    return NULL;
}

bool secretbox_is_current(const struct secretbox *kr, const char *stored)
{
    if (!kr || strncmp(stored, SECRETBOX_PREFIX, PREFIX_LEN) != 0)
        return false;
    const char *id = stored + PREFIX_LEN;
    size_t idlen = strlen(kr->keys[0].id);
    return !strncmp(id, kr->keys[0].id, idlen) && id[idlen] == ':';
}

enum secretbox_result secretbox_decrypt(const struct secretbox *kr, const char *stored, const char *column,
                                        const char *row, char **plain, char *err, size_t errlen)
{
    *plain = NULL;
    if (strncmp(stored, SECRETBOX_PREFIX, PREFIX_LEN) != 0) {
        *plain = strdup(stored);
        if (!*plain) {
            set_err(err, errlen, "out of memory");
            return SECRETBOX_ERR_NOMEM;
        }
        return SECRETBOX_LEGACY;
    }
    const char *id = stored + PREFIX_LEN;
    const char *colon = strchr(id, ':');
    if (!colon || !valid_id(id, (size_t)(colon - id))) {
        set_err(err, errlen, "malformed encrypted value (expected hl1:<key id>:<base64>)");
        return SECRETBOX_ERR_FORMAT;
    }
    size_t idlen = (size_t)(colon - id);
    if (!kr) {
        set_err(err, errlen, "encrypted under key id '%.*s' but %s is not set", (int)idlen, id, SECRETBOX_ENV_KEY);
        return SECRETBOX_ERR_NO_KEYRING;
    }
    const struct secretbox_key *k = find_key(kr, id, idlen);
    if (!k) {
        set_err(err, errlen, "encrypted under key id '%.*s', which is neither %s nor in %s", (int)idlen, id,
                SECRETBOX_ENV_KEY, SECRETBOX_ENV_OLD_KEYS);
        return SECRETBOX_ERR_UNKNOWN_KEY;
    }
    size_t b64len = strlen(colon + 1);
    size_t cap = b64len / 4 * 3 + 3;
    if (b64len > 4 * ((NONCE_LEN + SECRETBOX_MAX_PLAINTEXT + TAG_LEN + 2) / 3)) {
        set_err(err, errlen, "malformed encrypted value (too long)");
        return SECRETBOX_ERR_FORMAT;
    }
    enum secretbox_result rc = SECRETBOX_ERR_NOMEM;
    size_t aadlen = 0, len = 0;
    unsigned char *raw = malloc(cap);
    unsigned char *aad = make_aad(id, idlen, column, row, &aadlen);
    char *out = NULL;
    if (!raw || !aad) {
        set_err(err, errlen, "out of memory");
        goto done;
    }
    long n = crypto_unbase64(colon + 1, b64len, raw, cap);
    if (n < NONCE_LEN + TAG_LEN) {
        set_err(err, errlen, "malformed encrypted value (bad base64 or too short)");
        rc = SECRETBOX_ERR_FORMAT;
        goto done;
    }
    len = (size_t)n - NONCE_LEN - TAG_LEN;
    out = malloc(len + 1);
    if (!out) {
        set_err(err, errlen, "out of memory");
        goto done;
    }
    if (gcm(false, k->bytes, raw, aad, aadlen, raw + NONCE_LEN, len, (unsigned char *)out, raw + NONCE_LEN + len) < 0 ||
        memchr(out, '\0', len)) {
        set_err(err, errlen,
                "does not authenticate under key id '%s' (tampered, or copied from another row or "
                "column)",
                k->id);
        rc = SECRETBOX_ERR_AUTH;
        goto done;
    }
    out[len] = '\0';
    *plain = out;
    out = NULL;
    rc = k == &kr->keys[0] ? SECRETBOX_OK : SECRETBOX_OLD_KEY;
done:
    if (out)
        OPENSSL_cleanse(out, len); /* a failed decryption's output is not to be trusted or kept */
    free(out);
    free(aad);
    if (raw)
        OPENSSL_cleanse(raw, cap);
    free(raw);
    return rc;
}
