#!/usr/bin/env python3
"""Turns what bench/run.sh leaves in build/bench into results.md (printed on stdout) and
results.json (the same figures, machine-readable, written next to it)."""
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

out = sys.argv[1]


def load(name):
    """The last line of build/bench/NAME as JSON (wrk's BENCH_JSON line or send.py's)."""
    try:
        with open(os.path.join(out, name)) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def rounds(label):
    """{round: result} of label.1, label.2, ..."""
    found = {}
    for path in glob.glob(os.path.join(out, label + ".*.json")):
        r = path[len(os.path.join(out, label)) + 1:-len(".json")]
        if r.isdigit() and load(os.path.basename(path)):
            found[int(r)] = load(os.path.basename(path))
    return found


def metric(file, name):
    try:
        with open(os.path.join(out, file)) as f:
            m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), f.read(), re.M)
        return float(m.group(1)) if m else None
    except OSError:
        return None


def wrk_cell(w):
    if not w:
        return "no result"
    errs = f", socket errors {w['socket_errors']}, timeouts {w['timeouts']}" if w["socket_errors"] or w["timeouts"] else ""
    return (f"{w['rps']:,.0f} req/s, p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, "
            f"non-2xx {w['non2xx']} of {w['requests']:,}{errs}")


def ratio(a, b):
    return f"**{a / b:.3g}**" if a and b else "n/a"


def rounds_cell(res):
    """Median round's figures, every round's req/s, and non-2xx/errors over all rounds."""
    if not res:
        return "no result"
    med = sorted(res.values(), key=lambda w: w["rps"])[(len(res) - 1) // 2]
    cell = wrk_cell(med).split(", non-2xx")[0]
    bad = sum(w["non2xx"] for w in res.values())
    errs = sum(w["socket_errors"] + w["timeouts"] for w in res.values())
    total = sum(w["requests"] for w in res.values())
    per = " / ".join(f"{res[r]['rps']:,.0f}" for r in sorted(res))
    return (f"median round {cell} (rounds: {per} req/s); non-2xx {bad} of {total:,}"
            + (f", socket errors + timeouts {errs}" if errs else ""))


def rounds_ratio(num, den):
    rs = [num[r]["rps"] / den[r]["rps"] for r in sorted(num) if r in den and den[r]["rps"]]
    if not rs:
        return "n/a"
    return f"**{statistics.median(rs):.3g}**" + (f" (rounds {min(rs):.3g}–{max(rs):.3g})" if len(rs) > 1 else "")


healthz, hook, close = rounds("healthz"), rounds("webhook"), rounds("webhook_close")
responder = rounds("responder")
wide, responder_wide = rounds("webhook_wide"), rounds("responder_wide")
wide_conns = int(os.environ.get("BENCH_WIDE_CONNS", "0")) or None
rc32, rc1, rcd = load("receiver.json"), load("receiver_c1.json"), load("receiver_cdest.json")
per_dest = os.environ.get("BENCH_PER_DEST", "?")
sender, pipe, drain = load("sender.txt"), load("pipeline.txt"), load("drain.txt")
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

L = ["# hookline benchmarks", "",
     f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {platform.node()}, {os.cpu_count()} CPUs, git {rev or '?'}. "
     "One run on a shared machine: read the ratios (each against a baseline of the same run), "
     "not the absolute numbers.", "",
     "| # | measurement | result | baseline (same run) | ratio |", "| --- | --- | --- | --- | --- |",
     f"| 1 | ingress: signed GitHub App webhook POST, keep-alive (`webhook.N`) | {rounds_cell(hook)} "
     f"| ingress admin `GET /healthz` (`healthz.N`): {rounds_cell(healthz)} | {rounds_ratio(hook, healthz)} |",
     f"| 2 | ingress: the same, `Connection: close` (`webhook_close.N`) | {rounds_cell(close)} "
     f"| webhook keep-alive (1) | {rounds_ratio(close, hook)} |",
     f"| 1r | ingress webhook (1) against the trivial responder (`bench/responder.c`, same thread model, "
     f"reads the body, answers 200) | {rounds_cell(hook)} | responder (`responder.N`): {rounds_cell(responder)} "
     f"| {rounds_ratio(hook, responder)} |",
     f"| 1w | ingress webhook with {wide_conns} connections, many providers at once (`webhook_wide.N`) "
     f"| {rounds_cell(wide)} | responder with {wide_conns} connections (`responder_wide.N`): "
     f"{rounds_cell(responder_wide)} | {rounds_ratio(wide, responder_wide)} |"]
if pipe:
    L.append(
        f"| 3 | end to end: ingress → Kafka → router → forwarder → receiver, N={pipe['sent']:,} (`pipeline`) "
        f"| {pipe['delivered_per_s']:,.0f} deliveries/s: {pipe['delivered']:,} delivered "
        f"({pipe['distinct_webhook_ids']:,} distinct webhook-id) in {pipe['end_to_end_seconds']} s from the first send; "
        f"answers {pipe['statuses']}, all answered after {pipe['accept_seconds']} s ({pipe['accepted_per_s']:,.0f}/s) "
        f"| receiver alone, wrk (`receiver`): {wrk_cell(rc32)}; "
        f"sender alone against the receiver (`sender`): {sender and format(sender['accepted_per_s'], ',.0f')} req/s "
        f"| {ratio(pipe['delivered_per_s'], rc32 and rc32['rps'])} of the receiver |")
if drain:
    L.append(
        f"| 3b | forwarder alone: N webhooks waiting in Kafka, then the forwarder starts (`backlog`, `drain`) "
        f"| {drain['delivered_per_s']:,.0f} deliveries/s: {drain['delivered']:,} delivered "
        f"({drain['distinct_webhook_ids']:,} distinct webhook-id), first to last in {drain['first_to_last_seconds']} s "
        f"| receiver alone, wrk with the forwarder's {per_dest} connections per destination "
        f"(`receiver_cdest`): {wrk_cell(rcd)}; on one connection (`receiver_c1`): {wrk_cell(rc1)} "
        f"| {ratio(drain['delivered_per_s'], rcd and rcd['rps'])} of the receiver "
        f"({ratio(drain['delivered_per_s'], rc1 and rc1['rps'])} of one connection) |")
lat = {pct: load(f"latency.{pct}.txt") for pct in (25, 50, 90)}
for pct, r in lat.items():
    if r and r.get("latency_ms"):
        m = r["latency_ms"]
        L.append(
            f"| 3d | end-to-end latency, open loop at {pct}% of (3): {r['offered_per_s']:,.0f}/s offered, "
            f"{r['achieved_per_s']:,.0f}/s sent (`latency.{pct}`) | p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms, "
            f"p99.9 {m['p99_9']:.1f} ms, max {m['max']:.1f} ms over {m['count']:,} deliveries; "
            f"answers {r['statuses']}, delivered {r['delivered']:,} of {r['accepted']:,} accepted "
            f"| due time at the sender → receipt by the app | |")
slow, slow_c1, slow_drain = load("slow.json"), load("slow_c1.json"), load("slow_drain.txt")
if slow_drain:
    L.append(
        f"| 3c | forwarder alone, app answering {os.environ.get('BENCH_SLOW_MS', '?')} ms late "
        f"(`slow_backlog`, `slow_drain`) | {slow_drain['delivered_per_s']:,.0f} deliveries/s: "
        f"{slow_drain['delivered']:,} delivered ({slow_drain['distinct_webhook_ids']:,} distinct webhook-id), "
        f"first to last in {slow_drain['first_to_last_seconds']} s "
        f"| that app, wrk with {per_dest} connections (`slow`): {wrk_cell(slow)}; on one connection (`slow_c1`): "
        f"{wrk_cell(slow_c1)} | {ratio(slow_drain['delivered_per_s'], slow and slow['rps'])} of the app "
        f"({ratio(slow_drain['delivered_per_s'], slow_c1 and slow_c1['rps'])} of one connection) |")
n = metric("forwarder.metrics", "hookline_forwarder_attempt_seconds_count")
s = metric("forwarder.metrics", "hookline_forwarder_attempt_seconds_sum")
if n and s and drain and drain["first_to_last_seconds"]:
    L += ["", f"Forwarder during 3b (its /metrics): {n:.0f} HTTP attempts, mean {s / n * 1000:.3f} ms each, "
          f"{s:.2f} s in all: {s / drain['first_to_last_seconds'] * 100:.0f}% of the {drain['first_to_last_seconds']} s "
          "drain; the rest of each delivery is Kafka consumption, envelope, signing, logging, offset store."]

# ---- processes -------------------------------------------------------------------------
procs = {}  # name -> tag -> (time, CPU seconds, VmHWM kB)
try:
    with open(os.path.join(out, "procs.txt")) as f:
        for line in f:
            tag, when, name, pid, ticks, hwm, *rss = line.split()
            procs.setdefault(name, {})[tag] = (float(when), int(ticks) / os.sysconf("SC_CLK_TCK"), int(hwm),
                                               int(rss[0]) if rss else None)
except OSError:
    pass


def cpu_us(name, pairs, webhooks):
    """CPU µs per webhook used between snapshot pairs, or None."""
    p = procs.get(name, {})
    pairs = [(p[a], p[b]) for a, b in pairs if a in p and b in p]
    if not pairs or not webhooks:
        return None
    return sum(b[1] - a[1] for a, b in pairs) / webhooks * 1e6


def cpu(name, pairs, webhooks):
    """CPU seconds used between snapshot pairs, and per webhook of the phase."""
    us = cpu_us(name, pairs, webhooks)
    return "-" if us is None else f"{us * webhooks / 1e6:.2f} s, {us:,.0f} µs/webhook"


hook_pairs = [(f"webhook_start.{r}", f"webhook_end.{r}") for r in hook]
wide_pairs = [(f"wide_start.{r}", f"wide_end.{r}") for r in wide]
wide_n = sum(w["requests"] for w in wide.values())
L += ["", "| process | idle RSS | peak RSS (VmHWM) | CPU during 3 (end to end) | CPU during 3b (drain) "
      "| CPU during 1 (webhook keep-alive, all rounds) | CPU during 1w |", "| --- | --- | --- | --- | --- | --- | --- |"]
for name, p in procs.items():
    idle = p.get("idle", (0, 0, 0, None))[3]
    L.append(f"| {name} | {'-' if idle is None else f'{idle / 1024:.1f} MiB'} "
             f"| {max(v[2] for v in p.values()) / 1024:.1f} MiB "
             f"| {cpu(name, [('pipeline_start', 'pipeline_end')], pipe and pipe['sent'])} "
             f"| {cpu(name, [('drain_start', 'drain_end')], drain and drain['delivered'])} "
             f"| {cpu(name, hook_pairs, sum(w['requests'] for w in hook.values()))} "
             f"| {cpu(name, wide_pairs, wide_n)} |")
pipe_n = pipe and pipe["sent"]
hook_n = sum(w["requests"] for w in hook.values())
e2e = {name: cpu_us(name, [("pipeline_start", "pipeline_end")], pipe_n) for name in procs}
ing = {name: cpu_us(name, hook_pairs, hook_n) for name in ("ingress", "kafka")}
ing_wide = {name: cpu_us(name, wide_pairs, wide_n) for name in ("ingress", "kafka")}
ours = sum(v for k, v in e2e.items() if v and k in ("ingress", "router", "forwarder", "syncer", "api"))
if e2e.get("kafka") and ours:
    pg = e2e.get("postgres") or 0
    L += ["", f"Broker share of the CPU end to end (3): {e2e['kafka']:,.0f} µs/webhook, "
          f"{e2e['kafka'] / (e2e['kafka'] + ours + pg) * 100:.0f}% of hookline's daemons, the broker and "
          f"PostgreSQL ({ours:,.0f} µs/webhook in ingress, router, forwarder, syncer, api; {pg:,.0f} in PostgreSQL)."]
if ing.get("kafka") and ing.get("ingress"):
    L += ["", f"Ingress alone (1): ingress {ing['ingress']:,.1f} µs/webhook, broker {ing['kafka']:,.1f} µs/webhook."]
if ing_wide.get("kafka") and ing_wide.get("ingress"):
    L += ["", f"Ingress alone, {wide_conns} connections (1w): ingress {ing_wide['ingress']:,.1f} µs/webhook, "
          f"broker {ing_wide['kafka']:,.1f} µs/webhook."]
started = procs.get("forwarder", {}).get("drain_start")
if started and drain and drain.get("first"):
    L += ["", f"The restarted forwarder answered /readyz (`stack.sh start forwarder` returned) "
          f"{drain['first'] - started[0]:.1f} s before its first delivery in 3b: the consumer group join, "
          "which the 3b/3c rates (first to last delivery) leave out but the CPU window of 3b includes."]
L += ["", "RSS: the highest VmHWM seen (router and forwarder until they were stopped after 3b). CPU: "
      "utime+stime from /proc/PID/stat between snapshots taken around each client run, divided by "
      "the webhooks of that phase (ticks of 10 ms: small phases are coarse); 1, 1w and 2 ran against the ingress and Kafka "
      "alone (router, forwarder and API stopped). postgres: the server and its backends.",
      "", "## Commands", "", "```"]
with open(os.path.join(out, "commands.txt")) as f:
    L += [line.rstrip() for line in f]
L += ["stack: sh %s/deploy/local/stack.sh down --purge   # always, on exit" % os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
      "```", "", "Raw outputs: build/bench/NAME.txt (wrk's own report, send.py's JSON); daemon log tails: "
      "build/bench/stack-*.log."]
print("\n".join(L))


def median_ratio(num, den):
    rs = [num[r]["rps"] / den[r]["rps"] for r in sorted(num) if r in den and den[r]["rps"]]
    return statistics.median(rs) if rs else None


def median_rps(res):
    return statistics.median(w["rps"] for w in res.values()) if res else None


summary = {
    "git": rev, "host": platform.node(), "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "ingress": {"webhook_rps": median_rps(hook), "healthz_rps": median_rps(healthz),
                "responder_rps": median_rps(responder), "close_rps": median_rps(close),
                "ratio_to_healthz": median_ratio(hook, healthz), "ratio_to_responder": median_ratio(hook, responder),
                "cpu_us_per_webhook": ing.get("ingress"), "broker_cpu_us_per_webhook": ing.get("kafka"),
                "wide": {"connections": wide_conns, "webhook_rps": median_rps(wide),
                         "responder_rps": median_rps(responder_wide),
                         "ratio_to_responder": median_ratio(wide, responder_wide),
                         "cpu_us_per_webhook": ing_wide.get("ingress"),
                         "broker_cpu_us_per_webhook": ing_wide.get("kafka")}},
    "end_to_end": {"delivered_per_s": pipe and pipe["delivered_per_s"],
                   "receiver_rps": rc32 and rc32["rps"],
                   "ratio_to_receiver": pipe and rc32 and pipe["delivered_per_s"] / rc32["rps"],
                   "cpu_us_per_webhook": e2e, "latency": {str(k): v for k, v in lat.items()}},
    "forwarder_drain": drain and {"delivered_per_s": drain["delivered_per_s"],
                                  "receiver_cdest_rps": rcd and rcd["rps"]},
    "rss_kib": {name: {"idle": p.get("idle", (0, 0, 0, None))[3], "peak": max(v[2] for v in p.values())}
                for name, p in procs.items()},
}
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(summary, f, indent=2)
