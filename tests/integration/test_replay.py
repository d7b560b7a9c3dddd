"""The providers' duplicate deliveries (issue 11), against the real stack.

Duplicate suppression: a provider that re-sends an event (the same X-GitHub-Delivery in
a new HTTP request) reaches the app once; a new delivery with the same body is a new
event and reaches it again; two routers racing on copies of the same events publish
each event once."""
import os
import random
import re
import signal
import subprocess
import threading
import time

from hlsupport import REPO, TIMEOUT, get, github_body, headers_of, topic, topic_tool, uid, wait_until


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
