#!/usr/bin/env python3
"""A sync runner for the tests: records every job hookline-syncer POSTs (headers and
body) and answers as told.

    r = Runner().start(); ... r.url ...; r.jobs(); r.stop()

Behaviour (may be changed while running): `fail_first` = N fails the first N requests
of every run (by runId) with 500; `status` answers every request with that status;
`counts` (a dict) is sent as the JSON answer of a 2xx; `delay` seconds are slept before
answering. `max_in_flight` is the most requests it was handling at once.
Standard library only (like receiver.py, whose signature checks it reuses).
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from receiver import Delivery


class Runner:
    def __init__(self, host="127.0.0.1", port=0):
        self.fail_first, self.status, self.counts, self.delay = 0, 200, None, 0.0
        self.max_in_flight, self._in_flight = 0, 0
        self._jobs, self._seen = [], {}
        self._lock = threading.Lock()
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                runner._handle(self, Delivery("POST", self.path, self.headers.items(), body))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/run"

    def _handle(self, handler, job):
        with self._lock:
            self._jobs.append(job)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            try:
                run_id = json.loads(job.body)["runId"]
            except (ValueError, KeyError, TypeError):
                run_id = None
            n = self._seen[run_id] = self._seen.get(run_id, 0) + 1
            status = 500 if n <= self.fail_first else self.status
            counts = self.counts
        try:
            if self.delay:
                time.sleep(self.delay)
        finally:
            # Done before answering: once the answer is written the syncer may start the
            # next run at once, which must not count as overlapping with this one.
            with self._lock:
                self._in_flight -= 1
        out = json.dumps(counts if counts is not None and status < 300 else {"ok": status < 300}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(out)))
        handler.end_headers()
        handler.wfile.write(out)

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def jobs(self):
        """Every request so far, as receiver.Delivery objects (job.json() is the body)."""
        with self._lock:
            return list(self._jobs)
