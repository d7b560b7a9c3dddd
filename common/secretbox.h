/*
 * secretbox: secrets at rest (provider secrets, signing keys) encrypted with
 * AES-256-GCM under a keyring read from the environment.
 *
 *   HOOKLINE_ENCRYPTION_KEY       "<key id>:<base64 of 32 bytes>": the current key; it
 *                                 encrypts and decrypts ('hookline secrets new-key').
 *   HOOKLINE_ENCRYPTION_OLD_KEYS  comma-separated list of the same form: decrypt only.
 *
 * Rotation: make a new key current, move the previous one to the old list, run
 * `hookline secrets reencrypt`, then drop the old key.
 *
 * Stored form (text, fits the existing text columns):
 *   "hl1:<key id>:<base64(12-byte random nonce | ciphertext | 16-byte tag)>"
 * The associated data binds a value to where it lives:
 *   "hl1:<key id>" NUL <column> NUL <row>
 * where column names the table and column ("integrations.webhook_secret") and row the
 * row by its natural key, which no update of another column changes (an integration:
 * "<environment uuid>/<integration key>", an environment: "<environment uuid>"). A
 * ciphertext copied into another row or column, or relabelled with another key id,
 * fails to decrypt. Moving a secret between columns (rotation) is a decrypt and a
 * re-encrypt.
 *
 * A value without the "hl1:" prefix is legacy plain text: decrypt returns it and says
 * so (SECRETBOX_LEGACY), so rows written before encryption keep working until
 * `hookline secrets reencrypt` encrypts them.
 *
 * Nothing here logs or prints. Error messages written to err never contain key
 * material or plain text (a key id may appear). A keyring is immutable once loaded and
 * may be shared by threads. Strings returned are new (free with secretbox_free_str,
 * which wipes them first).
 */
#ifndef HOOKLINE_SECRETBOX_H
#define HOOKLINE_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>

#define SECRETBOX_ENV_KEY "HOOKLINE_ENCRYPTION_KEY"
#define SECRETBOX_ENV_OLD_KEYS "HOOKLINE_ENCRYPTION_OLD_KEYS"
#define SECRETBOX_PREFIX "hl1:"
#define SECRETBOX_KEY_BYTES 32
#define SECRETBOX_KEY_ID_MAX 32 /* key id: 1 to 32 of [A-Za-z0-9._-] */
#define SECRETBOX_MAX_OLD_KEYS 16
#define SECRETBOX_MAX_PLAINTEXT 65536
/* Room for "<id>:<base64 of the key>" and its NUL (see secretbox_new_key). */
#define SECRETBOX_KEY_TEXT_MAX (SECRETBOX_KEY_ID_MAX + 1 + 4 * ((SECRETBOX_KEY_BYTES + 2) / 3) + 1)

struct secretbox;

/* Builds a keyring from the two variables' values (either may be NULL or empty).
 * Returns 0 with *out a new keyring (free with secretbox_free), or 0 with *out NULL
 * when no key is configured at all, or -1 when a value is malformed (err names the
 * variable and what is wrong, never the value). Old keys without a current key, and a
 * key id given twice, are malformed. */
int secretbox_parse(const char *current, const char *old_keys, struct secretbox **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* secretbox_parse of getenv(SECRETBOX_ENV_KEY) and getenv(SECRETBOX_ENV_OLD_KEYS). */
int secretbox_from_env(struct secretbox **out, char *err, size_t errlen) __attribute__((warn_unused_result));

void secretbox_free(struct secretbox *kr);

/* The current key's id (borrowed from kr), or NULL when kr is NULL. */
const char *secretbox_current_id(const struct secretbox *kr);

/* Writes a new random key "<id>:<base64 of 32 bytes>" into out (SECRETBOX_KEY_TEXT_MAX
 * bytes). Returns 0, or -1 if id is not a valid key id or no randomness (err says). */
int secretbox_new_key(const char *id, char out[SECRETBOX_KEY_TEXT_MAX], char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Encrypts plain for (column, row) under the current key. Returns the stored form (new
 * string), or NULL with err filled: no keyring, plain too long, out of memory. */
char *secretbox_encrypt(const struct secretbox *kr, const char *plain, const char *column, const char *row, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

enum secretbox_result {
    SECRETBOX_OK = 0,          /* decrypted with the current key */
    SECRETBOX_OLD_KEY,         /* decrypted with an old key: re-encrypt it */
    SECRETBOX_LEGACY,          /* stored in plain text (no "hl1:" prefix): re-encrypt it */
    SECRETBOX_ERR_NO_KEYRING,  /* encrypted, but no key is configured */
    SECRETBOX_ERR_UNKNOWN_KEY, /* encrypted under a key id that is not in the keyring */
    SECRETBOX_ERR_FORMAT,      /* "hl1:" but not a well-formed value */
    SECRETBOX_ERR_AUTH,        /* does not authenticate: tampered, or another row's/column's */
    SECRETBOX_ERR_NOMEM,
};

/* True for the results that come with a plain text. */
static inline bool secretbox_readable(enum secretbox_result r)
{
    return r == SECRETBOX_OK || r == SECRETBOX_OLD_KEY || r == SECRETBOX_LEGACY;
}

/* Decrypts stored (the text of a column) that was encrypted for (column, row). On a
 * readable result *plain is a new string; otherwise *plain is NULL and err (may be
 * NULL) says why. kr may be NULL (only legacy values are readable then). */
enum secretbox_result secretbox_decrypt(const struct secretbox *kr, const char *stored, const char *column,
                                        const char *row, char **plain, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True if stored is encrypted under kr's current key (it needs no re-encryption).
 * Looks at the prefix only; does not authenticate. */
bool secretbox_is_current(const struct secretbox *kr, const char *stored);

/* Wipes and frees a string returned here (NULL is fine). */
void secretbox_free_str(char *s);

#endif
