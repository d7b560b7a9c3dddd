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

enum config_type { CONFIG_STR, CONFIG_INT, CONFIG_BOOL };

#define CONFIG_SECRET 1 /* mask the value in --check-config */

struct config_item {
    const char *name;     /* environment variable, e.g. "HOOKLINE_INGRESS_PORT" */
    enum config_type type;
    const char *def;      /* default as text; NULL = empty string / 0 / false */
    long min, max;        /* bounds for CONFIG_INT (ignored if min == max) */
    int flags;
    const char *help;
    void *target;         /* const char ** (lives as long as the process) / long * / bool * */
};

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
    const char *public_url;      /* base of the public webhook URL shown to users */
};
extern struct common_config g_common;

/* The items of g_common, to be loaded by every program. */
extern const struct config_item common_config_items[];
extern const size_t common_config_count;

/* Parses the environment into the table's targets. Returns 0, or -1 after printing
 * which variable is wrong (a startup error: the caller exits). */
int config_load(const struct config_item *items, size_t n) __attribute__((warn_unused_result));

/* Handles --help and --check-config for a daemon: loads the common table and the
 * daemon's table. Returns 0 to go on, 1 when the program should exit 0 (help or
 * check printed), -1 to exit 1 (bad value or unknown argument). */
int config_from_args(int argc, char **argv, const char *prog, const char *about,
                     const struct config_item *items, size_t n) __attribute__((warn_unused_result));

#endif
