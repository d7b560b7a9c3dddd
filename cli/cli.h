/*
 * cli: what the parts of the `hookline` command share.
 *
 * main.c holds the dispatch table; each cmd_*.c file implements one group of
 * commands; cli_util.c has messages, argument checks and output (a text table or
 * JSON); cli_db.c has PostgreSQL access. The CLI is single-threaded and short-lived:
 * errors are reported where they happen (a line on stderr) and turned into an exit
 * code by the command.
 *
 * Exit codes: 0 success, 1 the request failed or was refused (bad value, unknown
 * environment, database or Kafka error), 2 the command line is malformed (unknown
 * option, missing required option, stray argument, a number that is not one).
 */
#ifndef HOOKLINE_CLI_H
#define HOOKLINE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

enum cli_exit { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Settings only the CLI reads, loaded at startup by main.c from cli_config_items. */
struct cli_config {
    long topic_partitions;                   /* HOOKLINE_TOPIC_PARTITIONS: default for `topics create|ensure` */
    const char *retry_topic_prefix;          /* HOOKLINE_TOPIC_FORWARD_RETRY: where `dlq redrive` produces */
    const char *forwarder_group;             /* HOOKLINE_FORWARDER_GROUP: default of `dlq redrive --group` */
    const char *router_group, *syncer_group; /* HOOKLINE_ROUTER_GROUP, HOOKLINE_SYNCER_GROUP (rewind) */
    /* HOOKLINE_TOPIC_REPLAY_ROUTER, _FORWARDER, _SYNCER: where `replay` sends each stage's copies */
    const char *topic_replay[3];
};
extern struct cli_config g_cli;

/* ---- commands ----------------------------------------------------------------
 * Each handler gets its own argv: argv[0] is the full command name ("hookline env
 * create", used in messages and by getopt), the rest are its options. It parses them
 * with getopt_long after cli_getopt_reset() and returns an enum cli_exit value. */
int cmd_migrate(int argc, char **argv);
int cmd_env_create(int argc, char **argv);
int cmd_env_list(int argc, char **argv);
int cmd_env_show(int argc, char **argv);
int cmd_env_update(int argc, char **argv);
int cmd_env_rotate_key(int argc, char **argv);
int cmd_integration_create(int argc, char **argv);
int cmd_integration_list(int argc, char **argv);
int cmd_integration_show(int argc, char **argv);
int cmd_integration_update(int argc, char **argv);
int cmd_secrets_new_key(int argc, char **argv);
int cmd_secrets_reencrypt(int argc, char **argv);
int cmd_connection_create(int argc, char **argv);
int cmd_connection_list(int argc, char **argv);
int cmd_connection_update(int argc, char **argv);
int cmd_topics_ensure(int argc, char **argv);
int cmd_topics_create(int argc, char **argv);
int cmd_topics_describe(int argc, char **argv);
int cmd_dlq_list(int argc, char **argv);
int cmd_destinations_list(int argc, char **argv);
int cmd_destinations_clear(int argc, char **argv);
int cmd_dlq_redrive(int argc, char **argv);
int cmd_rejected_list(int argc, char **argv);
int cmd_rejected_replay(int argc, char **argv);
int cmd_deliveries(int argc, char **argv);
int cmd_deliveries_prune(int argc, char **argv);
int cmd_sync_create(int argc, char **argv);
int cmd_sync_list(int argc, char **argv);
int cmd_sync_enable(int argc, char **argv);
int cmd_sync_disable(int argc, char **argv);
int cmd_sync_delete(int argc, char **argv);
int cmd_sync_runs(int argc, char **argv);
int cmd_sync_run(int argc, char **argv);
int cmd_sync_retry(int argc, char **argv);
int cmd_providers(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_api_key_create(int argc, char **argv);
int cmd_api_key_list(int argc, char **argv);
int cmd_api_key_revoke(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_rewind(int argc, char **argv);
int cmd_import_nango(int argc, char **argv);

/* cmd_version.c: `hookline version`, the libraries as loaded at run time. */
int cmd_version(int argc, char **argv);

/* cli_dropped.c: the provider events of webhook_id the router dropped as re-sent
 * copies (dropped_duplicates), a new JSON array (empty when none; NULL after printing
 * why) of rows with result "dropped-duplicate", duplicate_of (the earlier webhook),
 * provider_event_id, and dropped: "webhook" (whole: it has no delivery) or "event" (left
 * out of its batch, whose other events were routed). */
json_t *cli_dropped_duplicates(PGconn *db, const char *webhook_id, bool whole);
/* Prints those rows as text, one line per event. */
void cli_dropped_print(const json_t *rows);

/* cli_filter.c: the options `replay` and `dlq list|redrive` share. Each returns -1 when
 * the command should go on, else the exit status (after printing why). */
struct replay_filters;
/* Every --webhook-id of argv into f (the option table keeps only the last): UUIDs, at
 * most REPLAY_WEBHOOK_IDS_MAX. */
int cli_filter_webhook_ids(int argc, char **argv, struct replay_filters *f) __attribute__((warn_unused_result));
/* The time window [*from_ms, *to_ms) of the texts from and to (common/timetext.h; a NULL
 * one leaves its bound as it is), named from_opt and to_opt in messages. */
int cli_filter_window(const char *cmd, const char *from_opt, const char *from, const char *to_opt, const char *to,
                      int64_t now_ms, int64_t *from_ms, int64_t *to_ms) __attribute__((warn_unused_result));
/* --rate N/s (s NULL: not given, *out unchanged) into messages a second. */
int cli_filter_rate(const char *cmd, const char *s, double *out) __attribute__((warn_unused_result));

/* ---- messages (cli_util.c) ---------------------------------------------------- */

/* "hookline: <message>" on stderr. Never pass a secret. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hookline: warning: <message>" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<cmd>: <message>" and a pointer to --help on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only the pointer to --help (when getopt already printed the problem); returns CLI_USAGE. */
int cli_usage_hint(const char *cmd);
/* Prints a command's help text (usage) to stdout; returns CLI_OK. */
int cli_help(const char *usage);
/* Makes getopt_long start afresh on a new argv (each handler calls it first). */
void cli_getopt_reset(void);

/* A command's options as data, for cli_parse_options. */
enum cli_opt_kind {
    CLI_OPT_STRING,      /* --name VALUE: target is a const char ** (set to the argv string) */
    CLI_OPT_FLAG,        /* --name: target is a bool * (set to true) */
    CLI_OPT_ENV_ID,      /* --name UUID: like CLI_OPT_STRING, checked with cli_check_env_id */
    CLI_OPT_BOOL,        /* --name true|false (cli_parse_bool's words): target is a const char **, set to
                       "true" or "false" (the text of a boolean SQL parameter) */
    CLI_OPT_URL,         /* --name URL: like CLI_OPT_STRING, checked with outbound_url_valid */
    CLI_OPT_URL_OR_NONE, /* --name URL|none: like CLI_OPT_URL; "none" (or "") sets the target to ""
                            (remove the URL: nullif($n, '') in SQL) */
};
struct cli_opt {
    const char *name; /* without the dashes, e.g. "env" */
    enum cli_opt_kind kind;
    void *target;
    bool required;
};

/* Parses argv (argv[0] is the command name) with getopt_long into the targets of the
 * n opts; --help prints usage. Returns -1 when the command should go on, otherwise the
 * exit status to return at once (after printing why): CLI_OK after --help, CLI_USAGE
 * for an unknown option, a missing value or required option, a stray argument, or a
 * boolean that is not one, CLI_FAIL for an environment id that is not a UUID or a URL
 * that is not an http(s) one. Targets of options not given are
 * left as they are (their defaults). At most 16 options. */
int cli_parse_options(int argc, char **argv, const char *usage, const struct cli_opt *opts, size_t n)
    __attribute__((warn_unused_result));
/* The same for a command that takes operands (words that are not options, in any
 * place): at most *nargs of them are stored into args (borrowed from argv) and *nargs
 * is set to how many there were; one more is a usage error. */
int cli_parse_options_args(int argc, char **argv, const char *usage, const struct cli_opt *opts, size_t n,
                           const char **args, size_t *nargs) __attribute__((warn_unused_result));
#define CLI_OPTS_N(opts) (sizeof(opts) / sizeof((opts)[0]))

/* ---- reading topics (cli_topic.c) ---------------------------------------------- */

/* A consumer in group (nothing is ever committed) that reports partition ends. NULL
 * after printing why. Free with cli_topic_reader_free (accepts NULL). */
/* An admin-capable client (a producer that never produces): topics, consumer groups.
 * NULL after printing why. Free with rd_kafka_destroy. */
rd_kafka_t *cli_admin_client(void);
rd_kafka_t *cli_topic_reader_new(const char *group);
void cli_topic_reader_free(rd_kafka_t *rk);
/* The number of partitions of topic (parts, when not NULL: a new list of them, each
 * from the beginning), or -1 after printing why. Never creates the topic. */
int cli_topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t **parts);
/* Calls visit(rkm, ctx) for every message of topic (rkm borrowed for the call), from
 * the beginning of each partition to its end as it is now. 0, or -1 after printing
 * why (also when visit returns -1, which stops the reading). */
int cli_topic_read_all(rd_kafka_t *rk, const char *topic, int (*visit)(const rd_kafka_message_t *rkm, void *ctx),
                       void *ctx);

/* ---- argument checks (cli_util.c) ---------------------------------------------- */

/* Parses a whole decimal number within [min, max]. Returns 0, or -1 if s is not one. */
int cli_parse_long(const char *s, long min, long max, long *out) __attribute__((warn_unused_result));
/* Parses true/false (also yes/no, on/off, 1/0; any case). Returns 0, or -1 if s is not one. */
int cli_parse_bool(const char *s, bool *out) __attribute__((warn_unused_result));
/* 0 if env (the value of --env) is an environment id (a UUID); otherwise prints what
 * to give instead and returns -1. */
int cli_check_env_id(const char *env) __attribute__((warn_unused_result));
/* 0 if text is a JSON object of at most max bytes without duplicate keys; otherwise
 * prints why (naming opt, e.g. "--config") and returns -1. */
int cli_check_json_object(const char *opt, const char *text, size_t max) __attribute__((warn_unused_result));

/* ---- output (cli_util.c) -------------------------------------------------------- */

/* Prints v (borrowed) on stdout. With json: v pretty-printed. Otherwise an array of
 * objects becomes a table with one column per key of its first object (or the line
 * `empty` when the array is empty) and an object becomes "key: value" lines. In text,
 * null is "-", booleans are yes/no, nested JSON is printed compactly and control
 * characters are shown as '?'. Returns 0, or -1 on allocation failure (reported). */
int cli_print(json_t *v, bool json, const char *empty) __attribute__((warn_unused_result));

/* Prints row 0 of res (cli_db_row) with cli_print. CLI_OK or CLI_FAIL (printed). */
int cli_print_row(const PGresult *res, bool json);

/* ---- database (cli_db.c) -------------------------------------------------------- */

/* What went wrong with a query: the SQLSTATE ("" if none, e.g. connection lost) and
 * the server's primary message (or libpq's), without trailing newline. */
struct cli_db_error {
    char sqlstate[6];
    char message[512];
};

#define CLI_SQLSTATE_UNIQUE_VIOLATION "23505"
#define CLI_SQLSTATE_FOREIGN_KEY_VIOLATION "23503"
#define CLI_SQLSTATE_CHECK_VIOLATION "23514"

/* Connects to g_common.database_url. Returns a new connection (caller frees with
 * PQfinish), or NULL after printing why (also when HOOKLINE_ENCRYPTION_KEY or
 * _OLD_KEYS is malformed). Server notices below WARNING are dropped. */
PGconn *cli_db_connect(void);

/* Runs one statement with PQexecParams: n text parameters (params[i] borrowed, NULL =
 * SQL NULL), text results. User input only ever travels as a parameter, never in sql.
 * Returns the result when the statement succeeded (caller frees with PQclear), or NULL
 * after filling err (which may be NULL). Prints nothing. */
PGresult *cli_db_query(PGconn *db, const char *sql, int n, const char *const *params, struct cli_db_error *err)
    __attribute__((warn_unused_result));

/* Prints "hookline: <what>: <message>" for a failed query; returns CLI_FAIL. */
int cli_db_fail(const char *what, const struct cli_db_error *err);

/* Row `row` of res as a new JSON object (caller owns the reference), keys = result
 * column names in order. Values by column type: bool -> true/false, integers, floats
 * and numeric -> numbers, json/jsonb -> nested JSON, others -> strings; SQL NULL ->
 * null. NULL on allocation failure. */
json_t *cli_db_row(const PGresult *res, int row);
/* All rows of res as a new JSON array of cli_db_row objects. NULL on allocation failure. */
json_t *cli_db_rows(const PGresult *res);

/* Checks that an environment exists. env_id must already be a valid UUID. Returns 1 if
 * it exists, 0 if not (after printing "no environment ..."), -1 on a database error
 * (printed). */
int cli_db_env_exists(PGconn *db, const char *env_id);

/* cli_db_connect, then cli_db_env_exists: a connection (PQfinish it), or NULL after
 * printing why (cannot connect, no such environment, database error). */
PGconn *cli_db_connect_env(const char *env_id);

/* Runs a query and returns all its rows as a new JSON array (cli_db_rows), or NULL
 * after printing "hookline: <what>: <error>" (or out of memory). */
json_t *cli_db_fetch(PGconn *db, const char *what, const char *sql, int n, const char *const *params)
    __attribute__((warn_unused_result));

/* cli_db_fetch, then cli_print of the rows (empty: the text when there are none).
 * Returns CLI_OK or CLI_FAIL (printed). */
int cli_db_print(PGconn *db, const char *what, const char *sql, int n, const char *const *params, bool json,
                 const char *empty);

/* Runs a statement that returns nothing (BEGIN, COMMIT, ...). 0, or -1 after printing
 * "hookline: <what>: <error>". */
int cli_db_exec(PGconn *db, const char *what, const char *sql) __attribute__((warn_unused_result));

/* ---- secrets at rest (cli_db.c) --------------------------------------------------
 * Secret columns hold secretbox ciphertext (common/secretbox.h) bound to the column
 * ("integrations.webhook_secret") and the row (store_secret_row_* in common/store.h).
 * The keyring comes from HOOKLINE_ENCRYPTION_KEY / _OLD_KEYS, loaded on first use. */

struct secretbox;

/* The keyring (borrowed; lives until exit). Returns 0 with *kr set (NULL when no key is
 * configured), or -1 after printing why a variable is malformed. */
int cli_keyring(const struct secretbox **kr) __attribute__((warn_unused_result));

/* Encrypts plain for (column, row). Returns the stored form (new string, free with
 * secretbox_free_str), or NULL after printing why: refuses when no key is set, so a
 * secret is never stored in plain text. */
char *cli_seal(const char *plain, const char *column, const char *row) __attribute__((warn_unused_result));

/* Decrypts a stored value of (column, row). Returns the secretbox result (>= 0:
 * SECRETBOX_OK, _OLD_KEY or _LEGACY, plain text returned as is) with *plain a new
 * string (free with secretbox_free_str), or -1 after printing why (naming column and
 * row, never the value). */
int cli_unseal(const char *stored, const char *column, const char *row, char **plain)
    __attribute__((warn_unused_result));

/* For each of the n secret columns (e.g. STORE_COL_WEBHOOK_SECRET; res has a result
 * column of the name after the '.', "webhook_secret") of res's row 0, stored for row:
 * with show, sets obj[name] to the decrypted value (null when not set); without,
 * removes obj[name], so ciphertext is never printed either. 0, or -1 (printed). */
int cli_reveal_secrets(json_t *obj, const PGresult *res, const char *const *columns, size_t n, const char *row,
                       bool show) __attribute__((warn_unused_result));

/* (cli_util.c) Re-encrypts a stored secret for another column of the same row
 * (rotation moves the current value to previous_*): stored (text of column from, may
 * be NULL or "") is decrypted and sealed for column to. *out: the new stored form (free with
 * secretbox_free_str), NULL when stored is NULL or "". 0, or -1 (printed). */
int cli_reseal(const char *stored, const char *from, const char *to, const char *row, char **out)
    __attribute__((warn_unused_result));

#endif
