"""A three-node KRaft cluster on loopback (replication factor 3, min.insync.replicas 2):
one broker is SIGKILLed under steady load and brought back. Every webhook answered 200
is delivered; the answers that were not 200 (503: Kafka could not take it in time) are
counted and their window reported (build/test-reports/kafka-cluster.txt).

Slow (three brokers and a whole pipeline of sanitizer builds start on a shared machine),
so it runs only with HOOKLINE_TEST_CLUSTER=1: `make cluster-test`."""
import json
import os
import random
import threading
import time

import pytest
import requests

import substack
from hlsupport import REPO, App, Receiver, github_body, post, wait_until

pytestmark = pytest.mark.skipif(os.environ.get("HOOKLINE_TEST_CLUSTER") != "1",
                                reason="three brokers: run with HOOKLINE_TEST_CLUSTER=1 (make cluster-test)")
SENDERS, RATE = 4, 5   # four senders (four connections: four keys, so several partitions), 5/s each
BEFORE, DOWN, AFTER = 10, 20, 15   # seconds of load before the kill, broker down, after it is back


@pytest.fixture(scope="session")
def cluster(request):
    return substack.shared(request, "cluster", 40, {"HOOKLINE_STACK_KAFKA_NODES": "3"})


class SteadySender(threading.Thread):
    """Sends body n (n = 0, 1, ...) of its connection at RATE a second until stopped, one at
    a time; records (sent, answered, seq, status), times from t0."""

    def __init__(self, app, inst, t0):
        super().__init__(daemon=True)
        self.app, self.inst, self.t0, self.stop, self.answers = app, inst, t0, threading.Event(), []

    def body(self, n):
        return github_body(self.inst, seq=f"{self.inst}-{n}")

    def run(self):
        n = 0
        while not self.stop.is_set() and n < RATE * 300:
            body = self.body(n)
            sent = time.monotonic()
            try:
                status = post(self.app.url, body, self.app.sign(body), timeout=30).status_code
            except requests.RequestException as e:
                status = repr(e)[:80]
            self.answers.append((sent - self.t0, time.monotonic() - self.t0, f"{self.inst}-{n}", status))
            n += 1
            time.sleep(max(0.0, sent + 1 / RATE - time.monotonic()))


def describe(cluster):
    return {row["role"]: row for row in json.loads(cluster.cli.run("topics", "describe", "--json"))}


def test_a_broker_killed_under_load_loses_no_acknowledged_webhook(cluster):
    topics = describe(cluster)
    assert topics["raw"]["replication"] == 3 and topics["raw"]["min_insync_replicas"] == "2", topics["raw"]
    receiver = Receiver().start()
    try:
        app = App(cluster.cli, cluster, receiver, "github-app")
        t0 = time.monotonic()
        senders = []
        for _ in range(SENDERS):
            inst = random.randint(10**6, 10**9)
            app.connect({"installation_id": str(inst)})
            senders.append(SteadySender(app, inst, t0))
        for s in senders:
            s.start()
        time.sleep(BEFORE)
        t_kill = time.monotonic()
        cluster.sh("broker", "kill", "1", timeout=60)
        time.sleep(DOWN)
        t_start = time.monotonic()
        cluster.sh("broker", "start", "1", timeout=300)
        t_back = time.monotonic()
        time.sleep(AFTER)
        for s in senders:
            s.stop.set()
        for s in senders:
            s.join(60)

        answers = sorted(a for s in senders for a in s.answers)
        ok = {seq for _, _, seq, st in answers if st == 200}

        def delivered():
            return {d.json()["payload"]["seq"] for d in app.mine(receiver.snapshot())}
        wait_until(lambda: ok <= delivered(), 180, f"all {len(ok)} acknowledged webhooks delivered",
                   lambda: f"{len(ok & delivered())} of {len(ok)}", interval=1)
        report(answers, ok, t0, t_kill, t_start, t_back)
        # The killed broker caught up: every partition has all three replicas in sync again.
        wait_until(lambda: all(not r["exists"] or (r["under_replicated"] == 0 and r["leaderless"] == 0)
                               for r in describe(cluster).values()), 120,
                   "every partition back to 3 in-sync replicas", lambda: describe(cluster), interval=2)
    finally:
        receiver.stop()
    assert all(st in (200, 503) for *_, st in answers), [a for a in answers if a[3] not in (200, 503)][:10]


def report(answers, ok, t0, t_kill, t_start, t_back):
    """The figures, in build/test-reports/kafka-cluster.txt and on stdout (-s)."""
    bad = [a for a in answers if a[3] != 200]
    window = (max(a[1] for a in bad) - min(a[0] for a in bad)) if bad else 0.0
    # The longest time in which no request that was answered 200 had been sent.
    sent_ok = sorted(a[0] for a in answers if a[3] == 200)
    gap = max((b - a for a, b in zip(sent_ok, sent_ok[1:])), default=0.0)
    lines = [
        f"three-node cluster (RF 3, min.insync.replicas 2), broker 1 SIGKILLed under load: "
        f"{SENDERS} senders x {RATE}/s, each one request at a time, four connections (keys)",
        f"sent {len(answers)}, answered 200: {len(ok)} (all delivered), not 200: {len(bad)}",
        f"broker 1 SIGKILLed at {t_kill - t0:.1f} s, restarted at {t_start - t0:.1f} s, "
        f"ready again at {t_back - t0:.1f} s (times from the first send)",
        f"503 window: {window:.1f} s (first non-200 sent to last non-200 answered); longest gap between "
        f"two requests answered 200: {gap:.1f} s",
        "not 200 (sent-answered: status): " + ", ".join(f"{a:.1f}-{b:.1f}s: {st}" for a, b, _, st in bad[:30]),
    ]
    out = REPO / "build" / "test-reports"
    out.mkdir(parents=True, exist_ok=True)
    (out / "kafka-cluster.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
