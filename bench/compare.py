#!/usr/bin/env python3
"""A before/after table from two `make bench` results.json files (build/bench/results.json).

    python3 bench/compare.py BEFORE.json AFTER.json

Prints Markdown: the figures docs/performance.md tabulates, each with its ratio after/before.
"""
import json
import sys


def get(d, *path):
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if not isinstance(v, (int, float)):
        return f"{v}{unit}"
    if isinstance(v, float) and v < 10:
        return f"{v:.3g}{unit}"
    return f"{v:,.0f}{unit}"


def main():
    before, after = (json.load(open(p)) for p in sys.argv[1:3])
    rows = [
        ("ingress webhooks/s (keep-alive, 32 connections)", ("ingress", "webhook_rps"), ""),
        ("trivial responder req/s (same run)", ("ingress", "responder_rps"), ""),
        ("ingress / trivial responder", ("ingress", "ratio_to_responder"), "×"),
        ("ingress / its /healthz", ("ingress", "ratio_to_healthz"), "×"),
        ("ingress CPU per webhook", ("ingress", "cpu_us_per_webhook"), " µs"),
        ("broker CPU per webhook, ingress alone", ("ingress", "broker_cpu_us_per_webhook"), " µs"),
        ("ingress webhooks/s, wide (BENCH_WIDE_CONNS connections)", ("ingress", "wide", "webhook_rps"), ""),
        ("wide: connections", ("ingress", "wide", "connections"), ""),
        ("ingress wide / trivial responder wide", ("ingress", "wide", "ratio_to_responder"), "×"),
        ("ingress CPU per webhook, wide", ("ingress", "wide", "cpu_us_per_webhook"), " µs"),
        ("broker CPU per webhook, wide", ("ingress", "wide", "broker_cpu_us_per_webhook"), " µs"),
        ("end to end, webhooks/s delivered", ("end_to_end", "delivered_per_s"), ""),
        ("end to end / receiver alone", ("end_to_end", "ratio_to_receiver"), "×"),
    ]
    for name in ("ingress", "router", "forwarder", "syncer", "api", "kafka", "postgres"):
        rows.append((f"end to end, {name} CPU per webhook", ("end_to_end", "cpu_us_per_webhook", name), " µs"))
    for pct in ("25", "50", "90"):
        for q in ("p50", "p99", "p99_9"):
            rows.append((f"latency at {pct}% of the max, {q}", ("end_to_end", "latency", pct, "latency_ms", q), " ms"))
    for name in ("ingress", "router", "forwarder", "syncer"):
        rows.append((f"{name} idle RSS", ("rss_kib", name, "idle"), " KiB"))
    print("| measurement | before | after | after / before |")
    print("| --- | --- | --- | --- |")
    for label, path, unit in rows:
        b, a = get(before, *path), get(after, *path)
        r = f"{a / b:.3g}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "n/a"
        print(f"| {label} | {fmt(b, unit)} | {fmt(a, unit)} | {r} |")


if __name__ == "__main__":
    main()
