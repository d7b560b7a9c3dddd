"""Nothing answered 200 is dropped (issue 16): every body the ingress answers 200 is
delivered, attributed or unattributed with X-Hookline-Unattributed-Reason, and never
lands on the rejected topic for its content; what cannot be delivered is refused at the
door with a 4xx. (The quarantine still takes one for causes in the operator's hands: a
downstream topic too small for it, a row PostgreSQL refuses; test_poison.py.)
Also the handshake refusals, svix-* headers for Standard Webhooks providers, and
`hookline import nango` from an export file."""
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from hlsupport import TIMEOUT, App, post, uid, wait_ingress_knows, wait_until

NESTING_MAX = 256  # common/json_depth.h JSON_NESTING_MAX


def rejected_for(cli, key):
    return [r for r in cli.json("rejected", "list") if r.get("integration") == key]


def delivered(app, predicate, what):
    return app.receiver.wait_for(lambda rs: [d for d in app.mine(rs) if predicate(d)], TIMEOUT, what)[0]


def assert_not_rejected(cli, app):
    assert rejected_for(cli, app.key) == [], "a webhook answered 200 went to the rejected topic"


def test_hubspot_single_object_is_delivered_attributed(cli, stack, receiver):
    app = App(cli, stack, receiver, "hubspot")
    portal = int(uid()[:6], 16)
    conn = app.connect({"portalId": str(portal)})
    body = json.dumps({"portalId": portal, "eventId": 1, "subscriptionType": "contact.creation"}).encode()
    app.send(body)
    d = app.wait_payload(body)[0]
    assert d.json()["connectionId"] == conn
    assert d.header("X-Hookline-Event-Type") == "contact.creation"
    assert d.header("X-Hookline-Unattributed-Reason") is None
    assert_not_rejected(cli, app)


def test_unparsable_body_is_delivered_unattributed_with_the_reason(cli, stack, receiver):
    app = App(cli, stack, receiver, "hubspot")
    body = b'[{"portalId": 1,'  # truncated JSON, validly signed
    app.send(body)
    d = delivered(app, lambda d: d.header("X-Hookline-Unattributed-Reason") is not None, "the unparsable body")
    assert d.header("X-Hookline-Unattributed-Reason") == "unreadable-body"
    env = d.json()
    assert env["connectionId"] is None
    assert env["payload"] == body.decode()  # not JSON: sent as a string, byte for byte
    assert_not_rejected(cli, app)
    metrics = wait_until(lambda: "hookline_router_unattributed_total" in _metrics(stack) and _metrics(stack),
                         TIMEOUT, "the router's metric")
    line = [l for l in metrics.splitlines() if l.startswith("hookline_router_unattributed_total")
            and 'reason="unreadable-body"' in l]
    assert line and float(line[0].split()[-1]) >= 1, line


def _metrics(stack):
    return requests.get(stack.admin_url("router", "/metrics"), timeout=10).text


def test_over_deep_body_is_refused_at_the_door_and_the_limit_is_delivered(cli, stack, receiver):
    app = App(cli, stack, receiver, "hubspot")
    portal = int(uid()[:6], 16)
    conn = app.connect({"portalId": str(portal)})
    inner = NESTING_MAX - 2  # the array and the event object are two levels
    ok = ('[{"portalId":%d,"x":%s%s}]' % (portal, "[" * inner, "]" * inner)).encode()
    deep = ('[{"portalId":%d,"x":%s%s}]' % (portal, "[" * (inner + 1), "]" * (inner + 1))).encode()
    r = app.send(deep, expect=400)
    assert "nested" in r.text
    app.send(ok)
    d = app.wait_payload(ok)[0]
    assert d.json()["connectionId"] == conn
    assert_not_rejected(cli, app)


def _integration(cli, stack, receiver, provider, secret=None):
    path = f"/app/{uid()}"
    env = cli.env(receiver.url + path)
    key = f"{provider}-{uid()}"
    cli.integration(env["id"], key, provider, secret=secret)
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    wait_ingress_knows(url)
    return env, key, path, url


def test_zoom_url_validation_without_plain_token_is_refused(cli, stack, receiver):
    secret = f"zoom-{uid()}"
    env, key, path, url = _integration(cli, stack, receiver, "zoom", secret)
    body = b'{"event":"endpoint.url_validation","payload":{},"event_ts":1}'
    r = post(url, body, cli.sign("zoom", secret, body))
    assert r.status_code == 400, r.text
    good = b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc123"},"event_ts":1}'
    r = post(url, good, cli.sign("zoom", secret, good))
    assert r.status_code == 200 and r.json()["plainToken"] == "abc123", r.text


def test_notion_verification_token_is_unattributed_and_never_replaces_a_token(cli, stack, receiver):
    env, key, path, url = _integration(cli, stack, receiver, "notion")
    cli.connection(env["id"], key, f"conn-{uid()}", {"workspace_id": "ws-1"})
    token = f"secret_{uid()}"
    body = json.dumps({"verification_token": token}).encode()
    r = post(url + "?nangoConnectionId=x", body, {"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    d = receiver.wait_for(lambda rs: [d for d in rs if d.path == path], TIMEOUT, "the verification token")[0]
    assert d.json()["connectionId"] is None
    assert d.json()["payload"] == {"verification_token": token}
    assert d.header("X-Hookline-Unattributed-Reason") == "unverified-handshake"
    # With the token configured, another verification request is refused, not forwarded.
    env2, key2, path2, url2 = _integration(cli, stack, receiver, "notion", secret=token)
    r = post(url2, json.dumps({"verification_token": f"secret_{uid()}"}).encode(), {"Content-Type": "application/json"})
    assert r.status_code == 409, r.text


def test_folk_accepts_svix_headers(cli, stack, receiver):
    secret = "whsec_" + "c3ZpeC1hbGlhcy1zZWNyZXQtMzItYnl0ZXMtbG9uZyEh"
    env, key, path, url = _integration(cli, stack, receiver, "folk", secret)
    body = json.dumps({"type": "person.created", "id": uid()}).encode()
    signed = cli.sign("folk", secret, body)
    svix = {k.replace("webhook-", "svix-"): v for k, v in signed.items()}
    assert "svix-signature" in svix
    r = post(url, body, {**svix, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    d = receiver.wait_for(lambda rs: [d for d in rs if d.path == path], TIMEOUT, "the folk webhook")[0]
    assert d.header("X-Hookline-Verified") == "true"
    wrong = dict(svix, **{"svix-signature": "v1,AAAA" + svix["svix-signature"][7:]})
    assert post(url, body, {**wrong, "Content-Type": "application/json"}).status_code == 401


# ---- hookline import nango -------------------------------------------------------------

EXPORT = Path(__file__).parent / "data" / "nango-export.json"


def _connections(cli, env_id):
    return {(c["integration"], c["connection_id"]): c for c in cli.json("connection", "list", "--env", env_id)}


def _check_imported(cli, env_id, export):
    keys = {i["key"]: i["provider"] for i in cli.json("integration", "list", "--env", env_id)}
    assert keys == {"hubspot-crm": "hubspot", "gh": "github-app"}, keys
    got = _connections(cli, env_id)
    assert set(got) == {("hubspot-crm", "acme"), ("hubspot-crm", "globex"), ("gh", "initech")}, got
    for c in export["connections"][:3]:
        row = got[(c["provider_config_key"], c["connection_id"])]
        assert row["connection_config"] == c["connection_config"]
        assert row["metadata"] == (c["metadata"] or {})


def test_import_nango_from_an_export_file_dry_run_then_idempotent(cli, receiver):
    export = json.loads(EXPORT.read_text())
    env = cli.env(receiver.url + f"/app/{uid()}")
    plan = cli.json("import", "nango", "--file", str(EXPORT), "--env", env["id"], "--dry-run")
    assert plan["dry_run"] is True and plan["created"] == 5, plan  # 2 integrations, 3 connections
    assert {i["key"]: i["action"] for i in plan["integrations"]} == {
        "hubspot-crm": "would_create", "gh": "would_create", "mystery": "skipped"}
    assert cli.json("integration", "list", "--env", env["id"]) == []  # the dry run wrote nothing

    done = cli.json("import", "nango", "--file", str(EXPORT), "--env", env["id"])
    assert done["created"] == 5 and done["skipped"] == 2, done  # mystery and its connection
    assert {s["integration"]: s["secret"] for s in done["secrets_to_set"]} == {
        "hubspot-crm": "client_secret", "gh": "webhook_secret"}
    assert all(s["command"].startswith(f"hookline integration update --env {env['id']} --key ")
               for s in done["secrets_to_set"])
    _check_imported(cli, env["id"], export)

    again = cli.json("import", "nango", "--file", str(EXPORT), "--env", env["id"])
    assert again["created"] == 0 and again["existing"] == 5, again
    _check_imported(cli, env["id"], export)
    text = cli.run("import", "nango", "--file", str(EXPORT), "--env", env["id"])
    assert "0 created" in text and "nothing new" in text, text


class _FakeNango(BaseHTTPRequestHandler):
    export = None
    key = None

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {self.key}":
            return self._send(401, {"error": "unauthorized"})
        u = urlsplit(self.path)
        if u.path == "/integrations":
            return self._send(200, self.export["integrations"])
        if u.path == "/connection":
            return self._send(200, {"connections": [
                {k: c[k] for k in ("id", "connection_id", "provider_config_key", "provider")}
                for c in self.export["connections"]]})
        pck = parse_qs(u.query).get("provider_config_key", [""])[0]
        for c in self.export["connections"]:
            if u.path == "/connection/" + c["connection_id"] and pck == c["provider_config_key"]:
                return self._send(200, c)
        self._send(404, {"error": "not found"})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_import_nango_from_its_api_on_loopback(cli, receiver):
    export = json.loads(EXPORT.read_text())
    _FakeNango.export, _FakeNango.key = export, f"nango-sk-{uid()}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeNango)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = cli.env(receiver.url + f"/app/{uid()}")
        base = f"http://127.0.0.1:{server.server_address[1]}"
        args = ["import", "nango", "--api-url", base, "--secret-key-env", "FAKE_NANGO_KEY", "--env", env["id"]]
        environ = {**os.environ, "FAKE_NANGO_KEY": _FakeNango.key}
        # Loopback is refused unless allowed (the SSRF guard), and says so.
        r = subprocess.run([str(cli.path), *args], capture_output=True, env=environ, timeout=60)
        assert r.returncode != 0 and b"loopback" in r.stderr, r.stderr
        r = subprocess.run([str(cli.path), *args, "--allow-cidr", "127.0.0.1/32", "--json"], capture_output=True,
                           env=environ, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["created"] == 5
        _check_imported(cli, env["id"], export)
        bad = {**environ, "FAKE_NANGO_KEY": "wrong"}
        r = subprocess.run([str(cli.path), *args, "--allow-cidr", "127.0.0.1/32"], capture_output=True, env=bad,
                           timeout=60)
        assert r.returncode != 0 and b"401" in r.stderr, r.stderr
    finally:
        server.shutdown()


def test_import_nango_lists_connections_named_in_the_url(cli, receiver, tmp_path):
    # GitLab webhooks name their connection in the URL, which its token does not cover:
    # Nango routes on the name alone, hookline wants the connection's own secret.
    export = {"integrations": [{"unique_key": "gl", "provider": "gitlab"}],
              "connections": [{"id": 1, "connection_id": "repo-1", "provider_config_key": "gl",
                               "provider": "gitlab", "connection_config": {}, "metadata": None}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    env = cli.env(receiver.url + f"/app/{uid()}")
    plan = cli.json("import", "nango", "--file", str(path), "--env", env["id"], "--dry-run")
    need = {(s["integration"], s.get("connection_id"), s["secret"]) for s in plan["secrets_to_set"]}
    assert need == {("gl", None, "webhook_secret"), ("gl", "repo-1", "connection_secret")}, plan
    cmd = [s["command"] for s in plan["secrets_to_set"] if s.get("connection_id")][0]
    assert cmd.startswith(f"hookline connection update --env {env['id']} --integration gl --id repo-1 --secret ")
