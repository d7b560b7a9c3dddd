"""The forwarder never reaches a non-public address unless the operator allows it
(HOOKLINE_FORWARDER_ALLOW_CIDRS), and never follows a redirect. The local stack allows
loopback explicitly; here a second forwarder runs without that allow-list against the
same routed topic, and must refuse every spelling of a loopback destination. Everything
stays on 127.0.0.1: refusals happen before any connection is made."""
import os
import re
import signal
import socket
import subprocess
import uuid

from hlsupport import (TIMEOUT, App, Receiver, get, github_body, github_headers, post, wait_ingress_knows,
                       wait_until)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Forwarder:
    """A hookline-forwarder of its own consumer group, with the given settings."""

    def __init__(self, stack, log_path, **settings):
        self.admin = free_port()
        env = {**os.environ, "HOOKLINE_ADMIN_PORT": str(self.admin),
               "HOOKLINE_FORWARDER_GROUP": f"ssrf-test-{uuid.uuid4().hex[:8]}", **settings}
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([str(stack.bin_dir / "hookline-forwarder")], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        return self.log_path.read_text(errors="replace")

    def metrics(self):
        return get(f"http://127.0.0.1:{self.admin}/metrics").text

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def counter(metrics, outcome):
    m = re.search(r'hookline_forwarder_deliveries_total\{outcome="%s"\} (\d+)' % outcome, metrics)
    return int(m.group(1)) if m else 0


def test_forwarder_refuses_loopback_in_every_spelling(cli, stack, tmp_path):
    port = free_port()   # nothing listens here: a connection attempt would fail, not succeed
    spellings = {"127.0.0.1": "loopback", "localhost": "loopback", "0.0.0.0": "unspecified",
                 "[::ffff:127.0.0.1]": "loopback", "[::1]": "loopback"}
    sent = {}
    for host, why in spellings.items():
        env = cli.env(f"http://{host}:{port}/hook")
        key = f"gh-{uuid.uuid4().hex[:8]}"
        cli.integration(env["id"], key, "github-app", secret="s")
        url = f"{stack.public_url}/webhook/{env['id']}/{key}"
        wait_ingress_knows(url)
        body = github_body(1)
        r = post(url, body, github_headers("s", body))
        assert r.status_code == 200, r.text
        sent[r.headers["X-Hookline-Webhook-Id"]] = (host, why)

    fw = Forwarder(stack, tmp_path / "forwarder.log", HOOKLINE_FORWARDER_ALLOW_CIDRS="",
                   HOOKLINE_FORWARDER_ATTEMPTS="3", HOOKLINE_FORWARDER_BACKOFF_MS="50")
    try:
        def refused_all():
            text = fw.text()
            return all(re.search(r"\[%s\] delivery .* refused: the destination is a %s address" % (wid, why), text)
                       for wid, (_, why) in sent.items())
        wait_until(refused_all, 60, "the allow-list-less forwarder to refuse every loopback spelling",
                   lambda: fw.text()[-2000:])
        # A refusal is final: each delivery is dead-lettered after its one attempt and counted
        # as refused. That is its last step (nothing can follow it): then count what happened.
        def final():
            text = fw.text()
            return all(re.search(r"\[%s\] dead-lettered the delivery " % wid, text) for wid in sent) and \
                counter(fw.metrics(), "refused") >= len(sent)
        wait_until(final, 60, "every refused delivery dead-lettered and counted as refused",
                   lambda: fw.text()[-2000:] + fw.metrics())
        metrics, text = fw.metrics(), fw.text()
        assert counter(metrics, "delivered") == 0, "a forwarder without an allow-list delivered to loopback"
        for wid in sent:
            assert re.search(r"\[%s\] dead-lettered the delivery .* after 1 attempts" % wid, text) and \
                len(re.findall(r"\[%s\] delivery .* refused" % wid, text)) == 1, "a refused destination was tried again"
    finally:
        fw.stop()


def test_redirects_are_not_followed(cli, stack, receiver):
    other = Receiver().start()
    try:
        app = App(cli, stack, receiver, "github-app")
        app.connect({"installation_id": "99"})
        receiver.status = 302
        receiver.extra_headers = {"Location": other.url + "/stolen"}
        first = github_body(99, seq=1)
        app.send(first)
        receiver.wait_for(lambda rs: app.mine(rs, first), TIMEOUT, "the request answered 302", attempts=True)
        # A second webhook on the same key is delivered after the first's outcome is final.
        receiver.status, receiver.extra_headers = 200, {}
        second = github_body(99, seq=2)
        app.send(second)
        app.wait_payload(second)
        assert len(app.mine(receiver.snapshot(), first)) == 1, "a redirect (3xx) answer was retried"
        assert other.snapshot() == [], "the forwarder followed a redirect"
    finally:
        other.stop()
