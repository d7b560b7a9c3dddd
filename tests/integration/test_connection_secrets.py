"""Per-connection secrets (docs/providers.md, "Per-connection secrets"): a connection's own
secret verifies the webhooks that name it; a delivery captured by one customer and re-posted
naming another customer's connection is not attributed to it; a connection named by the
URL on an integration-wide secret is not attributed either; the secret is stored encrypted
and never printed nor logged."""
import json
import os
import subprocess
from pathlib import Path

from hlsupport import App, TIMEOUT, github_headers, post, uid, wait_ingress_knows, wait_until


class ConnApp(App):
    """A github (repository webhooks, connection named by ?nangoConnectionId=) integration.
    Without shared_secret it has no integration-wide secret and lets the router verify
    each webhook with the secret of the connection it names (--allow-unverified)."""

    def __init__(self, cli, stack, receiver, shared_secret=None):
        self.cli, self.provider, self.receiver = cli, "github", receiver
        self.path = f"/app/{uid()}"
        self.env = cli.env(receiver.url + self.path)
        self.key = f"github-{uid()}"
        self.secret = shared_secret
        mode = ["--secret", shared_secret] if shared_secret else ["--allow-unverified"]
        self.integration = cli.json("integration", "create", "--env", self.env["id"], "--key", self.key,
                                    "--provider", "github", *mode)
        self.url = f"{stack.public_url}/webhook/{self.env['id']}/{self.key}"

    def connect_with_secret(self, secret):
        conn = f"conn-{uid()}"
        out = self.cli.json("connection", "create", "--env", self.env["id"], "--integration", self.key,
                            "--id", conn, "--secret", secret)
        assert out["has_secret"] is True, out
        assert secret not in json.dumps(out), "connection create printed the secret"
        return conn

    def named(self, conn):
        return f"{self.url}?nangoConnectionId={conn}"


def issue_body():
    return f'{{"action":"opened","issue":{{"number":1,"title":"t-{uid()}"}}}}'.encode()


def delivered(app, body, n=1):
    """The deliveries of body, once n of them have arrived: (connectionId, verified) each."""
    ds = app.receiver.wait_for(lambda rs: (lambda m: m if len(m) >= n else None)(app.mine(rs, body)), TIMEOUT,
                               f"{n} delivery(ies) of {body[:80]!r}")
    return [(json.loads(d.body)["connectionId"], d.header("X-Hookline-Verified")) for d in ds]


def test_own_secret_attributes_and_a_captured_delivery_cannot_name_another(cli, stack, receiver):
    app = ConnApp(cli, stack, receiver)
    secret_a, secret_b = f"a-{uid()}", f"b-{uid()}"
    a, b = app.connect_with_secret(secret_a), app.connect_with_secret(secret_b)

    body = issue_body()
    captured = github_headers(secret_a, body, event="issues")
    assert post(app.named(a), body, captured).status_code == 200
    assert delivered(app, body) == [(a, "true")], "A's own delivery was not attributed to A as verified"

    # A re-posts its own delivery (signed with A's secret) naming B: the ingress cannot tell
    # (the URL is not signed), the router's check with B's secret refuses it.
    replayed = dict(captured, **{"X-GitHub-Delivery": f"d-{uid()}"})
    assert post(app.named(b), body, replayed).status_code == 200
    got = delivered(app, body, 2)
    assert sorted(got, key=str) == sorted([(a, "true"), (None, "false")], key=str), got

    # A forgery signed with a guessed secret is not B's either; B's real webhooks are.
    forged = issue_body()
    assert post(app.named(b), forged, github_headers("guessed", forged, event="issues")).status_code == 200
    assert delivered(app, forged) == [(None, "false")]
    own = issue_body()
    assert post(app.named(b), own, github_headers(secret_b, own, event="issues")).status_code == 200
    assert delivered(app, own) == [(b, "true")]


def test_url_named_connection_without_its_own_secret_is_not_trusted_on_a_shared_secret(cli, stack, receiver):
    """With one secret for the whole integration, whoever holds any delivery can name any
    connection in the URL: such a connection gets the webhook only once it has a secret of
    its own that verifies it."""
    shared = f"shared-{uid()}"
    app = ConnApp(cli, stack, receiver, shared_secret=shared)
    conn = app.connect({})
    body = issue_body()
    assert post(app.named(conn), body, github_headers(shared, body, event="issues")).status_code == 200
    assert delivered(app, body) == [(None, "true")], "a URL-named connection was trusted on the shared secret"

    cli.run("connection", "update", "--env", app.env["id"], "--integration", app.key, "--id", conn,
            "--secret", shared)
    again = issue_body()
    assert post(app.named(conn), again, github_headers(shared, again, event="issues")).status_code == 200
    assert delivered(app, again) == [(conn, "true")]


def test_the_secret_is_encrypted_and_never_printed_nor_logged(cli, stack, receiver):
    app = ConnApp(cli, stack, receiver)
    first, second = f"first-{uid()}", f"second-{uid()}"
    conn = app.connect_with_secret(first)
    updated = cli.json("connection", "update", "--env", app.env["id"], "--integration", app.key, "--id", conn,
                       "--secret", second)
    assert updated["has_secret"] is True and first not in json.dumps(updated) and second not in json.dumps(updated)
    listed = cli.run("connection", "list", "--env", app.env["id"])
    listed_json = cli.json("connection", "list", "--env", app.env["id"])
    assert [c["has_secret"] for c in listed_json if c["connection_id"] == conn] == [True], listed_json
    for out in (listed, json.dumps(listed_json)):
        assert first not in out and second not in out, "connection list printed a secret"

    stored = subprocess.run(["psql", "-X", "-tA", os.environ["HOOKLINE_DATABASE_URL"], "-c",
                             "SELECT webhook_secret FROM connections WHERE connection_id = '%s'" % conn],
                            capture_output=True, timeout=30).stdout.decode().strip()
    assert stored.startswith("hl1:") and second not in stored, "the connection secret is not stored encrypted"

    # A webhook that fails the secret and one that passes, then no daemon log holds it.
    bad, good = issue_body(), issue_body()
    assert post(app.named(conn), bad, github_headers(first, bad, event="issues")).status_code == 200
    assert post(app.named(conn), good, github_headers(second, good, event="issues")).status_code == 200
    assert delivered(app, bad) == [(None, "false")] and delivered(app, good) == [(conn, "true")]

    cli.run("connection", "update", "--env", app.env["id"], "--integration", app.key, "--id", conn, "--secret", "")
    assert [c["has_secret"] for c in cli.json("connection", "list", "--env", app.env["id"])
            if c["connection_id"] == conn] == [False]

    logs = list(Path(os.environ["HOOKLINE_STACK_DIR"]).glob("*.log"))
    assert logs, "no daemon logs to check"
    wait_until(lambda: any(conn in p.read_text(errors="replace") for p in logs), TIMEOUT,
               "the router to log the refusal for the connection")
    for p in logs:
        text = p.read_text(errors="replace")
        assert first not in text and second not in text, f"{p.name} holds a connection secret"


def psql(query):
    r = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", os.environ["HOOKLINE_DATABASE_URL"]],
                       input=query.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode().strip()


def test_reencrypt_covers_connection_secrets(cli, stack, receiver):
    """A connection secret written in plain text (by hand, or before encryption) is
    encrypted by `hookline secrets reencrypt`, keeps verifying, and plain text is refused
    from then on."""
    app = ConnApp(cli, stack, receiver)
    secret = f"plain-{uid()}"
    conn = app.connect({})
    psql("ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_secrets_encrypted;"
         f" UPDATE connections SET webhook_secret = '{secret}' WHERE connection_id = '{conn}'")
    done = cli.json("secrets", "reencrypt")
    assert done["encrypted_from_plaintext"] >= 1 and done["unreadable"] == 0, done
    stored = psql(f"SELECT webhook_secret FROM connections WHERE connection_id = '{conn}'")
    assert stored.startswith("hl1:") and secret not in stored, stored
    body = issue_body()
    assert post(app.named(conn), body, github_headers(secret, body, event="issues")).status_code == 200
    assert delivered(app, body) == [(conn, "true")]
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", os.environ["HOOKLINE_DATABASE_URL"], "-c",
                        f"UPDATE connections SET webhook_secret = 'again' WHERE connection_id = '{conn}'"],
                       capture_output=True, timeout=30)
    assert r.returncode != 0 and b"connections_secrets_encrypted" in r.stderr, r.stderr


def test_a_shared_token_names_no_other_tenant_connection(cli, stack, receiver):
    """ShipStation sends a static token (X-Nango-Webhook-Secret) and names the connection in
    another header: the token covers neither, so a delivery captured by one tenant and sent
    again naming another tenant's connection reaches the app unattributed with the reason;
    the connection's own token, sent with it, attributes it."""
    path = f"/app/{uid()}"
    env = cli.env(receiver.url + path)
    key = f"shipstation-{uid()}"
    shared = f"tok-{uid()}"
    cli.json("integration", "create", "--env", env["id"], "--key", key, "--provider", "shipstation",
             "--secret", shared)
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    wait_ingress_knows(url)
    owner, victim = f"owner-{uid()}", f"victim-{uid()}"
    victim_token = f"victim-tok-{uid()}"
    cli.connection(env["id"], key, owner, {})
    cli.connection(env["id"], key, victim, {}, None, victim_token)

    def send(conn, token):
        body = f'{{"resource_type":"ORDER_NOTIFY","resource_url":"r-{uid()}"}}'.encode()
        r = post(url, body, {"Content-Type": "application/json", "X-Nango-Webhook-Secret": token,
                             "X-Nango-Connection-Id": conn})
        assert r.status_code == 200, r.text
        want = json.loads(body)
        got = receiver.wait_for(lambda ds: [d for d in ds if d.path == path
                                            and json.loads(d.body).get("payload") == want] or None,
                                TIMEOUT, f"the delivery naming {conn}")
        return [(json.loads(d.body)["connectionId"], d.header("X-Hookline-Unattributed-Reason")) for d in got]

    # The integration's token verifies at the ingress, but names nobody's connection by
    # itself: neither the owner's (no token of its own yet) nor the victim's (another one).
    assert send(owner, shared) == [(None, "connection-secret-required")]
    assert send(victim, shared) == [(None, "connection-secret-mismatch")]
    # The owner's own token (here the integration's, as one token per integration gives)
    # attributes its webhooks.
    cli.run("connection", "update", "--env", env["id"], "--integration", key, "--id", owner, "--secret", shared)
    assert send(owner, shared) == [(owner, None)]
