"""Secrets at rest: what the database holds (ciphertext only), that webhooks still verify
and forwards are still signed end to end, rotation of an integration's secret, what the
CLI shows, and `hookline secrets reencrypt`."""
import base64
import json
import os
import random
import subprocess
import uuid
from pathlib import Path

import pytest

from hlsupport import TIMEOUT, github_body, github_headers, nango_signature, post, sql, uid, wait_until

KEY_VAR = "HOOKLINE_ENCRYPTION_KEY"
OLD_VAR = "HOOKLINE_ENCRYPTION_OLD_KEYS"


def run(cli, *args, env=None, expect=0):
    """The CLI with a changed environment (None values unset a variable); returns (stdout,
    stderr) after checking the exit status."""
    full = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    r = subprocess.run([str(cli.path), *args], capture_output=True, timeout=60, env=full)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == expect, f"`hookline {' '.join(args)}` exited {r.returncode}, not {expect}:\n{out}\n{err}"
    return out, err


def integration_secrets(env_id, key):
    rows = sql("SELECT coalesce(webhook_secret, '-'), coalesce(client_secret, '-'),"
               " coalesce(previous_webhook_secret, '-'), coalesce(previous_client_secret, '-')"
               " FROM integrations WHERE environment_id = :'p1'::uuid AND key = :'p2'", env_id, key)
    assert len(rows) == 1
    return dict(zip(["webhook_secret", "client_secret", "previous_webhook_secret", "previous_client_secret"],
                    rows[0]))


def signing_key_stored(env_id):
    return sql("SELECT signing_key FROM environments WHERE id = :'p1'::uuid", env_id)[0][0]


def assert_ciphertext(value, *plain):
    assert value.startswith("hl1:"), f"stored secret is not hl1: ciphertext: {value[:12]!r}..."
    for p in plain:
        assert p not in value


def send_status(app, secret, tag):
    """POSTs a fresh GitHub webhook signed with secret; returns (status, body)."""
    body = github_body(app.installation, tag=tag)
    return post(app.url, body, github_headers(secret, body)).status_code, body


def wait_status(app, secret, want, what):
    """The ingress drops its cache on a change notification, shortly after the commit:
    poll until a webhook signed with secret gets `want`. Returns the body that did."""
    seen = {}

    def check():
        status, body = send_status(app, secret, f"{what}-{uid()}")
        seen["status"] = status
        return body if status == want else None
    return wait_until(check, 10, f"{what}: a webhook answered {want}", lambda: seen, interval=0.2)


@pytest.fixture
def gh(github):
    github.installation = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(github.installation)})
    return github


def test_database_holds_only_ciphertext_and_webhooks_still_verify_end_to_end(gh, cli):
    stored = integration_secrets(gh.env["id"], gh.key)
    assert_ciphertext(stored["webhook_secret"], gh.secret)
    assert stored["client_secret"] == "-" and stored["previous_webhook_secret"] == "-"
    assert_ciphertext(signing_key_stored(gh.env["id"]), gh.env["signing_key"])

    body = github_body(gh.installation, tag="encrypted")
    gh.send(body)
    [d] = gh.wait_payload(body)
    # The forwarder decrypted the signing key: the forward is signed with the printed one.
    assert d.header("X-Nango-Hmac-Sha256") == nango_signature(gh.env["signing_key"], d.body)

    # A ciphertext moved to another row does not decrypt there.
    other = cli.integration(gh.env["id"], f"moved-{uid()}", "github-app", secret="other-secret")
    sql("UPDATE integrations SET webhook_secret = :'p1' WHERE environment_id = :'p2'::uuid AND key = :'p3'",
        stored["webhook_secret"], gh.env["id"], other["key"])
    try:
        out, err = run(cli, "integration", "show", "--env", gh.env["id"], "--key", other["key"], "--show-secrets",
                       expect=1)
        assert "cannot be decrypted" in err and gh.secret not in out + err
    finally:
        sql("DELETE FROM integrations WHERE environment_id = :'p1'::uuid AND key = :'p2'", gh.env["id"], other["key"])


def test_show_hides_secrets_unless_asked(gh, cli):
    env_id, key = gh.env["id"], gh.key
    shown = cli.json("integration", "show", "--env", env_id, "--key", key)
    assert shown["has_webhook_secret"] is True and shown["has_client_secret"] is False
    assert not {"webhook_secret", "client_secret", "previous_webhook_secret"} & set(shown)
    assert shown["allow_unverified"] is False and shown["verify_config"] is None
    text = cli.run("integration", "show", "--env", env_id, "--key", key)
    assert gh.secret not in text and "hl1:" not in text

    revealed = cli.json("integration", "show", "--env", env_id, "--key", key, "--show-secrets")
    assert revealed["webhook_secret"] == gh.secret and revealed["client_secret"] is None

    env = cli.json("env", "show", "--env", env_id)
    assert "signing_key" not in env and env["id"] == env_id
    assert gh.env["signing_key"] not in cli.run("env", "show", "--env", env_id)
    env = cli.json("env", "show", "--env", env_id, "--show-secrets")
    assert env["signing_key"] == gh.env["signing_key"]
    assert env["signing_key_whsec"] == gh.env["signing_key_whsec"]

    listed = cli.json("integration", "list", "--env", env_id)
    assert [(i["key"], i["allow_unverified"], i["previous_secret_active"]) for i in listed] == [(key, False, False)]
    assert gh.secret not in cli.run("integration", "list", "--env", env_id)


def test_settings_allow_unverified_and_verify_config(github, cli):
    env_id = github.env["id"]
    key = f"generic-{uid()}"
    # A config the provider would not understand is refused before it is stored.
    _, err = run(cli, "integration", "create", "--env", env_id, "--key", key, "--provider", "github-app",
                 "--verify-config", '{"header": "X-Sig", "algorithm": "sha256"}', expect=1)
    assert "unknown key" in err and "allow_legacy_signature" in err
    created = cli.json("integration", "create", "--env", env_id, "--key", key, "--provider", "github-app",
                       "--allow-unverified", "--verify-config", '{"allow_legacy_signature": true}')
    assert created["allow_unverified"] is True and created["has_webhook_secret"] is False
    assert created["verify_config"] == {"allow_legacy_signature": True}
    _, err = run(cli, "integration", "update", "--env", env_id, "--key", key, "--verify-config",
                 '{"allow_legacy_signature": "yes"}', expect=1)
    assert "--verify-config" in err

    updated = cli.json("integration", "update", "--env", env_id, "--key", key, "--allow-unverified", "false",
                       "--verify-config", "null")
    assert updated["allow_unverified"] is False and updated["verify_config"] is None
    for bad in ("[1]", "{\"a\": 1, \"a\": 2}", "not json"):
        _, err = run(cli, "integration", "update", "--env", env_id, "--key", key, "--verify-config", bad, expect=1)
        assert "--verify-config" in err
    _, err = run(cli, "integration", "update", "--env", env_id, "--key", key, "--allow-unverified", "maybe",
                 expect=2)
    _, err = run(cli, "integration", "update", "--env", env_id, "--key", key, "--rotate", expect=2)
    _, err = run(cli, "integration", "update", "--env", env_id, "--key", "no-such", "--secret", "x", expect=1)
    assert "no integration 'no-such'" in err


def test_rotation_keeps_the_old_secret_until_cleared(gh, cli):
    env_id, old, new = gh.env["id"], gh.secret, f"n3w-{uid()}"
    wait_status(gh, old, 200, "before rotation: the current secret")

    rotated = cli.json("integration", "update", "--env", env_id, "--key", gh.key, "--secret", new, "--rotate")
    assert rotated["previous_secret_active"] is True and "webhook_secret" not in rotated
    stored = integration_secrets(env_id, gh.key)
    assert_ciphertext(stored["webhook_secret"], new, old)
    assert_ciphertext(stored["previous_webhook_secret"], new, old)
    revealed = cli.json("integration", "show", "--env", env_id, "--key", gh.key, "--show-secrets")
    assert (revealed["webhook_secret"], revealed["previous_webhook_secret"]) == (new, old)

    delivered = wait_status(gh, new, 200, "after rotation: the new secret")
    assert send_status(gh, old, "old-during-grace")[0] == 200, "the previous secret must still be accepted"
    assert send_status(gh, f"wrong-{uid()}", "wrong")[0] == 401
    gh.wait_payload(delivered)

    cleared = cli.json("integration", "update", "--env", env_id, "--key", gh.key, "--clear-previous")
    assert cleared["previous_secret_active"] is False
    assert integration_secrets(env_id, gh.key)["previous_webhook_secret"] == "-"
    wait_status(gh, old, 401, "after --clear-previous: the old secret")
    assert send_status(gh, new, "new-after-clear")[0] == 200

    # No secret reached a daemon's log.
    stack_dir = Path(os.environ["HOOKLINE_STACK_DIR"])
    for name in ("ingress", "router", "forwarder"):
        log = (stack_dir / f"{name}.log").read_text(errors="replace")
        for secret in (old, new, gh.env["signing_key"]):
            assert secret not in log, f"a secret appears in {name}.log"


def test_cli_refuses_to_store_secrets_without_a_key(gh, cli):
    env_id = gh.env["id"]
    _, err = run(cli, "integration", "create", "--env", env_id, "--key", f"nokey-{uid()}", "--provider",
                 "github-app", "--secret", "s", env={KEY_VAR: None}, expect=1)
    assert KEY_VAR in err
    _, err = run(cli, "env", "create", "--name", f"nokey-{uid()}", "--webhook-url", "http://127.0.0.1:9/x",
                 env={KEY_VAR: None}, expect=1)
    assert KEY_VAR in err
    _, err = run(cli, "integration", "show", "--env", env_id, "--key", gh.key, "--show-secrets",
                 env={KEY_VAR: None}, expect=1)
    assert KEY_VAR in err
    _, err = run(cli, "env", "list", env={KEY_VAR: "not-a-key"}, expect=1)
    assert KEY_VAR in err and "not-a-key" not in err
    # Without secrets involved, the CLI works without a key.
    run(cli, "integration", "show", "--env", env_id, "--key", gh.key, env={KEY_VAR: None})


def test_reencrypt_encrypts_plaintext_and_moves_old_key_values(gh, cli):
    env_id, plain = gh.env["id"], f"plain-{uid()}"
    sql("UPDATE integrations SET webhook_secret = :'p1' WHERE environment_id = :'p2'::uuid AND key = :'p3'",
        plain, env_id, gh.key)
    gh.secret = plain
    wait_status(gh, plain, 200, "a legacy plain-text secret")

    dry = cli.json("secrets", "reencrypt", "--dry-run")
    assert dry["dry_run"] is True and dry["encrypted_from_plaintext"] >= 1
    assert integration_secrets(env_id, gh.key)["webhook_secret"] == plain

    done = cli.json("secrets", "reencrypt")
    assert done["encrypted_from_plaintext"] >= 1 and done["key_id"] == os.environ[KEY_VAR].split(":")[0]
    assert plain not in json.dumps(done)
    assert_ciphertext(integration_secrets(env_id, gh.key)["webhook_secret"], plain)
    assert cli.json("secrets", "reencrypt")["encrypted_from_plaintext"] == 0
    body = wait_status(gh, plain, 200, "the re-encrypted secret")
    gh.wait_payload(body)

    # Key rotation: a new current key with the stack's key as an old one re-encrypts
    # everything under the new id; then back, so the daemons can read it again.
    stack_key = os.environ[KEY_VAR]
    temp_key = f"rot{uuid.uuid4().hex[:8]}:" + base64.b64encode(os.urandom(32)).decode()
    temp_id = temp_key.split(":")[0]
    try:
        out, _ = run(cli, "secrets", "reencrypt", "--json", env={KEY_VAR: temp_key, OLD_VAR: stack_key})
        moved = json.loads(out)
        assert moved["reencrypted_from_old_key"] >= 2 and moved["key_id"] == temp_id
        assert integration_secrets(env_id, gh.key)["webhook_secret"].startswith(f"hl1:{temp_id}:")
        assert signing_key_stored(env_id).startswith(f"hl1:{temp_id}:")
        out, _ = run(cli, "integration", "show", "--env", env_id, "--key", gh.key, "--show-secrets", "--json",
                     env={KEY_VAR: temp_key})
        assert json.loads(out)["webhook_secret"] == plain
        # Without the old key the values cannot be read: reencrypt leaves them and says so.
        out, err = run(cli, "secrets", "reencrypt", "--json", env={OLD_VAR: None}, expect=1)
        assert json.loads(out)["unreadable"] >= 2 and temp_id in err and "cannot be decrypted" in err
        assert integration_secrets(env_id, gh.key)["webhook_secret"].startswith(f"hl1:{temp_id}:")
    finally:
        # Exit 1 is fine here: another test may have left a value that no key reads.
        full = {**os.environ, KEY_VAR: stack_key, OLD_VAR: temp_key}
        subprocess.run([str(cli.path), "secrets", "reencrypt"], capture_output=True, timeout=60, env=full)
    assert signing_key_stored(env_id).startswith("hl1:" + stack_key.split(":")[0] + ":")
    body = wait_status(gh, plain, 200, "after rotating the encryption key back")
    gh.wait_payload(body, timeout=TIMEOUT)


def test_new_key_prints_a_usable_key(cli):
    key = cli.run("secrets", "new-key", "--id", "test-1").strip()
    name, b64 = key.split(":")
    assert name == "test-1" and len(base64.b64decode(b64)) == 32
    assert cli.json("secrets", "new-key")["key"] != key
    run(cli, "secrets", "new-key", "--id", "bad id", expect=1)
