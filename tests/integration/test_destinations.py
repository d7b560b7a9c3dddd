"""Where and how the forwarder delivers: a connection's override URL, an integration with
forwarding off, raw mode, Nango's legacy signature header and signing-key rotation with a
grace period, each set with the CLI against the running stack.

Configuration reaches the forwarder's cache through NOTIFY a moment after the commit, so
after a change these tests send webhooks until one shows the change (bounded), instead of
assuming it is in effect at once. Deliveries are told apart by X-GitHub-Delivery, which
the forwarder passes on in both formats."""
import base64
import hashlib
import json
import os
import random
import re
import subprocess
import time
from datetime import datetime, timezone

from hlsupport import (TIMEOUT, App, Receiver, assert_bytes, get, github_body, nango_signature, uid,
                       verify_standard, wait_until)

SETTLE = 20   # seconds a configuration change may take to reach the forwarder


# ---- helpers ---------------------------------------------------------------------------

class Github:
    """A github-app App with one connection (installation `inst`), sending webhooks that
    are told apart by their X-GitHub-Delivery id."""

    def __init__(self, app, webhook_url=None):
        self.app, self.cli, self.env_id = app, app.cli, app.env["id"]
        self.inst = random.randint(10**6, 10**9)
        self.conn = f"conn-{uid()}"
        args = ["connection", "create", "--env", self.env_id, "--integration", app.key, "--id", self.conn,
                "--config", json.dumps({"installation_id": self.inst})]
        self.connection = self.cli.json(*args, *(["--webhook-url", webhook_url] if webhook_url else []))

    def send(self, **extra_headers):
        """Sends a fresh signed webhook; returns (body, headers sent)."""
        body = github_body(self.inst, tag=uid())
        headers = {**self.app.sign(body), **extra_headers}
        self.app.send(body, headers)
        return body, headers

    def delivered(self, headers, receiver=None, timeout=TIMEOUT):
        """The deliveries (any path) of the webhook sent with headers, once there is one."""
        want = headers["X-GitHub-Delivery"]
        return (receiver or self.app.receiver).wait_for(
            lambda rs: [d for d in rs if d.header("X-GitHub-Delivery") == want], timeout, f"delivery {want}")

    def until(self, check, what, **extra_headers):
        """Sends webhooks until the delivery of one satisfies check(delivery, body, headers)
        (a configuration change has reached the forwarder); returns (delivery, body, headers)."""
        seen = {}

        def attempt():
            body, headers = self.send(**extra_headers)
            d = self.delivered(headers)[0]
            seen["last"] = (d.path, dict(d.headers), d.body[:200])
            return (d, body, headers) if check(d, body, headers) else None
        return wait_until(attempt, SETTLE, what, lambda: seen, interval=0.2)


def envelope_of(d):
    try:
        return json.loads(d.body).get("type") == "forward"
    except (ValueError, AttributeError):
        return False


def disabled_count(stack):
    text = get(stack.admin_url("forwarder", "/metrics")).text
    m = re.search(r'^hookline_forwarder_deliveries_total\{outcome="disabled"\} (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0


def exit_status(cli, *args):
    """(exit status, stderr) of the CLI, for commands that must fail."""
    r = subprocess.run([str(cli.path), *args], capture_output=True, timeout=60)
    return r.returncode, r.stderr.decode(errors="replace")


def whsec(key):
    return "whsec_" + base64.b64encode(key.encode()).decode()


def signatures(d):
    return d.header("webhook-id"), d.header("webhook-timestamp"), d.header("webhook-signature", "")


# ---- destinations ----------------------------------------------------------------------

def test_connection_override_replaces_the_primary_and_the_secondary_still_gets_a_copy(cli, stack, receiver):
    second, second_path = Receiver().start(), f"/secondary/{uid()}"
    try:
        app = App(cli, stack, receiver, "github-app", secondary_url=second.url + second_path)
        override_path = f"/override/{uid()}"
        override = receiver.url + override_path
        gh = Github(app, webhook_url=override)
        assert gh.connection["webhook_url_override"] == override
        plain = Github(app)   # a neighbour without an override
        assert plain.connection["webhook_url_override"] is None

        body, headers = gh.send()
        copy = gh.delivered(headers, receiver=second)[0]
        # The primary attempt comes before the secondary one: it is already in.
        got = gh.delivered(headers)
        assert [d.path for d in got] == [override_path], \
            "the override must receive instead of the environment's primary URL"
        for d in (got[0], copy):
            assert_bytes(d.body, app.expected(gh.conn, body))
            assert d.header("X-Nango-Hmac-Sha256") == nango_signature(app.env["signing_key"], d.body)
            assert d.header("X-Hookline-Connection-Id") == gh.conn
        assert copy.path == second_path

        _, headers = plain.send()
        assert [d.path for d in plain.delivered(headers)] == [app.path]

        listed = cli.json("connection", "list", "--env", app.env["id"], "--integration", app.key)
        assert {c["connection_id"]: c["webhook_url_override"] for c in listed} == {gh.conn: override,
                                                                                    plain.conn: None}
        cleared = cli.json("connection", "update", "--env", app.env["id"], "--integration", app.key,
                           "--id", gh.conn, "--webhook-url", "none")
        assert cleared["webhook_url_override"] is None
        gh.until(lambda d, *_: d.path == app.path, "the primary URL again after --webhook-url none")
        moved_path = f"/moved/{uid()}"
        cli.json("connection", "update", "--env", app.env["id"], "--integration", app.key, "--id", gh.conn,
                 "--webhook-url", receiver.url + moved_path)
        gh.until(lambda d, *_: d.path == moved_path, "the new override URL")
    finally:
        second.stop()


def test_integration_with_forwarding_off_delivers_nothing(cli, stack, github):
    gh = Github(github)
    _, headers = gh.send()
    gh.delivered(headers)   # on by default (and now cached)
    assert github.integration["forward_enabled"] is True

    updated = cli.json("integration", "update", "--env", gh.env_id, "--key", github.key, "--forward", "false")
    assert updated["forward_enabled"] is False
    before = disabled_count(stack)

    def counted_as_disabled():
        _, sent = gh.send()
        want = sent["X-GitHub-Delivery"]
        wait_until(lambda: disabled_count(stack) > before or
                   any(d.header("X-GitHub-Delivery") == want for d in github.receiver.snapshot()),
                   TIMEOUT, f"webhook {want} to be delivered or counted as disabled")
        return disabled_count(stack) > before
    wait_until(counted_as_disabled, SETTLE, "the forwarder to count a webhook as disabled", interval=0.2)

    # In effect now: the next one is counted and never delivered.
    count = disabled_count(stack)
    _, headers = gh.send()
    wait_until(lambda: disabled_count(stack) > count, TIMEOUT, "the disabled counter to rise",
               lambda: disabled_count(stack))
    want = headers["X-GitHub-Delivery"]
    assert not [d for d in github.receiver.snapshot() if d.header("X-GitHub-Delivery") == want]

    listed = cli.json("integration", "list", "--env", gh.env_id)
    assert [i["forward_enabled"] for i in listed if i["key"] == github.key] == [False]
    cli.json("integration", "update", "--env", gh.env_id, "--key", github.key, "--forward", "true")
    gh.until(lambda *_: True, "deliveries again after --forward true")


# ---- formats and signatures --------------------------------------------------------------

def test_raw_mode_sends_the_provider_body_and_headers_unchanged(cli, github):
    gh = Github(github)
    key = github.env["signing_key"]
    updated = cli.json("env", "update", "--env", gh.env_id, "--forward-mode", "raw")
    assert updated["forward_mode"] == "raw" and updated["legacy_signature"] is False
    content_type = "application/json; charset=utf-8"
    d, body, headers = gh.until(lambda d, body, _: d.body == body, "a raw delivery",
                                **{"Content-Type": content_type, "X-Custom-Thing": "kept as is"})

    assert_bytes(d.body, body, "the raw body")
    assert d.header("Content-Type") == content_type
    for name in ("X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256", "X-Custom-Thing"):
        assert d.header(name) == headers[name], f"provider header {name} not passed on unchanged"
    assert verify_standard(key, *signatures(d), d.body), "webhook-signature does not verify over the raw body"
    assert verify_standard(whsec(key), *signatures(d), d.body)
    assert d.header("X-Nango-Hmac-Sha256") == nango_signature(key, d.body)
    assert (d.header("X-Hookline-Provider"), d.header("X-Hookline-Integration"),
            d.header("X-Hookline-Connection-Id"), d.header("X-Hookline-Verified")) == \
        ("github-app", github.key, gh.conn, "true")
    assert d.header("X-Hookline-Webhook-Id")
    assert "x-nango-signature" not in d.headers

    cli.json("env", "update", "--env", gh.env_id, "--forward-mode", "envelope")
    d, body, _ = gh.until(lambda d, *_: envelope_of(d), "the envelope again")
    assert_bytes(d.body, github.expected(gh.conn, body))
    assert d.header("Content-Type") == "application/json"


def test_legacy_signature_only_when_the_environment_asks(cli, github):
    gh = Github(github)
    key = github.env["signing_key"]
    _, headers = gh.send()
    assert "x-nango-signature" not in gh.delivered(headers)[0].headers

    assert cli.json("env", "update", "--env", gh.env_id, "--legacy-signature", "true")["legacy_signature"] is True
    d, _, _ = gh.until(lambda d, *_: d.header("X-Nango-Signature"), "the legacy header")
    # Nango's legacy scheme: hex SHA-256 of the signing key's text followed by the body.
    assert d.header("X-Nango-Signature") == hashlib.sha256(key.encode() + d.body).hexdigest()
    assert d.header("X-Nango-Hmac-Sha256") == nango_signature(key, d.body)

    cli.json("env", "update", "--env", gh.env_id, "--legacy-signature", "false")
    gh.until(lambda d, *_: "x-nango-signature" not in d.headers, "no legacy header after turning it off")


def test_rotated_key_keeps_signing_alongside_the_new_one_during_its_grace(cli, github):
    gh = Github(github)
    env_id, old = gh.env_id, github.env["signing_key"]
    rotated = cli.json("env", "rotate-key", "--env", env_id, "--grace-hours", "2")
    new = rotated["signing_key"]
    assert new != old and len(new) == 64 and rotated["signing_key_whsec"] == whsec(new)
    assert rotated["previous_signing_key_active"] is True
    until = datetime.fromisoformat(rotated["previous_signing_key_until"])
    assert abs((until - datetime.now(timezone.utc)).total_seconds() - 7200) < 120, until

    shown = cli.json("env", "show", "--env", env_id)
    assert shown["previous_signing_key_active"] is True and "previous_signing_key" not in shown
    assert shown["previous_signing_key_until"] == rotated["previous_signing_key_until"]
    secrets = cli.json("env", "show", "--env", env_id, "--show-secrets")
    assert (secrets["signing_key"], secrets["previous_signing_key"]) == (new, old)

    d, _, _ = gh.until(lambda d, *_: d.header("X-Nango-Hmac-Sha256") == nango_signature(new, d.body),
                       "X-Nango-Hmac-Sha256 with the new key")
    msg_id, ts, header = signatures(d)
    entries = header.split(" ")
    assert len(entries) == 2, f"expected two webhook-signature entries during the grace period: {header!r}"
    assert verify_standard(new, msg_id, ts, entries[0], d.body), "the first entry is not the new key's"
    assert verify_standard(old, msg_id, ts, entries[1], d.body), "the second entry is not the previous key's"
    for key in (new, old, whsec(new), whsec(old)):
        assert verify_standard(key, msg_id, ts, header, d.body)

    # Rotating again without a grace period: only the newest key signs.
    again = cli.json("env", "rotate-key", "--env", env_id, "--grace-hours", "0")
    newest = again["signing_key"]
    assert again["previous_signing_key_active"] is False and again["previous_signing_key_until"] is None
    d, _, _ = gh.until(lambda d, *_: d.header("X-Nango-Hmac-Sha256") == nango_signature(newest, d.body),
                       "X-Nango-Hmac-Sha256 with the newest key")
    msg_id, ts, header = signatures(d)
    assert " " not in header and verify_standard(newest, msg_id, ts, header, d.body)
    assert not verify_standard(new, msg_id, ts, header, d.body)


def test_grace_period_ends_on_time(cli, github):
    """The previous key stops signing when its grace period ends, with nothing else
    changed (the forwarder keeps the end time with the cached key and checks it)."""
    gh = Github(github)
    env_id = gh.env_id
    cli.json("env", "rotate-key", "--env", env_id, "--grace-hours", "1")
    shown = cli.json("env", "show", "--env", env_id, "--show-secrets")
    new, old = shown["signing_key"], shown["previous_signing_key"]
    gh.until(lambda d, *_: len(signatures(d)[2].split(" ")) == 2, "two signatures")
    # Shorten the grace period to a few seconds from now (there is no CLI for that).
    window = 8
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"id={env_id}",
                        os.environ["HOOKLINE_DATABASE_URL"]],
                       input=f"UPDATE environments SET previous_signing_key_until = now() + interval '{window} s'"
                             f" WHERE id = :'id'::uuid".encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    ends = time.monotonic() + window
    _, headers = gh.send()   # most likely delivered within the window, loading the cache with its end
    gh.delivered(headers)
    time.sleep(max(0.0, ends - time.monotonic()) + 1.5)
    _, headers = gh.send()
    d = gh.delivered(headers)[0]
    msg_id, ts, header = signatures(d)
    assert " " not in header and verify_standard(new, msg_id, ts, header, d.body), header
    assert not verify_standard(old, msg_id, ts, header, d.body)
    assert cli.json("env", "show", "--env", env_id)["previous_signing_key_active"] is False


# ---- the CLI ----------------------------------------------------------------------------------

def test_cli_checks_and_shows_the_new_settings(cli, github):
    env_id, key = github.env["id"], github.key
    assert (github.env["forward_mode"], github.env["legacy_signature"]) == ("envelope", False)
    created = cli.json("env", "create", "--name", f"raw-{uid()}", "--webhook-url", "https://app.example/hook",
                       "--secondary-url", "none", "--forward-mode", "raw", "--legacy-signature", "yes")
    assert (created["forward_mode"], created["legacy_signature"], created["secondary_webhook_url"]) == \
        ("raw", True, None)
    listed = {e["id"]: e for e in cli.json("env", "list")}
    assert listed[created["id"]]["forward_mode"] == "raw"
    assert listed[created["id"]]["previous_signing_key_active"] is False

    updated = cli.json("env", "update", "--env", created["id"], "--secondary-url", "https://copy.example/x",
                       "--webhook-url", "http://other.example/")
    assert (updated["webhook_url"], updated["secondary_webhook_url"]) == ("http://other.example/",
                                                                         "https://copy.example/x")
    assert cli.json("env", "update", "--env", created["id"], "--secondary-url", "none")["secondary_webhook_url"] \
        is None
    sync_only = cli.json("integration", "create", "--env", env_id, "--key", f"sync-{uid()}", "--provider",
                         "github-app", "--forward", "false")
    assert sync_only["forward_enabled"] is False

    bad = [
        (2, ["env", "create", "--name", f"x-{uid()}", "--webhook-url", "https://a.example", "--forward-mode", "xml"],
         "--forward-mode"),
        (1, ["env", "create", "--name", f"x-{uid()}", "--webhook-url", "ftp://a.example"], "--webhook-url"),
        (2, ["env", "update", "--env", env_id], "nothing to update"),
        (2, ["env", "update", "--env", env_id, "--legacy-signature", "maybe"], "--legacy-signature"),
        (1, ["env", "update", "--env", env_id, "--webhook-url", "none"], "--webhook-url"),
        (1, ["env", "update", "--env", "00000000-0000-4000-8000-000000000000", "--forward-mode", "raw"],
         "no environment"),
        (2, ["env", "rotate-key", "--env", env_id, "--grace-hours", "-1"], "--grace-hours"),
        (1, ["env", "rotate-key", "--env", "00000000-0000-4000-8000-000000000000"], "no environment"),
        (2, ["integration", "update", "--env", env_id, "--key", key, "--forward", "sometimes"], "--forward"),
        (1, ["connection", "create", "--env", env_id, "--integration", key, "--id", f"c-{uid()}",
             "--webhook-url", "javascript:alert(1)"], "--webhook-url"),
        (1, ["connection", "update", "--env", env_id, "--integration", key, "--id", "no-such-connection",
             "--webhook-url", "none"], "no connection"),
        (2, ["connection", "update", "--env", env_id, "--integration", key, "--id", "x"], "--webhook-url"),
    ]
    for want, args, says in bad:
        status, err = exit_status(cli, *args)
        assert (status, says in err) == (want, True), f"`hookline {' '.join(args)}` exited {status}: {err}"
    # Nothing was changed by the refused commands.
    shown = cli.json("env", "show", "--env", env_id)
    assert (shown["forward_mode"], shown["legacy_signature"], shown["previous_signing_key_active"]) == \
        ("envelope", False, False)
