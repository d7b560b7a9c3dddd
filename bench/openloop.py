#!/usr/bin/env python3
"""Open-loop sender for end-to-end latency: webhooks at a fixed rate, whatever the answers.

    python3 bench/openloop.py --url URL --body FILE --headers FILE --receiver RECEIVER_URL
                              --rate R [--seconds 10] [-c 64] [--deliver-timeout 120]

Request i is due at start + i/R. Each carries its own X-GitHub-Delivery (the router drops
a repeated event id) and `X-Bench-Sent: <due time, Unix seconds>`,
a header the forwarder passes on to the app, so bench/receiver.py measures the latency
from when the webhook was due (not when a connection was free: a request that waits for
one counts its wait, so queueing shows) to its arrival at the app. Up to C keep-alive
connections; the rate is what is offered, the answers are counted by status. Then it
waits until the receiver has every accepted webhook (or --deliver-timeout passes, or
nothing new arrives for 30 s) and prints one JSON object with the receiver's latency
percentiles. The receiver must have been reset (GET /reset) before. Bounded: R * seconds
requests, and the deadlines above.
"""
import argparse
import asyncio
import json
import time
import urllib.parse
import uuid

from send import read_answer, receiver_stats  # the same HTTP reading as the closed-loop sender


async def send_open_loop(url, body, headers, rate, seconds, conns):
    u = urllib.parse.urlsplit(url)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: application/json\r\n"
            + "".join(h + "\r\n" for h in headers if not h.lower().startswith("x-github-delivery:"))
            + f"Content-Length: {len(body)}\r\n").encode()
    total = int(rate * seconds)
    due = asyncio.Queue()
    statuses = {}
    start = time.time() + 0.2

    async def schedule():
        for i in range(total):
            t = start + i / rate
            delay = t - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait(t)
        for _ in range(conns):
            due.put_nowait(None)

    async def connection():
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        try:
            while (t := await due.get()) is not None:
                writer.write(head + b"X-GitHub-Delivery: %s\r\nX-Bench-Sent: %.6f\r\n\r\n"
                             % (str(uuid.uuid4()).encode(), t) + body)
                try:
                    status = await asyncio.wait_for(read_answer(reader), 15)
                except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    statuses["error"] = statuses.get("error", 0) + 1
                    reader, writer = await asyncio.open_connection(u.hostname, u.port)
                    continue
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(schedule(), *(connection() for _ in range(conns)))
    return total, statuses, time.time() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--headers", required=True)
    p.add_argument("--receiver", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("-c", type=int, default=64)
    p.add_argument("--deliver-timeout", type=float, default=120)
    a = p.parse_args()
    with open(a.body, "rb") as f:
        body = f.read()
    with open(a.headers) as f:
        headers = [line.strip() for line in f if ":" in line]
    total, statuses, send_s = asyncio.run(send_open_loop(a.url, body, headers, a.rate, a.seconds, a.c))
    accepted = statuses.get(200, 0)
    deadline, last_n, last_change = time.monotonic() + a.deliver_timeout, -1, time.monotonic()
    stats = receiver_stats(a.receiver)
    while stats["deliveries"] < accepted and time.monotonic() < deadline and time.monotonic() - last_change < 30:
        if stats["deliveries"] != last_n:
            last_n, last_change = stats["deliveries"], time.monotonic()
        time.sleep(0.2)
        stats = receiver_stats(a.receiver)
    print(json.dumps({"offered_per_s": a.rate, "sent": total, "send_seconds": round(send_s, 3),
                      "achieved_per_s": round(total / send_s, 1) if send_s else None,
                      "statuses": {str(k): v for k, v in statuses.items()}, "accepted": accepted,
                      "delivered": stats["deliveries"], "complete": stats["deliveries"] >= accepted,
                      "latency_ms": stats.get("latency_ms")}))


if __name__ == "__main__":
    main()
