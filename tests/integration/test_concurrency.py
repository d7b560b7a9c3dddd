"""The forwarder delivers many webhooks at once: a stalled app holds only its own
destination's slots (the test stack allows 4 requests per destination) while other apps'
webhooks flow; a request that stalls past the timeout or whose connection is reset is
tried again with the same webhook-id; a 410 stops deliveries to that URL until the flag
is cleared; and every destination has its own metrics."""
import random
import re
import subprocess
import time

from hlsupport import App, Receiver, get, github_body, wait_until

PER_DESTINATION = 4   # HOOKLINE_FORWARDER_MAX_PER_DESTINATION in tests/run-integration.sh
POOL = 40             # HOOKLINE_FORWARDER_MAX_IN_FLIGHT there


def destination_metric(stack, receiver, outcome):
    text = get(stack.admin_url("forwarder", "/metrics")).text
    m = re.search(r'hookline_forwarder_destination_deliveries_total\{destination="%s",outcome="%s"\} (\d+)'
                  % (re.escape(receiver.url), outcome), text)
    return int(m.group(1)) if m else 0


def test_a_stalled_app_does_not_hold_up_the_others(cli, stack):
    slow, fast = Receiver().start(), Receiver().start()
    try:
        slow.behaviour, slow.stall_seconds = "stall", 25   # past the forwarder's 10 s timeout
        a, b = App(cli, stack, slow, "github-app"), App(cli, stack, fast, "github-app")
        inst_a, inst_b = random.randint(10**6, 10**9), random.randint(10**6, 10**9)
        a.connect({"installation_id": str(inst_a)})
        b.connect({"installation_id": str(inst_b)})
        bodies_a = [github_body(inst_a, n=n) for n in range(PER_DESTINATION + 2)]
        for body in bodies_a:
            a.send(body)
        slow.wait_for(lambda rs: len(rs) >= PER_DESTINATION, 30, "the stalled app holding its slots",
                      attempts=True)

        bodies_b = [github_body(inst_b, n=n) for n in range(20)]
        for body in bodies_b:
            b.send(body)
        for body in bodies_b:
            b.wait_payload(body, timeout=30)
        # Everything for the other app arrived while the stalled requests were still
        # waiting for their timeout: none of them has been tried a second time yet.
        firsts = slow.snapshot()
        assert len(firsts) == PER_DESTINATION, (
            f"the stalled app got {len(firsts)} requests before the others were delivered: "
            f"expected exactly its {PER_DESTINATION} slots")

        slow.behaviour = None   # the app recovers: the timed-out deliveries are tried again
        switched = time.time()
        for body in bodies_a:
            slow.wait_for(lambda rs, body=body: [d for d in a.mine(rs, body) if d.ts > switched], 60,
                          "the stalled deliveries, tried again after the timeout")
        for body in bodies_a:
            ids = {d.header("webhook-id") for d in a.mine(slow.snapshot(), body)}
            assert len(ids) == 1, f"webhook-id changed between attempts: {ids}"
    finally:
        slow.stop()
        fast.stop()


def test_a_slow_app_with_a_backlog_does_not_take_every_slot(cli, stack):
    """An app that answers in 0.5 s gets 3x the forwarder's pool in webhooks: without
    deferral its backlog would fill the pool and the other app's webhooks would wait
    until most of it was delivered. Instead, past its share the slow app's deliveries are
    deferred to the retry path (not using up a pass), the other app's flow at once, and
    the slow app still gets every webhook, none dead-lettered."""
    slow, fast = Receiver().start(), Receiver().start()
    try:
        slow.delay = 0.5
        a, b = App(cli, stack, slow, "github-app"), App(cli, stack, fast, "github-app")
        inst_a, inst_b = random.randint(10**6, 10**9), random.randint(10**6, 10**9)
        a.connect({"installation_id": str(inst_a)})
        b.connect({"installation_id": str(inst_b)})
        bodies_a = [github_body(inst_a, n=n) for n in range(3 * POOL)]
        for body in bodies_a:
            a.send(body)
        bodies_b = [github_body(inst_b, n=n) for n in range(10)]
        for body in bodies_b:
            b.send(body)
        for body in bodies_b:
            b.wait_payload(body, timeout=60)
        reached = len(slow.snapshot())
        assert reached < len(bodies_a) // 2, (
            f"the other app waited until the slow one had {reached} of its {len(bodies_a)} webhooks")
        assert destination_metric(stack, slow, "deferred") > 0
        for body in bodies_a:
            a.wait_payload(body, timeout=240)
        assert destination_metric(stack, slow, "dead_lettered") == 0
    finally:
        slow.stop()
        fast.stop()


def test_requests_to_one_destination_run_in_parallel_up_to_the_limit(github, receiver, stack):
    receiver.delay = 0.3   # a slow app: the forwarder should keep its slots busy
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    bodies = [github_body(inst, n=n) for n in range(24)]
    for body in bodies:
        github.send(body)
    for body in bodies:
        github.wait_payload(body, timeout=60)
    assert 2 <= receiver.max_in_flight <= PER_DESTINATION, (
        f"{receiver.max_in_flight} requests at once to one destination (limit {PER_DESTINATION})")
    # The app records a request before it answers: the count follows the answers.
    wait_until(lambda: destination_metric(stack, receiver, "delivered") >= len(bodies), 30,
               f"{len(bodies)} deliveries counted for the destination")
    text = get(stack.admin_url("forwarder", "/metrics")).text
    count = re.search(r'hookline_forwarder_destination_attempt_seconds_count\{destination="%s"\} (\d+)'
                      % re.escape(receiver.url), text)
    assert count and int(count.group(1)) >= len(bodies), "no latency histogram for the destination"


def test_a_reset_connection_is_tried_again(github, receiver):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    receiver.behaviour = "reset"
    body = github_body(inst)
    github.send(body)
    receiver.wait_for(lambda rs: github.mine(rs, body)[1:], 30, "both attempts of the first pass, reset",
                      attempts=True)
    receiver.behaviour = None
    switched = time.time()
    receiver.wait_for(lambda rs: [d for d in github.mine(rs, body) if d.ts > switched], 30,
                      "the delivery on the retry pass")
    assert len({d.header("webhook-id") for d in github.mine(receiver.snapshot(), body)}) == 1


def test_410_stops_deliveries_to_that_url_until_cleared(cli, stack, github, receiver):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    receiver.status = 410
    first = github_body(inst, n=1)
    github.send(first)
    receiver.wait_for(lambda rs: github.mine(rs, first), 30, "the request answered 410", attempts=True)
    url = receiver.url + github.path
    wait_until(lambda: any(g["url"] == url for g in cli.json("destinations", "list")), 30,
               f"{url} flagged gone")

    gone_before = destination_metric(stack, receiver, "gone")
    second = github_body(inst, n=2)
    github.send(second)
    wait_until(lambda: destination_metric(stack, receiver, "gone") > gone_before, 30,
               "the second webhook dead-lettered without a request")
    assert len(receiver.snapshot()) == 1, "a destination flagged gone got another request"
    dead = cli.json("dlq", "list")
    mine = [d for d in dead if d.get("destination") == url]
    assert len(mine) >= 2 and any("410" in (d.get("error") or "") for d in mine), mine

    assert "cleared" in cli.run("destinations", "clear", "--url", url)
    assert url not in [g["url"] for g in cli.json("destinations", "list")]
    receiver.status = 200
    third = github_body(inst, n=3)
    github.send(third)
    github.wait_payload(third)
    again = subprocess.run([str(cli.path), "destinations", "clear", "--url", url], capture_output=True, timeout=60)
    assert again.returncode == 1 and b"not flagged" in again.stderr, again
