"""https destinations: the forwarder verifies the receiver's certificate (against
HOOKLINE_FORWARDER_CA_FILE, a throwaway CA that tests/run-integration.sh makes) and speaks
HTTP/2 when the receiver offers it. The receiver is nghttpd, which over TLS speaks only
HTTP/2 (an HTTP/1.1 client gets no answer), so a delivery it acknowledges went over
HTTP/2; --echo-upload answers each POST with 200."""
import os
import random
import socket
import subprocess
from pathlib import Path

import pytest

from hlsupport import App, github_body, wait_until
from test_deliveries import wait_attempts

TLS = Path(os.environ.get("HOOKLINE_TEST_TLS_DIR", "/nonexistent"))


class Https:
    """nghttpd on a free loopback port with the given key and certificate."""

    def __init__(self, key, cert):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["nghttpd", "--echo-upload", "-a", "127.0.0.1", str(self.port), key, cert],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until(listening, 10, f"nghttpd listening on {self.port}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def https():
    servers = []

    def start(name):
        assert (TLS / f"{name}.pem").is_file(), f"no test certificate in {TLS} (run via tests/run-integration.sh)"
        servers.append(Https(str(TLS / f"{name}.key"), str(TLS / f"{name}.pem")))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()


def send(cli, stack, server):
    app = App(cli, stack, server, "github-app")
    inst = random.randint(10**6, 10**9)
    app.connect({"installation_id": str(inst)})
    body = github_body(inst)
    return app, app.send(body).headers["X-Hookline-Webhook-Id"]


def test_https_receiver_gets_the_webhook_over_http2(cli, stack, https):
    server = https("server")
    app, webhook_id = send(cli, stack, server)
    rows = wait_attempts(cli, webhook_id, lambda rs: any(r["result"] == "delivered" for r in rs),
                         "the delivery over https")
    assert [(r["status"], r["result"]) for r in rows] == [(200, "delivered")], rows
    assert rows[0]["destination"] == app.env["webhook_url"]


def test_an_untrusted_certificate_is_refused(cli, stack, https):
    server = https("untrusted")
    _, webhook_id = send(cli, stack, server)
    rows = wait_attempts(cli, webhook_id, lambda rs: len(rs) >= 2, "both attempts of the first pass")
    assert all(r["status"] == 0 and r["result"] == "failed" for r in rows[:2]), rows
    assert any("certificate" in (r["error"] or "").lower() or "ssl" in (r["error"] or "").lower()
               for r in rows[:2]), rows
