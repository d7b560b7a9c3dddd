"""Read-your-writes at the ingress: a webhook sent the instant its integration's creation
returns is accepted, although the ingress learns of the creation only from a
notification (LISTEN) that trails the commit. To make that notification late for sure,
the ingress's listening backend is stopped (SIGSTOP; the tests run as root, next to the
stack's PostgreSQL) while the integration is created and its first webhook sent: the
ingress must not answer 404 before its fence (a round trip on that very connection) has
brought every notification committed before the request, and must answer 503, not 404,
when the fence cannot complete."""
import contextlib
import os
import re
import signal
import threading
import time
import uuid

from hlsupport import get, github_body, github_headers, post, sql, uid, wait_ingress_knows, wait_until

FENCE_TIMEOUT_S = 2.0  # ingress/lookup.c FENCE_TIMEOUT_MS


def listen_backend():
    """The pid of the stack ingress's LISTEN backend: its connection's last statement is
    its LISTEN or a fence (common/store.c names it listen_round_trip). A backend stopped by
    an earlier test whose fence gave up lingers until it has noticed its closed socket."""
    query = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'hookline-ingress'"
             " AND (query LIKE 'LISTEN %' OR query LIKE '%listen_round_trip%')")
    rows = []

    def one():
        rows[:] = sql(query)
        return len(rows) == 1
    wait_until(one, 10, "exactly one LISTEN backend of the ingress in pg_stat_activity", lambda: rows)
    return int(rows[0][0])


@contextlib.contextmanager
def stopped(pid):
    """The backend does not run (so it forwards no notification) until the block ends."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def metric(stack, name):
    m = re.search(rf"^{name} (\d+)$", get(stack.admin_url("ingress", "/metrics")).text, re.M)
    assert m, f"no {name} in the ingress's /metrics"
    return int(m.group(1))


class Sender(threading.Thread):
    """One POST, in the background; .response (or .error) and .seconds once joined."""

    def __init__(self, url, body, headers):
        super().__init__(daemon=True)
        self.url, self.body, self.headers = url, body, headers
        self.response = self.error = self.seconds = None

    def run(self):
        started = time.monotonic()
        try:
            self.response = post(self.url, self.body, self.headers, timeout=20)
        except Exception as e:  # reported by the test
            self.error = e
        self.seconds = time.monotonic() - started

    def result(self):
        self.join(25)
        assert self.response is not None, f"POST {self.url}: no answer ({self.error!r})"
        return self.response


def create_and_send(cli, app, stack, hold_s):
    """Creates an integration in app's environment and sends it a signed webhook at once,
    with the ingress's LISTEN backend stopped from before the creation until hold_s after
    the send. Returns the answer, the body sent, the URL and the integration's secret."""
    key, secret = f"ryw-{uid()}", f"s3cret-{uid()}"
    url = f"{stack.public_url}/webhook/{app.env['id']}/{key}"
    body = github_body(4242, ryw=key)
    with stopped(listen_backend()):
        cli.integration(app.env["id"], key, "github-app", secret=secret)
        sender = Sender(url, body, github_headers(secret, body))
        sender.start()
        time.sleep(hold_s)
    return sender.result(), body, url, secret


def test_a_webhook_sent_the_instant_its_integration_is_created_is_accepted(cli, github, stack):
    fences = metric(stack, "hookline_ingress_lookup_fences_total")
    r, body, _, _ = create_and_send(cli, github, stack, 1.0)
    assert r.status_code == 200, f"answered {r.status_code} {r.text[:200]!r}, expected 200 (read your writes)"
    github.wait_payload(body)
    assert metric(stack, "hookline_ingress_lookup_fences_total") > fences


def test_a_made_up_pair_is_still_404_at_once(stack):
    fences = metric(stack, "hookline_ingress_lookup_fences_total")
    queries = metric(stack, "hookline_ingress_lookup_queries_total")
    body = github_body(1)
    started = time.monotonic()
    r = post(f"{stack.public_url}/webhook/{uuid.uuid4()}/made-up-{uid()}", body, github_headers("x", body))
    took = time.monotonic() - started
    assert r.status_code == 404 and r.json() == {"error": "unknown environment or integration"}, r.text[:200]
    # It waited for the next fence (one per 20 ms), not for anything that can take long.
    assert took < FENCE_TIMEOUT_S, f"a made-up pair took {took:.2f} s to be answered 404"
    assert metric(stack, "hookline_ingress_lookup_fences_total") > fences
    # A fence is not a lookup: the made-up pair asked PostgreSQL nothing.
    assert metric(stack, "hookline_ingress_lookup_queries_total") == queries


def test_a_fence_that_cannot_complete_answers_503_not_404(cli, github, stack):
    r, body, url, secret = create_and_send(cli, github, stack, FENCE_TIMEOUT_S + 1.0)
    assert r.status_code == 503 and r.json() == {"error": "configuration store unavailable"}, \
        f"answered {r.status_code} {r.text[:200]!r} while the LISTEN backend did not run"
    assert r.headers.get("Retry-After"), "a 503 without Retry-After"
    # The ingress listens again on a new connection: the provider's retry is accepted.
    wait_ingress_knows(url)
    r = post(url, body, github_headers(secret, body))
    assert r.status_code == 200, f"the retry answered {r.status_code} {r.text[:200]!r}"
    github.wait_payload(body)
