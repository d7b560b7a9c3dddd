/* queries: the SQL only the forwarder runs, on its stores' connections (common/store.h
 * for the shared lookups): what a (integration, connection) forwards to, and the
 * destinations flagged gone (410). Parameterised; results copied out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/pg.h"
#include "common/store.h"
#include "forwarder/forwarder.h"

void forward_settings_row_clear(struct forward_settings_row *row)
{
    if (!row)
        return;
    free(row->webhook_url_override);
    memset(row, 0, sizeof *row);
}

int queries_forward_settings(struct store *st, const char *env_id, const char *integration_key,
                             const char *connection_id, struct forward_settings_row *out)
{
    memset(out, 0, sizeof *out);
    const char *params[3] = {env_id, integration_key, connection_id};
    PGresult *res = store_query(st,
                                "SELECT i.forward_enabled, c.webhook_url_override FROM integrations i"
                                " LEFT JOIN connections c ON c.integration_id = i.id AND c.connection_id = $3"
                                " WHERE i.environment_id = $1::uuid AND i.key = $2",
                                3, params);
    if (!res)
        return store_failure(st);
    int rc = 1;
    if (PQntuples(res) == 1) {
        out->forward_enabled = PQgetvalue(res, 0, 0)[0] == 't';
        out->webhook_url_override = pg_value_dup(res, 0, 1);
        /* Out of memory must not send a connection's webhooks to the shared URL. */
        rc = out->webhook_url_override || PQgetisnull(res, 0, 1) ? 0 : -1;
    }
    PQclear(res);
    return rc;
}

int queries_destination_gone(struct store *st, const char *url, char *since, size_t sincelen)
{
    const char *params[1] = {url};
    PGresult *res = store_query(st,
                                "SELECT to_char(flagged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                " FROM gone_destinations WHERE url = $1",
                                1, params);
    if (!res)
        return store_failure(st);
    int rc = PQntuples(res) == 1 ? 0 : 1;
    if (rc == 0 && since)
        snprintf(since, sincelen, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

int queries_flag_destination_gone(struct store *st, const char *url, long status, const char *webhook_id)
{
    char st_text[24];
    snprintf(st_text, sizeof st_text, "%ld", status);
    const char *params[3] = {url, st_text, webhook_id};
    PGresult *res = store_query(st,
                                "INSERT INTO gone_destinations (url, status, webhook_id) VALUES ($1, $2::int, $3)"
                                " ON CONFLICT (url) DO NOTHING",
                                3, params);
    if (!res)
        return store_failure(st);
    PQclear(res);
    return 0;
}
