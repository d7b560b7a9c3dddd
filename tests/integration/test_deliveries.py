"""Every delivery attempt is recorded and `hookline deliveries WEBHOOK_ID` shows them,
oldest first; `hookline deliveries prune` deletes old ones; `hookline dlq redrive` sends
a dead letter once more to the destination that failed, with the same webhook-id."""
import json
import os
import random
import re
import subprocess
import uuid

import pytest

from hlsupport import App, Receiver, github_body, wait_until
from test_dead_letters import wait_dead_letter

PSQL = "/usr/lib/postgresql/15/bin/psql"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Scripted(Receiver):
    """A receiver that answers the given statuses to its first requests, then 200."""

    def __init__(self, statuses):
        super().__init__()
        self.script = list(statuses)

    def _got(self, delivery):
        self.status = self.script.pop(0) if self.script else 200   # read by the handler after this
        super()._got(delivery)


@pytest.fixture
def scripted():
    made = []

    def make(statuses):
        r = Scripted(statuses).start()
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()


def run(cli, *args):
    r = subprocess.run([str(cli.path), *args], capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def attempts(cli, webhook_id):
    """The recorded attempts of a webhook ([] while there are none)."""
    rc, out, err = run(cli, "deliveries", webhook_id, "--json")
    assert rc in (0, 1), f"`hookline deliveries {webhook_id}` exited {rc}: {err}"
    return json.loads(out) if rc == 0 else []


def wait_attempts(cli, webhook_id, check, what, timeout=60):
    seen = []

    def ok():
        seen[:] = attempts(cli, webhook_id)
        return check(seen) and seen
    return wait_until(ok, timeout, what, lambda: json.dumps(seen, indent=1))


def test_attempts_of_a_webhook_oldest_first(cli, stack, scripted):
    receiver = scripted([500])
    app = App(cli, stack, receiver, "github-app")
    inst = random.randint(10**6, 10**9)
    conn = app.connect({"installation_id": str(inst)})
    body = github_body(inst)
    webhook_id = app.send(body).headers["X-Hookline-Webhook-Id"]
    got = receiver.wait_for(lambda rs: len(app.mine(rs, body)) >= 2 and app.mine(rs, body), 60,
                            "the failed attempt and the delivered one", attempts=True)

    rows = wait_attempts(cli, webhook_id, lambda rs: any(r["result"] == "delivered" for r in rs),
                         "the delivered attempt in the attempt log")
    assert [(r["attempt"], r["pass"], r["status"], r["result"]) for r in rows] == \
        [(1, 0, 500, "failed"), (2, 0, 200, "delivered")]
    failed, delivered = rows
    assert failed["error"] == "HTTP 500" and delivered["error"] is None
    for r in rows:
        assert r["destination"] == app.env["webhook_url"]
        assert r["delivery_id"] == got[0].header("webhook-id")
        assert r["connection_id"] == conn
        assert isinstance(r["latency_ms"], (int, float)) and 0 <= r["latency_ms"] < 30000
        assert ISO_MS.match(r["time"]), f"time {r['time']!r} is not UTC ISO-8601 with milliseconds"
    assert failed["time"] <= delivered["time"]

    text = cli.run("deliveries", webhook_id).splitlines()
    assert text[0].split()[:8] == ["TIME", "DESTINATION", "PASS", "ATTEMPT", "STATUS", "LATENCY_MS", "RESULT",
                                   "ERROR"]
    assert len(text) == 3
    for line, r in zip(text[1:], rows):
        cells = line.split()
        assert cells[:5] == [r["time"], r["destination"], str(r["pass"]), str(r["attempt"]), str(r["status"])]
        assert r["result"] in cells


def test_dead_letter_attempts_then_redrive_once(cli, stack, receiver):
    app = App(cli, stack, receiver, "github-app")
    receiver.status = 503
    inst = random.randint(10**6, 10**9)
    app.connect({"installation_id": str(inst)})
    body = github_body(inst)
    webhook_id = app.send(body).headers["X-Hookline-Webhook-Id"]
    dl = wait_dead_letter(cli, webhook_id)

    n = int(dl["attempts"])
    steps = ("retry-scheduled", "dead-lettered")   # hand-offs, recorded without a request
    rows = wait_attempts(cli, webhook_id, lambda rs: rs[-1]["result"] == "dead-lettered",
                         "the attempts and the dead letter")
    http = [r for r in rows if r["result"] not in steps]
    assert [r["attempt"] for r in http] == list(range(1, n + 1))
    assert {(r["status"], r["result"], r["error"]) for r in http} == {(503, "failed", "HTTP 503")}
    handoffs = [(r["pass"], r["result"]) for r in rows if r["result"] in steps]
    assert handoffs[-1] == (http[-1]["pass"], "dead-lettered") and (0, "retry-scheduled") in handoffs, handoffs
    passes = [r["pass"] for r in http]
    assert passes == sorted(passes) and passes[0] == 0 and passes[-1] >= 1, f"passes {passes}"
    before = len(app.mine(receiver.snapshot(), body))

    receiver.status = 200
    dry = cli.json("dlq", "redrive", "--webhook-id", webhook_id, "--dry-run")
    assert dry["dry_run"] is True and dry["redriven"] == 0
    assert [d["webhook_id"] for d in dry["dead_letters"]] == [webhook_id]
    assert dry["topic"].endswith(".1")

    # The real redrive is the marker: a copy the dry run had written would be on the same
    # retry topic partition ahead of it, so it would have reached the app first.
    done = cli.json("dlq", "redrive", "--webhook-id", webhook_id)
    assert done["redriven"] == 1 and done["dry_run"] is False
    redriven = receiver.wait_for(lambda rs: app.mine(rs, body), 60, "the redriven delivery (answered 200)")
    assert redriven[0].header("webhook-id") == dl["delivery_id"], "the redriven delivery has another webhook-id"
    assert redriven[0].path == app.path
    rows = wait_attempts(cli, webhook_id, lambda rs: rs[-1]["result"] == "delivered",
                         "the redriven attempt in the attempt log")
    assert (rows[-1]["pass"], rows[-1]["attempt"], rows[-1]["status"]) == (1, 1, 200)
    assert len([r for r in rows if r["result"] not in steps]) == n + 1
    assert len(app.mine(receiver.snapshot(), body)) == before + 1, \
        "--dry-run sent a copy, or the webhook was redriven more than once"


def test_unknown_and_malformed_ids(cli):
    unknown = str(uuid.uuid4())
    rc, _, err = run(cli, "deliveries", unknown)
    assert rc == 1 and f"no delivery attempt recorded for webhook {unknown}" in err
    rc, _, err = run(cli, "deliveries", "not-a-uuid")
    assert rc == 2 and "not a webhook id" in err
    rc, _, _ = run(cli, "deliveries", "prune", "--older-than", "30")
    assert rc == 2
    rc, _, err = run(cli, "dlq", "redrive", "--webhook-id", unknown)
    assert rc == 1 and "no dead letter matches" in err


def psql(sql, *params):
    """Runs sql with psql against the stack's database, values as psql variables."""
    args = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", os.environ["HOOKLINE_DATABASE_URL"]]
    for i, p in enumerate(params):
        args += ["-v", f"p{i}={p}"]
    r = subprocess.run(args, input=sql.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()


def test_prune_deletes_old_attempts_and_keeps_recent_ones(cli):
    webhook_id = str(uuid.uuid4())
    psql("INSERT INTO delivery_attempts (webhook_id, routed_id, environment_id, integration, destination,"
         " pass, attempt, status, result, attempted_at) SELECT :'p0', :'p0', gen_random_uuid(), 'github',"
         " 'https://app.example.com/hooks', 0, n, 503, 'failed', now() - (d || ' days')::interval"
         " FROM (VALUES (1, 40), (2, 1)) AS v(n, d)", webhook_id)
    assert [r["attempt"] for r in attempts(cli, webhook_id)] == [1, 2]

    out = cli.json("deliveries", "prune", "--older-than", "30d")
    assert out["deleted"] >= 1
    assert [r["attempt"] for r in attempts(cli, webhook_id)] == [2]
    text = cli.run("deliveries", "prune", "--older-than", "30d")
    assert re.match(r"deleted \d+ delivery attempt\(s\) older than 30d", text)
    assert [r["attempt"] for r in attempts(cli, webhook_id)] == [2]
