"""When Kafka cannot take a webhook the ingress answers 503 with Retry-After, never 200 for
data that is not stored; once the broker is back the provider's retry is accepted and
delivered. The broker is frozen with SIGSTOP (its sockets stay open, so nothing fails
fast: the ingress must still give up within its Kafka timeout) and thawed with SIGCONT."""
import os
import random
import signal
import time
from pathlib import Path

from hlsupport import TIMEOUT, DAEMONS, assert_bytes, get, github_body, post, wait_until


def kafka_pid():
    path = Path(os.environ["HOOKLINE_STACK_DIR"]) / "kafka.pid"
    return int(path.read_text().split()[0])


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
    deadline = time.monotonic() + 60
    while True:
        r = post(github.url, body, github.sign(body), timeout=60)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.status_code == 200, f"after the outage the retry answered {r.status_code} {r.text!r}"
    d = github.wait_payload(body, timeout=max(TIMEOUT, 60))[0]
    assert_bytes(d.body, github.expected(conn, body))
