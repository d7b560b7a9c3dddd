"""Nothing answered 200 is lost when a daemon is killed (SIGKILL) or drained (SIGTERM).
Delivery is at-least-once: duplicates are allowed, so we count distinct webhooks."""
import json
import random
import threading
import time

import requests

from hlsupport import github_body, post, wait_until


class Sender:
    """Sends each of {seq: body} once, signed, from several threads; counts the 200s and
    records anything else. Bounded by a time limit and by 20 failures."""

    def __init__(self, app, bodies, threads=4, time_limit=150):
        self.app, self.total = app, len(bodies)
        self.todo = iter(sorted(bodies.items()))
        self.ok, self.failures = 0, []
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + time_limit
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while time.monotonic() < self.deadline and len(self.failures) < 20:
            with self.lock:
                seq, body = next(self.todo, (None, None))
            if body is None:
                return
            try:
                r = post(self.app.url, body, self.app.sign(body))
                failure = None if r.status_code == 200 else f"{r.status_code} {r.text[:200]!r}"
            except requests.RequestException as e:
                failure = repr(e)
            with self.lock:
                if failure:
                    self.failures.append((seq, failure))
                else:
                    self.ok += 1

    def running(self):
        return any(t.is_alive() for t in self.threads)

    def progress(self):
        return f"{self.ok}/{self.total} answered 200, failures: {self.failures[:5]}"

    def wait_sent(self, n, timeout=60):
        wait_until(lambda: self.ok >= n or not self.running(), timeout, f"{n} webhooks answered 200",
                   self.progress, interval=0.01)

    def join(self, timeout=180):
        wait_until(lambda: not self.running(), timeout, "the senders to finish", self.progress)
        assert not self.failures and self.ok == self.total, f"not every webhook got 200: {self.progress()}"


def ranges(nums):
    out, nums = [], sorted(nums)
    for n in nums:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in out[:40])
    return text + (" ..." if len(out) > 40 else "")


def wait_all_delivered(app, bodies, connection_of, timeout, killed_at=None):
    """Poll the receiver until every seq of {seq: body} has been delivered at least once
    (answered 2xx). With killed_at (time.time() once a SIGKILLed forwarder is gone), a
    request that arrived before it but was answered after it does not count: the forwarder
    never read that answer, so it must send the webhook again. (Taken before the kill, it
    would also discount answers the forwarder read in the milliseconds the kill took, and
    so never sends again: a webhook the app got, reported missing.) Every delivery must be the exact
    envelope for its seq, and copies of one webhook must carry the same webhook-id (so
    that the app can drop duplicates)."""
    seen, ids, errors, done = set(), {}, [], 0

    def counts(d):
        return killed_at is None or d.ts > killed_at or d.answered_at < killed_at

    def check():
        nonlocal done
        new = app.receiver.deliveries()[done:]
        done += len(new)
        for d in app.mine([d for d in new if counts(d)]):
            try:
                seq = json.loads(d.body)["payload"]["seq"]
            except (ValueError, KeyError, TypeError) as e:
                errors.append(f"not an envelope with a payload seq ({e!r}): {d.body[:200]!r}")
                continue
            want = app.expected(connection_of(seq), bodies[seq]) if seq in bodies else None
            if d.body != want:
                errors.append(f"seq {seq}: delivered {d.body[:300]!r}, expected {(want or b'')[:300]!r}")
            if ids.setdefault(seq, d.header("webhook-id")) != d.header("webhook-id"):
                errors.append(f"seq {seq} delivered twice with different webhook-ids")
            seen.add(seq)
        return seen >= set(bodies)

    wait_until(check, timeout, f"all {len(bodies)} webhooks to be delivered",
               lambda: f"{len(seen)} distinct delivered, missing: {ranges(set(bodies) - seen)}", interval=0.5)
    assert not errors, f"{len(errors)} bad deliveries, e.g.:\n" + "\n".join(errors[:5])


def test_router_sigkill_midstream_loses_nothing(daemons, github):
    base = random.randint(10**6, 10**9)
    conns = [github.connect({"installation_id": str(base + k)}) for k in range(4)]
    bodies = {seq: github_body(base + seq % 4, seq=seq) for seq in range(1000)}

    sender = Sender(github, bodies)
    sender.wait_sent(300)
    daemons.kill("router")
    sender.wait_sent(600)
    daemons.start("router")
    sender.join()
    wait_all_delivered(github, bodies, lambda seq: conns[seq % 4], timeout=180)


def test_forwarder_sigterm_drain_loses_nothing(daemons, github):
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    bodies = {seq: github_body(inst, seq=seq) for seq in range(60)}
    github.receiver.delay = 0.05   # a slow app, so that deliveries are in flight at SIGTERM

    Sender(github, {s: b for s, b in bodies.items() if s < 50}).join()
    daemons.stop("forwarder")
    Sender(github, {s: b for s, b in bodies.items() if s >= 50}).join()   # accepted while it is down
    daemons.start("forwarder")
    wait_all_delivered(github, bodies, lambda seq: conn, timeout=90)


def test_forwarder_sigkill_during_deliveries_loses_nothing(daemons, github):
    base = random.randint(10**6, 10**9)
    conns = [github.connect({"installation_id": str(base + k)}) for k in range(4)]
    bodies = {seq: github_body(base + seq % 4, seq=seq) for seq in range(1000)}
    github.receiver.delay = 0.002   # deliveries take a moment, so some are in flight at the kill

    sender = Sender(github, bodies)
    wait_until(lambda: len(github.mine(github.receiver.deliveries())) >= 200, 120,
               "200 deliveries before the kill", sender.progress)
    daemons.kill("forwarder")     # returns once the process is gone
    killed_at = time.time()
    sender.join()
    daemons.start("forwarder")
    wait_all_delivered(github, bodies, lambda seq: conns[seq % 4], timeout=180, killed_at=killed_at)


def test_forwarder_sigkill_with_deliveries_in_flight_past_the_commit_interval_loses_nothing(daemons, github):
    """The app answers each request 2.5 s late, so deliveries stay in flight across the
    consumer's offset commits (every second) while a queue waits behind them and earlier
    ones finish: an offset may be stored only once every message before it is final.
    SIGKILLed then, the forwarder must send again what was in flight or waiting, and every
    webhook reaches the app answered 2xx."""
    base = random.randint(10**6, 10**9)
    conns = [github.connect({"installation_id": str(base + k)}) for k in range(4)]
    bodies = {seq: github_body(base + seq % 4, seq=seq) for seq in range(60)}
    receiver = github.receiver
    receiver.delay = 2.5

    Sender(github, bodies).join()
    # Two rounds answered (each a commit interval and more after the first) and the next
    # round held by the app: that is the moment to kill.
    wait_until(lambda: len(github.mine(receiver.deliveries())) >= 8 and receiver.in_flight > 0, 60,
               "8 deliveries answered and more in flight", lambda: receiver.summary())
    daemons.kill("forwarder")     # returns once the process is gone
    killed_at = time.time()
    held = [d for d in github.mine(receiver.snapshot()) if d.status is None]
    assert held, "no delivery was in flight at the kill: the test proves nothing"
    receiver.delay = 0
    daemons.start("forwarder")
    wait_all_delivered(github, bodies, lambda seq: conns[seq % 4], timeout=120, killed_at=killed_at)
