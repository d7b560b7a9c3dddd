#!/usr/bin/env python3
"""A small, fast counting receiver for the benchmarks (standard library, asyncio).

    python3 bench/receiver.py --port 8690 [--host 127.0.0.1] [--delay-ms MS]

Answers every request 200 {"ok":true} on keep-alive HTTP/1.1 connections. POSTs to
/hook* are counted as deliveries (with their distinct webhook-id values, and the wall
clock time of the first and last); other POSTs (the wrk baseline) only as a count.
A delivery carrying `X-Bench-Sent: <Unix seconds>` (bench/openloop.py sets it; the
forwarder passes it on) adds now minus that to the latencies, whose p50/p99/p99.9 GET
/stats reports as latency_ms. GET /stats returns those figures as JSON, GET /reset zeroes them. Bodies must carry Content-Length (libcurl
and wrk both send it); a chunked request is answered 411 and the connection closed.
"""
import argparse
import asyncio
import json
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
stats = {"deliveries": 0, "first": None, "last": None, "other": 0}
ids = set()
latencies = []  # seconds from X-Bench-Sent to arrival, of the deliveries since the last reset
DELAY = 0.0


def latency_summary():
    """p50/p99/p99.9/max of the latencies in ms, or None without any."""
    if not latencies:
        return None
    s = sorted(latencies)

    def pct(q):
        return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 3)
    return {"count": len(s), "p50": pct(0.50), "p99": pct(0.99), "p99_9": pct(0.999), "max": round(s[-1] * 1000, 3)}


def header_value(head, name):
    """Value of header `name` (lower case, with ': ') in the lower-cased head, or None."""
    i = head.find("\r\n" + name)
    if i < 0:
        return None
    j = head.find("\r\n", i + 2)
    return head[i + 2 + len(name):j if j >= 0 else len(head)].strip()


class Conn(asyncio.Protocol):
    def connection_made(self, transport):
        self.t, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").lower()
            if header_value(head, "transfer-encoding:"):
                self.t.write(b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self.t.close()
                return
            size = end + 4 + int(header_value(head, "content-length:") or 0)
            if len(self.buf) < size:
                return
            self.buf = self.buf[size:]
            method, path = head.split(" ", 2)[:2]
            out, close = OK, header_value(head, "connection:") == "close"
            if method == "get" and path == "/reset":
                stats.update(deliveries=0, first=None, last=None, other=0)
                ids.clear()
                latencies.clear()
            elif method == "get" and path == "/stats":
                body = json.dumps(dict(stats, distinct_ids=len(ids), latency_ms=latency_summary())).encode()
                out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body), body)
            elif method == "post" and path.startswith("/hook"):
                now = time.time()
                stats["deliveries"] += 1
                stats["first"] = stats["first"] or now
                stats["last"] = now
                ids.add(header_value(head, "webhook-id:"))
                sent = header_value(head, "x-bench-sent:")
                if sent:
                    latencies.append(now - float(sent))
            else:
                stats["other"] += 1
            if DELAY and method == "post":  # a slower app: answers in order, each DELAY late
                asyncio.get_running_loop().call_later(DELAY, self.answer, out, close)
            else:
                self.answer(out, close)
            if close:
                return

    def answer(self, out, close):
        self.t.write(out)
        if close:
            self.t.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--delay-ms", type=float, default=0, help="answer each POST this much later")
    a = p.parse_args()
    global DELAY
    DELAY = a.delay_ms / 1000
    server = await asyncio.get_running_loop().create_server(Conn, a.host, a.port, backlog=1024)
    print(f"bench receiver on http://{a.host}:{a.port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
