/*
 * store: the daemons' read access to configuration in PostgreSQL: the lookups more than
 * one stage makes (an integration, an environment), the LISTEN for changes, and the
 * connection a stage runs its own queries on (store_query).
 *
 * A store owns one libpq connection and is used by one thread at a time (callers that
 * share one across threads hold their own lock). A lost connection is re-opened on the
 * next call. Lookups return 0 (found), 1 (not found) or -1 (database error, logged):
 * callers must tell "unknown" (a 404) from "cannot tell now" (a 503 / retry). Every
 * function here may also return STORE_REFUSED (< 0, so "-1" checks still see an
 * error): the database refused the values themselves (pg_classify: PG_PERMANENT, e.g.
 * bytes that are not UTF-8), so asking again with them can never succeed.
 *
 * Secrets are stored encrypted (common/secretbox.h) and returned here decrypted; they
 * are never logged. The keyring is loaded once per process from HOOKLINE_ENCRYPTION_KEY
 * and HOOKLINE_ENCRYPTION_OLD_KEYS by the first store_new (thread-safe). A value that
 * cannot be decrypted is logged with the row's identity (never the value) and handled
 * as each lookup documents; a legacy plain-text value is returned as is, with a warning
 * ('hookline secrets reencrypt' encrypts it).
 */
#ifndef HOOKLINE_STORE_H
#define HOOKLINE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

struct store;

#define STORE_REFUSED (-2)

/* conninfo is copied. Does not connect yet. Loads the process's keyring on first use.
 * NULL on allocation failure or when HOOKLINE_ENCRYPTION_KEY / _OLD_KEYS is malformed
 * (logged, naming the variable: a startup error). An absent key is not an error here:
 * a program that reads secrets calls store_require_secrets at startup. */
struct store *store_new(const char *conninfo);
void store_free(struct store *st);

/* Connects if needed and runs a trivial query. 0 if the database answers. */
int store_ping(struct store *st);

/* LISTENs on the configuration-change channel (on the store's connection). */
int store_listen(struct store *st);
/* Returns the number of change notifications received since the last call about one
 * of tables (comma-separated table names, as the trigger sends them; NULL: any),
 * without blocking; -1 on connection loss (caller must then drop its caches). */
int store_changes(struct store *st, const char *tables);
/* One round trip on the LISTEN connection, within timeout_ms, never reconnecting (a new
 * connection listens to nothing): PostgreSQL hands its listening backend every
 * notification committed before the statement arrived, and that backend sends them
 * before it says it is ready for the next one (ReadyForQuery), which this waits for:
 * store_changes counts them all right after. 0, or -1 when the
 * connection is not listening, is lost or gave no answer in time (then dropped). */
int store_listen_round_trip(struct store *st, int timeout_ms);

/* For programs that read secrets (ingress, forwarder), at startup: 0 if the keyring
 * loaded and has a current key; -1 after logging a clear error otherwise (the caller
 * exits). */
int store_require_secrets(void) __attribute__((warn_unused_result));

/* Where secrets live, as secretbox's associated data names them: the column
 * ("<table>.<column>") and the row, by its natural key (see secretbox.h). The CLI
 * writes with the same names. */
#define STORE_COL_WEBHOOK_SECRET "integrations.webhook_secret"
#define STORE_COL_CLIENT_SECRET "integrations.client_secret"
#define STORE_COL_PREVIOUS_WEBHOOK_SECRET "integrations.previous_webhook_secret"
#define STORE_COL_PREVIOUS_CLIENT_SECRET "integrations.previous_client_secret"
#define STORE_COL_SIGNING_KEY "environments.signing_key"
#define STORE_COL_PREVIOUS_SIGNING_KEY "environments.previous_signing_key"
#define STORE_COL_CONNECTION_SECRET "connections.webhook_secret"
#define STORE_SECRET_ROW_MAX 200
/* "<environment uuid in lower case>/<integration key>" */
void store_secret_row_integration(char out[STORE_SECRET_ROW_MAX], const char *env_id, const char *key);
/* "<environment uuid in lower case>" */
void store_secret_row_environment(char out[STORE_SECRET_ROW_MAX], const char *env_id);
/* "<environment uuid in lower case>/<integration key>/<connection id>": a new string
 * (free it), or NULL when out of memory (a connection id may be IDENT_MAX_LEN long). */
char *store_secret_row_connection(const char *env_id, const char *key, const char *connection_id);

struct integration_row {
    char environment_id[37];
    char key[129];
    char provider[64];
    char *webhook_secret; /* owned, may be NULL */
    char *client_secret;  /* owned, may be NULL */
    /* Rotation: the secret that was current before, still to be accepted while set. */
    char *previous_webhook_secret; /* owned, may be NULL */
    char *previous_client_secret;  /* owned, may be NULL */
    bool allow_unverified;         /* accept unsigned webhooks while no secret is set */
    char *verify_config;           /* owned JSON object text (generic-hmac settings), or NULL */
    /* A secret is stored but could not be decrypted (wrong or missing key, tampered
     * value): that secret is NULL here. Our configuration error, not the sender's:
     * answer 503, not 401. */
    bool secrets_unreadable;
};
/* Frees the owned fields (wiping the secrets) and zeroes the row. NULL is fine. */
void integration_row_clear(struct integration_row *row);

/* Looks up an integration by environment uuid and key. Secrets that cannot be
 * decrypted: see secrets_unreadable (the lookup still returns 0). */
int store_integration(struct store *st, const char *env_id, const char *key, struct integration_row *out)
    __attribute__((warn_unused_result));

/* What verifying a webhook with a connection's own secret needs (the router). */
struct connection_secret_row {
    char *webhook_secret; /* owned, NULL when the connection has none (or it is unreadable) */
    char *verify_config;  /* owned: the integration's verify_config, or NULL */
    bool unreadable;      /* a secret is stored but could not be decrypted (logged) */
};
/* Frees the owned fields (wiping the secret) and zeroes the row. NULL is fine. */
void connection_secret_row_clear(struct connection_secret_row *row);
/* Looks up the secret of connection connection_id of integration key. 0 found (out set),
 * 1 no such connection, -1 / STORE_REFUSED as every lookup. */
int store_connection_secret(struct store *st, const char *env_id, const char *key, const char *connection_id,
                            struct connection_secret_row *out) __attribute__((warn_unused_result));

enum store_forward_mode {
    STORE_FORWARD_ENVELOPE = 0, /* the Nango-compatible envelope (environments.forward_mode 'envelope') */
    STORE_FORWARD_RAW,          /* the provider's body and headers unchanged ('raw') */
};

struct environment_row {
    char id[37];
    char *name;
    char *webhook_url;           /* may be NULL */
    char *secondary_webhook_url; /* may be NULL */
    char *signing_key;
    /* Signing-key rotation: the key before the last rotation, returned only while its
     * grace period lasts (now() < previous_signing_key_until in the database), else
     * NULL; previous_until is the end of that period in unix seconds (0 when NULL).
     * Callers that keep the row past the query re-check previous_until. */
    char *previous_signing_key;
    long long previous_until;
    enum store_forward_mode forward_mode;
    bool legacy_signature; /* also send Nango's legacy X-Nango-Signature */
};
void environment_row_clear(struct environment_row *row);

/* Looks up an environment by uuid. A signing key that cannot be decrypted makes the
 * lookup fail (-1, logged): forwarding must wait rather than sign with a wrong key. An
 * unreadable previous_signing_key is only logged (it is NULL then). */
int store_environment(struct store *st, const char *env_id, struct environment_row *out)
    __attribute__((warn_unused_result));

/* For a stage's own queries on the store's connection (each stage keeps the SQL only it
 * uses): runs a statement (common/pg.h, pg_session_exec; a read that dies with its
 * connection is tried once more), the result or NULL (logged); after NULL,
 * store_failure says what a lookup returns: STORE_REFUSED or -1. */
PGresult *store_query(struct store *st, const char *sql, int nparams, const char *const *params)
    __attribute__((warn_unused_result));
int store_failure(const struct store *st);

#endif
