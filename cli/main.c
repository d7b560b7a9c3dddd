/*
 * hookline: the operator's command.
 *
 * The table below is the table of contents of cli/: one row per command with its
 * handler (in cmd_<group>.c) and a line of help. main() finds the row for the first
 * one or two words, loads the configuration (HOOKLINE_* variables, the same names the
 * daemons read) and hands the handler its own argv, whose argv[0] is the full command
 * name ("hookline env create") so getopt and error messages name the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"

struct cli_config g_cli;

/* Settings only the CLI reads; the shared ones are common_config_items. */
static const struct config_item cli_config_items[] = {
    {"HOOKLINE_TOPIC_PARTITIONS", CONFIG_INT, "4", 1, 100000, 0,
     "partitions of the topics 'hookline topics create|ensure' make", &g_cli.topic_partitions},
    {"HOOKLINE_TOPIC_FORWARD_RETRY", CONFIG_STR, MSG_RETRY_PREFIX_DEFAULT, 0, 0, 0,
     "prefix of the forwarder's retry topics ('dlq redrive' writes to <prefix>.<group>.1)", &g_cli.retry_topic_prefix},
    {"HOOKLINE_FORWARDER_GROUP", CONFIG_STR, MSG_FORWARDER_GROUP_DEFAULT, 0, 0, 0,
     "the forwarder's consumer group ('dlq redrive --group' default)", &g_cli.forwarder_group},
    {"HOOKLINE_ROUTER_GROUP", CONFIG_STR, "hookline-router", 0, 0, 0, "the router's consumer group ('rewind')",
     &g_cli.router_group},
    {"HOOKLINE_SYNCER_GROUP", CONFIG_STR, "hookline-syncer", 0, 0, 0, "the syncer's consumer group ('rewind')",
     &g_cli.syncer_group},
    {"HOOKLINE_TOPIC_REPLAY_ROUTER", CONFIG_STR, "webhooks.replay.router", 0, 0, 0,
     "topic 'replay --stage router' sends raw webhooks to (the router reads it)", &g_cli.topic_replay[0]},
    {"HOOKLINE_TOPIC_REPLAY_FORWARDER", CONFIG_STR, "webhooks.replay.forwarder", 0, 0, 0,
     "topic 'replay --stage forwarder' sends routed webhooks to (only the forwarder reads it)", &g_cli.topic_replay[1]},
    {"HOOKLINE_TOPIC_REPLAY_SYNCER", CONFIG_STR, "webhooks.replay.syncer", 0, 0, 0,
     "topic 'replay --stage syncer' sends routed webhooks to (only the syncer reads it)", &g_cli.topic_replay[2]},
};
static const size_t cli_config_count = sizeof cli_config_items / sizeof cli_config_items[0];

struct command {
    const char *group; /* first word */
    const char *name;  /* second word, or NULL for a one-word command */
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"migrate", NULL, cmd_migrate, "apply the database migrations that are missing"},
    {"env", "create", cmd_env_create, "create an environment and print its signing key (once)"},
    {"env", "list", cmd_env_list, "list environments"},
    {"env", "show", cmd_env_show, "show an environment (its signing key with --show-secrets)"},
    {"env", "update", cmd_env_update, "change an environment's webhook URLs, forward mode, legacy signature"},
    {"env", "rotate-key", cmd_env_rotate_key, "replace the signing key; the previous one signs during a grace period"},
    {"integration", "create", cmd_integration_create, "add a provider integration to an environment"},
    {"integration", "list", cmd_integration_list, "list an environment's integrations and webhook URLs"},
    {"integration", "show", cmd_integration_show, "show an integration (its secrets with --show-secrets)"},
    {"integration", "update", cmd_integration_update,
     "change secrets (rotation), allow-unverified, verify config, forwarding"},
    {"connection", "create", cmd_connection_create, "add a customer connection to an integration"},
    {"connection", "list", cmd_connection_list, "list an environment's connections"},
    {"connection", "update", cmd_connection_update, "change a connection's webhook URL override"},
    {"import", "nango", cmd_import_nango,
     "create a Nango environment's integrations and connections here (export file or API)"},
    {"secrets", "new-key", cmd_secrets_new_key, "print a new random HOOKLINE_ENCRYPTION_KEY value"},
    {"secrets", "reencrypt", cmd_secrets_reencrypt, "encrypt plain-text or old-key secrets with the current key"},
    {"sync", "create", cmd_sync_create, "add a sync: webhook subscriptions and a runner (URL or Kafka topic)"},
    {"sync", "list", cmd_sync_list, "list an environment's syncs"},
    {"sync", "enable", cmd_sync_enable, "let webhooks start runs of a sync again"},
    {"sync", "disable", cmd_sync_disable, "stop webhooks from starting runs of a sync"},
    {"sync", "delete", cmd_sync_delete, "remove a sync and its runs"},
    {"sync", "runs", cmd_sync_runs, "list sync runs (by connection, sync, status)"},
    {"sync", "run", cmd_sync_run, "show one sync run"},
    {"sync", "retry", cmd_sync_retry, "queue a failed or expired sync run again"},
    {"topics", "create", cmd_topics_create,
     "create the missing topics with partitions, replication and retention per topic"},
    {"topics", "describe", cmd_topics_describe, "show the topics as the cluster has them (replicas, ISR, retention)"},
    {"topics", "ensure", cmd_topics_ensure, "create the pipeline's Kafka topics that are missing"},
    {"replay", NULL, cmd_replay, "send a time window of webhooks through one stage again (router, forwarder, syncer)"},
    {"rewind", NULL, cmd_rewind, "move a stage's consumer group to a time, the earliest or the latest offsets"},
    {"dlq", "list", cmd_dlq_list, "list the deliveries the forwarder gave up on (dead letters)"},
    {"destinations", "list", cmd_destinations_list, "list destination URLs flagged gone (they answered 410)"},
    {"destinations", "clear", cmd_destinations_clear, "deliver to a destination flagged gone again"},
    {"dlq", "redrive", cmd_dlq_redrive, "deliver dead letters again, each to the destination that failed"},
    {"rejected", "list", cmd_rejected_list, "list the messages a stage quarantined, with why and where from"},
    {"rejected", "replay", cmd_rejected_replay, "put quarantined messages back on the topic they came from"},
    /* Before the one-word row of its group: find_command takes the first row that
     * matches, so "deliveries prune" is this one and "deliveries <id>" the next. */
    {"deliveries", "prune", cmd_deliveries_prune, "delete recorded delivery attempts older than a duration"},
    {"deliveries", NULL, cmd_deliveries, "every delivery attempt of a webhook: deliveries WEBHOOK_ID"},
    {"version", NULL, cmd_version, "print the versions of the libraries hookline runs with (librdkafka, ...)"},
    {"providers", NULL, cmd_providers, "list supported providers and how each is verified"},
    {"sign", NULL, cmd_sign, "sign a body read from stdin as a provider would (headers or curl)"},
    {"verify", NULL, cmd_verify, "check a captured request (body on stdin) against a secret"},
    {"api-key", "create", cmd_api_key_create, "create a key for the admin API (printed once, stored hashed)"},
    {"api-key", "list", cmd_api_key_list, "list the admin API's keys (never their secrets)"},
    {"api-key", "revoke", cmd_api_key_revoke, "revoke an admin API key"},
};
static const size_t ncommands = sizeof commands / sizeof commands[0];

static void print_config_items(FILE *f, const struct config_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-28s %s (default: %s)\n", items[i].name, items[i].help,
                items[i].def && *items[i].def ? items[i].def : "none");
}

/* Lists the commands (all, or one group's) on f. */
static void print_commands(FILE *f, const char *group)
{
    for (size_t i = 0; i < ncommands; i++) {
        const struct command *c = &commands[i];
        if (group && strcmp(group, c->group))
            continue;
        char words[64];
        snprintf(words, sizeof words, "%s%s%s", c->group, c->name ? " " : "", c->name ? c->name : "");
        fprintf(f, "  %-22s %s\n", words, c->help);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: hookline <command> [options]\n\nCommands:\n");
    print_commands(f, NULL);
    fprintf(f,
            "\nRun 'hookline <command> --help' for a command's options. Commands that print\n"
            "data take --json. Exit status: 0 ok, 1 failed, 2 bad command line.\n"
            "\nConfigured by environment variables:\n");
    print_config_items(f, common_config_items, common_config_count);
    print_config_items(f, cli_config_items, cli_config_count);
    fprintf(f, "  %-28s any librdkafka property, e.g. HOOKLINE_KAFKA_SECURITY_PROTOCOL\n", "HOOKLINE_KAFKA_*");
    fprintf(f, "  %-28s <key id>:<base64 of 32 bytes>: encrypts secrets at rest (secrets new-key)\n",
            "HOOKLINE_ENCRYPTION_KEY");
    fprintf(f, "  %-28s older keys, comma-separated, still read while rotating (secrets reencrypt)\n",
            "HOOKLINE_ENCRYPTION_OLD_KEYS");
}

static bool is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "help");
}

/* Finds the command named by argv[1] (and argv[2] for groups). Sets *words to the
 * number of words used. NULL after printing why (with *status set). */
static const struct command *find_command(int argc, char **argv, int *words, int *status)
{
    bool group_known = false;
    for (size_t i = 0; i < ncommands; i++) {
        const struct command *c = &commands[i];
        if (strcmp(c->group, argv[1]))
            continue;
        group_known = true;
        if (!c->name) {
            *words = 1;
            return c;
        }
        if (argc > 2 && !strcmp(c->name, argv[2])) {
            *words = 2;
            return c;
        }
    }
    if (!group_known) {
        fprintf(stderr, "hookline: unknown command '%s'\n", argv[1]);
        fprintf(stderr, "Try 'hookline --help'.\n");
        *status = CLI_USAGE;
        return NULL;
    }
    bool help = argc > 2 && is_help(argv[2]);
    FILE *f = help ? stdout : stderr;
    if (!help)
        fprintf(stderr, argc > 2 ? "hookline: unknown command '%s %s'\n" : "hookline: '%s' needs a subcommand\n",
                argv[1], argc > 2 ? argv[2] : "");
    fprintf(f, "Usage: hookline %s <subcommand> [options]\n\nSubcommands:\n", argv[1]);
    print_commands(f, argv[1]);
    *status = help ? CLI_OK : CLI_USAGE;
    return NULL;
}

int main(int argc, char **argv)
{
    int status = CLI_FAIL;
    char **sub_argv = NULL;
    char *prog = NULL;

    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (is_help(argv[1])) {
        usage(stdout);
        return CLI_OK;
    }
    int words = 0;
    const struct command *cmd = find_command(argc, argv, &words, &status);
    if (!cmd)
        return status;

    if (config_load(common_config_items, common_config_count) < 0 ||
        config_load(cli_config_items, cli_config_count) < 0)
        return CLI_FAIL;
    log_init("hookline", g_common.log_level, g_common.log_format);

    /* The handler's argv: the full command name, then what follows it. */
    int sub_argc = argc - words;
    sub_argv = calloc((size_t)sub_argc + 1, sizeof *sub_argv);
    if (!sub_argv ||
        asprintf(&prog, "hookline %s%s%s", cmd->group, cmd->name ? " " : "", cmd->name ? cmd->name : "") < 0) {
        prog = NULL;
        cli_error("out of memory");
        goto out;
    }
    sub_argv[0] = prog;
    for (int i = 1; i < sub_argc; i++)
        sub_argv[i] = argv[words + i];

    status = cmd->run(sub_argc, sub_argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output");
        status = CLI_FAIL;
    }
out:
    free(prog);
    free(sub_argv);
    return status;
}
