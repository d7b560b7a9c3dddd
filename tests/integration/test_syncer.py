"""hookline-syncer: matching webhooks start sync runs, exactly once in effect, sent to a
runner (a test process) signed like forwards, retried, ordered per (sync, connection),
bounded per environment, expired visibly, and announced to the app on success."""
import base64
import json
import os
import random
import re
import subprocess
import time

import pytest

from hlsupport import (TIMEOUT, get, github_body, headers_of, nango_signature, topic, topic_tool, uid,
                       verify_standard, wait_until)
from runner import Runner  # tests/tools, on the path through hlsupport
from test_crash import Sender


def psql(sql):
    r = subprocess.run(["psql", os.environ["HOOKLINE_DATABASE_URL"], "-XAtqc", sql], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode().strip()


@pytest.fixture
def runner():
    r = Runner().start()
    yield r
    r.stop()


class Syncs:
    """An environment with a github-app integration, syncs on it and a test runner."""

    def __init__(self, cli, app, runner):
        self.cli, self.app, self.runner = cli, app, runner
        self.env = app.env["id"]

    def create(self, subscriptions, name=None, *extra, runner_url=None):
        name = name or f"sync-{uid()}"
        args = ["sync", "create", "--env", self.env, "--integration", self.app.key, "--name", name,
                "--subscriptions", subscriptions]
        if "--runner-topic" not in extra:
            args += ["--runner-url", runner_url or self.runner.url]
        self.cli.json(*args, *extra)
        return name

    def connect(self):
        inst = random.randint(10**6, 10**9)
        return inst, self.app.connect({"installation_id": str(inst)})

    def send(self, inst, event="issues", **fields):
        body = github_body(inst, **fields)
        return self.app.send(body, self.app.sign(body, event=event)).headers["X-Hookline-Webhook-Id"], body

    def runs(self, *filters):
        return self.cli.json("sync", "runs", "--env", self.env, *filters)

    def wait_runs(self, n, *filters, status=None, timeout=TIMEOUT):
        def done():
            rs = self.runs(*filters)
            return rs if len(rs) >= n and all(status is None or r["status"] == status for r in rs) else None
        return wait_until(done, timeout, f"{n} run(s) {filters} {status or ''}", lambda: self.runs(*filters),
                          interval=0.3)


@pytest.fixture
def syncs(cli, github, runner):
    return Syncs(cli, github, runner)


def assert_job_signed(job, env):
    assert job.header("X-Nango-Hmac-Sha256") == nango_signature(env["signing_key"], job.body)
    assert verify_standard(env["signing_key"], job.header("webhook-id"), job.header("webhook-timestamp"),
                           job.header("webhook-signature"), job.body)


def syncer_skipped(stack, reason):
    """hookline_syncer_webhooks_skipped_total{reason=...}: routed webhooks the syncer read
    and started no run for."""
    text = get(stack.admin_url("syncer", "/metrics")).text
    m = re.search(r'^hookline_syncer_webhooks_skipped_total\{reason="%s"\} (\d+)$' % reason, text, re.M)
    return int(m.group(1)) if m else 0


def test_matching_exact_star_first_wins_no_match_disabled(syncs, runner, stack):
    first = syncs.create("issues.added,*")
    star = syncs.create("push.added,*")
    syncs.create("push.added,pull_request.opened")          # no match
    syncs.create("*", None, "--disabled")                   # disabled
    inst, conn = syncs.connect()
    wid, body = syncs.send(inst)
    syncs.wait_runs(2, "--connection", conn, status="succeeded")
    # A second webhook for the same connection (same routed key, so read after the first):
    # once its runs exist, every run the first one would start exists too.
    marker, _ = syncs.send(inst, marker=True)
    runs = syncs.wait_runs(4, "--connection", conn, status="succeeded")
    for w in (wid, marker):
        mine = [r for r in runs if r["webhook_id"] == w]
        assert sorted((r["sync"], r["subscription"]) for r in mine) == \
            sorted([(first, "issues.added"), (star, "*")]), f"runs of webhook {w}: {mine}"
    assert len(runs) == 4 and all(r["event_type"] == "issues.added" for r in runs), runs

    jobs = [j for j in runner.jobs() if j.json()["connectionId"] == conn and j.json()["webhookId"] == wid]
    assert len(jobs) == 2
    for job in jobs:
        assert_job_signed(job, syncs.app.env)
        j = job.json()
        assert j["type"] == "sync.webhook" and j["webhookId"] == wid and j["attempt"] == 1
        assert j["providerConfigKey"] == syncs.app.key and j["provider"] == "github-app"
        assert j["payload"] == json.loads(body)
        assert job.header("webhook-id") == j["runId"]
        assert job.body.startswith(b'{"type":"sync.webhook","runId":')

    # Unattributed webhooks start nothing, whatever the subscriptions: once the syncer has
    # counted it as skipped (it has read it), no run exists for it.
    skipped = syncer_skipped(stack, "unattributed")
    unattributed, _ = syncs.send(inst + 1)
    wait_until(lambda: syncer_skipped(stack, "unattributed") > skipped, TIMEOUT,
               "the syncer to skip the unattributed webhook", lambda: syncs.runs())
    assert not [r for r in syncs.runs() if r["webhook_id"] == unattributed], "an unattributed webhook started a run"
    assert len(syncs.runs()) == 4 and len(runner.jobs()) == 4, (syncs.runs(), runner.jobs())


def test_nango_subscription_starts_exactly_one_run(syncs, runner):
    """Nango's GitHub subscriptions name X-GitHub-Event alone ("issues"); hookline's type adds
    the action ("issues.opened"). Either form, and "issues.*", starts one run per sync; the
    type of another event does not."""
    nango = syncs.create("issues")
    detailed = syncs.create("pull_request,issues.opened")
    prefix = syncs.create("issues.*")
    other = syncs.create("pull_request,push")
    inst, conn = syncs.connect()
    body = github_body(inst, n=uid()).replace(b'"action": "added"', b'"action": "opened"')
    wid = syncs.app.send(body, syncs.app.sign(body, event="issues")).headers["X-Hookline-Webhook-Id"]
    # A later webhook of the same connection (read after the first) that only `other` takes:
    # once its run exists, every run of the first exists too.
    marker, _ = syncs.send(inst, event="push", marker=True)
    runs = syncs.wait_runs(4, "--connection", conn, status="succeeded")
    mine = sorted((r["sync"], r["subscription"], r["event_type"]) for r in runs if r["webhook_id"] == wid)
    assert mine == sorted([(nango, "issues", "issues.opened"), (detailed, "issues.opened", "issues.opened"),
                           (prefix, "issues.*", "issues.opened")]), mine
    assert [(r["sync"], r["subscription"]) for r in runs if r["webhook_id"] == marker] == [(other, "push")], runs
    assert len(syncs.runs("--connection", conn)) == 4


def test_replayed_message_creates_no_second_run(syncs, runner):
    """The routed message of a webhook, produced again three times, creates no second run
    and no second job; and the syncer goes on working: a fresh webhook for the same
    connection, read after the copies (same key, same partition), gets its run."""
    syncs.create("*")
    inst, conn = syncs.connect()
    wid, _ = syncs.send(inst)
    run = syncs.wait_runs(1, "--connection", conn, status="succeeded")[0]
    routed = [m for m in topic_tool("dump", topic("routed")) if headers_of(m).get("hl.webhook-id") == wid]
    assert len(routed) == 1
    line = json.dumps({k: routed[0][k] for k in ("key", "value_b64", "headers")}).encode() + b"\n"
    topic_tool("produce", topic("routed"), stdin=line * 3)
    fresh, _ = syncs.send(inst, after="replay")
    runs = syncs.wait_runs(2, "--connection", conn, status="succeeded")
    assert [r["webhook_id"] for r in runs if r["id"] != run["id"]] == [fresh], f"runs after the replay: {runs}"
    assert [r["id"] for r in runs if r["webhook_id"] == wid] == [run["id"]]
    jobs = [j.json()["webhookId"] for j in runner.jobs() if j.json()["connectionId"] == conn]
    assert sorted(jobs) == sorted([wid, fresh]), f"jobs for the connection: {jobs}"
    # The copies were absorbed as the same runs, not set aside as messages that cannot be
    # processed (a unique-key violation would be quarantined, and would also leave one run).
    quarantined = [r for r in syncs.cli.json("rejected", "list", "--stage", "syncer") if r["webhook_id"] == wid]
    assert quarantined == [], f"the replayed copies were quarantined: {quarantined}"


def test_retry_then_success(syncs, runner):
    runner.fail_first, runner.counts = 2, {"added": 3, "updated": 1, "deleted": 0}
    syncs.create("*", None, "--max-attempts", "5")
    inst, conn = syncs.connect()
    syncs.send(inst)
    run = syncs.wait_runs(1, "--connection", conn, status="succeeded")[0]
    full = syncs.cli.json("sync", "run", run["id"])
    assert full["attempts"] == 3 and full["result"] == runner.counts and full["last_error"] is None
    jobs = [j for j in runner.jobs() if j.json()["connectionId"] == conn]
    assert [j.json()["attempt"] for j in jobs] == [1, 2, 3]
    assert {j.header("webhook-id") for j in jobs} == {run["id"]}, "webhook-id changed across attempts"


def test_retry_then_failure_and_cli_retry(syncs, runner):
    runner.status = 500
    syncs.create("*", None, "--max-attempts", "3")
    inst, conn = syncs.connect()
    syncs.send(inst)
    run = syncs.wait_runs(1, "--connection", conn, status="failed")[0]
    full = syncs.cli.json("sync", "run", run["id"])
    assert full["attempts"] == 3 and full["last_error"] == "HTTP 500" and full["finished_at"]
    assert len([j for j in runner.jobs() if j.json()["connectionId"] == conn]) == 3

    runner.status = 200
    retried = syncs.cli.json("sync", "retry", run["id"])
    assert retried["status"] in ("queued", "running", "succeeded")
    syncs.wait_runs(1, "--connection", conn, status="succeeded")
    r = subprocess.run([str(syncs.cli.path), "sync", "retry", run["id"]], capture_output=True)
    assert r.returncode == 1 and b"only a failed or expired run" in r.stderr


def test_runs_of_one_sync_and_connection_start_in_arrival_order(syncs, runner):
    runner.fail_first, runner.delay = 1, 0.1
    syncs.create("*")
    inst, conn = syncs.connect()
    for n in range(6):
        syncs.send(inst, n=n)
    syncs.wait_runs(6, "--connection", conn, status="succeeded", timeout=90)
    jobs = [j.json() for j in runner.jobs() if j.json()["connectionId"] == conn]
    order = [j["payload"]["n"] for j in jobs]
    assert order == sorted(order), f"runs started out of order: {order}"
    assert len(jobs) == 12


def test_concurrency_is_bounded_per_environment(syncs, runner):
    runner.delay = 1.0
    syncs.create("*")
    conns = [syncs.connect() for _ in range(10)]
    for inst, _ in conns:
        syncs.send(inst)
    syncs.wait_runs(10, status="succeeded", timeout=90)
    limit = int(os.environ.get("HOOKLINE_SYNCER_MAX_CONCURRENCY_PER_ENV", "4"))
    assert 2 <= runner.max_in_flight <= limit, f"{runner.max_in_flight} runs in flight at once"


def test_a_run_queued_too_long_expires(syncs, runner):
    runner.status = 500
    syncs.create("*", None, "--max-attempts", "100")
    inst, conn = syncs.connect()
    syncs.send(inst)
    run = syncs.wait_runs(1, "--connection", conn)[0]
    psql(f"UPDATE sync_runs SET queued_at = now() - interval '2 days' WHERE id = '{run['id']}'")
    run = syncs.wait_runs(1, "--connection", conn, status="expired")[0]
    assert run["last_error"].startswith("expired: still queued")
    assert syncs.cli.json("sync", "runs", "--env", syncs.env, "--status", "expired", "--connection", conn)


def test_success_notification_is_produced_for_the_app(syncs, runner, cli):
    cli.json("env", "update", "--env", syncs.env, "--sync-notifications", "true")
    runner.counts = {"added": 2, "updated": 5}
    name = syncs.create("*")
    inst, conn = syncs.connect()
    syncs.send(inst)
    run = syncs.wait_runs(1, "--connection", conn, status="succeeded")[0]
    topic = os.environ.get("HOOKLINE_TOPIC_NOTIFICATIONS", "webhooks.notifications")

    def mine():
        return [m for m in topic_tool("dump", topic) if headers_of(m).get("hl.connection-id") == conn]
    msg = wait_until(mine, TIMEOUT, "the sync notification", interval=0.5)[0]
    h = headers_of(msg)
    body = json.loads(base64.b64decode(msg["value_b64"]))
    started = cli.json("sync", "run", run["id"])["started_at"]
    assert body == {"from": "hookline", "type": "sync", "syncType": "WEBHOOK", "syncName": name,
                    "connectionId": conn, "providerConfigKey": syncs.app.key, "success": True,
                    "modifiedAfter": body["modifiedAfter"],
                    "responseResults": {"added": 2, "updated": 5, "deleted": 0}}
    assert body["modifiedAfter"].endswith("Z") and body["modifiedAfter"][:19] == started[:19].replace(" ", "T")
    assert h["hl.kind"] == "sync" and h["hl.webhook-id"] == h["hl.routed-id"]
    assert h["hl.environment"] == syncs.env and h["hl.integration"] == syncs.app.key
    assert h["hl.provider"] == "github-app" and h["http.content-type"] == "application/json"
    assert h["hl.received-at"].isdigit() and msg["key"] == f"{syncs.env}/{syncs.app.key}/{conn}"
    assert cli.json("sync", "run", run["id"])["notified_at"]

    # The forwarder delivers it to the app's webhook URL as it is, signed like a forward.
    app = syncs.app
    got = app.receiver.wait_for(
        lambda rs: [d for d in app.mine(rs) if d.header("webhook-id") == h["hl.webhook-id"]], TIMEOUT,
        "the sync webhook at the app")[0]
    assert got.body == base64.b64decode(msg["value_b64"])
    assert got.header("Content-Type") == "application/json"
    assert_job_signed(got, app.env)


def test_kafka_runner_gets_the_signed_job_on_its_topic(syncs):
    topic = f"test.runner.{uid()}"
    topic_tool("ensure", topic, "2")
    name = syncs.create("*", None, "--runner-topic", topic)
    inst, conn = syncs.connect()
    wid, body = syncs.send(inst)
    run = syncs.wait_runs(1, "--connection", conn, status="succeeded")[0]
    msgs = topic_tool("dump", topic)
    assert len(msgs) == 1
    value = base64.b64decode(msgs[0]["value_b64"])
    job, h = json.loads(value), headers_of(msgs[0])
    assert job["runId"] == run["id"] and job["syncName"] == name and job["payload"] == json.loads(body)
    sync_id = psql(f"SELECT sync_id FROM sync_runs WHERE id = '{run['id']}'")
    assert msgs[0]["key"] == f"{sync_id}/{conn}"
    assert h["x-nango-hmac-sha256"] == nango_signature(syncs.app.env["signing_key"], value)
    assert verify_standard(syncs.app.env["signing_key"], h["webhook-id"], h["webhook-timestamp"],
                           h["webhook-signature"], value)


def test_cli_manages_syncs(syncs, cli):
    name = syncs.create("contact.propertyChange, *", None, "--max-attempts", "7")
    env, key = syncs.env, syncs.app.key
    [s] = cli.json("sync", "list", "--env", env, "--integration", key)
    assert s["name"] == name and s["subscriptions"] == ["contact.propertyChange", "*"]
    assert s["max_attempts"] == 7 and s["enabled"] is True and s["runner_url"] == syncs.runner.url
    assert cli.json("sync", "disable", "--env", env, "--integration", key, "--name", name)["enabled"] is False
    assert cli.json("sync", "enable", "--env", env, "--integration", key, "--name", name)["enabled"] is True
    assert name in cli.run("sync", "list", "--env", env)
    cli.json("sync", "delete", "--env", env, "--integration", key, "--name", name)
    assert cli.json("sync", "list", "--env", env) == []
    assert cli.json("env", "show", "--env", env)["sync_notifications"] is False

    def rc(*args):
        return subprocess.run([str(cli.path), *args], capture_output=True).returncode
    base = ["sync", "create", "--env", env, "--integration", key, "--name", "x", "--subscriptions", "*"]
    assert rc(*base) == 2                                                   # no runner
    assert rc(*base, "--runner-url", "http://a", "--runner-topic", "t") == 2
    assert rc(*base, "--runner-url", "ftp://a") == 1
    assert rc(*base, "--runner-url", "http://a", "--max-attempts", "0") == 2
    assert rc("sync", "run", "not-a-uuid") == 1
    assert rc("sync", "runs", "--env", env, "--status", "bogus") == 2
    assert rc("sync", "enable", "--env", env, "--integration", key, "--name", "nope") == 1


def test_sigkill_during_1000_webhooks_creates_each_run_exactly_once(syncs, daemons):
    name = syncs.create("*")
    targets = [syncs.connect() for _ in range(10)]
    bodies = {i: github_body(targets[i % 10][0], seq=i) for i in range(1000)}
    sender = Sender(syncs.app, bodies, threads=4, time_limit=240)
    sync_id = psql(f"SELECT s.id FROM syncs s JOIN integrations i ON i.id = s.integration_id"
                   f" WHERE i.environment_id = '{syncs.env}' AND s.name = '{name}'")

    def created():
        return int(psql(f"SELECT count(*) FROM sync_runs WHERE sync_id = {sync_id}"))
    wait_until(lambda: created() >= 150, 120, "150 runs before the kill", created, interval=0.2)
    daemons.kill("syncer")
    time.sleep(1)
    daemons.start("syncer")
    sender.join(timeout=240)
    # One marker webhook per connection after the 1,000: each is read after every webhook of
    # its connection (same key, same partition), so once the 10 marker runs exist, any run
    # the replayed messages could create exists too.
    markers = [syncs.send(inst, marker=True)[0] for inst, _ in targets]
    listed = ",".join(f"'{m}'" for m in markers)
    wait_until(lambda: int(psql(f"SELECT count(*) FROM sync_runs WHERE sync_id = {sync_id}"
                                f" AND webhook_id IN ({listed})")) == 10, 180, "the 10 marker runs", created,
               interval=1)
    row = psql(f"SELECT count(*), count(DISTINCT webhook_id), count(DISTINCT routed_id)"
               f" FROM sync_runs WHERE sync_id = {sync_id} AND webhook_id NOT IN ({listed})")
    assert row == "1000|1000|1000", f"runs, distinct webhooks, distinct routed ids: {row}"
    done = wait_until(lambda: int(psql(f"SELECT count(*) FROM sync_runs WHERE sync_id = {sync_id}"
                                       f" AND status = 'succeeded'")) == 1010 or None, 180,
                      "every run to succeed", lambda: psql(f"SELECT status, count(*) FROM sync_runs"
                                                           f" WHERE sync_id = {sync_id} GROUP BY 1"), interval=1)
    assert done
