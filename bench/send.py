#!/usr/bin/env python3
"""End-to-end throughput: send exactly N signed webhooks, then wait for the receiver.

    python3 bench/send.py --url URL --body FILE --headers FILE --receiver RECEIVER_URL
                          [-n 5000] [-c 32] [--send-timeout 120] [--deliver-timeout 300]
    python3 bench/send.py --drain --receiver RECEIVER_URL [-n 5000] [--deliver-timeout 300]

Sends N POSTs of the body (plus the 'Name: value' lines of --headers) over C keep-alive
connections, one request at a time per connection as wrk does, each with its own
X-GitHub-Delivery (a provider's event id: the router drops a repeated one as a
duplicate, so a fixed one would deliver a single webhook), counting the answers by
status; then polls bench/receiver.py's GET /stats until it has one delivery per
accepted webhook, or nothing new came for 30 s, or --deliver-timeout passed
(--deliver-timeout 0: do not wait). Prints one JSON object; times are wall clock, shared
with the receiver on this machine. With --drain nothing is sent: it waits for N
deliveries (counted since the receiver's GET /reset) and reports the receiver's rate
from its first to its last delivery.
"""
import argparse
import asyncio
import json
import time
import uuid
import urllib.parse
import urllib.request


def receiver_stats(base):
    with urllib.request.urlopen(base + "/stats", timeout=5) as r:
        return json.load(r)


async def read_answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def send_all(url, body, headers, n, conns, deadline):
    u = urllib.parse.urlsplit(url)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: application/json\r\n"
            + "".join(h + "\r\n" for h in headers if not h.lower().startswith("x-github-delivery:"))
            + f"Content-Length: {len(body)}\r\n").encode()
    left, statuses = [n], {}

    async def one_connection():
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        try:
            while left[0] > 0 and time.monotonic() < deadline:
                left[0] -= 1
                writer.write(head + b"X-GitHub-Delivery: %s\r\n\r\n" % str(uuid.uuid4()).encode() + body)
                try:
                    status = await asyncio.wait_for(read_answer(reader), 15)
                except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    statuses["error"] = statuses.get("error", 0) + 1
                    return
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(min(conns, n))))
    return statuses


def wait_for(receiver, before, want, timeout):
    """Polls /stats (bounded in time and count) until `want` new deliveries arrived or
    none came for 30 s; returns the last stats."""
    deadline, stalled_at, seen, stats = time.monotonic() + timeout, time.monotonic(), -1, receiver_stats(receiver)
    for _ in range(int(timeout * 10)):
        got = stats["deliveries"] - before
        if got >= want or time.monotonic() > deadline or time.monotonic() - stalled_at > 30:
            break
        if got != seen:
            seen, stalled_at = got, time.monotonic()
        time.sleep(0.1)
        stats = receiver_stats(receiver)
    return stats


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url")
    p.add_argument("--body", help="file with the webhook body")
    p.add_argument("--headers", help="file with 'Name: value' lines")
    p.add_argument("--receiver", required=True, help="base URL of bench/receiver.py")
    p.add_argument("--drain", action="store_true", help="send nothing, time N deliveries")
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("-c", type=int, default=32)
    p.add_argument("--send-timeout", type=float, default=120)
    p.add_argument("--deliver-timeout", type=float, default=300)
    a = p.parse_args()

    start = receiver_stats(a.receiver)
    if a.drain:
        s = wait_for(a.receiver, 0, a.n, a.deliver_timeout)  # counted since the receiver's /reset
        got, span = s["deliveries"], (s["last"] or 0) - (s["first"] or 0)
        print(json.dumps({"delivered": got, "distinct_webhook_ids": s["distinct_ids"],
                          "first_to_last_seconds": round(span, 3), "first": s["first"],
                          "delivered_per_s": round((got - 1) / span, 1) if span > 0 else 0,
                          "complete": got >= a.n}))
        return

    with open(a.body, "rb") as f:
        body = f.read()
    with open(a.headers) as f:
        headers = [line.strip() for line in f if ":" in line]
    t0 = time.time()
    statuses = asyncio.run(send_all(a.url, body, headers, a.n, a.c, time.monotonic() + a.send_timeout))
    t_sent = time.time()
    accepted = statuses.get(200, 0)
    s = wait_for(a.receiver, start["deliveries"], accepted, a.deliver_timeout)
    got = s["deliveries"] - start["deliveries"]
    elapsed = s["last"] - t0 if got and s["last"] else None
    print(json.dumps({
        "sent": sum(statuses.values()), "statuses": {str(k): v for k, v in statuses.items()},
        "accepted": accepted, "accept_seconds": round(t_sent - t0, 3),
        "accepted_per_s": round(accepted / (t_sent - t0), 1),
        "delivered": got, "distinct_webhook_ids": s["distinct_ids"] - start["distinct_ids"],
        "end_to_end_seconds": round(elapsed, 3) if elapsed else None,
        "delivered_per_s": round(got / elapsed, 1) if elapsed else 0,
        "complete": got >= accepted == a.n,
    }))


if __name__ == "__main__":
    main()
