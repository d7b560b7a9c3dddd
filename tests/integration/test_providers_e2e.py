"""A handful of providers through the real pipeline: their handshakes are answered by
the ingress, their signatures (computed here independently, from the providers' published
schemes) verify, and their webhooks reach the right connection byte for byte."""
import base64
import hashlib
import hmac
import json
import random
import subprocess
import time
import urllib.parse
import uuid

from hlsupport import (App, assert_bytes, get, hubspot_event, hubspot_headers, post, uid,
                       wait_ingress_knows, wait_until)


class ProviderApp(App):
    """An App for any provider, with the secret given as --secret."""

    def __init__(self, cli, stack, receiver, provider, secret, *create_args):
        self.cli, self.provider, self.receiver = cli, provider, receiver
        self.path = f"/app/{uid()}"
        self.env = cli.env(receiver.url + self.path)
        self.key = f"{provider}-{uid()}"
        self.secret = secret
        self.integration = cli.json("integration", "create", "--env", self.env["id"], "--key", self.key,
                                    "--provider", provider, "--secret", secret, *create_args)
        self.url = f"{stack.public_url}/webhook/{self.env['id']}/{self.key}"


def hexmac(secret, msg):
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def slack_headers(secret, body, ts=None):
    ts = str(int(time.time()) if ts is None else ts)
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + hexmac(secret, b"v0:" + ts.encode() + b":" + body)}


def test_slack_url_verification_and_event(cli, stack, receiver):
    app = ProviderApp(cli, stack, receiver, "slack", f"slack-{uid()}")
    team = f"T{uid().upper()}"
    conn = app.connect({"team.id": team})

    challenge = f"ch-{uid()}"
    body = json.dumps({"token": "x", "challenge": challenge, "type": "url_verification"}).encode()
    r = post(app.url, body, slack_headers(app.secret, body))
    # Slack accepts the challenge as plain text or as JSON {"challenge": ...}
    answered = r.json().get("challenge") if r.headers.get("Content-Type", "").startswith("application/json") \
        else r.text
    assert r.status_code == 200 and answered == challenge, f"url_verification answered {r.status_code} {r.text!r}"
    forged = post(app.url, body, slack_headers("wrong-secret", body))
    assert forged.status_code == 401, "an unsigned url_verification was answered"

    event = (f'{{"token":"x","team_id":"{team}","type":"event_callback",'
             f'"event":{{"type":"app_mention","text":"hi"}},"event_id":"Ev{uid()}"}}').encode()
    r = post(app.url, event, slack_headers(app.secret, event))
    assert r.status_code == 200, r.text
    d = app.wait_payload(event)[0]
    assert_bytes(d.body, app.expected(conn, event))
    # the challenge itself was never forwarded to the app
    assert not app.mine(receiver.snapshot(), body)


def test_zoom_url_validation(cli, stack, receiver):
    app = ProviderApp(cli, stack, receiver, "zoom", f"zoom-{uid()}")
    plain = uid()
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": plain},
                       "event_ts": int(time.time() * 1000)}).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "x-zm-request-timestamp": ts,
               "x-zm-signature": "v0=" + hexmac(app.secret, b"v0:" + ts.encode() + b":" + body)}
    r = post(app.url, body, headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"plainToken": plain, "encryptedToken": hexmac(app.secret, plain.encode())}


def test_stripe_connect_event_reaches_the_account(cli, stack, receiver):
    app = ProviderApp(cli, stack, receiver, "stripe", f"whsec_{uid()}")
    account = f"acct_{uid()}"
    conn = app.connect({"accountId": account})
    body = (f'{{"id":"evt_{uid()}","object":"event","type":"customer.created","account":"{account}",'
            f'"data":{{"object":{{"id":"cus_1"}}}}}}').encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": f"t={ts},v1={hexmac(app.secret, ts.encode() + b'.' + body)},v0=ignored"}
    r = post(app.url, body, headers)
    assert r.status_code == 200, r.text
    assert_bytes(app.wait_payload(body)[0].body, app.expected(conn, body))
    old = str(int(time.time()) - 3600)
    stale = {"Content-Type": "application/json",
             "Stripe-Signature": f"t={old},v1={hexmac(app.secret, old.encode() + b'.' + body)}"}
    assert post(app.url, body, stale).status_code == 401, "a replayed (hour-old) Stripe event was accepted"


def test_microsoft_graph_validation_and_batch(cli, stack, receiver):
    app = ProviderApp(cli, stack, receiver, "microsoft-oauth2-cc", f"state-{uid()}")
    t1, t2 = str(uuid.uuid4()), str(uuid.uuid4())
    # clientState is a shared credential that covers nothing of the body: a tenant named in
    # it gets notifications only with its own secret (docs/providers.md, "Per-connection
    # secrets"), here the subscription's clientState, the integration's.
    c1, c2 = app.connect({"tenantId": t1}, secret=app.secret), app.connect({"tenantId": t2}, secret=app.secret)

    token = f"Validation: token {uid()}"
    r = get(app.url + "?validationToken=" + urllib.parse.quote(token))
    assert r.status_code == 200 and r.text == token, f"GET validation answered {r.status_code} {r.text!r}"
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers.get("X-Content-Type-Options") == "nosniff", "an echoed token must not be sniffed as HTML"
    r = post(app.url + "?validationToken=" + urllib.parse.quote(token), b"", {})
    assert r.status_code == 200 and r.text == token, f"POST validation answered {r.status_code} {r.text!r}"
    # The echo is capped at 1,024 bytes of printable ASCII.
    at_cap = "Validation: " + "v" * (1024 - len("Validation: "))
    r = get(app.url + "?validationToken=" + urllib.parse.quote(at_cap))
    assert r.status_code == 200 and r.text == at_cap, f"a 1,024-byte token answered {r.status_code}"
    # An empty token is no handshake: a GET is refused like any GET, a POST is verified as
    # a notification (and has none).
    assert get(app.url + "?validationToken=").status_code == 405
    assert post(app.url + "?validationToken=", b"", {}).status_code == 401
    for bad in (at_cap + "v", "Validation: a\r\nX-Injected: 1", "Validation: caf\u00e9"):
        r = get(app.url + "?validationToken=" + urllib.parse.quote(bad))
        assert r.status_code == 400 and bad not in r.text, f"{bad[:40]!r} answered {r.status_code} {r.text[:80]!r}"

    def note(tenant, n):
        return (f'{{"subscriptionId":"sub-{n}","clientState":"{app.secret}","changeType":"created",'
                f'"resource":"Users/1/messages/{n}","tenantId":"{tenant}"}}')
    body = f'{{"value":[{note(t1, 1)},{note(t2, 2)}]}}'.encode()
    r = post(app.url, body, {"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    d1 = app.wait_payload(f'{{"value":[{note(t1, 1)}]}}'.encode())[0]
    d2 = app.wait_payload(f'{{"value":[{note(t2, 2)}]}}'.encode())[0]
    assert json.loads(d1.body)["connectionId"] == c1
    assert json.loads(d2.body)["connectionId"] == c2

    forged = body.replace(app.secret.encode(), b"guessed")
    assert post(app.url, forged, {"Content-Type": "application/json"}).status_code == 401


def test_standard_webhooks_signed_by_the_cli_and_named_by_the_url(cli, stack, receiver):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    app = ProviderApp(cli, stack, receiver, "standard-webhooks", secret)
    conn = app.connect({})
    # A connection named by the URL gets webhooks only when its own secret verifies them
    # (docs/providers.md, "Per-connection secrets"): here the integration's.
    cli.run("connection", "update", "--env", app.env["id"], "--integration", app.key, "--id", conn,
            "--secret", secret)
    body = f'{{"type":"contact.created","data":{{"id":"{uid()}"}}}}'.encode()
    headers = cli.sign("standard-webhooks", secret, body)
    url = app.url + "?nangoConnectionId=" + conn
    r = post(url, body, {"Content-Type": "application/json", **headers})
    assert r.status_code == 200, r.text
    assert_bytes(app.wait_payload(body)[0].body, app.expected(conn, body))
    tampered = body.replace(b"contact", b"CONTACT")
    assert post(url, tampered, {"Content-Type": "application/json", **headers}).status_code == 401


def test_allow_unverified_only_while_no_secret_is_set(cli, stack, receiver):
    path = f"/app/{uid()}"
    env = cli.env(receiver.url + path)
    key = f"gh-{uid()}"
    cli.integration(env["id"], key, "github-app")   # no secret yet
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    wait_ingress_knows(url)
    body = f'{{"action":"created","installation":{{"id":{random.randint(1, 10**9)}}},"n":"{uid()}"}}'.encode()
    plain = {"Content-Type": "application/json", "X-GitHub-Event": "installation"}
    assert post(url, body, plain).status_code == 401, "an integration without a secret accepted a webhook"

    cli.run("integration", "update", "--env", env["id"], "--key", key, "--allow-unverified", "true")
    # The ingress drops its cache on the change notification, a moment after the commit.
    wait_until(lambda: post(url, body, plain).status_code == 200, 10,
               "the allow-unverified integration to accept an unsigned webhook")
    d = receiver.wait_for(lambda rs: [x for x in rs if x.path == path], 30, "the unverified delivery")[0]
    assert d.header("X-Hookline-Verified") == "false", "an unverified webhook was forwarded as verified"

    cli.run("integration", "update", "--env", env["id"], "--key", key, "--secret", "now-set")
    wait_until(lambda: post(url, body, plain).status_code == 401, 10,
               "an unsigned webhook to be refused once the integration has a secret")


def test_a_provider_that_signs_nothing_needs_the_opt_in(cli, stack, receiver):
    """Affinity signs nothing: its integration accepts webhooks only once the operator
    allows unverified ones (401 saying so before); the unauthenticated provider is itself
    that choice."""
    path = f"/app/{uid()}"
    env = cli.env(receiver.url + path)
    key = f"affinity-{uid()}"
    cli.integration(env["id"], key, "affinity")
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    wait_ingress_knows(url)
    body = f'{{"type":"list_entry.created","body":{{"id":"{uid()}"}}}}'.encode()
    plain = {"Content-Type": "application/json"}
    r = post(url, body, plain)
    assert r.status_code == 401, f"affinity without the opt-in answered {r.status_code}"
    assert "allow-unverified" in r.json()["error"], r.text

    cli.run("integration", "update", "--env", env["id"], "--key", key, "--allow-unverified", "true")
    wait_until(lambda: post(url, body, plain).status_code == 200, 10,
               "the allow-unverified affinity integration to accept a webhook")
    d = receiver.wait_for(lambda rs: [x for x in rs if x.path == path], 30, "the unverified delivery")[0]
    assert d.header("X-Hookline-Verified") == "false", "an unsigned webhook was forwarded as verified"

    key = f"unauthenticated-{uid()}"
    cli.integration(env["id"], key, "unauthenticated")
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    wait_ingress_knows(url)
    assert post(url, body, plain).status_code == 200, "the unauthenticated provider needs no further opt-in"


def test_generic_hmac_configured_per_integration(cli, stack, receiver):
    secret = f"g-{uid()}"
    config = {"header": "X-Acme-Signature", "algorithm": "sha512", "encoding": "base64", "prefix": "v1=",
              "template": "{timestamp}.{body}", "timestamp_header": "X-Acme-Time", "tolerance": 300}
    app = ProviderApp(cli, stack, receiver, "generic-hmac", secret, "--verify-config", json.dumps(config))
    body = f'{{"event":"thing.happened","id":"{uid()}"}}'.encode()
    ts = str(int(time.time()))
    mac = base64.b64encode(hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha512).digest()).decode()
    headers = {"Content-Type": "application/json", "X-Acme-Time": ts, "X-Acme-Signature": "v1=" + mac}
    assert post(app.url, body, headers).status_code == 200
    assert_bytes(app.wait_payload(body)[0].body, app.expected(None, body))
    assert post(app.url, body + b" ", headers).status_code == 401


def test_hubspot_legacy_signature_alone_only_when_allowed(cli, stack, receiver):
    """A sender cannot pick HubSpot's untimed v1 signature by dropping v3: refused until
    the integration allows it, and a wrong v3 next to a right v1 is refused even then."""
    secret = f"hs-{uid()}"
    app = ProviderApp(cli, stack, receiver, "hubspot", secret, "--client-secret", secret)
    portal = random.randint(10**6, 10**9)
    conn = app.connect({"portalId": str(portal)})
    body = b"[" + hubspot_event(portal, random.randint(1, 10**6)) + b"]"
    v1 = {"Content-Type": "application/json", "X-HubSpot-Signature-Version": "v1",
          "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest()}
    assert post(app.url, body, v1).status_code == 401, "a v1 signature alone was accepted by default"

    cli.run("integration", "update", "--env", app.env["id"], "--key", app.key,
            "--verify-config", json.dumps({"allow_legacy_signature": True}))
    wait_until(lambda: post(app.url, body, v1).status_code == 200, 10,
               "the integration that allows legacy signatures to accept v1 alone")
    assert_bytes(app.wait_payload(body)[0].body, app.expected(conn, body))

    wrong_v3 = {**hubspot_headers("not-the-secret", app.url, body), **v1}
    assert post(app.url, body, wrong_v3).status_code == 401, "a wrong v3 next to a right v1 was accepted"
    assert post(app.url, body, {**hubspot_headers(secret, app.url, body), **v1}).status_code == 200


def test_cli_verify_refuses_a_legacy_signature_alone(cli):
    secret, body = f"gh-{uid()}", b'{"zen":"Keep it logically awesome."}'
    sha1 = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    args = ("verify", "--provider", "github", "--secret", secret, "--header", f"X-Hub-Signature: {sha1}")
    r = subprocess.run([str(cli.path), *args], input=body, capture_output=True, timeout=30)
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode != 0 and "alone is refused" in out, out
    assert cli.run(*args, "--config", '{"allow_legacy_signature": true}', stdin=body).strip() == "valid"


def test_alias_key_routes_as_its_row_and_is_forwarded_from_the_alias(cli, stack, receiver):
    # sellsy-oauth2-cc is Nango's second key for Sellsy: the sellsy row verifies it (hex
    # SHA-1 of the secret followed by the body) and the app sees the key it configured.
    app = ProviderApp(cli, stack, receiver, "sellsy-oauth2-cc", f"sellsy-{uid()}")
    corp = str(random.randint(10**5, 10**9))
    conn = app.connect({"corpid": corp})
    body = json.dumps({"corpid": corp, "thirdtype": "client", "event": "updated", "relatedid": uid()}).encode()
    signature = hashlib.sha1(app.secret.encode() + body).hexdigest()
    r = post(app.url, body, {"Content-Type": "application/json", "X-Webhook-Signature": signature})
    assert r.status_code == 200, r.text
    d = app.wait_payload(body)[0]
    assert_bytes(d.body, app.expected(conn, body))
    assert json.loads(d.body)["from"] == "sellsy-oauth2-cc"
    forged = post(app.url, body, {"Content-Type": "application/json",
                                  "X-Webhook-Signature": hashlib.sha1(b"other" + body).hexdigest()})
    assert forged.status_code == 401, forged.text


def test_pagerduty_signature_list_and_connection_header(cli, stack, receiver):
    app = ProviderApp(cli, stack, receiver, "pagerduty", f"pd-{uid()}")
    conn = app.connect({}, secret=app.secret)   # PagerDuty's connections prove themselves with their own
    body = json.dumps({"event": {"id": uid(), "event_type": "incident.triggered", "resource_type": "incident",
                                 "data": {"id": "PGR0VU2", "type": "incident"}}}).encode()
    # PagerDuty lists one v1= signature per secret of the subscription (two while rotating).
    signatures = f"v1={hexmac('an-older-secret', body)}, v1={hexmac(app.secret, body)}"
    headers = {"Content-Type": "application/json", "X-PagerDuty-Signature": signatures,
               "X-Nango-Connection-Id": conn}
    r = post(app.url, body, headers)
    assert r.status_code == 200, r.text
    d = app.wait_payload(body)[0]
    assert_bytes(d.body, app.expected(conn, body))
    only_old = dict(headers, **{"X-PagerDuty-Signature": f"v1={hexmac('an-older-secret', body)}"})
    r = post(app.url, body, only_old)
    assert r.status_code == 401, r.text
