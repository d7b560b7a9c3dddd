"""When Kafka cannot take a webhook the ingress answers 503 with Retry-After, never 200 for
data that is not stored; once the broker is back the provider's retry is accepted and
delivered. The broker is frozen with SIGSTOP (its sockets stay open, so nothing fails
fast: the ingress must still give up within its Kafka timeout) and thawed with SIGCONT.
The same for PostgreSQL: frozen, it must hang nothing; restarted, cached tenants keep
flowing."""
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import requests

from hlsupport import (REPO, TIMEOUT, DAEMONS, App, assert_bytes, get, github_body, github_headers, post, uid,
                       wait_until)


def kafka_pid():
    path = Path(os.environ["HOOKLINE_STACK_DIR"]) / "kafka.pid"
    return int(path.read_text().split()[0])


def retry_until_delivered(app, conn, body):
    """As a provider does after a 503: send again (a second apart, up to 60 s) until
    accepted; then the webhook must be delivered byte for byte."""
    deadline = time.monotonic() + 60
    while True:
        r = post(app.url, body, app.sign(body), timeout=60)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.status_code == 200, f"after the outage the retry answered {r.status_code} {r.text!r}"
    d = app.wait_payload(body, timeout=max(TIMEOUT, 60))[0]
    assert_bytes(d.body, app.expected(conn, body))


def test_kafka_outage_answers_503_then_recovers(github, stack):
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    pid = kafka_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = post(github.url, body, github.sign(body), timeout=60)
        waited = time.monotonic() - started
        assert r.status_code == 503, f"answered {r.status_code} {r.text!r} while Kafka was frozen"
        assert r.headers.get("Retry-After", "").isdigit(), f"no Retry-After on the 503: {r.headers}"
        assert waited < 45, f"the 503 took {waited:.0f} s (HOOKLINE_INGRESS_KAFKA_TIMEOUT_MS is 10 s)"
    finally:
        os.kill(pid, signal.SIGCONT)

    for d in DAEMONS:
        wait_until(lambda: get(stack.admin_url(d, "/readyz")).status_code == 200, 90,
                   f"{d} ready again after the broker came back")
    # The provider retries; the retry must be stored and delivered.
    retry_until_delivered(github, conn, body)


def postgres_pids():
    """The stack's postmaster and its children (every backend), from /proc."""
    data = Path((Path(os.environ["HOOKLINE_STACK_DIR"]) / "pg.path").read_text().strip()) / "data"
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster] + children


def test_a_frozen_database_hangs_nothing(cli, stack, github):
    """PostgreSQL frozen with SIGSTOP (connections stay open, nothing fails fast): a tenant
    the daemons have cached (a sync created since does not empty their caches) is still
    accepted and delivered, one they never looked up gets
    a 503 within the lookup's deadline instead of a hung request, and both flow again once
    the database is back."""
    # Configured first: any change drops the daemons' caches.
    other = App(cli, stack, github.receiver, "github-app", wait_known=False)  # never looked up
    inst2 = random.randint(10**6, 10**9)
    conn2 = other.connect({"installation_id": str(inst2)})
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    warm = github_body(inst, n=0)
    github.send(warm)
    github.wait_payload(warm)
    # A change to a table the cached answers do not come from (a sync) keeps them cached.
    cli.json("sync", "create", "--env", other.env["id"], "--integration", other.key, "--name", "unused",
             "--subscriptions", "*", "--runner-url", "http://127.0.0.1:9/never", "--disabled")
    pids = postgres_pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        body = github_body(inst, n=1)
        r = post(github.url, body, github.sign(body), timeout=60)
        assert r.status_code == 200, f"a cached tenant answered {r.status_code} {r.text!r} with the database frozen"
        d = github.wait_payload(body, timeout=60)[0]
        assert_bytes(d.body, github.expected(conn, body))

        body2 = github_body(inst2)
        started = time.monotonic()
        r = post(other.url, body2, other.sign(body2), timeout=60)
        waited = time.monotonic() - started
        assert r.status_code == 503, f"an uncached tenant answered {r.status_code} {r.text!r}"
        assert waited < 20, f"the 503 took {waited:.0f} s (lookups give up after 5 s)"
    finally:
        for pid in reversed(pids):
            os.kill(pid, signal.SIGCONT)

    retry_until_delivered(other, conn2, body2)


def postmaster_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


class Steady(threading.Thread):
    """A provider sending the app's webhooks one after another, recording every answer."""

    def __init__(self, app, inst):
        super().__init__(daemon=True)
        self.app, self.inst = app, inst
        self.answers = []
        self.halt = threading.Event()

    def run(self):
        n = 0
        while not self.halt.is_set() and n < 5000:
            n += 1
            body = github_body(self.inst, steady=n)
            try:
                r = post(self.app.url, body, self.app.sign(body), timeout=30)
                self.answers.append((n, r.status_code, r.text[:120]))
            except requests.RequestException as e:
                self.answers.append((n, None, repr(e)))
            time.sleep(0.05)

    def stop(self):
        self.halt.set()
        self.join(60)


def test_a_database_restart_keeps_cached_tenants_flowing(cli, stack, github):
    """PostgreSQL stopped and started again (the ingress's LISTEN connection dies with it):
    a tenant the ingress has cached keeps being accepted throughout, with no 503 (the
    cache is no longer dropped when LISTEN is lost, only once it is back); and once it is
    back, changes are seen again (a replaced secret stops being accepted)."""
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    warm = github_body(inst, n="warm")
    github.send(warm)
    sender = Steady(github, inst)
    sender.start()
    try:
        time.sleep(0.5)
        postmaster = postgres_pids()[0]
        os.kill(postmaster, signal.SIGINT)  # fast shutdown, as `stack.sh down` does
        wait_until(lambda: postmaster_gone(postmaster), 30, "PostgreSQL to stop")
        down_at = len(sender.answers)
        time.sleep(3)
        during = sender.answers[down_at:]
        subprocess.run(["sh", "deploy/local/stack.sh", "infra"], cwd=REPO, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180, check=True)
        time.sleep(3)
    finally:
        sender.stop()
    assert len(during) >= 5, f"the provider sent only {len(during)} webhooks while PostgreSQL was down"
    refused = [a for a in sender.answers if a[1] != 200]
    assert not refused, (f"{len(refused)} of {len(sender.answers)} webhooks of a cached tenant were not "
                         f"accepted across the database restart: {refused[:5]}")

    # LISTEN is back: a change is seen again (well within the cache's TTL).
    old_secret = github.secret
    cli.json("integration", "update", "--env", github.env["id"], "--key", github.key, "--secret", f"new-{uid()}")
    body = github_body(inst, n="old-secret")

    def refused_now():
        return post(github.url, body, github_headers(old_secret, body)).status_code == 401
    wait_until(refused_now, 10, "the replaced secret to be refused (configuration changes seen after the restart)")
