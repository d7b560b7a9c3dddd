/*
 * config: one declarative table per daemon drives environment parsing, --help and
 * --check-config. Every daemon uses the same HOOKLINE_* names for what they share
 * (common_config below). HOOKLINE_KAFKA_* variables are not in any table: they pass
 * straight to librdkafka (see kafka.h).
 */
#ifndef HOOKLINE_CONFIG_H
#define HOOKLINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum config_type { CONFIG_STR, CONFIG_INT, CONFIG_BOOL, CONFIG_ALIAS };

#define CONFIG_SECRET 1 /* mask the value in --check-config */

struct config_item {
    const char *name; /* environment variable, e.g. "HOOKLINE_INGRESS_PORT" */
    enum config_type type;
    const char *def; /* default as text; NULL = empty string / 0 / false */
    long min, max;   /* bounds for CONFIG_INT (ignored if min == max) */
    int flags;
    const char *help;
    void *target; /* const char ** (lives as long as the process) / long * / bool * */
};
/* A deprecated name: {"HOOKLINE_OLD", CONFIG_ALIAS, "HOOKLINE_NEW", 0, 0, 0, help, NULL}
 * in the same table as HOOKLINE_NEW (and after it). When HOOKLINE_NEW is not set and
 * HOOKLINE_OLD is, its value is HOOKLINE_NEW's; config_from_args warns once either way. */

/* Settings every daemon and the CLI share. */
struct common_config {
    const char *database_url;
    const char *kafka_brokers;
    const char *topic_raw;
    const char *topic_routed;
    const char *topic_rejected;
    const char *topic_dead_letters;
    const char *topic_notifications;
    const char *log_level;
    const char *log_format;
    const char *public_url; /* base of the public webhook URL shown to users */
};
extern struct common_config g_common;

/* The items of g_common, to be loaded by every program. */
extern const struct config_item common_config_items[];
extern const size_t common_config_count;

/* Settings every daemon has, with a default per daemon (config_from_args). */
struct daemon_config {
    long admin_port;        /* HOOKLINE_ADMIN_PORT */
    const char *admin_bind; /* HOOKLINE_ADMIN_BIND */
};
extern struct daemon_config g_daemon;

/* Parses the environment into the table's targets. Returns 0, or -1 after printing
 * which variable is wrong (a startup error: the caller exits). */
int config_load(const struct config_item *items, size_t n) __attribute__((warn_unused_result));

/* Handles --help and --check-config for a daemon: loads the common table, the daemon
 * table (g_daemon, its admin port defaulting to admin_port) and the daemon's own
 * table. Returns 0 to go on, 1 when the program should exit 0 (help or check printed),
 * -1 to exit 1 (bad value or unknown argument). A deprecated alias in use is reported
 * on stderr once, in one line. */
int config_from_args(int argc, char **argv, const char *prog, const char *about, const char *admin_port,
                     const struct config_item *items, size_t n) __attribute__((warn_unused_result));

#endif
