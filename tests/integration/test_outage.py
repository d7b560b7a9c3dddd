"""When Kafka cannot take a webhook the ingress answers 503 with Retry-After, never 200 for
data that is not stored; once the broker is back the provider's retry is accepted and
delivered. The broker is frozen with SIGSTOP (its sockets stay open, so nothing fails
fast: the ingress must still give up within its Kafka timeout) and thawed with SIGCONT.
The same for PostgreSQL: frozen, it must hang nothing."""
import os
import random
import signal
import time
from pathlib import Path

from hlsupport import TIMEOUT, DAEMONS, App, assert_bytes, get, github_body, post, wait_until


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
    other = App(cli, stack, github.receiver, "github-app")
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
