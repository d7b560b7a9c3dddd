"""Helpers for the hookline integration tests: the stack, the CLI, provider signing,
sending webhooks and building the envelope the forwarder must deliver."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "tools"))
from receiver import Receiver, nango_signature, verify_standard  # noqa: E402,F401

# How long to wait for a webhook to go through the whole pipeline (sanitizer builds are slow).
TIMEOUT = float(os.environ.get("HOOKLINE_TEST_TIMEOUT", "30"))
DAEMONS = ("ingress", "router", "forwarder", "syncer")
LOOPBACK = ("127.0.0.1", "localhost")


def uid():
    return uuid.uuid4().hex[:12]


def wait_until(check, timeout, what, seen=lambda: "", interval=0.1):
    """Poll check() until truthy (returned); on timeout fail saying what and what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; seen: {seen()}")
        time.sleep(interval)


# ---- the stack -------------------------------------------------------------------------

class Stack:
    """The running local stack, as tests/run-integration.sh describes it in the environment."""

    def __init__(self, env):
        self.public_url = env["HOOKLINE_PUBLIC_URL"].rstrip("/")
        self.bin_dir = Path(env.get("HOOKLINE_BIN_DIR", ""))
        self.admin_ports = {d: env.get(f"HOOKLINE_STACK_{d.upper()}_ADMIN_PORT") for d in DAEMONS}
        host = urlsplit(self.public_url).hostname
        assert host in LOOPBACK, f"HOOKLINE_PUBLIC_URL={self.public_url}: tests only talk to 127.0.0.1"
        self.down = set()   # daemons a test killed or stopped and did not restart

    def admin_url(self, daemon, path):
        port = self.admin_ports[daemon]
        assert port, f"HOOKLINE_STACK_{daemon.upper()}_ADMIN_PORT is not set"
        return f"http://127.0.0.1:{port}{path}"

    def ctl(self, action, daemon, timeout):
        """sh deploy/local/stack.sh ACTION DAEMON; output goes to a file, not a pipe, so a
        daemon started in the background cannot keep us waiting on its stdout."""
        with tempfile.TemporaryFile() as out:
            rc = subprocess.run(["sh", "deploy/local/stack.sh", action, daemon], cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        assert rc == 0, f"`stack.sh {action} {daemon}` exited {rc}:\n{text}"

    def kill(self, daemon):
        self.down.add(daemon)
        self.ctl("kill", daemon, 30)

    def stop(self, daemon):
        self.down.add(daemon)
        self.ctl("stop", daemon, 90)

    def start(self, daemon):
        self.ctl("start", daemon, 120)
        self.down.discard(daemon)

    def restore(self):
        """Start again every daemon a test left down."""
        for daemon in sorted(self.down):
            self.start(daemon)


# ---- Kafka ------------------------------------------------------------------------------

def topic_tool(*args, stdin=b""):
    """build/<variant>/tools/hookline-topic-tool ARGS: the messages it printed (dump), as dicts
    {partition, offset, key, value_b64, headers: [[name, value]]}."""
    tool = Path(os.environ["HOOKLINE_BIN_DIR"]).parent / "tools" / "hookline-topic-tool"
    r = subprocess.run([str(tool), *args], input=stdin, capture_output=True, timeout=60)
    assert r.returncode == 0, f"topic tool {args}: {r.stderr.decode(errors='replace')}"
    # split("\n"), not splitlines(): a header value may hold U+0085 or U+2028
    return [json.loads(line) for line in r.stdout.decode().split("\n") if line.strip()]


def headers_of(msg):
    """A dumped message's headers as {name: last value}; a value that is not UTF-8 is
    dumped as [name, base64, "b64"] and given here as that base64."""
    return {h[0]: h[1] for h in msg["headers"]}


def topic(name):
    """A topic's name in this stack (HOOKLINE_TOPIC_<NAME>, else webhooks.<name>)."""
    return os.environ.get(f"HOOKLINE_TOPIC_{name.upper().replace('-', '_')}", f"webhooks.{name}")


# ---- the CLI ---------------------------------------------------------------------------

class CLI:
    def __init__(self, bin_dir):
        self.path = Path(bin_dir) / "hookline"

    def run(self, *args, stdin=b"", timeout=60):
        assert self.path.is_file(), f"hookline CLI not found at {self.path} (HOOKLINE_BIN_DIR)"
        r = subprocess.run([str(self.path), *args], input=stdin, capture_output=True, timeout=timeout)
        assert r.returncode == 0, (f"`hookline {' '.join(args)}` exited {r.returncode}\n"
                                   f"stdout: {r.stdout.decode(errors='replace')}\n"
                                   f"stderr: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode()

    def json(self, *args):
        out = self.run(*args, "--json")
        try:
            return json.loads(out)
        except ValueError:
            raise AssertionError(f"`hookline {' '.join(args)} --json` did not print JSON: {out!r}")

    def env(self, webhook_url, secondary_url=None):
        args = ["env", "create", "--name", f"test-{uid()}", "--webhook-url", webhook_url]
        return self.json(*args, *(["--secondary-url", secondary_url] if secondary_url else []))

    def integration(self, env_id, key, provider, secret=None, client_secret=None):
        args = ["integration", "create", "--env", env_id, "--key", key, "--provider", provider]
        args += ["--secret", secret] if secret else []
        args += ["--client-secret", client_secret] if client_secret else []
        return self.json(*args)

    def connection(self, env_id, integration_key, connection_id, config, metadata=None, secret=None):
        """A connection; `secret`, its own webhook secret: what a connection that webhooks name
        in their URL needs to get them (docs/providers.md, "Per-connection secrets")."""
        args = ["connection", "create", "--env", env_id, "--integration", integration_key,
                "--id", connection_id, "--config", json.dumps(config)]
        return self.json(*args, *(["--metadata", json.dumps(metadata)] if metadata else []),
                         *(["--secret", secret] if secret else []))

    def sign(self, provider, secret, body, *extra):
        """`hookline sign` output as {lower-case header name: value}."""
        out = self.run("sign", "--provider", provider, "--secret", secret, *extra, stdin=body)
        return {k.strip().lower(): v.strip() for k, v in
                (line.split(":", 1) for line in out.splitlines() if ":" in line)}


# ---- the database ----------------------------------------------------------------------

def sql(query, *params):
    """Runs one statement with psql against the stack's database; returns the rows as lists
    of strings. Parameters travel as psql variables (:'p1' ...), never pasted into SQL."""
    args = ["psql", "-X", "-q", "-tA", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", os.environ["HOOKLINE_DATABASE_URL"]]
    for i, p in enumerate(params, 1):
        args += ["-v", f"p{i}={p}"]
    r = subprocess.run(args, input=query.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, f"psql failed: {r.stderr.decode(errors='replace')}"
    return [line.split("\x1f") for line in r.stdout.decode().splitlines() if line]


# ---- providers -------------------------------------------------------------------------

def hmac_sha256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def github_headers(secret, body, event="installation_repositories"):
    return {"Content-Type": "application/json", "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac_sha256(secret.encode(), body).hex()}


def hubspot_headers(client_secret, url, body, ts_ms=None):
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    mac = hmac_sha256(client_secret.encode(), b"POST" + url.encode() + body + ts.encode())
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
            "X-HubSpot-Signature-v3": base64.b64encode(mac).decode()}


def github_body(installation_id, **extra):
    """A GitHub App webhook body, deliberately not in canonical JSON form (spaces, a newline,
    raw UTF-8 and an escape) so that any re-serialisation shows up as a byte difference."""
    fields = "".join(f', "{k}": {json.dumps(v)}' for k, v in extra.items())
    return (f'{{ "action": "added",\n  "installation": {{ "id": {installation_id}, '
            f'"account": {{"login": "caf\u00e9-corp"}} }}, "note": "\\u00e9\\n"{fields} }}').encode()


def hubspot_event(portal_id, event_id):
    return (f'{{"eventId": {event_id}, "subscriptionId": 4242, "portalId": {portal_id}, '
            f'"appId": 7, "occurredAt": {int(time.time() * 1000)}, '
            f'"subscriptionType": "contact.creation", "attemptNumber": 0, '
            f'"objectId": {event_id + 1000}, "changeFlag": "CREATED"}}').encode()


def assert_bytes(got, want, what="the delivered body"):
    """got == want, or a failure showing both around the first differing byte."""
    if got == want:
        return
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    lo = max(0, i - 300)
    raise AssertionError(f"{what} differs from the expected bytes at offset {i} "
                         f"(lengths {len(got)} and {len(want)}):\n"
                         f"  got:      {got[lo:i + 300]!r}\n  expected: {want[lo:i + 300]!r}")


def envelope(provider, key, connection_id, payload):
    """The exact body the forwarder must POST: compact, this key order, payload spliced in."""
    head = (f'{{"from":{json.dumps(provider)},"type":"forward","providerConfigKey":{json.dumps(key)},'
            f'"connectionId":{json.dumps(connection_id)},"payload":')
    return head.encode() + payload + b"}"


# ---- sending ---------------------------------------------------------------------------

_local = threading.local()


def _session():
    """A per-thread keep-alive session that ignores proxy settings (we only talk to loopback)."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        _local.session.trust_env = False
    return _local.session


def post(url, body, headers, timeout=15):
    return _session().post(url, data=body, headers=headers, timeout=timeout)


def get(url, timeout=10):
    return _session().get(url, timeout=timeout)


def post_raw(url, body, headers, timeout=30):
    """POST on a fresh connection and return (status, body) even if the server answers and
    closes before it has read the whole request body (allowed for a 413)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.putrequest("POST", u.path)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            conn.putheader(k, v)
        conn.endheaders()
        try:
            conn.sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass   # the server stopped reading: it may still have answered
        try:
            resp = conn.getresponse()
        except (ConnectionError, http.client.HTTPException) as e:
            raise AssertionError(f"no HTTP response to a {len(body)}-byte POST to {url}: {e!r}")
        return resp.status, resp.read()
    finally:
        conn.close()


def ingress_knows(url):
    """Whether the ingress answers anything but 404 for a webhook URL (a GET: nothing is
    stored). The ingress's read-your-writes fence (ingress/lookup.c) already makes a
    webhook sent the instant the CLI's commit returns see the integration
    (test_read_your_writes.py); this stays for tests that want the integration looked up
    before they measure something. No ingress to ask (stopped, or another address):
    nothing to wait for."""
    try:
        return get(url, timeout=5).status_code != 404
    except requests.RequestException:
        return True


def wait_ingress_knows(url):
    """Waits until the ingress knows a webhook URL's integration (see ingress_knows): for a
    test that creates one and sends to it at once."""
    wait_until(lambda: ingress_knows(url), 10, f"the ingress to know {url}")


class App:
    """An environment whose webhook URL is `receiver`, with one integration of `provider`
    (fresh names and secrets), and the ingress URL to send its webhooks to."""

    def __init__(self, cli, stack, receiver, provider, secondary_url=None, wait_known=True):
        self.cli, self.provider, self.receiver = cli, provider, receiver
        self.path = f"/app/{uid()}"
        self.env = cli.env(receiver.url + self.path, secondary_url)
        self.key = f"{provider}-{uid()}"
        self.secret = f"s3cret-{uid()}"
        kind = "client_secret" if provider == "hubspot" else "secret"
        self.integration = cli.integration(self.env["id"], self.key, provider, **{kind: self.secret})
        self.url = f"{stack.public_url}/webhook/{self.env['id']}/{self.key}"
        if wait_known:  # False for a tenant the ingress must not have looked up yet
            wait_ingress_knows(self.url)

    def connect(self, config, metadata=None, secret=None):
        connection_id = f"conn-{uid()}"
        self.cli.connection(self.env["id"], self.key, connection_id, config, metadata, secret)
        return connection_id

    def sign(self, body, **kw):
        if self.provider == "hubspot":
            return hubspot_headers(self.secret, self.url, body, **kw)
        return github_headers(self.secret, body, **kw)

    def send(self, body, headers=None, expect=200):
        r = post(self.url, body, self.sign(body) if headers is None else headers)
        assert r.status_code == expect, (f"POST {self.url} answered {r.status_code} {r.text[:300]!r}, "
                                         f"expected {expect}")
        if expect == 200:
            try:
                ok = r.json() == {"status": "success"}
            except ValueError:
                ok = False
            assert ok, f"POST {self.url} answered 200 with {r.text[:300]!r}" + ', not {"status":"success"}'
        return r

    def expected(self, connection_id, payload):
        return envelope(self.provider, self.key, connection_id, payload)

    def mine(self, deliveries, payload=None, path=None):
        """This app's deliveries (by URL path), optionally only those carrying `payload`.
        Payloads are compared as JSON, so that a byte difference fails the test's exact
        comparison at once instead of making it wait for a match that never comes."""
        out = [d for d in deliveries if d.path == (path or self.path)]
        if payload is not None:
            want = json.loads(payload)
            out = [d for d in out if _payload(d) == want]
        return out

    def wait_payload(self, payload, receiver=None, path=None, timeout=TIMEOUT):
        """Wait for the delivery(ies) of this app carrying `payload`."""
        return (receiver or self.receiver).wait_for(
            lambda rs: self.mine(rs, payload, path), timeout, f"a delivery with payload {payload[:200]!r}")


def _payload(delivery):
    try:
        return json.loads(delivery.body)["payload"]
    except (ValueError, KeyError, TypeError):
        return ValueError   # matches no payload
