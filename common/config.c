/* config: see config.h. Parsing is strict: a malformed number or boolean is a startup
 * error that names the variable, never a silent default. */
#include "common/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct common_config g_common;

const struct config_item common_config_items[] = {
    {"HOOKLINE_DATABASE_URL", CONFIG_STR, "postgresql://hookline@127.0.0.1:15432/hookline", 0, 0, CONFIG_SECRET,
     "PostgreSQL connection string (libpq URI or key=value)", &g_common.database_url},
    {"HOOKLINE_KAFKA_BROKERS", CONFIG_STR, "127.0.0.1:19092", 0, 0, 0,
     "Kafka bootstrap servers (other librdkafka settings: HOOKLINE_KAFKA_<NAME>, dots as underscores)",
     &g_common.kafka_brokers},
    {"HOOKLINE_TOPIC_RAW", CONFIG_STR, "webhooks.raw", 0, 0, 0, "topic of webhooks as received", &g_common.topic_raw},
    {"HOOKLINE_TOPIC_ROUTED", CONFIG_STR, "webhooks.routed", 0, 0, 0, "topic of webhooks attributed to connections",
     &g_common.topic_routed},
    {"HOOKLINE_TOPIC_REJECTED", CONFIG_STR, "webhooks.rejected", 0, 0, 0, "topic of webhooks that failed a check",
     &g_common.topic_rejected},
    {"HOOKLINE_TOPIC_DEAD_LETTERS", CONFIG_STR, "webhooks.dead-letters", 0, 0, 0,
     "topic of deliveries that ran out of attempts", &g_common.topic_dead_letters},
    {"HOOKLINE_TOPIC_NOTIFICATIONS", CONFIG_STR, "webhooks.notifications", 0, 0, 0,
     "topic of hookline's own webhooks to the apps (sync results), delivered by the forwarder",
     &g_common.topic_notifications},
    {"HOOKLINE_LOG_LEVEL", CONFIG_STR, "info", 0, 0, 0, "debug, info, warn or error", &g_common.log_level},
    {"HOOKLINE_LOG_FORMAT", CONFIG_STR, "text", 0, 0, 0, "text or json", &g_common.log_format},
    {"HOOKLINE_PUBLIC_URL", CONFIG_STR, "http://127.0.0.1:8480", 0, 0, 0,
     "public base URL of the ingress, used to print webhook URLs", &g_common.public_url},
};
const size_t common_config_count = sizeof common_config_items / sizeof common_config_items[0];

struct daemon_config g_daemon;

/* Not const: the admin port's default is the daemon's (config_from_args). */
static struct config_item daemon_items[] = {
    {"HOOKLINE_ADMIN_PORT", CONFIG_INT, NULL, 1, 65535, 0, "admin port (/healthz /readyz /metrics)",
     &g_daemon.admin_port},
    {"HOOKLINE_ADMIN_BIND", CONFIG_STR, "127.0.0.1", 0, 0, 0, "admin bind address", &g_daemon.admin_bind},
};
#define DAEMON_ITEMS (sizeof daemon_items / sizeof daemon_items[0])

/* Deprecated names found in use, reported once by config_report_aliases. */
static char aliases_used[1024];

static int parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !*s)
        *out = false;
    else
        return -1;
    return 0;
}

/* Parses v into it's target. 0, or -1 after printing why. */
static int load_one(const struct config_item *it, const char *name, const char *v)
{
    switch (it->type) {
    case CONFIG_STR:
        *(const char **)it->target = v; /* environment strings live as long as the process */
        break;
    case CONFIG_INT: {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            fprintf(stderr, "%s: not a whole number: '%s'\n", name, v);
            return -1;
        }
        if (it->min != it->max && (x < it->min || x > it->max)) {
            fprintf(stderr, "%s: %ld is outside %ld..%ld\n", name, x, it->min, it->max);
            return -1;
        }
        *(long *)it->target = x;
        break;
    }
    case CONFIG_BOOL:
        if (parse_bool(v, (bool *)it->target) < 0) {
            fprintf(stderr, "%s: not a boolean (true/false): '%s'\n", name, v);
            return -1;
        }
        break;
    case CONFIG_ALIAS:
        break;
    }
    return 0;
}

/* A deprecated name in use: its value goes to the item it names, unless that is set. */
static int load_alias(const struct config_item *items, size_t n, const struct config_item *alias)
{
    const char *v = getenv(alias->name);
    if (!v)
        return 0;
    const char *set = getenv(alias->def);
    size_t used = strlen(aliases_used);
    snprintf(aliases_used + used, sizeof aliases_used - used, "%s%s -> %s%s", used ? ", " : "", alias->name, alias->def,
             set ? " (ignored: the new name is set)" : "");
    for (size_t i = 0; !set && i < n; i++)
        if (items[i].type != CONFIG_ALIAS && !strcmp(items[i].name, alias->def))
            return load_one(&items[i], alias->name, v);
    return 0;
}

int config_load(const struct config_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct config_item *it = &items[i];
        const char *v = getenv(it->name);
        if (it->type == CONFIG_ALIAS) {
            if (load_alias(items, n, it) < 0)
                return -1;
            continue;
        }
        if (load_one(it, it->name, v ? v : it->def ? it->def : "") < 0)
            return -1;
    }
    return 0;
}

static void print_items(FILE *f, const struct config_item *items, size_t n, bool values)
{
    for (size_t i = 0; i < n; i++) {
        const struct config_item *it = &items[i];
        if (!values) {
            if (it->type == CONFIG_ALIAS)
                fprintf(f, "  %-32s deprecated name of %s\n", it->name, it->def);
            else
                fprintf(f, "  %-32s %s (default: %s)\n", it->name, it->help, it->def && *it->def ? it->def : "none");
            continue;
        }
        switch (it->type) {
        case CONFIG_STR: {
            const char *s = *(const char **)it->target;
            fprintf(f, "%s=%s\n", it->name, (it->flags & CONFIG_SECRET) && *s ? "(set, hidden)" : s);
            break;
        }
        case CONFIG_INT:
            fprintf(f, "%s=%ld\n", it->name, *(long *)it->target);
            break;
        case CONFIG_BOOL:
            fprintf(f, "%s=%s\n", it->name, *(bool *)it->target ? "true" : "false");
            break;
        case CONFIG_ALIAS:
            break;
        }
    }
}

/* One warning for every deprecated name in use (stderr: logging is not set up yet). */
static void report_aliases(const char *prog)
{
    if (aliases_used[0])
        fprintf(stderr, "%s: warning: deprecated configuration names, rename them: %s\n", prog, aliases_used);
}

int config_from_args(int argc, char **argv, const char *prog, const char *about, const char *admin_port,
                     const struct config_item *items, size_t n)
{
    daemon_items[0].def = admin_port;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s: %s\n\nConfigured by environment variables:\n", prog, about);
            print_items(stdout, common_config_items, common_config_count, false);
            print_items(stdout, daemon_items, DAEMON_ITEMS, false);
            print_items(stdout, items, n, false);
            printf("  %-32s any librdkafka property, e.g. HOOKLINE_KAFKA_SECURITY_PROTOCOL\n", "HOOKLINE_KAFKA_*");
            printf("\nOptions:\n  --check-config   print the effective configuration and exit\n");
            return 1;
        } else if (!strcmp(argv[i], "--check-config")) {
            check = true;
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", prog, argv[i]);
            return -1;
        }
    }
    aliases_used[0] = '\0';
    if (config_load(common_config_items, common_config_count) < 0 || config_load(daemon_items, DAEMON_ITEMS) < 0 ||
        config_load(items, n) < 0)
        return -1;
    report_aliases(prog);
    if (check) {
        print_items(stdout, common_config_items, common_config_count, true);
        print_items(stdout, daemon_items, DAEMON_ITEMS, true);
        print_items(stdout, items, n, true);
        return 1;
    }
    return 0;
}
