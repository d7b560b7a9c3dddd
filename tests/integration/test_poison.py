"""No message stops a stage: what a stranger can send, and messages that can never be
processed, are quarantined (webhooks.rejected, with the reason and origin) or routed
without the bad value, and every stage keeps flowing for everyone else. The requests at
the top of the hardening issue are replayed here as an attacker would send them."""
import base64
import json
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import http.client
from urllib.parse import urlsplit

from hlsupport import TIMEOUT, App, envelope, github_body, post, uid, wait_until
from test_outage import postgres_pids
from hlsupport import headers_of, topic_tool
from test_syncer import Syncs, runner  # noqa: F401  (runner is a fixture)

RAW = os.environ.get("HOOKLINE_TOPIC_RAW", "webhooks.raw")
ROUTED = os.environ.get("HOOKLINE_TOPIC_ROUTED", "webhooks.routed")
REJECTED = os.environ.get("HOOKLINE_TOPIC_REJECTED", "webhooks.rejected")


def post_bytes_header(url, body, headers):
    """POST with header values given as raw bytes (requests would refuse or re-encode them)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest("POST", u.path + (f"?{u.query}" if u.query else ""))
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def rejected(cli, *args):
    return cli.json("rejected", "list", *args)


def wait_rejected(cli, predicate, what):
    return wait_until(lambda: [r for r in rejected(cli) if predicate(r)], TIMEOUT, what,
                      lambda: rejected(cli)[-5:], interval=0.5)


def raw_line(headers, body=b"{}", key="k"):
    """One topic-tool line; a header value given as bytes is sent byte for byte."""
    hs = [[k, base64.b64encode(v).decode(), "b64"] if isinstance(v, bytes) else [k, v] for k, v in headers]
    return (json.dumps({"key": key, "value_b64": base64.b64encode(body).decode(), "headers": hs}) + "\n").encode()


def test_a_connection_id_that_is_not_utf8_is_routed_unattributed_and_routing_goes_on(cli, stack, receiver):
    """?nangoConnectionId=%ff on a repository-level github integration: GitHub's signature
    does not cover the query, so anyone holding one delivery can send this. It used to stop
    the router for every tenant (PostgreSQL refuses the byte, the router retried forever)."""
    app = App(cli, stack, receiver, "github")
    conn = app.connect({})
    # A connection named by the URL gets webhooks only when its own secret verifies them
    # (docs/providers.md, "Per-connection secrets"): here the integration's.
    cli.run("connection", "update", "--env", app.env["id"], "--integration", app.key, "--id", conn,
            "--secret", app.secret)
    poison = b'{"action":"opened","poison":true}'
    r = post(app.url + "?nangoConnectionId=%ff", poison, app.sign(poison, event="issues"))
    assert r.status_code == 200, r.text
    good = b'{"action":"opened","after_poison":true}'
    r = post(app.url + f"?nangoConnectionId={conn}", good, app.sign(good, event="issues"))
    assert r.status_code == 200, r.text
    delivered = app.wait_payload(good)[0]
    assert json.loads(delivered.body)["connectionId"] == conn
    unattributed = app.wait_payload(poison)[0]
    assert json.loads(unattributed.body)["connectionId"] is None


def test_an_event_type_that_is_not_utf8_starts_runs_without_it_and_the_syncer_goes_on(cli, github, runner):  # noqa: F811
    """X-GitHub-Event holding a byte that is not UTF-8 (the signature covers the body only):
    the router leaves the event type out instead of passing it on to fail in the syncer."""
    syncs = Syncs(cli, github, runner)
    syncs.create("*")
    inst, conn = syncs.connect()
    body = github_body(inst, n=1)
    headers = github.sign(body)
    headers["X-GitHub-Event"] = b"iss\xffues"
    status, text = post_bytes_header(github.url, body, headers)
    assert status == 200, text
    run = syncs.wait_runs(1, "--connection", conn, status="succeeded")[0]
    assert run["event_type"] in ("", None), run
    github.wait_payload(body)
    # The syncer and the router still work for the next webhook.
    syncs.send(inst, n=2)
    syncs.wait_runs(2, "--connection", conn, status="succeeded")


def test_unreadable_raw_messages_are_quarantined_and_can_be_replayed(cli, github):
    """Messages on webhooks.raw whose hookline headers no ingress wrote (a non-UUID
    environment, an environment that is not UTF-8, none at all): the router quarantines each
    with its reason and origin, and routes the next webhook at once."""
    wids = [str(uuid.uuid4()) for _ in range(3)]
    bad = [
        [("hl.webhook-id", wids[0]), ("hl.environment", "not-a-uuid"), ("hl.integration", "github"),
         ("hl.provider", "github-app")],
        [("hl.webhook-id", wids[1]), ("hl.environment", b"\xff\xfe"), ("hl.integration", "github"),
         ("hl.provider", "github-app")],
        [("hl.webhook-id", wids[2])],
    ]
    topic_tool("produce", RAW, stdin=b"".join(raw_line(h) for h in bad))
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    github.send(body)
    github.wait_payload(body)

    def all_three():
        rs = [r for r in rejected(cli) if r["webhook_id"] in wids]
        return rs if len(rs) >= 3 else None
    rows = wait_until(all_three, TIMEOUT, "3 quarantined raw messages", lambda: rejected(cli)[-5:], interval=0.5)
    by_wid = {r["webhook_id"]: r for r in rows}
    assert "UUID" in by_wid[wids[0]]["reason"]
    assert "hookline headers" in by_wid[wids[2]]["reason"]
    for r in rows:
        assert r["stage"] == "router" and r["origin_topic"] == RAW
        assert int(r["origin_offset"]) >= 0 and r["origin_partition"] is not None
    assert any(r["webhook_id"] == wids[0] for r in rejected(cli, "--stage", "router"))

    # Replay one: it goes back to webhooks.raw without the quarantine headers, and the
    # router (the cause not being fixed) quarantines it again.
    target = by_wid[wids[0]]
    out = cli.json("rejected", "replay", "--at", f"{target['partition']}:{target['offset']}")
    assert out["replayed"] == 1 and not out["dry_run"]
    copies = [m for m in topic_tool("dump", RAW) if headers_of(m).get("hl.webhook-id") == wids[0]]
    assert len(copies) == 2 and not any(k.startswith("hl.reject-") for k in headers_of(copies[1]))
    wait_until(lambda: len([r for r in rejected(cli) if r["webhook_id"] == wids[0]]) == 2, TIMEOUT,
               "the replayed message quarantined again")
    dry = cli.json("rejected", "replay", "--webhook-id", wids[1], "--dry-run")
    assert dry["replayed"] == 0 and len(dry["messages"]) == 1


def test_a_value_the_database_refuses_is_quarantined_by_the_syncer(cli, github, runner):  # noqa: F811
    """A routed message whose provider header is not UTF-8 passes the syncer's checks but
    PostgreSQL refuses it (22021). The intake used to retry that batch forever; now the batch
    is redone with a savepoint per message, the refused one is quarantined alone, and the
    webhooks around it still start their runs."""
    syncs = Syncs(cli, github, runner)
    syncs.create("*")
    inst, conn = syncs.connect()
    wid = str(uuid.uuid4())
    headers = [("hl.webhook-id", wid), ("hl.routed-id", str(uuid.uuid4())), ("hl.environment", syncs.env),
               ("hl.integration", github.key), ("hl.provider", b"git\xffhub"), ("hl.connection-id", conn),
               ("hl.event-type", "issues.opened"), ("hl.received-at", str(int(time.time() * 1000)))]
    topic_tool("produce", ROUTED, stdin=raw_line(headers, body=b'{"poison":1}', key=f"{syncs.env}/x/{conn}"))
    syncs.send(inst, n=1)
    runs = syncs.wait_runs(1, "--connection", conn, status="succeeded")
    assert all(r["webhook_id"] != wid for r in runs)
    row = wait_rejected(cli, lambda r: r["webhook_id"] == wid and r["stage"] == "syncer",
                        "the syncer's quarantine of the refused message")[0]
    assert row["origin_topic"] == ROUTED and "refused" in row["reason"]
    syncs.send(inst, n=2)
    syncs.wait_runs(2, "--connection", conn, status="succeeded")


def test_a_database_outage_longer_than_the_poll_interval_keeps_the_router_in_its_group(cli, stack, github,
                                                                                        daemons):
    """While PostgreSQL is frozen the router waits on a webhook it cannot attribute; it keeps
    polling Kafka with its partitions paused, so it is not thrown out of its consumer group
    when the outage outlasts max.poll.interval.ms (20 s here), and routes the webhook after."""
    log = Path(os.environ["HOOKLINE_STACK_DIR"]) / "router.log"
    restart_router(daemons, {"HOOKLINE_KAFKA_MAX_POLL_INTERVAL_MS": "20000",
                             "HOOKLINE_KAFKA_SESSION_TIMEOUT_MS": "6000"})
    try:
        start = log.stat().st_size
        outage_then_routed(github, log, start)
    finally:
        restart_router(daemons, {})


def restart_router(daemons, env):
    daemons.stop("router")
    os.environ.update(env)
    try:
        daemons.start("router")
    finally:
        for k in env:
            del os.environ[k]


def outage_then_routed(github, log, start):
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    warm = github_body(inst, n=0)
    github.send(warm)
    github.wait_payload(warm)
    inst2 = inst + 1   # names no cached connection: the router must ask the database
    pids = postgres_pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        body = github_body(inst2)
        r = post(github.url, body, github.sign(body), timeout=60)
        assert r.status_code == 200, r.text
        wait_until(lambda: "database" in log.read_text(errors="replace")[start:], 30,
                   "the router to wait for the database")
        time.sleep(30)
    finally:
        for pid in reversed(pids):
            os.kill(pid, signal.SIGCONT)
    d = github.wait_payload(body, timeout=90)[0]
    assert json.loads(d.body)["connectionId"] is None
    text = log.read_text(errors="replace")[start:]
    assert "maximum poll interval" not in text.lower(), text[-2000:]
    assert conn  # the warm connection stayed routable


def copy_to(topic_from, topic_to, send, *bodies):
    """Sends each body (send(body) -> the ingress's response), waits until topic_from holds
    each webhook's message, copies those to topic_to in order, and returns the webhook ids."""
    wids = [send(b).headers["X-Hookline-Webhook-Id"] for b in bodies]

    def found():
        ms = {headers_of(m)["hl.webhook-id"]: m for m in topic_tool("dump", topic_from)
              if headers_of(m).get("hl.webhook-id") in wids}
        return ms if len(ms) == len(wids) else None
    ms = wait_until(found, TIMEOUT, f"the webhooks on {topic_from}")
    lines = b"".join((json.dumps({k: ms[w][k] for k in ("key", "value_b64", "headers")}) + "\n").encode()
                     for w in wids)
    topic_tool("produce", topic_to, stdin=lines)
    return wids


def wids_on(topic):
    """The webhook ids of a topic's messages, in order."""
    return [headers_of(m).get("hl.webhook-id") for m in topic_tool("dump", topic)]


def by_wid(topic):
    """A topic's messages by webhook id (the last of each)."""
    return {headers_of(m).get("hl.webhook-id"): m for m in topic_tool("dump", topic)}


def start_daemon(stack, daemon, name, **settings):
    """hookline-<daemon> with the stack's settings plus these; returns (process, a
    function giving the end of its log)."""
    from hlsupport import REPO
    log_path = Path(os.environ.get("HOOKLINE_STACK_DIR", "/tmp")) / f"{daemon}-{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(stack.bin_dir / f"hookline-{daemon}")], env=dict(os.environ, **settings),
                                cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    return proc, lambda: log_path.read_bytes()[-3000:].decode(errors="replace")


def test_a_webhook_too_large_for_the_routed_topic_is_quarantined_and_routing_goes_on(cli, stack, github):
    """A routed topic an operator made smaller than the raw one (max.message.bytes): Kafka
    refuses a large webhook's routed message however often it is sent. The router used to
    re-send it forever, stopped for every tenant; now it quarantines the webhook with the
    reason, and without its body when the rejected topic refuses that too, and routes the
    webhooks behind it."""
    from hlsupport import get
    run = uid()
    raw, routed, rejected_topic = f"raw-{run}", f"routed-small-{run}", f"rejected-{run}"
    for t in (raw, routed, rejected_topic, f"replay-{run}"):
        topic_tool("ensure", t, "1")
    topic_tool("limit", routed, "4000")

    # Webhooks as the ingress stored them, copied from webhooks.raw to this router's own
    # input: small, large (over the routed topic's limit), small.
    def stored(*bodies):
        return copy_to(RAW, raw, github.send, *bodies)

    big = base64.b64encode(os.urandom(9000)).decode()   # over 4000 bytes even compressed
    small1, large, small2 = stored(github_body(1, n=1), github_body(1, pad=big), github_body(1, n=2))

    port = int(stack.admin_ports["router"]) + 43
    router, log_tail = start_daemon(
        stack, "router", f"small-{run}", HOOKLINE_ADMIN_PORT=str(port), HOOKLINE_ROUTER_GROUP=f"small-{run}",
        HOOKLINE_TOPIC_RAW=raw, HOOKLINE_TOPIC_ROUTED=routed, HOOKLINE_TOPIC_REJECTED=rejected_topic,
        HOOKLINE_TOPIC_REPLAY_ROUTER=f"replay-{run}", HOOKLINE_ROUTER_DEDUP_WINDOW_S="0")
    try:
        def routed_wids():
            return wids_on(routed)

        def quarantined():
            return by_wid(rejected_topic)
        wait_until(lambda: small2 in routed_wids(), TIMEOUT, "the webhook behind the large one routed", log_tail)
        assert small1 in routed_wids() and large not in routed_wids()
        q = wait_until(lambda: quarantined().get(large), TIMEOUT, "the large webhook quarantined", log_tail)
        h = headers_of(q)
        assert h["hl.reject-stage"] == "router" and h["hl.reject-topic"] == raw, h
        assert "refused" in h["hl.reject-reason"] and routed in h["hl.reject-reason"], h["hl.reject-reason"]
        assert big.encode() in base64.b64decode(q["value_b64"]), "the quarantined copy lost its body"
        assert "hl.reject-body-omitted" not in h

        # The rejected topic refuses it too: quarantined without its body, which says where it is.
        topic_tool("limit", rejected_topic, "4000")
        large2, small3 = stored(github_body(1, pad=big, n=3), github_body(1, n=4))
        wait_until(lambda: small3 in routed_wids(), TIMEOUT, "the webhook behind the second large one routed",
                   log_tail)
        q = wait_until(lambda: quarantined().get(large2), TIMEOUT, "the second large webhook quarantined", log_tail)
        h = headers_of(q)
        assert q["value_b64"] == "" and int(h["hl.reject-body-omitted"]) > len(big), h
        assert f"still in {raw} [0] at offset" in h["hl.reject-reason"], h["hl.reject-reason"]
        # The CLI shows it, and will not replay an empty webhook in its place.
        cli_env = dict(os.environ, HOOKLINE_TOPIC_REJECTED=rejected_topic)
        listed = subprocess.run([str(cli.path), "rejected", "list", "--json"], env=cli_env, capture_output=True,
                                timeout=60)
        rows = {r["webhook_id"]: r for r in json.loads(listed.stdout)}
        assert rows[large2]["body_omitted_bytes"] == h["hl.reject-body-omitted"] and \
            rows[large]["body_omitted_bytes"] is None, rows
        replay = subprocess.run([str(cli.path), "rejected", "replay", "--webhook-id", large2], env=cli_env,
                                capture_output=True, timeout=60)
        assert replay.returncode != 0 and b"without its body" in replay.stderr and raw.encode() in replay.stderr, \
            replay
        assert len([m for m in topic_tool("dump", raw) if headers_of(m).get("hl.webhook-id") == large2]) == 1
        assert get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        metrics = get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'hookline_router_quarantined_total{reason="kafka_refused"} 2' in metrics, \
            [line for line in metrics.splitlines() if "quarantined" in line]
    finally:
        router.terminate()
        router.wait(30)


def test_a_delivery_too_large_for_the_dead_letter_topic_is_quarantined_and_the_forwarder_goes_on(cli, stack):
    """A dead-letter topic an operator made smaller than the routed one: the forwarder's
    hand-off of a large webhook is refused however often it is tried. It used to wait and
    try again forever, holding its partition's offsets; now the webhook is quarantined
    (without its body when the rejected topic refuses that too) and the webhooks behind it
    are dead-lettered as usual."""
    from hlsupport import Receiver, get
    failing = Receiver(status=500).start()
    app = App(cli, stack, failing, "github")
    run = uid()
    routed, dead, rejected_topic = f"fwd-routed-{run}", f"fwd-dead-{run}", f"fwd-rejected-{run}"
    for t in (routed, dead, rejected_topic, f"fwd-replay-{run}"):
        topic_tool("ensure", t, "1")
    topic_tool("limit", dead, "4000")

    # Routed messages as the stack's router wrote them, copied to this forwarder's input.
    def routed_copies(*bodies):
        return copy_to(ROUTED, routed, app.send, *bodies)

    big = base64.b64encode(os.urandom(9000)).decode()   # over 4000 bytes even compressed
    small1, large, small2 = routed_copies(github_body(1, n=1), github_body(1, pad=big), github_body(1, n=2))

    port = int(stack.admin_ports["forwarder"]) + 43
    forwarder, log_tail = start_daemon(
        stack, "forwarder", f"small-{run}", HOOKLINE_ADMIN_PORT=str(port), HOOKLINE_FORWARDER_GROUP=f"fwd-small-{run}",
        HOOKLINE_TOPIC_ROUTED=routed, HOOKLINE_TOPIC_DEAD_LETTERS=dead, HOOKLINE_TOPIC_REJECTED=rejected_topic,
        HOOKLINE_TOPIC_REPLAY_FORWARDER=f"fwd-replay-{run}", HOOKLINE_FORWARDER_RETRY_SCHEDULE="",
        HOOKLINE_FORWARDER_ATTEMPTS="1", HOOKLINE_FORWARDER_ATTEMPT_LOG="false")
    try:
        def dead_wids():
            return wids_on(dead)

        def quarantined():
            return by_wid(rejected_topic)
        wait_until(lambda: small2 in dead_wids(), TIMEOUT, "the webhook behind the large one dead-lettered", log_tail)
        assert small1 in dead_wids() and large not in dead_wids()
        q = wait_until(lambda: quarantined().get(large), TIMEOUT, "the large webhook quarantined", log_tail)
        h = headers_of(q)
        assert h["hl.reject-stage"] == "forwarder" and h["hl.reject-topic"] == routed, h
        assert "refused" in h["hl.reject-reason"] and dead in h["hl.reject-reason"], h["hl.reject-reason"]
        assert big.encode() in base64.b64decode(q["value_b64"]), "the quarantined copy lost its body"

        topic_tool("limit", rejected_topic, "4000")
        large2, small3 = routed_copies(github_body(1, pad=big, n=3), github_body(1, n=4))
        wait_until(lambda: small3 in dead_wids(), TIMEOUT, "the webhook behind the second large one dead-lettered",
                   log_tail)
        q = wait_until(lambda: quarantined().get(large2), TIMEOUT, "the second large webhook quarantined", log_tail)
        h = headers_of(q)
        assert q["value_b64"] == "" and int(h["hl.reject-body-omitted"]) > len(big), h
        assert f"still in {routed} [0] at offset" in h["hl.reject-reason"], h["hl.reject-reason"]
        assert get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        metrics = get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "hookline_forwarder_quarantined_total 2" in metrics, \
            [line for line in metrics.splitlines() if "quarantined" in line]
    finally:
        forwarder.terminate()
        forwarder.wait(30)
        failing.stop()


def test_a_quarantine_copy_too_large_for_the_rejected_topic_does_not_stop_the_syncer(stack):
    """The syncer quarantines a routed message it can never use (here a non-UUID
    environment). When the rejected topic is too small for the copy, the copy used to be
    refused forever and the batch retried forever, stopping the syncer; now it goes
    without its body and the messages behind it are quarantined (or run) as usual."""
    from hlsupport import get
    run = uid()
    routed, rejected_topic = f"sync-routed-{run}", f"sync-rejected-{run}"
    for t in (routed, rejected_topic, f"sync-replay-{run}"):
        topic_tool("ensure", t, "1")
    topic_tool("limit", rejected_topic, "4000")
    big = base64.b64encode(os.urandom(9000))   # over 4000 bytes even compressed
    large, small = f"poison-{uid()}", f"poison-{uid()}"

    def poison(wid, body):
        return raw_line([("hl.webhook-id", wid), ("hl.routed-id", str(uuid.uuid4())), ("hl.environment", "%ff"),
                         ("hl.integration", "github"), ("hl.provider", "github-app"), ("hl.connection-id", "c1"),
                         ("hl.event-type", "issues.opened"), ("hl.received-at", str(int(time.time() * 1000)))],
                        body=body, key="k")
    topic_tool("produce", routed, stdin=poison(large, b'{"pad":"' + big + b'"}') + poison(small, b'{"small":1}'))
    port = int(stack.admin_ports["syncer"]) + 43
    syncer, log_tail = start_daemon(
        stack, "syncer", f"small-{run}", HOOKLINE_ADMIN_PORT=str(port), HOOKLINE_SYNCER_GROUP=f"sync-small-{run}",
        HOOKLINE_TOPIC_ROUTED=routed, HOOKLINE_TOPIC_REJECTED=rejected_topic,
        HOOKLINE_TOPIC_REPLAY_SYNCER=f"sync-replay-{run}")
    try:
        got = wait_until(lambda: (lambda q: q if large in q and small in q else None)(by_wid(rejected_topic)),
                         TIMEOUT, "both poison messages quarantined", log_tail)
        h = headers_of(got[large])
        assert got[large]["value_b64"] == "" and int(h["hl.reject-body-omitted"]) > len(big), h
        assert h["hl.reject-stage"] == "syncer" and "body omitted" in h["hl.reject-reason"], h
        assert base64.b64decode(got[small]["value_b64"]) == b'{"small":1}'
        assert "hl.reject-body-omitted" not in headers_of(got[small])
        assert get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        syncer.terminate()
        syncer.wait(30)


def test_a_webhook_too_large_for_the_raw_topic_is_answered_413_and_its_neighbours_200(stack, github, tmp_path):
    """A raw topic an operator made smaller than HOOKLINE_INGRESS_MAX_BODY_BYTES: a webhook
    over it used to be answered 503 for ever (the provider sends it again, for ever); now
    it is 413. Webhooks sent at the same moment, which Kafka may refuse along with it when
    they share its batch, are sent again alone and answered 200."""
    import threading
    from test_abuse import Ingress
    raw = f"raw-small-{uid()}"
    topic_tool("ensure", raw, "1")
    topic_tool("limit", raw, "4000")
    ingress = Ingress(stack, tmp_path / "ingress.log", slot=3, HOOKLINE_TOPIC_RAW=raw)
    try:
        url = f"{ingress.url}{urlsplit(github.url).path}"
        big = base64.b64encode(os.urandom(9000)).decode()   # over 4000 bytes even compressed
        answers, lock = [], threading.Lock()

        def send(body, kind):
            r = post(url, body, github.sign(body))
            with lock:
                answers.append((kind, r.status_code, r.headers.get("X-Hookline-Webhook-Id"), r.text))

        threads = [threading.Thread(target=send, args=(github_body(1, pad=big, n=i), "large")) for i in range(2)]
        threads += [threading.Thread(target=send, args=(github_body(1, n=i, t=t), "small"))
                    for t in range(4) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        large = [a for a in answers if a[0] == "large"]
        small = [a for a in answers if a[0] == "small"]
        assert len(large) == 2 and all(a[1] == 413 and "raw topic" in a[3] for a in large), large
        assert len(small) == 20 and all(a[1] == 200 for a in small), [a[:2] for a in small if a[1] != 200]
        stored = set(wids_on(raw))
        assert {a[2] for a in small} <= stored
        assert not any(a[2] in stored for a in large if a[2])
        assert "also alone" in ingress.tail(20000)
    finally:
        ingress.stop()
