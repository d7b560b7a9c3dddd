"""Retries are durable and do not block: a delivery that fails waits on a retry topic
(the test stack's schedule is 1 s, 1 s) and is tried again, with the same webhook-id;
meanwhile other webhooks keep flowing; an app's Retry-After is honoured."""
import random
import re

from hlsupport import App, Receiver, get, github_body, wait_until


def metric(stack, outcome):
    text = get(stack.admin_url("forwarder", "/metrics")).text
    m = re.search(r'hookline_forwarder_deliveries_total\{outcome="%s"\} (\d+)' % outcome, text)
    return int(m.group(1)) if m else 0


def test_failed_delivery_is_retried_from_kafka_without_blocking_others(cli, stack, github, receiver):
    other = Receiver().start()
    try:
        inst = random.randint(10**6, 10**9)
        conn = github.connect({"installation_id": str(inst)})
        # Another app on the same key, set up first: the retry is due a second after the
        # hand-off (the test schedule), sooner than the CLI makes an app.
        app_b = App(cli, stack, other, "github-app")
        app_b.connect({"installation_id": str(inst)})
        receiver.status = 503
        retried_before = metric(stack, "retry_later")
        body = github_body(inst)
        github.send(body)
        # The first pass fails (HOOKLINE_FORWARDER_ATTEMPTS=2 attempts) and is handed to a retry topic.
        wait_until(lambda: metric(stack, "retry_later") > retried_before, 30, "a hand-off to the retry topic")
        first_pass = len(github.mine(receiver.snapshot(), body))

        # While it waits, the other app's webhook on the same key is delivered at once.
        body_b = github_body(inst, other=True)
        app_b.send(body_b)
        d_b = app_b.wait_payload(body_b)[0]

        receiver.status = 200
        deliveries = github.receiver.wait_for(
            lambda rs: github.mine(rs, body), 30, "the retried delivery")   # answered 2xx
        attempts = github.mine(receiver.snapshot(), body)
        assert first_pass >= 1 and len(attempts) > first_pass
        assert len({a.header("webhook-id") for a in attempts}) == 1, "webhook-id changed across retries"
        assert d_b.ts < deliveries[0].ts, "a waiting retry held up the webhooks behind it"
        assert github.expected(conn, body) == attempts[-1].body
    finally:
        other.stop()


def test_retry_after_is_honoured(github, receiver):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    receiver.status = 429
    receiver.extra_headers = {"Retry-After": "4"}
    body = github_body(inst)
    github.send(body)
    first = receiver.wait_for(lambda rs: github.mine(rs, body)[1:2], 30, "the first pass's two attempts",
                             attempts=True)[0]
    receiver.status, receiver.extra_headers = 200, {}
    later = receiver.wait_for(lambda rs: github.mine(rs, body)[2:3], 40, "the retry after Retry-After",
                             attempts=True)[0]
    gap = later.ts - first.ts
    assert gap >= 3.5, f"the retry came {gap:.1f} s after a 429 with Retry-After: 4 (schedule: 1 s)"


def test_open_circuit_spares_a_failing_app_then_a_probe_closes_it(cli, stack, github, receiver):
    """5 failed passes in a row open the destination's circuit (the test stack's cooldown
    is 3 s): the webhooks behind them are parked without a request to the app, and once
    the app is well again a probe after the cooldown closes the circuit."""
    receiver.status = 503
    parked_before = int(re.search(r"hookline_forwarder_circuit_open_total (\d+)",
                                  get(stack.admin_url("forwarder", "/metrics")).text).group(1))
    insts = [random.randint(10**6, 10**9) for _ in range(8)]
    bodies = [github_body(i, n=n) for n, i in enumerate(insts)]
    for b in bodies:
        github.send(b)

    def parked():
        text = get(stack.admin_url("forwarder", "/metrics")).text
        return int(re.search(r"hookline_forwarder_circuit_open_total (\d+)", text).group(1)) > parked_before
    wait_until(parked, 60, "a delivery parked by the open circuit")
    # Without a breaker, 8 webhooks x 3 passes x 2 attempts would reach the app.
    requests_now = len(receiver.snapshot())
    assert requests_now < 8 * 3 * 2, f"the app got {requests_now} requests with its circuit open"

    receiver.status = 200
    well = github_body(insts[0], after="recovery")
    github.send(well)
    github.wait_payload(well, timeout=60)   # the probe succeeded: the circuit is closed
