"""No stranger's request may stop the ingress: slow-loris clients are cut off at the
request deadline, floods of made-up targets never reach PostgreSQL from an HTTP worker
and never slow down a tenant the ingress knows, forged signatures cost only a cached
lookup and an HMAC, and too many connections from one address are refused. Each test
runs its own ingress (Ingress below) with tight limits, against the suite's Kafka and
PostgreSQL; attackers and the good client talk to it over loopback only, attackers
from other loopback addresses (127.0.0.2, ...) so that the per-address limit applies
to them and not to the good client."""
import collections
import http.client
import itertools
import multiprocessing
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from hlsupport import get, github_body, github_headers, post, uid, wait_until


class Ingress:
    """A second hookline-ingress for one test, with its own settings. Its ports are
    derived from HOOKLINE_PORT_OFFSET (the stack's ports plus 50 + slot), so that
    parallel suites on one machine, each with its own offset, never collide."""

    def __init__(self, stack, log_path, slot=0, **settings):
        offset = int(os.environ.get("HOOKLINE_PORT_OFFSET", "100"))
        self.port = 8480 + offset + 50 + slot
        self.admin = 9480 + offset + 50 + slot
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HOOKLINE_INGRESS_PORT": str(self.port), "HOOKLINE_ADMIN_PORT": str(self.admin),
               "HOOKLINE_INGRESS_BIND": "127.0.0.1", "HOOKLINE_ADMIN_BIND": "127.0.0.1",
               # the URL the providers sign is ours, not the stack's
               "HOOKLINE_PUBLIC_URL": self.url,
               **{k: str(v) for k, v in settings.items()}}
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([str(stack.bin_dir / "hookline-ingress")], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self.ready, 60, f"the test ingress on port {self.port} to be ready", self.tail)

    def ready(self):
        try:
            return self.proc.poll() is None and get(f"http://127.0.0.1:{self.admin}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def readyz(self):
        """200, or the reason it gives for not being ready."""
        r = get(f"http://127.0.0.1:{self.admin}/readyz", timeout=5)
        return 200 if r.status_code == 200 else r.text.strip()

    def metrics(self):
        return get(f"http://127.0.0.1:{self.admin}/metrics", timeout=5).text

    def tail(self, n=1500):
        self.log.flush()
        return open(self.log_path, "rb").read()[-n:].decode(errors="replace")

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        """SIGTERM (SIGKILL after 30 s); the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode

    def assert_clean_exit(self):
        """Stops it: it must drain and exit 0 with no sanitizer report in its log."""
        rc = self.stop()
        text = open(self.log_path, "rb").read().decode(errors="replace")
        reports = [line for line in text.splitlines()
                   if "ERROR: AddressSanitizer" in line or "LeakSanitizer" in line or "runtime error:" in line]
        assert rc == 0 and not reports, f"the test ingress exited {rc}; sanitizer reports: {reports[:5]}"


# ---- attackers and the good client ---------------------------------------------------------

def webhook_path(app):
    return urlsplit(app.url).path


class Loop(threading.Thread):
    """Calls step(conn) over one keep-alive connection from source address `source`
    (reconnecting when the server closes it), at most `limit` times or until stop()."""

    def __init__(self, port, source, step, limit):
        super().__init__(daemon=True)
        self.port, self.source, self.step, self.limit = port, source, step, limit
        self.statuses, self.errors = collections.Counter(), []
        self.halt = threading.Event()

    def run(self):
        conn = None
        for _ in range(self.limit):
            if self.halt.is_set():
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20,
                                                      source_address=(self.source, 0))
                status, close = self.step(conn)
                self.statuses[status] += 1
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                close = True
            if close and conn is not None:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def stop(self):
        self.halt.set()
        self.join(30)


def request(conn, path, body, headers):
    conn.request("POST", path, body, headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status, resp.will_close


def good_client(port, app, seconds):
    """The tenant's provider: signed webhooks back to back for `seconds` from 127.0.0.1.
    Returns (completed, non-200 answers and errors)."""
    seq = itertools.count()
    path = webhook_path(app)

    def step(conn):
        body = github_body(4242, good=next(seq))
        return request(conn, path, body, app.sign(body))
    loop = Loop(port, "127.0.0.1", step, limit=100000)
    loop.start()
    time.sleep(seconds)
    loop.stop()
    bad = {s: n for s, n in loop.statuses.items() if s != 200}
    return loop.statuses[200], bad, loop.errors


def random_target_flood(port, source, app, limit):
    """Random environment UUIDs (and random keys on them): none exists."""
    def step(conn):
        body = github_body(1)
        return request(conn, f"/webhook/{uuid.uuid4()}/k{uuid.uuid4().hex[:8]}", body, app.sign(body))
    return Loop(port, source, step, limit)


def forged_flood(port, source, app, limit):
    """The real tenant's URL with signatures made with a wrong secret."""
    path = webhook_path(app)

    def step(conn):
        body = github_body(4242, forged=uuid.uuid4().hex)
        return request(conn, path, body, github_headers("not-the-secret", body))
    return Loop(port, source, step, limit)


def _attack(make, port, source, app, connections, limit, seconds, out):
    os.nice(19)  # the attackers' own CPU (Python) must not be what slows the good client
    loops = [make(port, source, app, limit // connections) for _ in range(connections)]
    for loop in loops:
        loop.start()
    time.sleep(seconds)
    statuses, errors = collections.Counter(), []
    for loop in loops:
        loop.stop()
        statuses.update(loop.statuses)
        errors += loop.errors
    out.put((dict(statuses), errors[:5]))


class Attacker:
    """One flood in its own process (so that it does not share the test's interpreter
    lock with the good client), over `connections` connections at once, bounded by
    `limit` requests and `seconds`."""

    def __init__(self, make, port, source, app, connections, limit, seconds):
        ctx = multiprocessing.get_context("fork")
        self.out = ctx.Queue()
        self.proc = ctx.Process(target=_attack, args=(make, port, source, app, connections, limit, seconds,
                                                      self.out), daemon=True)
        self.proc.start()

    def result(self):
        statuses, errors = self.out.get(timeout=60)
        self.proc.join(10)
        return collections.Counter(statuses), errors


class SlowLoris(threading.Thread):
    """Opens a connection from `source` and sends a request one byte a second (headers,
    or headers at once and then the body); records how long until the server closed."""

    def __init__(self, port, source, path, in_body, max_seconds):
        super().__init__(daemon=True)
        self.port, self.source, self.path, self.in_body = port, source, path, in_body
        self.max_seconds = max_seconds
        self.closed_after = None

    def run(self):
        head = (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Padding: {'p' * 200}\r\nContent-Length: 1000\r\n\r\n").encode()
        started = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(self.source, 0))
        except OSError:
            return
        try:
            if self.in_body:
                s.sendall(head)
                trickle = b"x" * 1000
            else:
                trickle = head
            for b in trickle:
                if time.monotonic() - started > self.max_seconds:
                    return
                s.sendall(bytes([b]))
                r, _, _ = select.select([s], [], [], 1.0)
                if r and not s.recv(4096, socket.MSG_PEEK):
                    break
        except OSError:
            pass
        finally:
            self.closed_after = time.monotonic() - started
            s.close()


def queries(ingress):
    m = re.search(r"^hookline_ingress_lookup_queries_total (\d+)$", ingress.metrics(), re.M)
    assert m, "no hookline_ingress_lookup_queries_total in /metrics"
    return int(m.group(1))


def no_forwarding(cli, app):
    """The good client's thousands of webhooks are only measured at the ingress: forwarded,
    they would reach a receiver that is gone after the test and clog the shared stack's
    retry topics and webhook log for minutes, delaying the tests after this one."""
    cli.json("integration", "update", "--env", app.env["id"], "--key", app.key, "--forward", "false")


@pytest.mark.parametrize("directory", ["directory", "no-directory"])
def test_a_good_client_keeps_its_pace_under_slow_loris_random_targets_and_forged_signatures(cli, github, stack,
                                                                                             tmp_path, directory):
    """With the directory (the default), random targets are 404 without any database
    query, and a tenant created during the flood is accepted within about a second.
    Without it (HOOKLINE_INGRESS_DIRECTORY_MAX=0, as with more integrations than it
    holds) they go through the resolver, whose small queue overflows: 503 for them,
    while the good client, whose cache entry expires every second, never waits there."""
    deadline_ms = 2000
    no_forwarding(cli, github)
    ingress = Ingress(stack, tmp_path / "ingress.log", slot=1,
                      HOOKLINE_INGRESS_REQUEST_TIMEOUT_MS=deadline_ms,
                      HOOKLINE_INGRESS_MAX_CONNECTIONS_PER_IP=16,
                      HOOKLINE_INGRESS_LOOKUP_QUEUE=4,
                      HOOKLINE_INGRESS_DIRECTORY_MAX=1000000 if directory == "directory" else 0,
                      # the tenant's entry expires during the attack: it must be refreshed
                      # without the tenant waiting behind the flood in the lookup queue
                      HOOKLINE_INGRESS_CACHE_TTL_MS=1000)
    try:
        first = github_body(4242, warm=1)
        assert post(f"{ingress.url}{webhook_path(github)}", first, github.sign(first)).status_code == 200

        alone, bad, errors = good_client(ingress.port, github, 4)
        assert not bad and not errors, f"the good client alone: {bad} {errors[:3]}"
        assert alone >= 10, f"the good client completed only {alone} requests in 4 s alone"

        loris = [SlowLoris(ingress.port, "127.0.0.2", webhook_path(github), in_body=i % 2 == 1, max_seconds=15)
                 for i in range(6)]
        for t in loris:
            t.start()
        queries_before = queries(ingress)
        floods = [Attacker(random_target_flood, ingress.port, "127.0.0.3", github, 6, 40000, 9)]
        forged = [Attacker(forged_flood, ingress.port, "127.0.0.4", github, 1, 40000, 9)]
        time.sleep(0.5)
        ready = []
        under_attack, bad, errors = good_client(ingress.port, github, 4)
        ready.append(ingress.readyz())
        queries_during = queries(ingress) - queries_before
        if directory == "directory":
            # A tenant created during the flood: its provider is accepted within ~1 s.
            key, secret = f"new-{uid()}", f"s3cret-{uid()}"
            cli.integration(github.env["id"], key, "github-app", secret=secret)
            created, answers = time.monotonic(), []
            body = github_body(4242, new_tenant=key)
            while time.monotonic() - created < 5 and 200 not in answers:
                answers.append(post(f"{ingress.url}/webhook/{github.env['id']}/{key}", body,
                                    github_headers(secret, body)).status_code)
            new_tenant_after = time.monotonic() - created
        flood_answers = sum((a.result()[0] for a in floods), collections.Counter())
        forged_answers = sum((a.result()[0] for a in forged), collections.Counter())
        for t in loris:
            t.join(20)
        ready.append(ingress.readyz())
        assert not bad and not errors, f"the good client under attack: {bad} {errors[:3]}"
        # Alone again: the machine's load drifts (a shared 2-core box), so the baseline is
        # the mean of before and after.
        after, bad, errors = good_client(ingress.port, github, 4)
        assert not bad and not errors, f"the good client alone after the attack: {bad} {errors[:3]}"
        alone = (alone + after) / 2

        # Every connection is served in turn, but the attackers' requests are answered at
        # once (401, 404, 503) while each of the good client's waits for Kafka's
        # acknowledgement, and on a shared 2-core machine the broker, the ingress and the
        # clients compete for the CPU: measured ratios are 0.1 to 0.7. The bound is below
        # that, so that only starvation (a worker blocked on the database, connections
        # held by slow clients, a tenant forgotten by the cache and queued behind the
        # flood) fails it; errors fail it at any rate.
        ratio = under_attack / alone
        print(f"good client: {alone / 4:.0f} req/s alone, {under_attack / 4:.0f} req/s under attack ({ratio:.2f}x); "
              f"random targets: {dict(flood_answers)}, forged: {dict(forged_answers)}")
        assert ratio >= 0.05, (f"the good client completed {under_attack} requests under attack against "
                              f"{alone} alone in the same time ({ratio:.2f}x)")
        # Nothing the attackers send may make the database look down (a CPU-starved
        # broker may make Kafka look slow on this shared machine: not the point here).
        assert not [r for r in ready if "database" in str(r)], f"/readyz during and after the attack: {ready}"

        if directory == "directory":
            # 404 from memory; 503 only in the moment after the tenant's creation, while
            # the directory is reloaded and the few places of the lookup queue overflow.
            assert flood_answers and set(flood_answers) <= {404, 503} and \
                flood_answers[503] <= flood_answers[404] / 10, f"random targets answered {dict(flood_answers)}"
            # The good client's expiring entry is re-read about once a second; the flood
            # itself asks nothing.
            assert queries_during < 20, f"{queries_during} database lookups during the flood"
            assert 200 in answers and new_tenant_after < 1.5, \
                f"a tenant created during the flood: answers {answers} over {new_tenant_after:.2f} s"
        else:
            assert flood_answers and set(flood_answers) <= {404, 503} and 503 in flood_answers, \
                f"random targets answered {dict(flood_answers)} (expected the small lookup queue to overflow)"
        assert forged_answers and set(forged_answers) == {401}, f"forged signatures answered {dict(forged_answers)}"
        cut = [round(t.closed_after or -1, 1) for t in loris]
        counted = re.search(r"^hookline_ingress_connections_cut_total (\d+)$", ingress.metrics(), re.M)
        assert counted and int(counted.group(1)) >= len(loris), \
            f"hookline_ingress_connections_cut_total: {counted and counted.group(0)}, {len(loris)} slow clients"
        assert all(t.closed_after is not None and t.closed_after < deadline_ms / 1000 + 4 for t in loris), \
            f"slow-loris connections not cut off within the {deadline_ms} ms deadline (+4 s): closed after {cut} s"
        ingress.assert_clean_exit()
    finally:
        ingress.stop()


def test_connections_per_address_are_capped(github, stack, tmp_path):
    """HOOKLINE_INGRESS_MAX_CONNECTIONS_PER_IP: one address holding its quota of idle
    connections gets no more, while another address is served."""
    ingress = Ingress(stack, tmp_path / "ingress.log", slot=2, HOOKLINE_INGRESS_MAX_CONNECTIONS_PER_IP=4)
    held = []
    try:
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", ingress.port), timeout=5, source_address=("127.0.0.5", 0))
            s.sendall(b"POST /webhook/")  # a request begun, never finished
            held.append(s)
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", ingress.port), timeout=5, source_address=("127.0.0.5", 0))
        held.append(extra)
        extra.settimeout(5)
        try:
            extra.sendall(f"GET /webhook/{uuid.uuid4()}/x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            got = extra.recv(4096)
        except OSError:
            got = b""
        assert got == b"", f"a fifth connection from one address was served: {got[:100]!r}"
        body = github_body(4242, other_address=1)
        r = post(f"{ingress.url}{webhook_path(github)}", body, github.sign(body))
        assert r.status_code == 200, f"another address was refused too: {r.status_code} {r.text[:200]!r}"
        for s in held:
            s.close()
        ingress.assert_clean_exit()
    finally:
        for s in held:
            s.close()
        ingress.stop()
