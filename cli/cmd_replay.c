/* cmd_replay: `hookline replay`, a time window of one stage's input sent through that
 * stage again (common/replay.h is the engine and says how). This file is the command:
 * its options, the progress bar on stderr, Ctrl-C, and the final counts. */
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/replay.h"

static const char usage[] =
    "Usage: hookline replay --stage router|forwarder|syncer --from TIME [--to TIME]\n"
    "                       [--env UUID] [--integration KEY] [--provider NAME]\n"
    "                       [--connection ID] [--event-type TYPE] [--webhook-id ID]...\n"
    "                       [--rate N/s] [--dry-run] [--json]\n"
    "\n"
    "Sends the webhooks one stage received between --from and --to through that stage\n"
    "again: the router's input (HOOKLINE_TOPIC_RAW) for --stage router, the routed topic\n"
    "for --stage forwarder or syncer. Each chosen message is copied unchanged to the\n"
    "stage's replay topic (HOOKLINE_TOPIC_REPLAY_<STAGE>), which only that stage reads, with\n"
    "a replay id: apps receive the same webhook-id plus X-Hookline-Replay-Id. A forwarder\n"
    "replay starts no sync run and a syncer replay delivers nothing to apps (the syncer\n"
    "starts a run only where none exists for the delivery). A router replay attributes\n"
    "again and sends the result to both (the router's duplicate suppression lets it by).\n"
    "What can be replayed is what the topic still holds (its retention: `topics describe`).\n"
    "\n"
    "  --from TIME         RFC 3339 (2026-12-03T14:00:00Z, or with +02:00) or relative to\n"
    "                      now (-2h, -30m, -90s, -1d); required\n"
    "  --to TIME           the same; default now\n"
    "  --env, --integration, --provider, --connection, --event-type\n"
    "                      only messages whose header says so (--connection and\n"
    "                      --event-type: forwarder and syncer only, the raw topic has neither)\n"
    "  --webhook-id ID     only this webhook (repeatable)\n"
    "  --rate N/s          publish at most N messages a second (default: no limit)\n"
    "  --dry-run           read and count, publish nothing\n"
    "  --json              print the final counts as JSON\n"
    "  --help              show this help\n"
    "\n"
    "Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise).\n"
    "Ctrl-C stops cleanly: what was published stays published, and the offsets where each\n"
    "partition stopped are printed.\n";

static atomic_bool interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

/* ---- progress -------------------------------------------------------------------- */

struct bar {
    bool tty;
    double started;
};

static void progress(const struct replay_counts *c, bool last, void *ctx)
{
    const struct bar *b = ctx;
    double el = clock_mono_s() - b->started;
    double rate = el > 0 ? (double)c->read / el : 0;
    double eta = rate > 0 ? (double)(c->total - c->read) / rate : 0;
    if (b->tty) {
        int width = 30, filled = c->total > 0 ? (int)((double)c->read * width / (double)c->total) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] read %ld/%" PRId64 "  matched %ld  published %ld  %.0f/s  ETA %.0fs   %s", bar, c->read,
                c->total, c->matched, c->published, rate, eta, last ? "\n" : "");
    } else {
        fprintf(stderr, "replay: read %ld of %" PRId64 ", matched %ld, published %ld, %.0f/s, ETA %.0f s\n", c->read,
                c->total, c->matched, c->published, rate, eta);
    }
}

static void warn(const char *text, void *ctx)
{
    (void)ctx;
    cli_error("%s", text);
}

/* ---- the command ----------------------------------------------------------------- */

static int print_result(const struct replay_params *p, const struct replay_result *r, bool json, const char *stage)
{
    const struct replay_counts *c = &r->counts;
    bool stopped_early = atomic_load(&interrupted);
    int rc = 0;
    if (json) {
        json_t *stopped = json_array();
        for (int i = 0; stopped && i < r->nstops; i++)
            json_array_append_new(stopped, json_pack("{s:i, s:I, s:I}", "partition", (int)r->stops[i].partition,
                                                     "next_offset", (json_int_t)r->stops[i].next_offset, "end_offset",
                                                     (json_int_t)r->stops[i].end_offset));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b, s:o}", "stage", stage, "source", p->source,
                              "target", p->target, "replay_id", p->id, "read", (json_int_t)c->read, "matched",
                              (json_int_t)c->matched, "published", (json_int_t)c->acked, "dry_run", p->dry_run,
                              "interrupted", stopped_early, "stopped_at", stopped);
        rc = o ? cli_print(o, true, "") : -1;
        json_decref(o);
        return rc;
    }
    if (stopped_early) {
        printf("interrupted: stopped reading %s at", p->source);
        for (int i = 0; i < r->nstops; i++)
            printf(" [%d] offset %" PRId64 " (of %" PRId64 ")", (int)r->stops[i].partition, r->stops[i].next_offset,
                   r->stops[i].end_offset);
        printf("\n");
    }
    if (p->dry_run)
        printf("dry run: read %ld, %ld would be replayed to the %s (nothing published)\n", c->read, c->matched, stage);
    else
        printf("replay %s: read %ld, matched %ld, published %ld to %s\n", p->id, c->read, c->matched, c->acked,
               p->target);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    struct replay_params p = {.group = "hookline-cli-replay", .client_id = "hookline-cli"};
    const char *stage = NULL, *from_text = NULL, *to_text = "now", *rate_text = NULL, *one_wid = NULL;
    bool json = false;
    const struct cli_opt opts[] = {
        {"stage", CLI_OPT_STRING, &stage, true},
        {"from", CLI_OPT_STRING, &from_text, true},
        {"to", CLI_OPT_STRING, &to_text, false},
        {"env", CLI_OPT_ENV_ID, &p.f.env, false},
        {"integration", CLI_OPT_STRING, &p.f.integration, false},
        {"provider", CLI_OPT_STRING, &p.f.provider, false},
        {"connection", CLI_OPT_STRING, &p.f.connection, false},
        {"event-type", CLI_OPT_STRING, &p.f.event_type, false},
        {"webhook-id", CLI_OPT_STRING, &one_wid, false},
        {"rate", CLI_OPT_STRING, &rate_text, false},
        {"dry-run", CLI_OPT_FLAG, &p.dry_run, false},
        {"json", CLI_OPT_FLAG, &json, false},
    };
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    if ((parsed = cli_filter_webhook_ids(argc, argv, &p.f)) >= 0)
        return parsed;
    int s = replay_stage_parse(stage);
    if (s < 0)
        return cli_usage_error(argv[0], "--stage is router, forwarder or syncer, not '%s'", stage);
    if (s == REPLAY_ROUTER && (p.f.connection || p.f.event_type))
        return cli_usage_error(argv[0],
                               "--connection and --event-type need --stage forwarder or syncer: the "
                               "router's input is not attributed yet");
    if ((parsed = cli_filter_window(argv[0], "--from", from_text, "--to", to_text, clock_unix_ms(), &p.from_ms,
                                    &p.to_ms)) >= 0 ||
        (parsed = cli_filter_rate(argv[0], rate_text, &p.rate)) >= 0)
        return parsed;
    p.source = s == REPLAY_ROUTER ? g_common.topic_raw : g_common.topic_routed;
    p.target = g_cli.topic_replay[s];
    char id[ID_LEN + 1];
    if (id_new(id) < 0) {
        cli_error("cannot make a replay id");
        return CLI_FAIL;
    }
    p.id = id;
    struct bar bar = {.tty = isatty(STDERR_FILENO), .started = clock_mono_s()};
    p.progress_every_s = bar.tty ? 0.2 : 5;
    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct replay_result r;
    int rc = replay_run(&p, progress, warn, &bar, &interrupted, &r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (r.error[0])
        cli_error("%s", r.error);
    int status = CLI_FAIL;
    if (r.reading && print_result(&p, &r, json, replay_stage_names[s]) < 0)
        rc = -1;
    if (r.reading && rc == 0)
        status = atomic_load(&interrupted) ? CLI_FAIL : CLI_OK;
    replay_result_free(&r);
    return status;
}
