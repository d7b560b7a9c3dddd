/* cmd_sync: `hookline sync ...`: the syncs of an integration (webhook subscriptions and
 * a runner) and their runs, which hookline-syncer creates from webhooks and sends. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/ident.h"
#include "common/ids.h"
#include "common/log.h"

#define SUBSCRIPTION_MAX_LEN IDENT_MAX_LEN /* an event type, as every stage caps it */
#define SUBSCRIPTIONS_MAX 64               /* the schema's CHECK */
#define TOPIC_MAX_LEN 249

/* What every command that prints syncs prints. */
#define SYNC_COLUMNS                                                                                                   \
    "s.name, i.key AS integration, array_to_json(s.subscriptions) AS subscriptions, s.runner_url,"                     \
    " s.runner_topic, s.enabled, s.max_attempts, s.created_at, s.updated_at"
#define SYNC_FROM " FROM syncs s JOIN integrations i ON i.id = s.integration_id"
/* A sync named by (--env $1, --integration $2, --name $3). */
#define SYNC_NAMED "i.environment_id = $1::uuid AND i.key = $2 AND s.name = $3"

static const char create_usage[] =
    "Usage: hookline sync create --env UUID --integration KEY --name NAME\n"
    "                            --subscriptions 'EVENT[,EVENT...]'\n"
    "                            (--runner-url URL | --runner-topic TOPIC)\n"
    "                            [--max-attempts N] [--disabled] [--json]\n"
    "\n"
    "Adds a sync to an integration: each attributed webhook whose event type equals one of\n"
    "its subscriptions (the first that matches; * matches every event) starts one run of\n"
    "the sync for the webhook's connection, sent to the runner as a signed JSON job.\n"
    "\n"
    "  --env UUID              the environment\n"
    "  --integration KEY       the integration key\n"
    "  --name NAME             the sync's name, unique in the integration\n"
    "  --subscriptions LIST    event types in order, comma-separated, e.g.\n"
    "                          'contact.propertyChange,*'\n"
    "  --runner-url URL        POST jobs here (http or https), signed like forwards\n"
    "  --runner-topic TOPIC    or produce jobs to this Kafka topic, keyed by sync/connection\n"
    "  --max-attempts N        attempts per run before it fails (1-100, default 5)\n"
    "  --disabled              create it disabled (no runs until 'sync enable')\n"
    "  --json                  print a JSON object\n"
    "  --help                  show this help\n";

static const char list_usage[] =
    "Usage: hookline sync list --env UUID [--integration KEY] [--json]\n"
    "\n"
    "Lists an environment's syncs (optionally one integration's).\n"
    "\n"
    "  --env UUID          the environment\n"
    "  --integration KEY   only this integration's syncs\n"
    "  --json              print a JSON array\n"
    "  --help              show this help\n";

static const char named_usage[] =
    "Usage: hookline sync enable|disable|delete --env UUID --integration KEY --name NAME [--json]\n"
    "\n"
    "enable / disable: whether webhooks start new runs of the sync (runs already created\n"
    "still run). delete: removes the sync and all its runs.\n"
    "\n"
    "  --env UUID          the environment\n"
    "  --integration KEY   the integration key\n"
    "  --name NAME         the sync\n"
    "  --json              print a JSON object\n"
    "  --help              show this help\n";

static const char runs_usage[] =
    "Usage: hookline sync runs --env UUID [--connection ID] [--sync NAME] [--status S]\n"
    "                          [--limit N] [--json]\n"
    "\n"
    "Lists an environment's sync runs, newest first.\n"
    "\n"
    "  --env UUID          the environment\n"
    "  --connection ID     only this connection's runs\n"
    "  --sync NAME         only this sync's runs\n"
    "  --status S          queued, running, succeeded, failed or expired\n"
    "  --limit N           at most N runs (default 100)\n"
    "  --json              print a JSON array\n"
    "  --help              show this help\n";

static const char run_usage[] =
    "Usage: hookline sync run RUN_ID [--json]\n"
    "\n"
    "Shows a sync run: its sync, connection, webhook, status, attempts, timestamps, last\n"
    "error, the runner's result and the payload (as text, or base64 when it is not).\n"
    "\n"
    "  --json   print a JSON object\n"
    "  --help   show this help\n";

static const char retry_usage[] =
    "Usage: hookline sync retry RUN_ID [--json]\n"
    "\n"
    "Queues a failed or expired run again, with its attempts reset and a fresh age.\n"
    "\n"
    "  --json   print a JSON object\n"
    "  --help   show this help\n";

/* The subscriptions as a JSON array text (new string), or NULL after printing why. */
static char *parse_subscriptions(const char *list)
{
    json_t *arr = json_array();
    char *copy = strdup(list), *save = NULL, *out = NULL;
    if (!arr || !copy) {
        cli_error("out of memory");
        goto out;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " \t");
        size_t len = strlen(tok);
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = '\0';
        bool bad = !ident_valid(tok, len);
        if (bad || json_array_append_new(arr, json_string(tok)) < 0) {
            cli_error("--subscriptions: '%s' is not an event type (1 to %d bytes of UTF-8, no control characters)", tok,
                      SUBSCRIPTION_MAX_LEN);
            goto out;
        }
    }
    if (json_array_size(arr) == 0 || json_array_size(arr) > SUBSCRIPTIONS_MAX) {
        cli_error("--subscriptions needs 1 to %d event types, comma-separated", SUBSCRIPTIONS_MAX);
        goto out;
    }
    out = json_dumps(arr, JSON_COMPACT);
out:
    free(copy);
    json_decref(arr);
    return out;
}

static bool valid_topic(const char *s)
{
    size_t len = strlen(s);
    return len > 0 && len <= TOPIC_MAX_LEN &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/* Is topic one of hookline's own (webhooks.*, the configured stage topics, the
 * forwarder's retry topics)? A runner writing jobs there would feed them to a stage as
 * webhooks, or a tenant could read another's. Compared case-insensitively: Kafka
 * topic names are case-sensitive, but one differing only in case is a lookalike. */
static bool hookline_topic(const char *topic)
{
    const char *const own[] = {g_common.topic_raw, g_common.topic_routed, g_common.topic_rejected,
                               g_common.topic_dead_letters, g_common.topic_notifications};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (own[i] && !strcasecmp(topic, own[i]))
            return true;
    const char *const prefixes[] = {"webhooks.", g_cli.retry_topic_prefix};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t len = prefixes[i] ? strlen(prefixes[i]) : 0;
        if (len && !strncasecmp(topic, prefixes[i], len))
            return true;
    }
    return false;
}

int cmd_sync_create(int argc, char **argv)
{
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *name = NULL, *subs = NULL, *url = NULL, *topic = NULL, *max_attempts = "5";
    bool disabled = false, json = false;
    char *subs_json = NULL;
    long n;
    PGconn *db = NULL;
    PGresult *res = NULL;
    struct cli_db_error err;

    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"integration", CLI_OPT_STRING, &key, true},
        {"name", CLI_OPT_STRING, &name, true},
        {"subscriptions", CLI_OPT_STRING, &subs, true},
        {"runner-url", CLI_OPT_URL, &url, false},
        {"runner-topic", CLI_OPT_STRING, &topic, false},
        {"max-attempts", CLI_OPT_STRING, &max_attempts, false},
        {"disabled", CLI_OPT_FLAG, &disabled, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, create_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (!url == !topic)
        return cli_usage_error(argv[0], "give exactly one of --runner-url and --runner-topic");
    if (cli_parse_long(max_attempts, 1, 100, &n) < 0)
        return cli_usage_error(argv[0], "--max-attempts must be a number from 1 to 100");
    if (!ident_is_integration_key(name)) {
        cli_error("--name must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
        return CLI_FAIL;
    }
    if (topic && !valid_topic(topic)) {
        cli_error("--runner-topic must be 1 to %d of [A-Za-z0-9._-]", TOPIC_MAX_LEN);
        return CLI_FAIL;
    }
    if (topic && hookline_topic(topic)) {
        cli_error(
            "--runner-topic %s is one of hookline's own topics (webhooks.*, %s.*): give the runner a "
            "topic of its own",
            topic, g_cli.retry_topic_prefix);
        return CLI_FAIL;
    }
    if (!(subs_json = parse_subscriptions(subs)))
        return CLI_FAIL;

    db = cli_db_connect_env(env);
    if (!db)
        goto out;
    const char *params[] = {env, key, name, subs_json, url, topic, max_attempts, disabled ? "false" : "true"};
    res = cli_db_query(db,
                       "WITH s AS (INSERT INTO syncs (integration_id, name, subscriptions, runner_url, runner_topic,"
                       " max_attempts, enabled)"
                       " SELECT i.id, $3, ARRAY(SELECT json_array_elements_text($4::json)), $5, $6, $7::int,"
                       " $8::boolean FROM integrations i WHERE i.environment_id = $1::uuid AND i.key = $2"
                       " RETURNING *)"
                       " SELECT " SYNC_COLUMNS " FROM s JOIN integrations i ON i.id = s.integration_id",
                       8, params, &err);
    if (!res) {
        if (!strcmp(err.sqlstate, CLI_SQLSTATE_UNIQUE_VIOLATION))
            cli_error("integration '%s' already has a sync named '%s'", key, name);
        else
            cli_db_fail("creating the sync", &err);
        goto out;
    }
    if (PQntuples(res) == 0)
        cli_error("environment %s has no integration '%s' (see 'hookline integration list --env %s')", env, key, env);
    else
        status = cli_print_row(res, json);
out:
    free(subs_json);
    PQclear(res);
    PQfinish(db);
    return status;
}

int cmd_sync_list(int argc, char **argv)
{
    const char *env = NULL, *key = NULL;
    bool json = false;
    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"integration", CLI_OPT_STRING, &key, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, list_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect_env(env);
    if (!db)
        return CLI_FAIL;
    const char *params[] = {env, key};
    int status = cli_db_print(db, "listing syncs",
                              "SELECT " SYNC_COLUMNS SYNC_FROM
                              " WHERE i.environment_id = $1::uuid"
                              " AND ($2::text IS NULL OR i.key = $2) ORDER BY i.key, s.name",
                              2, params, json, "no syncs");
    PQfinish(db);
    return status;
}

/* enable, disable and delete: one statement on the named sync, then the sync printed. */
static int named_sync(int argc, char **argv, const char *sql, const char *what)
{
    int status = CLI_FAIL;
    const char *env = NULL, *key = NULL, *name = NULL;
    bool json = false;
    struct cli_db_error err;
    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},
        {"integration", CLI_OPT_STRING, &key, true},
        {"name", CLI_OPT_STRING, &name, true},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, named_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect_env(env);
    if (!db)
        return CLI_FAIL;
    const char *params[] = {env, key, name};
    PGresult *res = cli_db_query(db, sql, 3, params, &err);
    if (!res)
        cli_db_fail(what, &err);
    else if (PQntuples(res) == 0)
        cli_error("integration '%s' has no sync named '%s' (see 'hookline sync list --env %s')", key, name, env);
    else
        status = cli_print_row(res, json);
    PQclear(res);
    PQfinish(db);
    return status;
}

int cmd_sync_enable(int argc, char **argv)
{
    return named_sync(argc, argv,
                      "UPDATE syncs s SET enabled = true, updated_at = now() FROM integrations i"
                      " WHERE i.id = s.integration_id AND " SYNC_NAMED " RETURNING " SYNC_COLUMNS,
                      "enabling the sync");
}

int cmd_sync_disable(int argc, char **argv)
{
    return named_sync(argc, argv,
                      "UPDATE syncs s SET enabled = false, updated_at = now() FROM integrations i"
                      " WHERE i.id = s.integration_id AND " SYNC_NAMED " RETURNING " SYNC_COLUMNS,
                      "disabling the sync");
}

int cmd_sync_delete(int argc, char **argv)
{
    return named_sync(argc, argv,
                      "DELETE FROM syncs s USING integrations i"
                      " WHERE i.id = s.integration_id AND " SYNC_NAMED " RETURNING " SYNC_COLUMNS,
                      "deleting the sync");
}

int cmd_sync_runs(int argc, char **argv)
{
    const char *env = NULL, *conn = NULL, *sync = NULL, *st = NULL, *limit = "100";
    bool json = false;
    long n;
    const struct cli_opt opts[] = {
        {"env", CLI_OPT_ENV_ID, &env, true},      {"connection", CLI_OPT_STRING, &conn, false},
        {"sync", CLI_OPT_STRING, &sync, false},   {"status", CLI_OPT_STRING, &st, false},
        {"limit", CLI_OPT_STRING, &limit, false}, {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, runs_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (cli_parse_long(limit, 1, 1000000, &n) < 0)
        return cli_usage_error(argv[0], "--limit must be a number from 1 to 1000000");
    static const char *const statuses[] = {"queued", "running", "succeeded", "failed", "expired"};
    bool known = !st;
    for (size_t i = 0; st && i < sizeof statuses / sizeof statuses[0]; i++)
        known |= !strcmp(st, statuses[i]);
    if (!known)
        return cli_usage_error(argv[0], "--status must be queued, running, succeeded, failed or expired");
    PGconn *db = cli_db_connect_env(env);
    if (!db)
        return CLI_FAIL;
    const char *params[] = {env, conn, sync, st, limit};
    int status = cli_db_print(db, "listing sync runs",
                              "SELECT r.id, s.name AS sync, r.connection_id, r.status, r.attempts, r.event_type,"
                              " r.matched_subscription AS subscription, r.webhook_id, r.created_at, r.finished_at,"
                              " r.last_error FROM sync_runs r JOIN syncs s ON s.id = r.sync_id"
                              " WHERE r.environment_id = $1::uuid AND ($2::text IS NULL OR r.connection_id = $2)"
                              " AND ($3::text IS NULL OR s.name = $3) AND ($4::text IS NULL OR r.status = $4)"
                              " ORDER BY r.created_at DESC, r.seq DESC LIMIT $5::int",
                              5, params, json, "no sync runs");
    PQfinish(db);
    return status;
}

/* For `sync run ID` and `sync retry ID`: takes the one argument that is not an option
 * out of argv (into *id) and leaves the options for cli_parse_options. -1 when there is
 * none, or more than one (a usage error is printed). */
static int take_run_id(int *argc, char **argv, const char **id)
{
    int w = 1;
    *id = NULL;
    for (int i = 1; i < *argc; i++) {
        if (argv[i][0] == '-') {
            argv[w++] = argv[i];
        } else if (!*id) {
            *id = argv[i];
        } else {
            cli_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
            return -1;
        }
    }
    argv[w] = NULL;
    *argc = w;
    return 0;
}

/* The run's id from argv; CLI status to return at once, or -1 to go on. */
static int run_id_arg(int *argc, char **argv, const char *usage, bool *json, const char **id)
{
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, json, false}};
    if (take_run_id(argc, argv, id) < 0)
        return CLI_USAGE;
    int parsed = cli_parse_options(*argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if (!*id)
        return cli_usage_error(argv[0], "which run? give its id (see 'hookline sync runs')");
    if (!id_is_uuid(*id)) {
        cli_error("'%s' is not a run id (a UUID; see 'hookline sync runs')", *id);
        return CLI_FAIL;
    }
    return -1;
}

/* Everything about one run (r: sync_runs, s: syncs, i: integrations). */
#define RUN_RECORD                                                                                                     \
    "r.id, s.name AS sync, i.key AS integration, r.environment_id, r.connection_id, r.status,"                         \
    " r.attempts, s.max_attempts, r.last_error, r.result, r.webhook_id, r.routed_id, r.event_type,"                    \
    " r.matched_subscription AS subscription, r.provider, coalesce(s.runner_url, 'kafka:' ||"                          \
    " s.runner_topic) AS runner, r.seq, r.webhook_received_at, r.created_at, r.queued_at,"                             \
    " r.next_attempt_at, r.started_at, r.finished_at, r.notification_due, r.notified_at,"                              \
    " octet_length(r.payload) AS payload_bytes"
#define RUN_FROM " FROM sync_runs r JOIN syncs s ON s.id = r.sync_id JOIN integrations i ON i.id = s.integration_id"

/* Prints run id; CLI status. */
static int print_run(PGconn *db, const char *id, bool json)
{
    const char *params[] = {id};
    struct cli_db_error err;
    PGresult *res = cli_db_query(
        db, "SELECT " RUN_RECORD ", convert_from(r.payload, 'UTF8') AS payload" RUN_FROM " WHERE r.id = $1::uuid", 1,
        params, &err);
    int status = CLI_FAIL;
    if (!res && !strcmp(err.sqlstate, "22021")) /* not UTF-8: show the bytes as base64 */
        res = cli_db_query(db,
                           "SELECT " RUN_RECORD
                           ", translate(encode(r.payload, 'base64'), E'\\n', '')"
                           " AS payload_base64" RUN_FROM " WHERE r.id = $1::uuid",
                           1, params, &err);
    if (!res)
        cli_db_fail("reading the run", &err);
    else if (PQntuples(res) == 0)
        cli_error("no sync run with id %s (see 'hookline sync runs')", id);
    else
        status = cli_print_row(res, json);
    PQclear(res);
    return status;
}

int cmd_sync_run(int argc, char **argv)
{
    bool json = false;
    const char *id = NULL;
    int parsed = run_id_arg(&argc, argv, run_usage, &json, &id);
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int status = print_run(db, id, json);
    PQfinish(db);
    return status;
}

int cmd_sync_retry(int argc, char **argv)
{
    bool json = false;
    const char *id = NULL;
    int parsed = run_id_arg(&argc, argv, retry_usage, &json, &id);
    if (parsed >= 0)
        return parsed;
    PGconn *db = cli_db_connect();
    if (!db)
        return CLI_FAIL;
    int status = CLI_FAIL;
    struct cli_db_error err;
    const char *params[] = {id};
    PGresult *res = cli_db_query(db,
                                 "WITH old AS (SELECT id, status, last_error FROM sync_runs WHERE id = $1::uuid"
                                 "  AND status IN ('failed', 'expired') FOR UPDATE)"
                                 " UPDATE sync_runs r SET status = 'queued', attempts = 0, queued_at = now(),"
                                 " next_attempt_at = now(), finished_at = NULL,"
                                 " last_error = 'retried by hand after: ' || old.status"
                                 "  || coalesce(' (' || old.last_error || ')', '')"
                                 " FROM old WHERE r.id = old.id RETURNING old.status",
                                 1, params, &err);
    if (!res) {
        cli_db_fail("queueing the run again", &err);
    } else if (PQntuples(res) == 0) {
        PQclear(res);
        res = cli_db_query(db, "SELECT status FROM sync_runs WHERE id = $1::uuid", 1, params, &err);
        if (!res)
            cli_db_fail("reading the run", &err);
        else if (PQntuples(res) == 0)
            cli_error("no sync run with id %s (see 'hookline sync runs')", id);
        else
            cli_error("run %s is %s: only a failed or expired run can be retried", id, PQgetvalue(res, 0, 0));
    } else {
        log_info(NULL, "sync run %s: queued again by hand (was %s)", id, PQgetvalue(res, 0, 0));
        status = print_run(db, id, json);
    }
    PQclear(res);
    PQfinish(db);
    return status;
}
