/* cli_dropped: what `hookline deliveries WEBHOOK_ID` says about the provider events
 * of a webhook the router dropped as re-sent copies (router/dedup.c writes
 * dropped_duplicates): the whole webhook (it was never delivered, the earlier webhook
 * was), or some events of a batch (the rest was routed). */
#include <stdio.h>

#include "cli/cli.h"

static const char dropped_sql[] =
    "SELECT to_char(dropped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS time,"
    " 'dropped-duplicate' AS result, original_webhook AS duplicate_of, integration, event_id AS provider_event_id"
    " FROM dropped_duplicates WHERE webhook_id = $1 ORDER BY dropped_at, event_id";

int cli_dropped_duplicate(PGconn *db, const char *webhook_id, bool json, bool whole)
{
    const char *params[1] = {webhook_id};
    json_t *rows = cli_db_fetch(db, "reading dropped duplicates", dropped_sql, 1, params);
    if (!rows || json_array_size(rows) == 0) {
        json_decref(rows);
        return -1;
    }
    int status = CLI_FAIL;
    if (json) {
        status = cli_print(rows, true, "") == 0 ? CLI_OK : CLI_FAIL;
    } else {
        for (size_t i = 0; i < json_array_size(rows); i++) {
            json_t *r = json_array_get(rows, i);
            printf("%s  %s by the router as a duplicate of webhook %s (provider event %s of integration %s)\n",
                   json_string_value(json_object_get(r, "time")), whole ? "dropped" : "one event left out",
                   json_string_value(json_object_get(r, "duplicate_of")),
                   json_string_value(json_object_get(r, "provider_event_id")),
                   json_string_value(json_object_get(r, "integration")));
        }
        status = CLI_OK;
    }
    json_decref(rows);
    return status;
}
