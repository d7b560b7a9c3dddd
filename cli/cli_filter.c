/* cli_filter: the options `hookline replay` and `hookline dlq list|redrive` share, so
 * that they choose messages alike: repeatable --webhook-id, a time window, --rate. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/ids.h"
#include "common/replay.h"
#include "common/timetext.h"

int cli_filter_webhook_ids(int argc, char **argv, struct replay_filters *f)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--webhook-id") && i + 1 < argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--webhook-id=", 13))
            v = argv[i] + 13;
        if (!v)
            continue;
        if (f->nwebhook_ids >= REPLAY_WEBHOOK_IDS_MAX)
            return cli_usage_error(argv[0], "at most %d --webhook-id", REPLAY_WEBHOOK_IDS_MAX);
        if (!id_is_uuid(v))
            return cli_usage_error(argv[0], "--webhook-id '%s' is not a webhook id (a UUID)", v);
        f->webhook_ids[f->nwebhook_ids++] = v;
    }
    return -1;
}

int cli_filter_window(const char *cmd, const char *from_opt, const char *from, const char *to_opt, const char *to,
                      int64_t now_ms, int64_t *from_ms, int64_t *to_ms)
{
    if (from && timetext_parse_ms(from, now_ms, from_ms) < 0)
        return cli_usage_error(cmd, "%s '%s' is not RFC 3339 (2026-12-03T14:00:00Z) nor like -2h", from_opt, from);
    if (to && timetext_parse_ms(to, now_ms, to_ms) < 0)
        return cli_usage_error(cmd, "%s '%s' is not RFC 3339 (2026-12-03T14:00:00Z) nor like -2h", to_opt, to);
    if (*to_ms <= *from_ms)
        return cli_usage_error(cmd, "%s must be after %s", to_opt, from_opt);
    return -1;
}

int cli_filter_rate(const char *cmd, const char *s, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s)
        return -1;
    if (end == s || !(v > 0 && v <= 1e6) || (*end && strcmp(end, "/s")))
        return cli_usage_error(cmd, "--rate wants messages a second, like 100/s, not '%s'", s);
    *out = v;
    return -1;
}
