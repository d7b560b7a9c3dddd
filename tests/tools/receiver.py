#!/usr/bin/env python3
"""A webhook receiver that shows what hookline's forwarder delivers.

Command line (the `make run` demo):

    python3 tests/tools/receiver.py --port 9000 [--host 127.0.0.1] [--signing-key KEY]
                                    [--record FILE] [--status CODE] [--quiet]

prints one block per request (method, path, key headers, pretty JSON body and, with
--signing-key, whether X-Nango-Hmac-Sha256 and webhook-signature are valid), appends one
JSON line per request to --record, and answers --status (default 200) with {"ok":true}.

In-process (the integration tests):

    r = Receiver().start(); ... r.url ... r.wait_for(pred, timeout, "what"); r.stop()

A request is *delivered* only once the receiver has answered it with a 2xx status and the
answer has been written to the connection: that is when a sender may count it as done.
Until then (or if it was answered otherwise, stalled or reset) it is only an *attempt*.
r.deliveries() and r.wait_for(pred, ...) see deliveries; r.snapshot() and
r.wait_for(pred, ..., attempts=True) see every request as it arrived.

Standard library only.
"""
import argparse
import base64
import hashlib
import hmac
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHOWN_HEADERS = ("content-type", "x-hookline-webhook-id", "x-hookline-verified", "webhook-id",
                 "webhook-timestamp", "x-github-event", "x-hubspot-request-timestamp")


# ---- signatures ------------------------------------------------------------------------

def key_bytes(key):
    """HMAC key of a signing key given as the plain string or as whsec_<base64>."""
    return base64.b64decode(key[6:]) if key.startswith("whsec_") else key.encode()


def hmac_sha256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def nango_signature(key, body):
    """X-Nango-Hmac-Sha256: hex HMAC-SHA256 of the body."""
    return hmac_sha256(key_bytes(key), body).hex()


def standard_signature(key, msg_id, timestamp, body):
    """Standard Webhooks webhook-signature: v1,base64(HMAC-SHA256(id.timestamp.body))."""
    mac = hmac_sha256(key_bytes(key), f"{msg_id}.{timestamp}.".encode() + body)
    return "v1," + base64.b64encode(mac).decode()


def verify_nango(key, signature, body):
    return bool(signature) and hmac.compare_digest(nango_signature(key, body), signature.strip().lower())


def verify_standard(secret, msg_id, timestamp, signature_header, body, now=None, tolerance=300):
    """The Standard Webhooks verify algorithm: timestamp within tolerance, then any
    space-separated v1 entry equal to the expected one (constant-time)."""
    if not (secret and msg_id and timestamp and signature_header):
        return False
    try:
        if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
            return False
    except ValueError:
        return False
    expected = standard_signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, entry) for entry in signature_header.split(" ")
               if entry.startswith("v1,"))


# ---- the receiver ----------------------------------------------------------------------

class Delivery:
    """One request as received: raw body bytes, headers in order and by lower-case name."""

    def __init__(self, method, path, header_items, body):
        self.ts = time.time()
        self.method, self.path, self.body = method, path, body
        self.header_items = list(header_items)
        self.headers = {k.lower(): v for k, v in self.header_items}
        self.status = None        # the status answered, once the answer is written
        self.answered_at = None   # time.time() then

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body)

    def signatures(self, key):
        """{'X-Nango-Hmac-Sha256': bool, 'webhook-signature': bool} for signing key `key`."""
        h = self.header
        return {
            "X-Nango-Hmac-Sha256": verify_nango(key, h("x-nango-hmac-sha256"), self.body),
            "webhook-signature": verify_standard(key, h("webhook-id"), h("webhook-timestamp"),
                                                 h("webhook-signature"), self.body),
        }

    def describe(self, key=None):
        lines = [f"--- {self.method} {self.path}  {time.strftime('%H:%M:%S', time.localtime(self.ts))}"
                 f"  ({len(self.body)} bytes)"]
        lines += [f"{k}: {v}" for k, v in self.header_items if k.lower() in SHOWN_HEADERS]
        if key is not None:
            lines += [f"signature {name}: {'valid' if ok else 'INVALID'}"
                      for name, ok in self.signatures(key).items()]
        try:
            lines.append(json.dumps(self.json(), indent=2, ensure_ascii=False))
        except ValueError:
            lines.append(self.body.decode("utf-8", "replace"))
        return "\n".join(lines)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that went away (a forwarder killed mid-request) is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Receiver:
    """An HTTP server in a background thread that records every request it gets."""

    def __init__(self, host="127.0.0.1", port=0, status=200, signing_key=None, record=None,
                 quiet=True, delay=0.0):
        self.status, self.delay = status, delay   # may be changed while running
        self.extra_headers = {}                   # added to every response (e.g. Location)
        # None: answer; "stall": hold the request stall_seconds without answering, then
        # close; "reset": close the connection with a TCP reset instead of answering.
        self.behaviour, self.stall_seconds = None, 30.0
        self.in_flight = self.max_in_flight = 0   # requests being handled at once
        self.signing_key, self.record, self.quiet = signing_key, record, quiet
        self.requests = []     # every request, as it arrived (attempts)
        self.delivered = []    # those answered 2xx, once the answer was written
        self._cond = threading.Condition()
        self._server = _Server((host, port), self._handler_class())
        self._thread = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self):
        """Every request so far, in arrival order, whatever it was answered (attempts)."""
        with self._cond:
            return list(self.requests)

    def deliveries(self):
        """The requests answered 2xx so far, in the order their answers were written."""
        with self._cond:
            return list(self.delivered)

    def wait_for(self, predicate, timeout, what="the expected requests", attempts=False):
        """Wait until predicate(list of deliveries) is truthy and return its value; on
        timeout raise AssertionError saying what was expected and what was seen. With
        attempts=True the predicate sees every request as it arrived instead."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(list(self.requests if attempts else self.delivered))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                         f"the receiver got {self.summary()}")
                self._cond.wait(min(left, 1.0))

    def summary(self, last=5):
        reqs = self.requests
        shown = "".join(f"\n  {d.method} {d.path} -> {d.status or 'no answer'} {d.body[:300]!r}"
                        for d in reqs[-last:])
        return (f"{len(reqs)} request(s), {len(self.delivered)} answered 2xx"
                + (f", the last {min(last, len(reqs))}:" + shown if reqs else ""))

    def _got(self, delivery):
        if self.record:
            line = json.dumps({"ts": delivery.ts, "path": delivery.path,
                               "headers": dict(delivery.header_items),
                               "body": delivery.body.decode("utf-8", "replace")})
        with self._cond:
            self.requests.append(delivery)
            if self.record:
                with open(self.record, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
                    f.flush()
            if not self.quiet:
                print(delivery.describe(self.signing_key), flush=True)
            self._cond.notify_all()

    def _answered(self, delivery, status):
        with self._cond:
            delivery.status, delivery.answered_at = status, time.time()
            if 200 <= status < 300:
                self.delivered.append(delivery)
            self._cond.notify_all()

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as a real app server would
            wbufsize = 1 << 16   # one write per response (flushed in _answer), no Nagle stall

            def _read_body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self):
                body = self._read_body()
                with receiver._cond:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                try:
                    self._answer(body)
                finally:
                    with receiver._cond:
                        receiver.in_flight -= 1

            def _answer(self, body):
                behaviour = receiver.behaviour
                delivery = Delivery(self.command, self.path, self.headers.items(), body)
                receiver._got(delivery)
                # Fixed as the request is recorded: a status changed meanwhile (an outage
                # switched on or off) does not change what this request is answered.
                status = receiver.status
                if behaviour == "stall":
                    time.sleep(receiver.stall_seconds)   # past the forwarder's timeout
                    self.close_connection = True
                    return
                if behaviour == "reset":
                    # SO_LINGER with a zero timeout: close() sends RST, not FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)   # simulate a slow app, not a measurement
                out = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                for k, v in receiver.extra_headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)
                self.wfile.flush()   # raises if the sender is gone: then it was not delivered
                receiver._answered(delivery, status)

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *args):
                pass

        return Handler


def main(argv=None):
    p = argparse.ArgumentParser(description="Print and record the webhooks hookline delivers.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--signing-key", help="environment signing key (plain or whsec_...) to check signatures")
    p.add_argument("--record", help="append one JSON line per request to this file")
    p.add_argument("--status", type=int, default=200, help="HTTP status to answer (default 200)")
    p.add_argument("--quiet", action="store_true", help="do not print requests")
    a = p.parse_args(argv)
    r = Receiver(a.host, a.port, a.status, a.signing_key, a.record, a.quiet).start()
    print(f"receiver listening on {r.url} (answering {a.status})", flush=True)
    try:
        r._thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        r.stop()


if __name__ == "__main__":
    sys.exit(main())
