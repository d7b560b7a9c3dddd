"""Published keys through the real ingress: a Google Pub/Sub push (google-mail) carries
an OIDC token that the ingress checks against a JWKS it fetches from a loopback HTTPS
key server (the suite's throwaway CA, HOOKLINE_REMOTE_KEYS_CA_FILE; 127.0.0.1 allowed by
HOOKLINE_REMOTE_KEYS_ALLOW_CIDRS and HOOKLINE_REMOTE_KEYS_EXTRA_HOSTS, which
tests/run-integration.sh sets). The keys are fetched once and cached; a forged token is
401; a key server that fails makes the webhook 401 (never 5xx, never accepted), with the
reason in the ingress log and the failure counted in /metrics."""
import base64
import http.server
import json
import os
import ssl
import sys
import threading
import time
from pathlib import Path

import requests

from hlsupport import assert_bytes, post, uid, wait_ingress_knows, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import jose  # noqa: E402

TLS = Path(os.environ.get("HOOKLINE_TEST_TLS_DIR", "/nonexistent"))
AUDIENCE = "https://push.example.com/gmail"


class KeyServer:
    """A JWKS over HTTPS on a free loopback port; `status` other than 200 makes it fail."""

    def __init__(self, doc):
        self.doc, self.status, self.hits = json.dumps(doc).encode(), 200, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits += 1
                body = server.doc if server.status == 200 else b"unavailable"
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        assert (TLS / "server.pem").is_file(), f"no test certificate in {TLS} (run via tests/run-integration.sh)"
        ctx.load_cert_chain(TLS / "server.pem", TLS / "server.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/certs/{uid()}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class GmailApp:
    """An environment pointing at `receiver` with a google-mail integration whose keys come
    from `jwks_url`, and one connection named in the webhook URL."""

    def __init__(self, cli, stack, receiver, jwks_url):
        self.receiver, self.path = receiver, f"/app/{uid()}"
        self.env = cli.env(receiver.url + self.path)
        self.key = f"google-mail-{uid()}"
        cli.json("integration", "create", "--env", self.env["id"], "--key", self.key, "--provider", "google-mail",
                 "--verify-config", json.dumps({"jwks_url": jwks_url, "audience": AUDIENCE}))
        self.connection = f"conn-{uid()}"
        cli.connection(self.env["id"], self.key, self.connection, {})
        wait_ingress_knows(f"{stack.public_url}/webhook/{self.env['id']}/{self.key}")
        self.url = f"{stack.public_url}/webhook/{self.env['id']}/{self.key}?nangoConnectionId={self.connection}"


def push_body():
    data = base64.b64encode(json.dumps({"emailAddress": f"{uid()}@example.com", "historyId": 9876}).encode())
    return json.dumps({"message": {"data": data.decode(), "messageId": uid(), "publishTime": "2024-01-01T00:00:00Z"},
                       "subscription": "projects/demo/subscriptions/gmail-push"}).encode()


def bearer(key="rsa", kid="k1", **over):
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "iat": now, "exp": now + 600,
              "email": "push@demo.iam.gserviceaccount.com", "email_verified": True, **over}
    return {"Authorization": "Bearer " + jose.jwt(jose.private_key(key), claims, kid=kid),
            "Content-Type": "application/json"}


def ingress_log():
    return (Path(os.environ["HOOKLINE_STACK_DIR"]) / "ingress.log").read_text(errors="replace")


def failures_counted(stack):
    text = requests.get(stack.admin_url("ingress", "/metrics"), timeout=10).text
    for line in text.splitlines():
        if line.startswith("hookline_remote_key_fetch_failures_total "):
            return int(float(line.split()[1]))
    raise AssertionError("the ingress has no hookline_remote_key_fetch_failures_total metric")


def test_a_push_token_is_verified_with_fetched_keys_once_cached(cli, stack, receiver):
    keys = KeyServer(jose.jwks(("rsa-other", "k0"), ("rsa", "k1")))
    try:
        app = GmailApp(cli, stack, receiver, keys.url)
        body = push_body()
        r = post(app.url, body, bearer())
        assert r.status_code == 200, f"a token signed by a published key answered {r.status_code} {r.text!r}"
        d = receiver.wait_for(lambda ds: [x for x in ds if x.path == app.path], 60, "the push delivered")[0]
        envelope = json.loads(d.body)
        assert envelope["connectionId"] == app.connection and envelope["from"] == "google-mail"
        assert_bytes(json.dumps(envelope["payload"], separators=(",", ":")).encode(),
                     json.dumps(json.loads(body), separators=(",", ":")).encode(), "the forwarded push")
        assert d.header("X-Hookline-Verified") == "true"

        second = push_body()
        assert post(app.url, second, bearer()).status_code == 200
        assert keys.hits == 1, f"the JWKS was fetched {keys.hits} times for two pushes (not cached)"

        forged = post(app.url, push_body(), bearer(key="rsa-other", kid="k1"))
        assert forged.status_code == 401, f"a token not signed by the published key answered {forged.status_code}"
        other_audience = post(app.url, push_body(), bearer(aud="https://elsewhere.example.com/"))
        assert other_audience.status_code == 401
    finally:
        keys.stop()


def test_a_key_fetch_failure_is_401_logged_and_counted(cli, stack, receiver):
    keys = KeyServer(jose.jwks(("rsa", "k1")))
    keys.status = 503
    try:
        app = GmailApp(cli, stack, receiver, keys.url)
        before = failures_counted(stack)
        r = post(app.url, push_body(), bearer())
        assert r.status_code == 401, f"a push whose keys cannot be fetched answered {r.status_code} {r.text!r}"
        assert keys.hits == 1
        # Within the backoff (1 s, then doubling) pushes are refused at once, without
        # asking the key server for each one.
        for _ in range(5):
            assert post(app.url, push_body(), bearer()).status_code == 401
        assert keys.hits <= 2, f"the key server was asked {keys.hits} times for 6 pushes"
        wait_until(lambda: "the provider's keys are unavailable" in ingress_log() and "answered 503" in ingress_log(),
                   10, "the ingress to log why it refused the push", lambda: ingress_log()[-600:])
        assert failures_counted(stack) >= before + 1

        # A key URL on a host nobody allowed is refused before any connection.
        bad = GmailApp(cli, stack, receiver, "https://keys.invalid/certs")
        assert post(bad.url, push_body(), bearer()).status_code == 401
        time.sleep(1)
        assert not [d for d in receiver.snapshot() if d.path in (app.path, bad.path)], "a refused push was delivered"
    finally:
        keys.stop()
