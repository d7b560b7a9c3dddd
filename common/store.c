/* store: see store.h. All queries are parameterised; results are copied out so no
 * PGresult outlives a call. */
#include "common/store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/secretbox.h"

/* A configuration lookup that takes longer has a database in trouble: give up (the
 * caller answers 503 or retries) rather than hang a request or a consumer. */
#define STORE_QUERY_TIMEOUT_MS 5000

struct store {
    struct pg_session *db;
    unsigned long listening; /* the session's generation LISTEN was sent on, 0: none */
};

/* The process's keyring: loaded once, never freed (it lives as long as the process). */
static pthread_once_t keyring_once = PTHREAD_ONCE_INIT;
static struct secretbox *keyring;
static bool keyring_bad;

static void keyring_load(void)
{
    char err[256];
    if (secretbox_from_env(&keyring, err, sizeof err) < 0) {
        log_error(NULL, "%s", err);
        keyring_bad = true;
    }
}

int store_require_secrets(void)
{
    pthread_once(&keyring_once, keyring_load);
    if (keyring_bad)
        return -1;
    if (!keyring) {
        log_error(NULL,
                  "%s is not set: the secrets in the database cannot be decrypted (generate a key with "
                  "'hookline secrets new-key' and give this program the one the CLI uses)",
                  SECRETBOX_ENV_KEY);
        return -1;
    }
    return 0;
}

struct store *store_new(const char *conninfo)
{
    pthread_once(&keyring_once, keyring_load);
    if (keyring_bad)
        return NULL;
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->db = pg_session_new(conninfo, "hookline", STORE_QUERY_TIMEOUT_MS, PG_SESSION_RETRY_ONCE);
    if (!st->db) {
        free(st);
        return NULL;
    }
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    pg_session_free(st->db);
    free(st);
}

PGresult *store_query(struct store *st, const char *sql, int nparams, const char *const *params)
{
    return pg_session_exec(st->db, sql, nparams, params, NULL, NULL);
}

/* What a lookup whose query failed returns: STORE_REFUSED or -1. */
int store_failure(const struct store *st)
{
    return pg_session_refused(st->db) ? STORE_REFUSED : -1;
}

int store_ping(struct store *st)
{
    PGresult *res = store_query(st, "SELECT 1", 0, NULL);
    if (!res)
        return store_failure(st);
    PQclear(res);
    return 0;
}

int store_listen(struct store *st)
{
    PGresult *res = store_query(st, "LISTEN hookline_config", 0, NULL);
    if (!res)
        return store_failure(st);
    PQclear(res);
    st->listening = pg_session_generation(st->db);
    return 0;
}

/* Is name one of the comma-separated names? */
static bool in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, n))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

int store_changes(struct store *st, const char *tables)
{
    PGconn *c = pg_session_peek(st->db);
    if (!c || st->listening != pg_session_generation(st->db)) /* a new connection listens to nothing */
        return -1;
    if (!PQconsumeInput(c))
        return -1;
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(c)) != NULL) {
        n += !tables || in_list(tables, note->extra);
        PQfreemem(note);
    }
    return n;
}

int store_listen_round_trip(struct store *st, int timeout_ms)
{
    PGconn *c = pg_session_peek(st->db);
    if (!c || st->listening != pg_session_generation(st->db))
        return -1;
    /* Named, for whoever reads pg_stat_activity (operators, tests/integration). */
    PGresult *res = pg_exec(c, "SELECT 1 AS listen_round_trip", 0, NULL, NULL, NULL, timeout_ms);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

static char *dup_or_null(const PGresult *res, int row, int col)
{
    return pg_value_dup(res, row, col);
}

static void copy_field(char *dst, size_t cap, const PGresult *res, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static void secret_row(char out[STORE_SECRET_ROW_MAX], const char *env_id, const char *key)
{
    size_t i = 0;
    for (; env_id[i] && i < 64; i++) /* a UUID is 36 */
        out[i] = (char)tolower((unsigned char)env_id[i]);
    snprintf(out + i, STORE_SECRET_ROW_MAX - i, "%s%s", key ? "/" : "", key ? key : "");
}

void store_secret_row_integration(char out[STORE_SECRET_ROW_MAX], const char *env_id, const char *key)
{
    secret_row(out, env_id, key);
}

void store_secret_row_environment(char out[STORE_SECRET_ROW_MAX], const char *env_id)
{
    secret_row(out, env_id, NULL);
}

char *store_secret_row_connection(const char *env_id, const char *key, const char *connection_id)
{
    char integration[STORE_SECRET_ROW_MAX];
    secret_row(integration, env_id, key);
    size_t len = strlen(integration) + 1 + strlen(connection_id) + 1;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s", integration, connection_id);
    return out;
}

/* The decrypted secret in column col of res (NULL if SQL NULL or unreadable), stored
 * for (column, row). what names the row in log lines; *unreadable is set when a value
 * could not be decrypted. */
static char *open_secret(const PGresult *res, int col, const char *column, const char *row, const char *what,
                         bool *unreadable)
{
    if (PQgetisnull(res, 0, col))
        return NULL;
    char *plain = NULL, err[256] = "";
    enum secretbox_result r = secretbox_decrypt(keyring, PQgetvalue(res, 0, col), column, row, &plain, err, sizeof err);
    if (!secretbox_readable(r)) {
        log_warn(NULL, "%s: %s cannot be decrypted: %s", what, column, err);
        *unreadable = true;
        return NULL;
    }
    if (r == SECRETBOX_LEGACY && plain[0])
        log_warn(NULL, "%s: %s is stored in plain text: run 'hookline secrets reencrypt'", what, column);
    return plain;
}

void integration_row_clear(struct integration_row *row)
{
    if (!row)
        return;
    secretbox_free_str(row->webhook_secret);
    secretbox_free_str(row->client_secret);
    secretbox_free_str(row->previous_webhook_secret);
    secretbox_free_str(row->previous_client_secret);
    free(row->verify_config);
    memset(row, 0, sizeof *row);
}

void connection_secret_row_clear(struct connection_secret_row *row)
{
    if (!row)
        return;
    secretbox_free_str(row->webhook_secret);
    free(row->verify_config);
    memset(row, 0, sizeof *row);
}

int store_connection_secret(struct store *st, const char *env_id, const char *key, const char *connection_id,
                            struct connection_secret_row *out)
{
    memset(out, 0, sizeof *out);
    const char *params[3] = {env_id, key, connection_id};
    PGresult *res = store_query(st,
                                "SELECT c.webhook_secret, i.verify_config::text FROM connections c"
                                " JOIN integrations i ON i.id = c.integration_id"
                                " WHERE i.environment_id = $1::uuid AND i.key = $2 AND c.connection_id = $3",
                                3, params);
    if (!res)
        return store_failure(st);
    int rc = 1;
    char *row = PQntuples(res) == 1 ? store_secret_row_connection(env_id, key, connection_id) : NULL;
    if (PQntuples(res) == 1 && !row) {
        rc = -1;
    } else if (row) {
        /* The row names the connection, never its secret. */
        char what[80];
        snprintf(what, sizeof what, "a connection of integration %.40s", key);
        out->webhook_secret = open_secret(res, 0, STORE_COL_CONNECTION_SECRET, row, what, &out->unreadable);
        out->verify_config = dup_or_null(res, 0, 1);
        rc = 0;
    }
    free(row);
    PQclear(res);
    return rc;
}

int store_integration(struct store *st, const char *env_id, const char *key, struct integration_row *out)
{
    memset(out, 0, sizeof *out);
    const char *params[2] = {env_id, key};
    PGresult *res = store_query(st,
                                "SELECT i.environment_id, i.key, i.provider, i.webhook_secret, i.client_secret, "
                                "i.previous_webhook_secret, i.previous_client_secret, i.allow_unverified, "
                                "i.verify_config::text "
                                "FROM integrations i WHERE i.environment_id = $1::uuid AND i.key = $2",
                                2, params);
    if (!res)
        return store_failure(st);
    int rc = 1;
    if (PQntuples(res) == 1) {
        copy_field(out->environment_id, sizeof out->environment_id, res, 0, 0);
        copy_field(out->key, sizeof out->key, res, 0, 1);
        copy_field(out->provider, sizeof out->provider, res, 0, 2);
        char row[STORE_SECRET_ROW_MAX], what[STORE_SECRET_ROW_MAX + 16];
        store_secret_row_integration(row, out->environment_id, out->key);
        snprintf(what, sizeof what, "integration %s", row);
        bool *bad = &out->secrets_unreadable;
        out->webhook_secret = open_secret(res, 3, STORE_COL_WEBHOOK_SECRET, row, what, bad);
        out->client_secret = open_secret(res, 4, STORE_COL_CLIENT_SECRET, row, what, bad);
        out->previous_webhook_secret = open_secret(res, 5, STORE_COL_PREVIOUS_WEBHOOK_SECRET, row, what, bad);
        out->previous_client_secret = open_secret(res, 6, STORE_COL_PREVIOUS_CLIENT_SECRET, row, what, bad);
        out->allow_unverified = PQgetvalue(res, 0, 7)[0] == 't';
        out->verify_config = dup_or_null(res, 0, 8);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

void environment_row_clear(struct environment_row *row)
{
    if (!row)
        return;
    free(row->name);
    free(row->webhook_url);
    free(row->secondary_webhook_url);
    secretbox_free_str(row->signing_key);
    secretbox_free_str(row->previous_signing_key);
    memset(row, 0, sizeof *row);
}

int store_environment(struct store *st, const char *env_id, struct environment_row *out)
{
    memset(out, 0, sizeof *out);
    const char *params[1] = {env_id};
    /* The previous key only while its grace period lasts; its end rounded down, so the
     * forwarder stops using it no later than the database says. */
    PGresult *res = store_query(st,
                                "SELECT id, name, webhook_url, secondary_webhook_url, signing_key,"
                                " CASE WHEN previous_signing_key_until > now() THEN previous_signing_key END,"
                                " CASE WHEN previous_signing_key_until > now()"
                                "  THEN floor(extract(epoch FROM previous_signing_key_until))::bigint END,"
                                " forward_mode, legacy_signature"
                                " FROM environments WHERE id = $1::uuid",
                                1, params);
    if (!res)
        return store_failure(st);
    int rc = 1;
    if (PQntuples(res) == 1) {
        copy_field(out->id, sizeof out->id, res, 0, 0);
        out->name = dup_or_null(res, 0, 1);
        out->webhook_url = dup_or_null(res, 0, 2);
        out->secondary_webhook_url = dup_or_null(res, 0, 3);
        char row[STORE_SECRET_ROW_MAX], what[STORE_SECRET_ROW_MAX + 16];
        store_secret_row_environment(row, out->id);
        snprintf(what, sizeof what, "environment %s", row);
        bool current_bad = false, previous_bad = false;
        out->signing_key = open_secret(res, 4, STORE_COL_SIGNING_KEY, row, what, &current_bad);
        out->previous_signing_key = open_secret(res, 5, STORE_COL_PREVIOUS_SIGNING_KEY, row, what, &previous_bad);
        out->previous_until = out->previous_signing_key ? strtoll(PQgetvalue(res, 0, 6), NULL, 10) : 0;
        out->forward_mode = !strcmp(PQgetvalue(res, 0, 7), "raw") ? STORE_FORWARD_RAW : STORE_FORWARD_ENVELOPE;
        out->legacy_signature = PQgetvalue(res, 0, 8)[0] == 't';
        rc = 0;
        if (current_bad) {
            environment_row_clear(out);
            rc = -1;
        }
    }
    PQclear(res);
    return rc;
}
