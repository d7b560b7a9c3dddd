/*
 * store: the daemons' read access to configuration in PostgreSQL.
 *
 * A store owns one libpq connection and is used by one thread at a time (callers that
 * share one across threads hold their own lock). A lost connection is re-opened on the
 * next call. Lookups return 0 (found), 1 (not found) or -1 (database error, logged):
 * callers must tell "unknown" (a 404) from "cannot tell now" (a 503 / retry).
 * Secrets read here are never logged.
 */
#ifndef HOOKLINE_STORE_H
#define HOOKLINE_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct store;

/* conninfo is copied. Does not connect yet. NULL on allocation failure. */
struct store *store_new(const char *conninfo);
void store_free(struct store *st);

/* Connects if needed and runs a trivial query. 0 if the database answers. */
int store_ping(struct store *st);

/* LISTENs on the configuration-change channel (on the store's connection). */
int store_listen(struct store *st);
/* Returns the number of change notifications received since the last call, without
 * blocking; -1 on connection loss (caller must then drop its caches). */
int store_changes(struct store *st);

struct integration_row {
    char environment_id[37];
    char key[129];
    char provider[64];
    char *webhook_secret;        /* owned, may be NULL */
    char *client_secret;         /* owned, may be NULL */
};
void integration_row_clear(struct integration_row *row);

/* Looks up an integration by environment uuid and key. */
int store_integration(struct store *st, const char *env_id, const char *key, struct integration_row *out)
    __attribute__((warn_unused_result));

struct environment_row {
    char id[37];
    char *name;
    char *webhook_url;           /* may be NULL */
    char *secondary_webhook_url; /* may be NULL */
    char *signing_key;
};
void environment_row_clear(struct environment_row *row);

int store_environment(struct store *st, const char *env_id, struct environment_row *out)
    __attribute__((warn_unused_result));

/* Which field of a connection an identifier is matched against. */
enum store_match {
    STORE_MATCH_CONFIG = 0,   /* connection_config->key */
    STORE_MATCH_METADATA,     /* metadata->key */
    STORE_MATCH_ID,           /* the connection id itself (key ignored) */
};

/* Connection ids of the integration whose field (see enum store_match) has key == value
 * (a string, or the same digits as a number). ids: newly allocated array of newly
 * allocated strings (free with store_ids_free); 0 found (n >= 1), 1 none, -1 error. */
int store_connections_by(struct store *st, enum store_match match, const char *env_id,
                         const char *integration_key, const char *key, const char *value, char ***ids, size_t *n)
    __attribute__((warn_unused_result));
void store_ids_free(char **ids, size_t n);

#endif
