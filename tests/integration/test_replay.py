"""Replay, rewind and the providers' duplicate deliveries (issue 11), against the real
stack.

Duplicate suppression: a provider that re-sends an event (the same X-GitHub-Delivery in
a new HTTP request) reaches the app once; a new delivery with the same body is a new
event and reaches it again; two routers racing on copies of the same events publish
each event once."""
import json
import os
import random
import re
import signal
import subprocess
import threading
import time

from hlsupport import (REPO, TIMEOUT, get, github_body, headers_of, hubspot_event, topic, topic_tool, uid,
                       wait_until)
from test_syncer import runner, syncs  # noqa: F401  (fixtures)


def dropped_metric(stack, key, admin_port=None):
    url = (f"http://127.0.0.1:{admin_port}/metrics" if admin_port
           else stack.admin_url("router", "/metrics"))
    m = re.search(r'hookline_router_duplicates_dropped_total\{integration="%s"\} (\d+)' % re.escape(key),
                  get(url).text)
    return int(m.group(1)) if m else 0


def routed_of(key):
    return [m for m in topic_tool("dump", topic("routed")) if headers_of(m).get("hl.integration") == key]


def test_a_provider_resend_is_dropped_and_a_new_delivery_is_not(github, receiver, cli, stack):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    headers = github.sign(body)
    first = github.send(body, headers).headers["X-Hookline-Webhook-Id"]
    again = github.send(body, headers).headers["X-Hookline-Webhook-Id"]   # the provider's re-send
    assert first != again, "the ingress gave the re-send the same webhook id"
    fresh = github.send(body).headers["X-Hookline-Webhook-Id"]            # a new delivery, same body
    # The three share a partition (the installation is the ordering key): once the third
    # is delivered, the router has decided about the second.
    got = receiver.wait_for(lambda rs: [d for d in github.mine(rs, body)
                                        if d.header("X-Hookline-Webhook-Id") == fresh], TIMEOUT, "the new delivery")
    assert got
    wait_until(lambda: dropped_metric(stack, github.key) == 1, 15, "the copy counted as dropped",
               lambda: dropped_metric(stack, github.key))
    time.sleep(1)
    ids = [d.header("X-Hookline-Webhook-Id") for d in github.mine(receiver.snapshot(), body)]
    assert sorted(ids) == sorted([first, fresh]), f"deliveries: {ids}"
    text = cli.run("deliveries", again)
    assert "duplicate" in text and first in text, text


def test_a_resent_batch_delivers_only_its_new_events(hubspot, cli, stack):
    portal = random.randint(10**6, 10**9)
    hubspot.connect({"portalId": str(portal)})
    base = random.randint(10**6, 10**9)
    e1, e2, e3 = (hubspot_event(portal, base + i) for i in range(3))
    first_body = b"[" + e1 + b"," + e2 + b"]"
    first = hubspot.send(first_body).headers["X-Hookline-Webhook-Id"]
    hubspot.wait_payload(first_body)
    # HubSpot re-sends a batch: one event it sent before, one new event twice over.
    second = hubspot.send(b"[" + e2 + b", " + e3 + b"," + e3 + b"]").headers["X-Hookline-Webhook-Id"]
    only_new = b"[" + e3 + b"]"
    got = hubspot.wait_payload(only_new)
    assert len(got) == 1 and got[0].header("X-Hookline-Webhook-Id") == second
    # The whole copy of the first batch is dropped; it shares the portal's partition, so
    # once the marker after it arrives the router has decided about it.
    copy = hubspot.send(first_body).headers["X-Hookline-Webhook-Id"]
    marker = b"[" + hubspot_event(portal, base + 10) + b"]"
    hubspot.send(marker)
    hubspot.wait_payload(marker)
    time.sleep(1)
    bodies = [json.loads(d.body)["payload"] for d in hubspot.mine(hubspot.receiver.snapshot())]
    events = [e["eventId"] for b in bodies for e in b]
    assert sorted(events) == [base, base + 1, base + 2, base + 10], f"events delivered: {events}"
    assert dropped_metric(stack, hubspot.key) == 4   # e2, e3's repeat, then e1 and e2 again
    text = cli.run("deliveries", second)
    assert "one event left out" in text and first in text and str(base + 1) in text, text
    rows = cli.json("deliveries", second)
    left_out = [(r["dropped"], r["duplicate_of"], str(r["provider_event_id"])) for r in rows
                if r.get("result") == "dropped-duplicate"]
    assert ("event", first, str(base + 1)) in left_out and {d for d, _, _ in left_out} == {"event"}, rows
    assert any(r.get("status") == 200 for r in rows), f"the batch's delivery is missing: {rows}"
    text = cli.run("deliveries", copy)
    assert text.count("dropped by the router") == 2 and str(base) in text and str(base + 1) in text, text
    rows = cli.json("deliveries", copy)
    assert sorted((r["dropped"], r["duplicate_of"], str(r["provider_event_id"])) for r in rows) == \
        [("webhook", first, str(base)), ("webhook", first, str(base + 1))], rows


def test_two_routers_racing_on_copies_deliver_each_event_once(github, cli, stack, receiver):
    """Repository webhooks name no installation, so their copies spread over the raw
    topic's partitions and reach both routers of the group."""
    from hlsupport import App
    app = App(cli, stack, receiver, "github")
    port = int(stack.admin_ports["router"]) + 41
    env = dict(os.environ, HOOKLINE_ADMIN_PORT=str(port))
    log = open(os.path.join(os.environ.get("HOOKLINE_STACK_DIR", "/tmp"), f"router-second-{uid()}.log"), "wb")
    second = subprocess.Popen([str(stack.bin_dir / "hookline-router")], env=env, cwd=REPO,
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready():
            try:
                return get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except OSError:
                return False
        wait_until(ready, 60, "the second router ready")
        time.sleep(3)  # the group rebalanced over both
        n = 250
        events = [(github_body(0, n=i), None) for i in range(n)]
        sends = []
        for body, _ in events:
            h = app.sign(body)
            sends += [(body, h), (body, h)]
        random.shuffle(sends)
        errors = []

        def worker(part):
            try:
                for body, h in part:
                    app.send(body, h)
            except AssertionError as e:   # noqa: PERF203
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(sends[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not errors, errors[0]

        def dropped():
            return dropped_metric(stack, app.key) + dropped_metric(stack, app.key, port)
        wait_until(lambda: dropped() == n, 120, f"{n} copies dropped", dropped)
        time.sleep(2)
        routed = routed_of(app.key)
        assert len(routed) == n, f"{len(routed)} routed messages for {n} events"
        assert dropped_metric(stack, app.key) > 0 and dropped_metric(stack, app.key, port) > 0, \
            "one router dropped every copy: they did not race"
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(60)
        except subprocess.TimeoutExpired:
            second.kill()
        log.close()


# ---- replay ------------------------------------------------------------------------------

def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def replay(cli, *args):
    return cli.json("replay", *args, "--json")


def replayed_on(stage, key):
    return [m for m in topic_tool("dump", topic(f"replay.{stage}")) if headers_of(m).get("hl.integration") == key]


def synced_webhooks(syncs, receiver, n=2):
    """n webhooks delivered, each with its sync run: (the installation they name, a time
    before them, [(webhook id, body)], the webhook-ids the app got)."""
    app = syncs.app
    syncs.create("*")
    inst, _ = syncs.connect()
    start = time.time() - 1
    sent = [syncs.send(inst, event="issues", n=i) for i in range(n)]
    for _, body in sent:
        app.wait_payload(body)
    syncs.wait_runs(n)
    first = {d.header("webhook-id") for d in app.mine(receiver.snapshot())}
    assert len(first) == n
    return inst, start, sent, first


def wait_replayed(app, receiver, rid, sent, first):
    """The app gets each of sent again, with the same webhook-id and replay id rid; returns
    a function listing the deliveries of that replay."""
    def replayed(rs):
        return [d for d in app.mine(rs) if d.header("X-Hookline-Replay-Id") == rid]
    got = receiver.wait_for(lambda rs: replayed(rs) if len(replayed(rs)) >= len(sent) else None, TIMEOUT,
                            "the replayed deliveries")
    assert {d.header("webhook-id") for d in got} == first, "a replay reached the app with another webhook-id"
    assert {d.header("X-Hookline-Webhook-Id") for d in got} == {w for w, _ in sent}
    return replayed


def test_replay_for_the_forwarder_reaches_the_app_again_and_starts_no_sync_run(syncs, receiver, cli):
    app = syncs.app
    _, start, sent, first = synced_webhooks(syncs, receiver)

    out = replay(cli, "--stage", "forwarder", "--from", rfc3339(start), "--integration", app.key)
    assert out["matched"] == 2 and out["published"] == 2, out
    replayed = wait_replayed(app, receiver, out["replay_id"], sent, first)
    time.sleep(3)
    assert len(syncs.runs()) == 2, "a replay for the forwarder started sync runs"
    assert len(replayed(receiver.snapshot())) == 2


def test_replay_for_the_syncer_starts_runs_only_where_none_existed(syncs, receiver, cli):
    app = syncs.app
    name = syncs.create("*")
    inst, _ = syncs.connect()
    start = time.time() - 1
    _, body_a = syncs.send(inst, event="issues", n=1)
    app.wait_payload(body_a)
    syncs.wait_runs(1)
    cli.json("sync", "disable", "--env", syncs.env, "--integration", app.key, "--name", name)
    _, body_b = syncs.send(inst, event="issues", n=2)
    app.wait_payload(body_b)
    time.sleep(2)
    assert len(syncs.runs()) == 1, "a disabled sync started a run"
    cli.json("sync", "enable", "--env", syncs.env, "--integration", app.key, "--name", name)
    delivered = len(app.mine(receiver.snapshot()))

    out = replay(cli, "--stage", "syncer", "--from", rfc3339(start), "--integration", app.key)
    assert out["matched"] == 2 and out["published"] == 2, out
    runs = syncs.wait_runs(2)
    time.sleep(3)
    runs = syncs.runs()
    assert len(runs) == 2, f"the replay made {len(runs)} runs, not one more: {runs}"
    assert len(app.mine(receiver.snapshot())) == delivered, "a replay for the syncer delivered to the app"


def test_replay_filters_select_exactly_and_dry_run_publishes_nothing(github, receiver, cli):
    inst1, inst2 = random.randint(10**6, 10**9), random.randint(10**6, 10**9)
    c1 = github.connect({"installation_id": str(inst1)})
    c2 = github.connect({"installation_id": str(inst2)})
    start = time.time() - 1
    sent = {}
    for name, inst, event in (("c1-issues", inst1, "issues"), ("c1-push", inst1, "push"),
                              ("c2-issues", inst2, "issues")):
        body = github_body(inst, tag=name)
        sent[name] = (github.send(body, github.sign(body, event=event)).headers["X-Hookline-Webhook-Id"], body)
    for _, body in sent.values():
        github.wait_payload(body)
    frm = ["--from", rfc3339(start), "--integration", github.key]

    def matched(stage, *args):
        out = replay(cli, "--stage", stage, *frm, *args, "--dry-run")
        assert out["published"] == 0 and out["dry_run"] is True
        return out["matched"]
    assert matched("forwarder") == 3
    assert matched("router") == 3
    assert matched("forwarder", "--connection", c1) == 2
    assert matched("forwarder", "--connection", c1, "--event-type", "issues.added") == 1
    assert matched("forwarder", "--event-type", "push.added") == 1
    assert matched("syncer", "--provider", "github-app") == 3
    assert matched("syncer", "--provider", "hubspot") == 0
    assert matched("forwarder", "--env", github.env["id"], "--webhook-id", sent["c1-push"][0],
                   "--webhook-id", sent["c2-issues"][0]) == 2
    time.sleep(1)
    assert not replayed_on("forwarder", github.key) and not replayed_on("router", github.key), \
        "a dry run published"

    out = replay(cli, "--stage", "forwarder", *frm, "--connection", c2)
    assert out["published"] == 1
    copies = replayed_on("forwarder", github.key)
    assert [headers_of(m)["hl.webhook-id"] for m in copies] == [sent["c2-issues"][0]]
    h = headers_of(copies[0])
    assert h["hl.replay-id"] == out["replay_id"] and h["hl.replay-of"].startswith(topic("routed") + "/")


def test_replay_for_the_router_routes_again_past_duplicate_suppression(github, receiver, cli, stack):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    start = time.time() - 1
    body = github_body(inst)
    github.send(body)
    github.wait_payload(body)
    out = replay(cli, "--stage", "router", "--from", rfc3339(start), "--integration", github.key)
    assert out["published"] == 1
    got = receiver.wait_for(lambda rs: [d for d in github.mine(rs, body) if d.header("X-Hookline-Replay-Id")],
                            TIMEOUT, "the delivery of the webhook routed again")
    assert got[0].header("X-Hookline-Replay-Id") == out["replay_id"]
    assert dropped_metric(stack, github.key) == 0, "the replay was taken for a provider's re-send"


def test_replay_stops_cleanly_on_ctrl_c_and_says_where(github, cli):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    start = time.time() - 1
    bodies = [github_body(inst, n=i) for i in range(4)]
    for body in bodies:
        github.send(body)
    for body in bodies:
        github.wait_payload(body)
    p = subprocess.Popen([str(cli.path), "replay", "--stage", "forwarder", "--from", rfc3339(start),
                          "--integration", github.key, "--rate", "1/s"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    out = out.decode()
    assert p.returncode == 1, (out, err)
    assert "interrupted: stopped reading " + topic("routed") in out and "offset" in out, out
    published = int(re.search(r"published (\d+) to", out).group(1))
    assert 1 <= published < 4, out
    assert len(replayed_on("forwarder", github.key)) == published


# ---- rewind ------------------------------------------------------------------------------

def rewind(cli, *args):
    r = subprocess.run([str(cli.path), "rewind", *args], capture_output=True, timeout=90)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_rewind_refuses_a_live_group_and_moves_a_stopped_one(daemons, cli):
    rc, _, err = rewind(cli, "--stage", "syncer", "--to", "latest")
    assert rc != 0 and "live member" in err, err
    daemons.stop("syncer")

    def stopped_empty():
        rc, out, err = rewind(cli, "--stage", "syncer", "--to", "earliest", "--dry-run", "--json")
        return out if rc == 0 and "live member" not in err else None
    wait_until(stopped_empty, 60, "the syncer's group empty")
    rc, out, err = rewind(cli, "--stage", "syncer", "--to", "-1d", "--force", "--json")
    assert rc == 0, err
    moved = json.loads(out)
    assert moved["dry_run"] is False and moved["partitions"]
    rc, out, err = rewind(cli, "--stage", "syncer", "--to", "latest", "--dry-run", "--json")
    assert rc == 0, err
    now = json.loads(out)
    assert [p["before"] for p in now["partitions"]] == [p["after"] for p in moved["partitions"]], \
        "the offsets are not where rewind put them"
    rc, out, err = rewind(cli, "--stage", "syncer", "--to", "latest", "--force", "--json")
    assert rc == 0, err


# ---- dead letters ------------------------------------------------------------------------

def test_dlq_redrive_to_a_new_url_reaches_it_and_list_shows_the_redrive(cli, stack, receiver):
    from hlsupport import App, Receiver
    from test_dead_letters import wait_dead_letter
    app = App(cli, stack, receiver, "github-app")
    receiver.status = 503
    inst = random.randint(10**6, 10**9)
    conn = app.connect({"installation_id": str(inst)})
    body = github_body(inst)
    webhook_id = app.send(body).headers["X-Hookline-Webhook-Id"]
    dl = wait_dead_letter(cli, webhook_id)
    r = subprocess.run([str(cli.path), "dlq", "redrive", "--webhook-id", webhook_id, "--to", "ftp://example.com/x"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and b"http:// or https://" in r.stderr, r.stderr
    r = subprocess.run([str(cli.path), "dlq", "redrive", "--integration", app.key, "--connection", "conn-elsewhere",
                        "--dry-run"], capture_output=True, timeout=60)
    assert r.returncode == 1 and b"no dead letter matches" in r.stderr, r.stderr
    moved = Receiver().start()
    try:
        new_url = moved.url + "/moved"
        out = cli.json("dlq", "redrive", "--integration", app.key, "--connection", conn, "--to", new_url)
        assert out["redriven"] == 1 and [d["webhook_id"] for d in out["dead_letters"]] == [webhook_id]
        got = moved.wait_for(lambda rs: [d for d in rs if d.path == "/moved"], 60, "the delivery at the new URL")
        assert got[0].header("webhook-id") == dl["delivery_id"]
        assert not app.mine(receiver.snapshot(), body)[int(dl["attempts"]):], "the old URL got the redrive"
    finally:
        moved.stop()

    # Redriven to the old URL, which still fails: the new dead letter says when it was redriven.
    cli.json("dlq", "redrive", "--webhook-id", webhook_id)
    wait_until(lambda: [d for d in cli.json("dlq", "list") if d["webhook_id"] == webhook_id and d["redriven_at_ms"]],
               90, "the dead letter of the redriven delivery, with redriven_at_ms")


def test_dlq_list_and_redrive_take_replays_filters(github, receiver, cli):
    """dlq list and redrive choose dead letters by the same filters as replay, plus the
    time they were dead-lettered (--from/--until)."""
    receiver.status = 400   # refused outright: dead-lettered after one attempt
    inst1, inst2 = random.randint(10**6, 10**9), random.randint(10**6, 10**9)
    c1 = github.connect({"installation_id": str(inst1)})
    c2 = github.connect({"installation_id": str(inst2)})
    from test_dead_letters import wait_dead_letter

    def send(name, inst, event):
        body = github_body(inst, tag=name)
        wid = github.send(body, github.sign(body, event=event)).headers["X-Hookline-Webhook-Id"]
        return wid, wait_dead_letter(cli, wid)
    w = {}
    w["c1-issues"], first = send("c1-issues", inst1, "issues")
    ms = int(first["dead_lettered_at_ms"]) + 1
    mid = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
    w["c1-push"], _ = send("c1-push", inst1, "push")
    w["c2-issues"], _ = send("c2-issues", inst2, "issues")

    def listed(*args):
        return sorted(d["webhook_id"] for d in cli.json("dlq", "list", "--integration", github.key, *args))

    def ids(*names):
        return sorted(w[n] for n in names)
    assert listed() == ids("c1-issues", "c1-push", "c2-issues")
    assert listed("--connection", c1) == ids("c1-issues", "c1-push")
    assert listed("--connection", c1, "--event-type", "issues.added") == ids("c1-issues")
    assert listed("--event-type", "push.added") == ids("c1-push")
    assert listed("--provider", "github-app", "--env", github.env["id"]) == ids("c1-issues", "c1-push", "c2-issues")
    assert listed("--provider", "hubspot") == []
    assert listed("--env", "00000000-0000-4000-8000-000000000000") == []
    assert listed("--webhook-id", w["c1-push"], "--webhook-id", w["c2-issues"]) == ids("c1-push", "c2-issues")
    assert listed("--from", mid) == ids("c1-push", "c2-issues")
    assert listed("--until", mid) == ids("c1-issues")
    assert listed("--destination", github.env["webhook_url"], "--from", "-1h") == ids("c1-issues", "c1-push",
                                                                                       "c2-issues")
    assert listed("--destination", "http://127.0.0.1:9/elsewhere") == []

    out = cli.json("dlq", "redrive", "--integration", github.key, "--event-type", "issues.added", "--dry-run")
    assert sorted(d["webhook_id"] for d in out["dead_letters"]) == ids("c1-issues", "c2-issues")
    assert out["redriven"] == 0
    r = subprocess.run([str(cli.path), "dlq", "redrive", "--integration", github.key, "--provider", "hubspot"],
                       capture_output=True, timeout=60)
    assert r.returncode == 1 and b"no dead letter matches" in r.stderr, r.stderr
    out = cli.json("dlq", "redrive", "--webhook-id", w["c1-issues"], "--webhook-id", w["c2-issues"],
                   "--from", mid, "--rate", "20/s")
    assert out["redriven"] == 1 and [d["webhook_id"] for d in out["dead_letters"]] == [w["c2-issues"]], out


# ---- retention ---------------------------------------------------------------------------

def test_topics_create_alter_retention_changes_existing_topics_and_keeps_their_other_settings(cli):
    p = f"t{random.randint(10**6, 10**9)}"
    names = {f"HOOKLINE_TOPIC_{role.upper().replace('.', '_').replace('-', '_')}": f"{p}.{role}"
             for role in ("raw", "routed", "rejected", "dead-letters", "notifications", "replay.router",
                          "replay.forwarder", "replay.syncer")}
    env = dict(os.environ, **names)

    def topics(*args):
        r = subprocess.run([str(cli.path), "topics", *args, "--retry-passes", "0"], env=env, capture_output=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout.decode(), r.stderr.decode()

    def described():
        return {row["role"]: row for row in json.loads(topics("describe", "--json")[0])}
    topics("create", "--topic", "raw:retention=1d", "--topic", "replay.forwarder:retention=2d")
    # An operator's own setting, made with a plain AlterConfigs: it drops the others.
    topic_tool("limit", names["HOOKLINE_TOPIC_ROUTED"], "2000000")
    before = wait_until(lambda: (lambda d: d if d["routed"]["max_message_bytes"] == "2000000" else None)(described()),
                        30, "routed's max.message.bytes in topics describe")
    assert before["raw"]["retention"] == "1d" and before["raw"]["max_message_bytes"] == "16777216", before["raw"]
    assert before["replay.forwarder"]["retention"] == "2d"

    _, err = topics("create", "--topic", "routed:retention=3d")
    assert "retention" in err and "not changed (see --alter-retention)" in err, err
    out, _ = topics("create", "--topic", "routed:retention=3d", "--alter-retention", "--dry-run")
    assert f"would change the retention of {p}.routed from" in out and "to 3d" in out, out
    assert described() == before, "a dry run changed a topic"

    out, _ = topics("create", "--topic", "routed:retention=3d", "--alter-retention")
    assert f"changed the retention of {p}.raw from 1d to 7d" in out, out
    after = wait_until(lambda: (lambda d: d if d["routed"]["retention"] == "3d" else None)(described()), 30,
                       "routed's new retention in topics describe")
    assert after["routed"]["max_message_bytes"] == "2000000", f"routed lost its max.message.bytes: {after['routed']}"
    assert after["raw"]["retention"] == "7d" and after["raw"]["max_message_bytes"] == "16777216", after["raw"]
    assert after["replay.forwarder"]["retention"] == "7d" and after["rejected"]["retention"] == "30d"
    assert after["replay.router"]["max_message_bytes"] == "16777216", after["replay.router"]


def test_rewind_force_waits_for_a_killed_stages_members_to_expire(daemons, cli):
    rc, _, err = rewind(cli, "--stage", "syncer", "--to", "latest", "--force", "--wait", "2")
    assert rc == 1 and "still has" in err and "live member" in err and "after 2 s" in err, err   # the syncer runs
    daemons.kill("syncer")   # SIGKILL: its member stays until its session timeout
    rc, out, err = rewind(cli, "--stage", "syncer", "--to", "latest", "--force", "--json")
    assert rc == 0 and "waiting up to 30 s" in err, err
    assert json.loads(out)["dry_run"] is False
    rc, out, err = rewind(cli, "--stage", "syncer", "--to", "latest", "--dry-run", "--json")
    assert rc == 0 and "live member" not in err, err
