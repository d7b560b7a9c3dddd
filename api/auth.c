/* auth: API keys, rate limits and the audit table.
 *
 * A key is "hlk_<key id>_<secret>"; the row is found by its id and the SHA-256 of the
 * whole key compared with the stored one in constant time (crypto_equal), also when no
 * row was found, so neither the timing nor the answer tells an unknown id from a wrong
 * secret. Keys are never logged. Rate limits are token buckets per key id, in memory
 * (per process), refilled at HOOKLINE_API_RATE_PER_S up to HOOKLINE_API_RATE_BURST. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/outbound.h"
#include "common/pg.h"

#define BUCKETS 1024

struct bucket {
    char id[17];
    double tokens;
    double at;
};
static struct bucket buckets[BUCKETS];
static pthread_mutex_t buckets_lock = PTHREAD_MUTEX_INITIALIZER;

void auth_init(void)
{
    memset(buckets, 0, sizeof buckets);
}

static bool is_hex16(const char *s)
{
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

enum auth_result auth_check(PGconn *db, const char *authorization, struct api_key *key)
{
    memset(key, 0, sizeof *key);
    if (!authorization || strncasecmp(authorization, "Bearer ", 7))
        return AUTH_MISSING;
    const char *k = authorization + 7;
    while (*k == ' ')
        k++;
    size_t len = strlen(k);
    if (len < 22 || len > 128 || strncmp(k, "hlk_", 4) || !is_hex16(k + 4) || k[20] != '_')
        return AUTH_INVALID;
    memcpy(key->id, k + 4, 16);
    key->id[16] = '\0';

    unsigned char given[32], stored[32];
    crypto_sha256(k, len, given);
    memset(stored, 0xff, sizeof stored);
    const char *params[] = {key->id};
    PGresult *res = pg_exec(db,
                            "SELECT encode(key_hash, 'hex'), scope = 'write', all_environments,"
                            " environment_ids::text FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
                            1, params, NULL, NULL, (int)g_api.db_timeout_ms);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error(NULL, "cannot look up API key %s: %s", key->id, res ? PQresultErrorMessage(res) : "no answer");
        PQclear(res);
        return AUTH_UNAVAILABLE;
    }
    bool found = PQntuples(res) == 1 &&
                 crypto_unhex(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), stored, sizeof stored) == 32;
    bool same = crypto_equal(given, sizeof given, stored, sizeof stored);
    int set = found && same ? auth_key_set(key, PQgetvalue(res, 0, 1)[0] == 't', PQgetvalue(res, 0, 2)[0] == 't',
                                           PQgetvalue(res, 0, 3))
                            : 0;
    PQclear(res);
    if (!(found && same))
        return AUTH_INVALID;
    if (set < 0) {
        log_error(NULL, "no memory for the environments of API key %s", key->id);
        return AUTH_UNAVAILABLE;
    }
    return AUTH_OK;
}

int auth_key_set(struct api_key *key, bool write, bool all_envs, const char *envs)
{
    key->write = write;
    key->all_envs = all_envs;
    free(key->envs);
    /* A key may name thousands of environments (the CLI takes any number): the list is
     * kept whole, never cut to a buffer's size, which would make it invalid uuid[] text. */
    key->envs = all_envs ? NULL : strdup(envs);
    return all_envs || key->envs ? 0 : -1;
}

void auth_key_free(struct api_key *key)
{
    free(key->envs);
    key->envs = NULL;
}

int auth_rate_take(const char *key_id)
{
    double now = clock_mono_s();
    unsigned h = 2166136261u;
    for (const char *p = key_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    int wait = 0;
    pthread_mutex_lock(&buckets_lock);
    struct bucket *b = NULL;
    for (unsigned i = 0; i < BUCKETS && !b; i++) {
        struct bucket *c = &buckets[(h + i) % BUCKETS];
        if (!c->id[0] || !strcmp(c->id, key_id) || now - c->at > 3600) { /* free, ours, or idle an hour */
            b = c;
            if (strcmp(c->id, key_id)) {
                snprintf(c->id, sizeof c->id, "%s", key_id);
                c->tokens = (double)g_api.rate_burst;
                c->at = now;
            }
        }
    }
    if (!b) /* every slot in use: share one as it is (stricter, never a fresh burst) */
        b = &buckets[h % BUCKETS];
    b->tokens = fmin((double)g_api.rate_burst, b->tokens + (now - b->at) * (double)g_api.rate_per_s);
    b->at = now;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (int)ceil((1 - b->tokens) / (double)g_api.rate_per_s);
    pthread_mutex_unlock(&buckets_lock);
    return wait > 0 ? wait : 0;
}

void auth_audit(PGconn *db, const struct api_key *key, const char *action, const char *target, unsigned status)
{
    char st[8];
    snprintf(st, sizeof st, "%u", status);
    const char *params[] = {key->id, action, target, st};
    PGresult *res = db ? pg_exec(db,
                                 "INSERT INTO api_audit (key_id, action, target, status) VALUES ($1, $2, $3, $4::int)",
                                 4, params, NULL, NULL, (int)g_api.db_timeout_ms)
                       : NULL;
    /* The row keeps the target whole; the log line only the origins of URLs in it. */
    char shown[1024];
    outbound_text_for_log(target, shown, sizeof shown);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        log_error(NULL, "audit record lost: key %s %s %s answered %u", key->id, action, shown, status);
    else
        log_info(NULL, "key %s: %s %s answered %u", key->id, action, shown, status);
    PQclear(res);
}
