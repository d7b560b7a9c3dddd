"""The CLI as a user meets it: what it prints when creating things, and `hookline sign`."""
import base64
import random
import time
import uuid

from hlsupport import github_body, hubspot_event, hubspot_headers, hmac_sha256


def test_env_create_prints_the_signing_key_in_both_forms(cli, receiver):
    env = cli.env(f"{receiver.url}/app")
    uuid.UUID(env["id"])
    assert env["webhook_url"] == f"{receiver.url}/app"
    assert env["secondary_webhook_url"] is None
    assert env["signing_key"], "empty signing key"
    assert env["signing_key_whsec"] == "whsec_" + base64.b64encode(env["signing_key"].encode()).decode()


def test_integration_create_prints_its_inbound_url(github):
    assert github.integration["webhook_url"] == github.url


def test_sign_github_matches_the_scheme_and_is_accepted(cli, github):
    body = github_body(random.randint(10**6, 10**9))
    headers = cli.sign("github-app", github.secret, body)
    expected = "sha256=" + hmac_sha256(github.secret.encode(), body).hex()
    assert headers.get("x-hub-signature-256") == expected, headers
    github.send(body, {"Content-Type": "application/json", **headers})


def test_sign_hubspot_matches_the_scheme_and_is_accepted(cli, hubspot):
    body = b"[" + hubspot_event(random.randint(10**6, 10**8), 1) + b"]"
    now = int(time.time())
    headers = cli.sign("hubspot", hubspot.secret, body, "--now", str(now), "--url", hubspot.url)
    expected = hubspot_headers(hubspot.secret, hubspot.url, body, ts_ms=now * 1000)
    assert headers.get("x-hubspot-request-timestamp") == expected["X-HubSpot-Request-Timestamp"], headers
    assert headers.get("x-hubspot-signature-v3") == expected["X-HubSpot-Signature-v3"], headers
    hubspot.send(body, {"Content-Type": "application/json", **headers})


def test_providers_lists_every_key_and_the_nango_coverage(cli):
    keys = {p["name"]: p for p in cli.json("providers")}
    assert keys["google-ads"]["alias_of"] == "google" and keys["google"]["alias_of"] is None
    assert keys["zoom-cc"]["scheme"] == keys["zoom"]["scheme"]
    rows = [k for k, p in keys.items() if p["alias_of"] is None]
    assert all(keys[k]["alias_of"] in rows for k in keys if keys[k]["alias_of"])

    lines = cli.run("providers").splitlines()
    summary = next(line for line in lines if "Nango keys covered:" in line)
    counts = summary.split("Nango keys covered: ")[1]
    covered, total = (int(x) for x in counts.split("/"))
    assert total == 75
    assert summary.startswith(f"{len(rows)} providers ({len(keys)} keys)")
    missing = [line for line in lines if line.startswith("Nango keys missing:")]
    named = missing[0].split(":", 1)[1].split() if missing else []
    # The missing keys are exactly those the listing lacks, and they add up.
    assert not set(named) & set(keys)
    assert covered + len(named) == total
    assert "pagerduty" in keys and "pagerduty" not in named
    # Every key Nango routes is served, and --json says which keys those are: all 75,
    # rows and aliases alike, beside the APIs hookline verifies that Nango does not route.
    assert covered == total == 75 and not named, summary
    nango = [k for k, p in keys.items() if p["nango"] is True]
    assert len(nango) == 75 and {"pagerduty", "google-ads", "github-app", "hubspot"} <= set(nango), sorted(nango)
    others = [k for k, p in keys.items() if p["nango"] is False]
    assert len(others) >= 30 and {"stripe", "twilio", "generic-hmac"} <= set(others), sorted(others)
    assert len(nango) + len(others) == len(keys)
