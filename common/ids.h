/*
 * ids: identifiers for webhooks. Webhook ids are UUIDv7 (time-ordered, so logs and
 * Kafka sort naturally); ids derived from other ids are name-based (UUIDv8 layout over
 * SHA-256), so a re-run of a stage produces exactly the same ids.
 */
#ifndef HOOKLINE_IDS_H
#define HOOKLINE_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define ID_LEN 36 /* canonical UUID text, without the NUL */

/* Writes a new UUIDv7 into out (ID_LEN+1 bytes). Returns 0 or -1. */
int id_new(char out[ID_LEN + 1]) __attribute__((warn_unused_result));

/* Deterministic id from the given parts (joined unambiguously). Writes ID_LEN+1 bytes. */
void id_derive(char out[ID_LEN + 1], const char *const *parts, size_t n);

/* True if s is a canonical UUID (any version, either case). */
bool id_is_uuid(const char *s);

#endif
