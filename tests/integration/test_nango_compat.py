"""Nango compatibility suite: a connection stored exactly as Nango stores it receives the
webhooks Nango's routing scripts would route to it, through the real pipeline.

Every case is a data file in tests/compat/<provider>/<case>.json (tests/compat/README.md
says what each field means), transcribed from Nango's public routing scripts and their
tests. Here each case gets its own environment (its app on a fresh path of the
receiver), integration and connections; its request is signed with `hookline sign` when
the provider signs, posted to the ingress, and the app must receive it for exactly the
connections the case names, or once unattributed when it names none.

Deliberate differences (docs/providers.md): hookline never fans a webhook out to every
connection of an integration when it names none (Nango does for JobDiva); a secret Nango
keeps per connection in metadata.webhookSecret (Fillout, ShipStation) is the
integration's secret here. And where the webhook names its connection by a part the
signature does not cover (the URL's ?nangoConnectionId=, a body the provider's plain
token does not sign, a header outside the HMAC: `hookline providers --json` lists them
per provider as connection_secret_for), hookline attributes it only to a connection whose own secret
verifies it (docs/providers.md, "Per-connection secrets"), since anyone holding one
tenant's captured delivery could otherwise re-post it naming another tenant. A
connection imported from Nango has none; `hookline import nango` lists those connections, and here they get
the integration's secret as their own, as a migrating user would set it (the case's
`connection_secrets` asks for that where the row always wants one, as PagerDuty's).

Providers `hookline sign` cannot sign (a private key's signature or token) are signed
here with a committed test key (tests/fixtures/signed/, the case's `test_key`); where
the provider's keys are fetched, a loopback HTTPS key server (test_remote_keys.py's,
allowed by tests/run-integration.sh) serves them for the case."""
import base64
import glob
import hashlib
import hmac
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from hlsupport import assert_bytes, envelope, post, uid, wait_ingress_knows
from test_remote_keys import KeyServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import jose  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "compat")
CASES = sorted(glob.glob(os.path.join(ROOT, "*", "*.json")))
TIMEOUT = 60


def case_id(path):
    return os.path.relpath(path, ROOT)[:-len(".json")]


def request_body(case):
    """The request's bytes: compact JSON, raw text, or nothing."""
    if "body" in case:
        body = case["body"]
        field = case.get("fresh_timestamp")  # a body-borne timestamp the signature window checks
        if field:
            body = dict(body, **{field: int(time.time() * 1000)})
        return json.dumps(body, separators=(",", ":")).encode()
    return case.get("body_text", "").encode()


KID = "compat-1"  # the kid of the test key in a served JWKS


def with_key_url(value, key_url):
    """value with every string "$KEY_URL" (in lists and objects too) replaced by key_url."""
    if isinstance(value, dict):
        return {k: with_key_url(v, key_url) for k, v in value.items()}
    if isinstance(value, list):
        return [with_key_url(v, key_url) for v in value]
    return key_url if value == "$KEY_URL" else value


def serve_keys(case, resources):
    """The case with its key server started (a JWKS of its test key, or the document it
    gives) and "$KEY_URL" replaced by the server's URL; the case itself if it has none."""
    doc = case.get("key_server")
    if doc is None:
        return case
    if doc == "jwks":
        doc = jose.jwks((case["test_key"], KID))
    server = KeyServer(doc)
    resources.callback(server.stop)
    return with_key_url(case, server.url)


def secret_of(case):
    """The integration's secret: the test key's public key where the provider verifies with one."""
    if case["provider"] in PUBLIC_KEY_SECRET:
        return jose.public_pem(case["test_key"])
    return case.get("secret")


_UNSIGNED = {}


def unsigned_locators(cli):
    """Per provider key, the places naming a connection that its verification does not
    cover (`hookline providers --json`, connection_secret_for): where any is, connections
    need their own secret."""
    if not _UNSIGNED:
        _UNSIGNED.update({p["name"]: p["connection_secret_for"] for p in cli.json("providers")})
    return _UNSIGNED


def setup(cli, stack, receiver, case):
    """The case's environment, integration and connections; returns (app path, key, URL)."""
    path = f"/app/{uid()}"
    env = cli.env(receiver.url + path)
    key = f"{case['provider']}-{uid()}"
    secret = secret_of(case)
    secret_flag = "--client-secret" if case.get("secret_kind") == "client" else "--secret"
    cli.json("integration", "create", "--env", env["id"], "--key", key, "--provider", case["provider"],
             *([secret_flag, secret] if secret else []),
             *(["--allow-unverified"] if case.get("allow_unverified") else []),
             *(["--verify-config", json.dumps(case["verify_config"])] if "verify_config" in case else []))
    own_secret = case.get("connection_secrets", bool(unsigned_locators(cli)[case["provider"]]))
    for c in case["connections"]:
        cli.connection(env["id"], key, c["id"], c.get("connection_config", {}), c.get("metadata"),
                       secret if own_secret else None)
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    wait_ingress_knows(url)  # the ingress learns of the integration from LISTEN, a moment after the commit
    return path, key, url + ("?" + case["query"] if case.get("query") else "")


def bearer(case, claims):
    """Authorization: Bearer <RS256 token by the case's test key>, valid for 5 minutes."""
    now = int(time.time())
    token = jose.jwt(jose.private_key(case["test_key"]), {"iat": now, "exp": now + 300, **claims}, kid=KID)
    return {"Authorization": "Bearer " + token}


def connectwise_signature(case, body):
    """x-content-signature: base64 HMAC-SHA256 of the body keyed with SHA-256 of the served key."""
    key = hashlib.sha256(case["key_server"]["signing_key"].encode()).digest()
    return {"x-content-signature": base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()}


# The providers `hookline sign` cannot sign for: signed here as each documents it
# (docs/providers.md, "Signed tokens and public keys"), with the case's test key or the
# key its key server serves.
KEY_SIGNERS = {
    "gong": lambda case, url, body: bearer(case, {"webhook_url": url, "body_sha256": jose.sha256_hex(body)}),
    "highlevel": lambda case, url, body: {
        "x-wh-signature": base64.b64encode(jose.sign(jose.private_key(case["test_key"]), body)).decode()},
    "google-mail": lambda case, url, body: bearer(case, {
        "iss": "https://accounts.google.com", "aud": case["verify_config"].get("audience", url)}),
    "microsoft-teams": lambda case, url, body: bearer(case, {
        "iss": "https://api.botframework.com", "aud": case["verify_config"]["audience"],
        "serviceUrl": json.loads(body)["serviceUrl"]}),
    "connectwise-psa": lambda case, url, body: connectwise_signature(case, body),
}
PUBLIC_KEY_SECRET = ("gong", "highlevel")  # the integration's secret is the test key's public key


def signed_headers(cli, case, url, body):
    headers = {"Content-Type": "application/json"} if body else {}
    headers.update(case.get("headers", {}))
    if case["provider"] in KEY_SIGNERS:
        headers.update(KEY_SIGNERS[case["provider"]](case, url, body))
    elif case.get("sign", True):
        headers.update(cli.sign(case["provider"], case["secret"], body, "--url", url))
    return headers


# Nango's keys that route webhooks (providers/nango_keys.c), each row once (not its aliases).
NANGO_ROUTED = (
    "affinity", "airtable", "attio", "autotask", "cal-com", "calendly", "checkr-partner", "connectwise-psa",
    "fathom", "fillout", "folk", "github-app", "gitlab", "gong", "google", "google-calendar", "google-drive",
    "google-mail", "granola", "highlevel", "hubspot", "jira", "jobber", "jobdiva", "linear", "microsoft-oauth2-cc",
    "microsoft-teams", "notion", "outlook", "pagerduty", "salesforce", "sellsy", "sentry-oauth", "shipstation",
    "shopify", "slack", "streak", "unauthenticated", "videoask", "xero", "zoom")


def test_compat_cases_exist():
    """The suite covers every row Nango routes webhooks for."""
    providers = {os.path.basename(os.path.dirname(p)) for p in CASES}
    missing = [p for p in NANGO_ROUTED if p not in providers]
    assert not missing, f"no Nango compatibility case for {missing}"


@pytest.mark.parametrize("path", CASES, ids=case_id)
def test_nango_routes_to_the_same_connections(path, cli, stack, receiver):
    with open(path) as f:
        case = json.load(f)
    with ExitStack() as resources:
        check_case(path, serve_keys(case, resources), cli, stack, receiver)


def check_case(path, case, cli, stack, receiver):
    app_path, key, url = setup(cli, stack, receiver, case)
    body = request_body(case)
    r = post(url, body, signed_headers(cli, case, url, body))
    assert r.status_code == 200, f"{case_id(path)}: the ingress answered {r.status_code} {r.text[:300]!r}"

    want = sorted(case["routes_to"]) or [None]
    mine = lambda ds: [d for d in ds if d.path == app_path]  # noqa: E731
    got = receiver.wait_for(lambda ds: len(mine(ds)) >= len(want) and mine(ds), TIMEOUT,
                            f"{len(want)} deliveries for {case_id(path)} (to {want})")
    # One webhook's deliveries are published together (one routed message per
    # connection, all before the raw offset is stored): they are all in by now.
    got = mine(receiver.deliveries())
    routed = sorted((json.loads(d.body)["connectionId"] for d in got), key=lambda c: (c is None, c or ""))
    assert routed == want, f"{case_id(path)}: Nango routes to {want}, hookline routed to {routed}"
    if body:
        for d in got:
            cid = json.loads(d.body)["connectionId"]
            assert_bytes(d.body, envelope(case["provider"], key, cid, body),
                         f"{case_id(path)}: the body delivered for {cid}")
