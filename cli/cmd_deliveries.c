/* cmd_deliveries: `hookline deliveries WEBHOOK_ID`, every attempt the forwarder made to
 * deliver one webhook (read from delivery_attempts, which the forwarder appends to:
 * forwarder/attempt_log.h), and `hookline deliveries prune`, which deletes old
 * attempts (the table only grows otherwise). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/ids.h"

static const char usage[] =
    "Usage: hookline deliveries WEBHOOK_ID [--json] [--limit N]\n"
    "       hookline deliveries prune --older-than DURATION [--json]\n"
    "\n"
    "Lists every delivery attempt the forwarder recorded for the webhook (its id is the\n"
    "X-Hookline-Webhook-Id header of the delivery, and the id `dlq list` shows), oldest\n"
    "first: time (UTC), destination, pass (0 first, n: retry pass n), attempt number,\n"
    "HTTP status (0: no answer), latency, result and error, and the delivery id (the\n"
    "webhook-id header) and connection of each. Exits 1 when nothing is recorded.\n"
    "A webhook the router dropped as a provider's re-send of an earlier one (the same\n"
    "event id) shows that instead, with the earlier webhook's id; a batch the router\n"
    "routed with some of its events left out as re-sent shows those events after its\n"
    "attempts (in JSON, rows with \"result\": \"dropped-duplicate\" and \"dropped\":\n"
    "\"webhook\" or \"event\").\n"
    "\n"
    "  --limit N   show at most the N oldest attempts (default 1000)\n"
    "  --json      print a JSON array\n"
    "  --help      show this help\n";

static const char prune_usage[] =
    "Usage: hookline deliveries prune --older-than DURATION [--json]\n"
    "\n"
    "Deletes the recorded delivery attempts older than DURATION (a number with s, m, h\n"
    "or d: 90m, 12h, 30d) and prints how many were deleted.\n"
    "\n"
    "  --older-than DURATION   required\n"
    "  --json                  print {\"deleted\": N}\n"
    "  --help                  show this help\n";

#define DEFAULT_LIMIT "1000"
#define MAX_DURATION_S (100L * 365 * 86400)

static const char list_sql[] =
    "SELECT to_char(attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS time,"
    " destination, pass, attempt, status, round(latency_ms::numeric, 1) AS latency_ms, result, error,"
    " routed_id AS delivery_id, connection_id"
    " FROM delivery_attempts WHERE webhook_id = $1 ORDER BY attempted_at, id LIMIT $2::integer";

int cmd_deliveries(int argc, char **argv)
{
    bool json = false;
    const char *limit_text = DEFAULT_LIMIT;
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}, {"limit", CLI_OPT_STRING, &limit_text, false}};
    const char *args[1];
    size_t nargs = 1;
    int parsed = cli_parse_options_args(argc, argv, usage, opts, CLI_OPTS_N(opts), args, &nargs);
    if (parsed >= 0)
        return parsed;
    if (nargs == 0)
        return cli_usage_error(argv[0], "which webhook? give its id (a UUID)");
    long limit;
    if (cli_parse_long(limit_text, 1, 1000000, &limit) < 0)
        return cli_usage_error(argv[0], "--limit takes a number from 1 to 1000000, not '%s'", limit_text);
    if (!id_is_uuid(args[0]))
        return cli_usage_error(argv[0], "'%s' is not a webhook id (a UUID)", args[0]);
    char id[ID_LEN + 1]; /* stored in lower case, as ingress makes them */
    for (size_t i = 0; i <= ID_LEN; i++)
        id[i] = (char)tolower((unsigned char)args[0][i]);

    int status = CLI_FAIL;
    json_t *rows = NULL, *dropped = NULL;
    PGconn *db = cli_db_connect();
    if (!db)
        goto out;
    char one_more[24]; /* to tell "exactly N" from "more than N" */
    snprintf(one_more, sizeof one_more, "%ld", limit + 1);
    const char *params[] = {id, one_more};
    rows = cli_db_fetch(db, "reading delivery attempts", list_sql, 2, params);
    if (!rows)
        goto out;
    size_t n = json_array_size(rows);
    /* Dropped whole, it has no attempt; a batch routed in part has both. */
    if (!(dropped = cli_dropped_duplicates(db, id, n == 0)))
        goto out;
    if (n == 0 && json_array_size(dropped)) {
        if (!json)
            cli_dropped_print(dropped);
        status = json && cli_print(dropped, true, "") < 0 ? CLI_FAIL : CLI_OK;
        goto out;
    }
    if (n == 0) {
        cli_error("no delivery attempt recorded for webhook %s", id);
        goto out;
    }
    if (n > (size_t)limit) {
        json_array_remove(rows, n - 1);
        cli_warn("webhook %s has more than %ld attempts: showing the oldest %ld (--limit)", id, limit, limit);
    }
    if (json && json_array_extend(rows, dropped) < 0) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(rows, json, "") == 0)
        status = CLI_OK;
    if (!json) /* a batch routed with its copies left out says which */
        cli_dropped_print(dropped);
out:
    json_decref(dropped);
    json_decref(rows);
    PQfinish(db);
    return status;
}

/* "30d", "12h", "90m", "45s" -> seconds, or -1. */
static long parse_duration(const char *s)
{
    size_t len = strlen(s);
    if (len < 2 || len > 20)
        return -1;
    static const struct {
        char suffix;
        long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char digits[24];
    memcpy(digits, s, len - 1);
    digits[len - 1] = '\0';
    long v;
    if (cli_parse_long(digits, 0, MAX_DURATION_S, &v) < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (s[len - 1] == units[i].suffix)
            return v <= MAX_DURATION_S / units[i].seconds ? v * units[i].seconds : -1;
    return -1;
}

int cmd_deliveries_prune(int argc, char **argv)
{
    bool json = false;
    const char *older_than = NULL;
    const struct cli_opt opts[] = {{"older-than", CLI_OPT_STRING, &older_than, true},
                                   {"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, prune_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    long seconds = parse_duration(older_than);
    if (seconds < 0)
        return cli_usage_error(argv[0], "--older-than takes a duration like 30d, 12h, 90m or 3600s, not '%s'",
                               older_than);

    int status = CLI_FAIL;
    json_t *out = NULL;
    PGconn *db = cli_db_connect();
    if (!db)
        goto done;
    char secs[24];
    snprintf(secs, sizeof secs, "%ld", seconds);
    const char *params[] = {secs};
    struct cli_db_error err;
    PGresult *res = cli_db_query(
        db, "DELETE FROM delivery_attempts WHERE attempted_at < now() - $1::bigint * interval '1 second'", 1, params,
        &err);
    if (!res) {
        cli_db_fail("pruning delivery attempts", &err);
        goto done;
    }
    long long deleted = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if (json) {
        out = json_pack("{s:I}", "deleted", (json_int_t)deleted);
        if (!out || cli_print(out, true, "") < 0)
            goto done;
    } else {
        printf("deleted %lld delivery attempt(s) older than %s\n", deleted, older_than);
    }
    status = CLI_OK;
done:
    json_decref(out);
    PQfinish(db);
    return status;
}
