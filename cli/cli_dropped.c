/* cli_dropped: what `hookline deliveries WEBHOOK_ID` says about the provider events
 * of a webhook the router dropped as re-sent copies (router/dedup.c writes
 * dropped_duplicates): the whole webhook (it was never delivered, the earlier webhook
 * was), or some events of a batch (the rest was routed). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char dropped_sql[] =
    "SELECT to_char(dropped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS time,"
    " 'dropped-duplicate' AS result, $2::text AS dropped, original_webhook AS duplicate_of, integration,"
    " event_id AS provider_event_id"
    " FROM dropped_duplicates WHERE webhook_id = $1 ORDER BY dropped_at, event_id";

json_t *cli_dropped_duplicates(PGconn *db, const char *webhook_id, bool whole)
{
    const char *params[2] = {webhook_id, whole ? "webhook" : "event"};
    return cli_db_fetch(db, "reading dropped duplicates", dropped_sql, 2, params);
}

void cli_dropped_print(const json_t *rows)
{
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *r = json_array_get(rows, i);
        const char *dropped = json_string_value(json_object_get(r, "dropped"));
        printf("%s  %s by the router as a duplicate of webhook %s (provider event %s of integration %s)\n",
               json_string_value(json_object_get(r, "time")),
               dropped && !strcmp(dropped, "webhook") ? "dropped" : "one event left out",
               json_string_value(json_object_get(r, "duplicate_of")),
               json_string_value(json_object_get(r, "provider_event_id")),
               json_string_value(json_object_get(r, "integration")));
    }
}
