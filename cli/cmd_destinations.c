/*
 * cmd_destinations: `hookline destinations list|clear`: the destination URLs the
 * forwarder stopped sending to because they answered 410 Gone (gone_destinations).
 * Clearing one lets deliveries through again; what was dead-lettered meanwhile can be
 * sent with `hookline dlq redrive --destination URL`.
 */
#include <stdio.h>

#include "cli/cli.h"

static const char list_usage[] =
    "Usage: hookline destinations list [--json]\n"
    "\n"
    "Lists the destination URLs flagged gone: they answered 410 Gone, and the forwarder\n"
    "sends them nothing (their deliveries are dead-lettered) until the flag is cleared.\n"
    "\n"
    "  --json    print JSON\n"
    "  --help    show this help\n";

static const char clear_usage[] =
    "Usage: hookline destinations clear --url URL\n"
    "\n"
    "Clears the gone flag of URL: the forwarder delivers to it again (within a moment:\n"
    "it is told of the change). Then `hookline dlq redrive --destination URL` sends what\n"
    "was dead-lettered meanwhile.\n"
    "\n"
    "  --url URL   the flagged destination, exactly as listed\n"
    "  --help      show this help\n";

int cmd_destinations_list(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int status = cli_db_print(db, "listing gone destinations",
                              "SELECT url, status, webhook_id,"
                              " to_char(flagged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS flagged_at"
                              " FROM gone_destinations ORDER BY flagged_at, url",
                              0, NULL, json, "no destination is flagged gone");
    PQfinish(db);
    return status;
}

int cmd_destinations_clear(int argc, char **argv)
{
    const char *url = NULL;
    const struct cli_opt opts[] = {{"url", CLI_OPT_STRING, &url, true}};
    int parsed = cli_parse_options(argc, argv, clear_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    struct cli_db_error err;
    const char *params[] = {url};
    PGresult *res = cli_db_query(db, "DELETE FROM gone_destinations WHERE url = $1", 1, params, &err);
    int status = CLI_FAIL;
    if (!res) {
        status = cli_db_fail("clearing the gone flag", &err);
    } else if (PQcmdTuples(res)[0] == '0') {
        cli_error("%s is not flagged gone (see hookline destinations list)", url);
    } else {
        printf("cleared: %s gets deliveries again\n", url);
        status = CLI_OK;
    }
    PQclear(res);
    PQfinish(db);
    return status;
}
