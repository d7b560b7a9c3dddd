"""hookline-api against the real stack: every route of the OpenAPI document is called
(test_zz_every_documented_path_was_called checks it), keys see only their environments
(another environment's resources answer 404), read keys cannot write, writes are
audited, the rate limit answers 429 with Retry-After, and the webhook log shows a
webhook's whole timeline: attempts, a retry, a dead letter and its redrive."""
import base64
import hmac
import json
import os
import random
import re
import subprocess
import time
import urllib.parse
import uuid

import jsonschema
import pytest
import requests

from hlsupport import TIMEOUT, App, Receiver, github_body, topic, topic_tool, uid, wait_until

# The webhook log is written off the hot path by the API's own consumer: after a suite
# that floods the ingress (test_abuse) it may be minutes behind on a loaded machine,
# which is allowed; waits on what it shows get that long.
LOG_TIMEOUT = max(TIMEOUT, 180)

CALLED = set()      # (METHOD, documented path) of every API call made by these tests


def _template(path):
    """The documented path a concrete /v1 path was made from (see DOC_PATHS)."""
    segs = path.split("?")[0].strip("/").split("/")
    for tpl in _doc_paths():
        t = tpl.strip("/").split("/")
        if len(t) == len(segs) and all(a.startswith("{") or a == b for a, b in zip(t, segs)):
            return tpl
    return path


_DOC = {}


def _doc_paths():
    return _DOC.get("paths", {})


def _check_against_document(method, tpl, r):
    """The answer is one the OpenAPI document describes: its status is listed for the
    operation and its JSON body matches the schema given for that status."""
    if not _DOC or tpl not in _doc_paths():
        return
    op = _doc_paths()[tpl].get(method.lower())
    assert op, f"{method} {tpl} is not in the OpenAPI document"
    resp = op["responses"].get(str(r.status_code))
    assert resp, f"{method} {tpl} answered {r.status_code}, which the document does not list"
    content = resp.get("content")
    if not content:
        assert r.content == b"", f"{method} {tpl} {r.status_code}: the document says no body"
        return
    ctype = r.headers.get("Content-Type", "").split(";")[0]
    assert ctype in content, f"{method} {tpl} {r.status_code}: Content-Type {ctype}, documented {list(content)}"
    schema = dict(content[ctype]["schema"], components=_DOC["components"])
    jsonschema.Draft202012Validator(schema).validate(r.json())


class Api:
    def __init__(self, base, key=None):
        self.base, self.key = base.rstrip("/"), key

    def call(self, method, path, body=None, key=None, expect=None, **params):
        headers = {}
        k = self.key if key is None else key
        if k:
            headers["Authorization"] = f"Bearer {k}"
        r = requests.request(method, self.base + path, json=body, params=params or None, headers=headers,
                             timeout=30)
        tpl = _template(path)
        CALLED.add((method, tpl))
        if expect is not None:
            assert r.status_code == expect, f"{method} {path} answered {r.status_code} {r.text[:500]}, " \
                                            f"expected {expect}"
        _check_against_document(method, tpl, r)
        return r

    def get(self, path, **kw):
        return self.call("GET", path, **kw)


def q(s):
    return urllib.parse.quote(s, safe="")


@pytest.fixture(scope="module")
def api_url(stack):
    url = os.environ.get("HOOKLINE_API_URL")
    assert url, "HOOKLINE_API_URL is not set (stack.sh env)"
    wait_until(lambda: _ok(url + "/healthz"), 60, "hookline-api /healthz")
    return url


def _ok(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


KEYS = []           # every API key these tests made, to be looked for in the logs


def make_key(cli, *args):
    k = cli.json("api-key", "create", *args)
    KEYS.append(k["key"])
    return k


@pytest.fixture
def app(cli, stack, receiver):
    return App(cli, stack, receiver, "github-app")


@pytest.fixture
def api(api_url, cli, app):
    k = make_key(cli, "--env", app.env["id"], "--scope", "write")
    a = Api(api_url, k["key"])
    if not _DOC:
        _DOC.update(a.get("/v1/openapi.json", expect=200).json())
    return a


def test_openapi_document_validates(api):
    from openapi_spec_validator import validate
    doc = api.get("/v1/openapi.json", expect=200).json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    with open(os.path.join(os.path.dirname(__file__), "../../api/openapi.json")) as f:
        assert json.load(f) == doc, "the served document is not api/openapi.json"


def test_health_needs_no_key_and_everything_else_does(api, api_url, stack):
    assert requests.get(api_url + "/healthz", timeout=5).status_code == 200
    port = os.environ["HOOKLINE_STACK_API_ADMIN_PORT"]
    for p in ("/healthz", "/readyz", "/metrics"):
        assert requests.get(f"http://127.0.0.1:{port}{p}", timeout=5).status_code == 200
    for path in ("/v1/environments", "/v1/openapi.json", "/v1/webhooks"):
        r = requests.get(api_url + path, timeout=5)
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json", r.text
        assert r.json()["status"] == 401
    bad = "hlk_" + api.key[4:20] + "_" + "A" * 43
    assert api.get("/v1/environments", key=bad).status_code == 401
    assert api.get("/v1/environments", key="nonsense").status_code == 401


def test_no_cookies_and_cors_closed(api, api_url):
    r = requests.get(api_url + "/v1/environments", headers={"Authorization": f"Bearer {api.key}",
                                                            "Origin": "https://evil.example"}, timeout=5)
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Set-Cookie" not in r.headers
    pre = requests.options(api_url + "/v1/environments", headers={"Origin": "https://evil.example",
                                                                   "Access-Control-Request-Method": "GET"}, timeout=5)
    assert pre.status_code == 403 and "Access-Control-Allow-Origin" not in pre.headers


def test_revoked_key_and_read_only_key(api, api_url, cli, app):
    ro = make_key(cli, "--env", app.env["id"], "--scope", "read")
    a = Api(api_url, ro["key"])
    assert a.get("/v1/me", expect=200).json()["scope"] == "read"
    r = a.call("PATCH", f"/v1/environments/{app.env['id']}", body={"sync_notifications": True}, expect=403)
    assert r.headers["Content-Type"] == "application/problem+json"
    # The refusal is audited too: who tried to write, not only who wrote.
    audit = a.get("/v1/audit", expect=200).json()["data"]
    assert ("PATCH /v1/environments/{}", 403, ro["id"]) in {(x["action"], x["status"], x["key_id"]) for x in audit}
    cli.run("api-key", "revoke", ro["id"])
    a.get("/v1/me", expect=401)


def test_environments_integrations_and_write_only_secrets(api, app):
    env = app.env["id"]
    envs = api.get("/v1/environments", expect=200).json()
    assert [e["id"] for e in envs["data"]] == [env] and envs["next_cursor"] is None
    e = api.get(f"/v1/environments/{env}", expect=200).json()
    assert "signing_key" not in e and e["name"] == app.env["name"]
    e = api.call("PATCH", f"/v1/environments/{env}", body={"legacy_signature": True}, expect=200).json()
    assert e["legacy_signature"] is True
    api.call("PATCH", f"/v1/environments/{env}", body={"webhook_url": "ftp://x"}, expect=400)

    integ = api.get(f"/v1/environments/{env}/integrations/{app.key}", expect=200).json()
    assert integ["webhook_url"] == app.url and integ["has_webhook_secret"] is True
    key2 = f"gh2-{uid()}"
    r = api.call("POST", f"/v1/environments/{env}/integrations",
                 body={"key": key2, "provider": "github-app", "webhook_secret": "first-secret"}, expect=201)
    created = r.json()
    assert created["webhook_url"].endswith(f"/webhook/{env}/{key2}")
    assert "first-secret" not in r.text and "webhook_secret" not in created
    api.call("POST", f"/v1/environments/{env}/integrations", body={"key": key2, "provider": "github-app"},
             expect=409)
    api.call("POST", f"/v1/environments/{env}/integrations", body={"key": "x", "provider": "nope"}, expect=400)
    page = api.get(f"/v1/environments/{env}/integrations", limit=1, expect=200).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    page2 = api.get(f"/v1/environments/{env}/integrations", limit=1, cursor=page["next_cursor"], expect=200).json()
    assert {page["data"][0]["key"], page2["data"][0]["key"]} == {app.key, key2}
    assert page2["next_cursor"] is None
    p = api.call("PATCH", f"/v1/environments/{env}/integrations/{key2}", body={"forward_enabled": False},
                 expect=200).json()
    assert p["forward_enabled"] is False
    r = api.call("PUT", f"/v1/environments/{env}/integrations/{key2}/secrets",
                 body={"webhook_secret": "second-secret"}, expect=204)
    assert r.text == ""
    # The new secret is the one the ingress now accepts.
    body = github_body(77)
    from hlsupport import github_headers, post
    url = f"{app.url.rsplit('/', 1)[0]}/{key2}"
    wait_until(lambda: post(url, body, github_headers("second-secret", body)).status_code == 200, 20,
               "the ingress to accept the secret set through the API")
    audit = api.get("/v1/audit", expect=200).json()["data"]
    actions = {(a["action"], a["status"]) for a in audit}
    assert ("PUT /v1/environments/{}/integrations/{}/secrets", 204) in actions
    assert all("second-secret" not in json.dumps(a) for a in audit)


def test_verify_config_set_checked_and_applied(api, app):
    """An integration's verification settings are set through the API, checked against
    its provider (a config it cannot use is a 400 problem that says why, and nothing is
    stored), and the ingress applies them."""
    env = app.env["id"]
    base = f"/v1/environments/{env}/integrations"
    key = f"ghv-{uid()}"
    created = api.call("POST", base, body={"key": key, "provider": "github", "webhook_secret": "vc-secret"},
                       expect=201).json()
    assert created["verify_config"] is None

    # A GitHub sender signing with SHA-1 alone is refused until the integration allows it.
    from hlsupport import hmac_sha256, post
    url = f"{app.url.rsplit('/', 1)[0]}/{key}"

    def sha1_only():
        body = github_body(78)
        return post(url, body, {"Content-Type": "application/json", "X-GitHub-Event": "push",
                                "X-GitHub-Delivery": str(uuid.uuid4()),
                                "X-Hub-Signature": "sha1=" + hmac.new(b"vc-secret", body, "sha1").hexdigest()})
    wait_until(lambda: sha1_only().status_code == 401, 20, "the ingress to know the new integration")

    for bad, why in (({"allow_legacy_signature": "yes"}, "allow_legacy_signature"),
                     ({"no_such_key": True}, "unknown key"),
                     ("allow", "JSON object"),
                     ([1], "JSON object")):
        r = api.call("PATCH", f"{base}/{key}", body={"verify_config": bad}, expect=400)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert why in r.json()["detail"], r.json()
    assert api.get(f"{base}/{key}", expect=200).json()["verify_config"] is None, "a refused config was stored"

    p = api.call("PATCH", f"{base}/{key}", body={"verify_config": {"allow_legacy_signature": True}},
                 expect=200).json()
    assert p["verify_config"] == {"allow_legacy_signature": True}
    wait_until(lambda: sha1_only().status_code == 200, 20, "the ingress to accept SHA-1 alone once allowed")
    # Other settings leave it alone; null clears it.
    p = api.call("PATCH", f"{base}/{key}", body={"forward_enabled": True}, expect=200).json()
    assert p["verify_config"] == {"allow_legacy_signature": True}
    p = api.call("PATCH", f"{base}/{key}", body={"verify_config": None}, expect=200).json()
    assert p["verify_config"] is None
    wait_until(lambda: sha1_only().status_code == 401, 20, "the ingress to refuse SHA-1 alone again")

    # generic-hmac cannot work without a config: refused at creation, with the reason.
    r = api.call("POST", base, body={"key": f"gen-{uid()}", "provider": "generic-hmac", "webhook_secret": "x"},
                 expect=400)
    assert "verify_config" in r.json()["detail"]
    gen = api.call("POST", base, body={"key": f"gen-{uid()}", "provider": "generic-hmac", "webhook_secret": "x",
                                       "verify_config": {"header": "X-Sig", "prefix": "sha256="}},
                   expect=201).json()
    assert gen["verify_config"] == {"header": "X-Sig", "prefix": "sha256="}
    api.call("PATCH", f"{base}/{gen['key']}", body={"verify_config": {"header": "X-Sig", "algorithm": "md5"}},
             expect=400)
    api.call("PATCH", f"{base}/no-such-{uid()}", body={"verify_config": {}}, expect=404)
    audit = api.get("/v1/audit", expect=200).json()["data"]
    assert ("PATCH /v1/environments/{}/integrations/{}", 200) in {(a["action"], a["status"]) for a in audit}


def test_destination_circuit_state_is_shown(api, app, receiver):
    """A destination's circuit breaker, as the forwarders record it, in its health: open
    once its failures open it, closed again once a probe got through."""
    env = app.env["id"]

    def mine():
        return [d for d in api.get("/v1/destinations", env=env, expect=200).json()["data"]
                if d["url"].startswith(receiver.url)]
    receiver.status = 503
    for n in range(8):
        app.send(github_body(random.randint(10**6, 10**9), n=n))
    [d] = wait_until(lambda: [d for d in mine() if d["circuit"] == "open"] or None, 60, "the circuit to show open",
                     mine, interval=0.5)
    assert d["circuit_since"] and d["circuit_failures"] >= 5 and d["circuit_forwarders"] == 1, d
    assert d["gone"] is False

    receiver.status = 200
    well = github_body(random.randint(10**6, 10**9), after="recovery")
    app.send(well)
    app.wait_payload(well, timeout=60)  # the probe got through
    [d] = wait_until(lambda: [d for d in mine() if d["circuit"] == "closed"] or None, 30,
                     "the circuit to show closed", mine, interval=0.5)
    assert d["circuit_since"] is None and d["circuit_failures"] is None


def test_a_key_of_many_environments_works(api_url, cli, app):
    """A key bound to more environments than any fixed buffer held (60 ids: 2.2 KB of
    uuid[] text) sees every one of them, the last named too."""
    admin = Api(api_url, make_key(cli, "--all", "--scope", "write")["key"])
    run = uid()
    envs = [admin.call("POST", "/v1/environments", body={"name": f"zz-many-{run}-{i:02d}",
                                                                 "webhook_url": "https://app.example/hooks"},
                      expect=201).json()["id"]
            for i in range(59)] + [app.env["id"]]
    k = Api(api_url, make_key(cli, "--env", ",".join(envs), "--scope", "read")["key"])
    assert k.get("/v1/me", expect=200).json()["environment_ids"] == envs
    k.get(f"/v1/environments/{envs[-1]}", expect=200)
    k.get(f"/v1/environments/{envs[0]}/integrations", expect=200)
    listed = [e["id"] for e in k.get("/v1/environments", limit=500, expect=200).json()["data"]]
    assert sorted(listed) == sorted(envs)


def test_create_environment_with_a_key_of_all_environments(api, api_url, cli):
    name = f"api-{uid()}"
    body = {"name": name, "webhook_url": "https://app.example/hooks", "forward_mode": "raw"}
    api.call("POST", "/v1/environments", body=body, expect=403)   # a key of some environments
    admin = Api(api_url, make_key(cli, "--all", "--scope", "write")["key"])
    created = admin.call("POST", "/v1/environments", body=body, expect=201).json()
    assert created["name"] == name and created["forward_mode"] == "raw"
    assert created["signing_key_whsec"].startswith("whsec_")
    # The key was stored encrypted for its row: the CLI reads back the same one.
    shown = cli.json("env", "show", "--env", created["id"], "--show-secrets")
    assert shown["signing_key"] == created["signing_key"]
    again = admin.get(f"/v1/environments/{created['id']}", expect=200).json()
    assert "signing_key" not in again and created["signing_key"] not in json.dumps(again)
    admin.call("POST", "/v1/environments", body=body, expect=409)
    admin.call("POST", "/v1/environments", body={"name": "x"}, expect=400)


def test_connections_and_syncs(api, app):
    env = app.env["id"]
    cid = f"acme/{uid()}"          # a '/' in an id travels URL-encoded
    c = api.call("POST", f"/v1/environments/{env}/connections",
                 body={"integration": app.key, "connection_id": cid, "config": {"installation_id": "99"}},
                 expect=201).json()
    assert c["config"] == {"installation_id": "99"}
    path = f"/v1/environments/{env}/connections/{app.key}/{q(cid)}"
    assert api.get(path, expect=200).json()["connection_id"] == cid
    c = api.call("PATCH", path, body={"metadata": {"tier": "gold"}, "webhook_url_override": "https://a.example/h"},
                 expect=200).json()
    assert c["metadata"] == {"tier": "gold"} and c["webhook_url_override"] == "https://a.example/h"
    lst = api.get(f"/v1/environments/{env}/connections", integration=app.key, expect=200).json()
    assert cid in [x["connection_id"] for x in lst["data"]]
    api.call("DELETE", path, expect=204)
    api.get(path, expect=404)

    s = api.call("POST", f"/v1/environments/{env}/syncs",
                 body={"integration": app.key, "name": "contacts", "subscriptions": ["*"],
                       "runner_url": "http://127.0.0.1:9/run"}, expect=201).json()
    assert s["subscriptions"] == ["*"] and s["enabled"] is True
    sp = f"/v1/environments/{env}/syncs/{app.key}/contacts"
    assert api.call("PATCH", sp, body={"enabled": False, "max_attempts": 2}, expect=200).json()["enabled"] is False
    assert api.get(sp, expect=200).json()["max_attempts"] == 2
    assert [x["name"] for x in api.get(f"/v1/environments/{env}/syncs", expect=200).json()["data"]] == ["contacts"]
    api.call("POST", f"/v1/environments/{env}/syncs", body={"integration": app.key, "name": "bad"}, expect=400)
    api.call("DELETE", sp, expect=204)
    api.get(sp, expect=404)


def test_sync_runs_list_get_and_retry(api, app, cli):
    env = app.env["id"]
    api.call("POST", f"/v1/environments/{env}/syncs",
             body={"integration": app.key, "name": "fails", "subscriptions": ["*"], "max_attempts": 1,
                   "runner_url": "http://127.0.0.1:9/nothing-listens"}, expect=201)
    conn = app.connect({"installation_id": "5150"})
    body = github_body(5150, run=uid())
    wid = app.send(body).headers["X-Hookline-Webhook-Id"]
    runs = wait_until(lambda: [r for r in api.get("/v1/sync-runs", env=env, webhook_id=wid).json()["data"]
                               if r["status"] == "failed"], LOG_TIMEOUT, "the sync run to fail")
    run = api.get(f"/v1/sync-runs/{runs[0]['id']}", expect=200).json()
    assert run["connection_id"] == conn and run["sync"] == "fails"
    r = api.call("POST", f"/v1/sync-runs/{run['id']}/retry", expect=202).json()
    assert r["status"] in ("queued", "running", "failed")
    timeline = wait_until(lambda: _timeline(api, wid, "sync-run"), LOG_TIMEOUT, "the sync run in the timeline")
    assert timeline[0]["sync_run_id"] == run["id"]


def _timeline(api, wid, kind=None):
    r = api.get(f"/v1/webhooks/{wid}")
    if r.status_code != 200:
        return None
    events = r.json()["timeline"]
    return [e for e in events if kind is None or e["kind"] == kind]


def test_a_dropped_copy_shows_in_the_log_with_the_webhook_it_repeats(api, app, receiver):
    inst = int(uuid.uuid4().int % 10**9)
    app.connect({"installation_id": str(inst)})
    body = github_body(inst)
    headers = app.sign(body)
    first = app.send(body, headers).headers["X-Hookline-Webhook-Id"]
    copy = app.send(body, headers).headers["X-Hookline-Webhook-Id"]   # the provider re-sends it
    wait_until(lambda: api.get(f"/v1/webhooks/{copy}").status_code == 200
               and api.get(f"/v1/webhooks/{copy}").json()["status"] == "dropped-duplicate", LOG_TIMEOUT,
               "the copy logged as a dropped duplicate")
    drops = _timeline(api, copy, "dropped-duplicate")
    assert len(drops) == 1, drops
    assert drops[0]["detail"]["duplicate_of"] == first
    assert drops[0]["detail"]["provider_event_id"] == headers["X-GitHub-Delivery"]
    assert api.get(f"/v1/webhooks/{first}").json()["status"] != "dropped-duplicate"
    listed = api.get("/v1/webhooks", env=app.env["id"], status="dropped-duplicate").json()["data"]
    assert [w["webhook_id"] for w in listed] == [copy]


def test_webhook_timeline_failure_retry_dead_letter_redrive(api, app, receiver):
    env = app.env["id"]
    conn = app.connect({"installation_id": "31337"})
    # 1. A failure, then a retry that succeeds.
    receiver.status = 503
    body = github_body(31337, n=uid())
    wid = app.send(body).headers["X-Hookline-Webhook-Id"]
    wait_until(lambda: _timeline(api, wid, "attempt"), LOG_TIMEOUT, "a failed first attempt")
    receiver.status = 200
    app.wait_payload(body)
    # The retry is a later attempt: in the same pass (kind "attempt") or a later pass ("retry").
    tl = wait_until(lambda: [e for e in (_timeline(api, wid) or []) if e["kind"] in ("attempt", "retry")
                             and e["result"] == "delivered"], LOG_TIMEOUT, "a delivered retry in the timeline")
    assert tl[0]["http_status"] == 200 and tl[0]["latency_ms"] >= 0 and tl[0]["attempt"] > 1
    w = wait_until(lambda: (lambda w: w if "routed" in [e["kind"] for e in w["timeline"]] else None)(
        api.get(f"/v1/webhooks/{wid}", expect=200).json()), LOG_TIMEOUT, "the routing in the timeline")
    kinds = [e["kind"] for e in w["timeline"]]
    assert kinds[0] == "received" and "routed" in kinds and "attempt" in kinds
    first = [e for e in w["timeline"] if e["kind"] == "attempt"][0]
    assert first["http_status"] == 503 and first["error"] and first["destination"].startswith(receiver.url)
    assert w["status"] == "delivered" and w["connections"] == [conn] and w["verified"] == "verified"

    # The log's search: by connection, integration, status, time window.
    found = api.get("/v1/webhooks", env=env, connection=conn, expect=200).json()["data"]
    assert [x["webhook_id"] for x in found] == [wid]
    assert api.get("/v1/webhooks", env=env, integration=app.key, status="delivered").json()["data"][0][
        "webhook_id"] == wid
    assert api.get("/v1/webhooks", env=env, until="2000-01-01T00:00:00Z").json()["data"] == []
    api.get("/v1/webhooks", since="not a time", expect=400)

    # 2. Refused by the app: dead-lettered at once; redriven through the API, delivered.
    receiver.status = 400
    body2 = github_body(31337, n=uid())
    wid2 = app.send(body2).headers["X-Hookline-Webhook-Id"]
    dls = wait_until(lambda: api.get("/v1/dead-letters", env=env, webhook_id=wid2).json()["data"], LOG_TIMEOUT,
                     "the dead letter in the API")
    assert dls[0]["destination"].startswith(receiver.url) and dls[0]["status"] == 400
    # The rare statuses are found through their own indexes (migration 014): the right rows.
    dead = [x["webhook_id"] for x in api.get("/v1/webhooks", env=env, status="dead-lettered", expect=200).json()["data"]]
    assert dead == [wid2]
    receiver.status = 200
    r = api.call("POST", f"/v1/dead-letters/{dls[0]['id']}/redrive", expect=202).json()
    assert r["webhook_id"] == wid2
    app.wait_payload(body2)
    wait_until(lambda: api.get(f"/v1/webhooks/{wid2}").json()["status"] == "delivered", LOG_TIMEOUT,
               "the redriven webhook to be delivered")
    kinds2 = [e["kind"] for e in _timeline(api, wid2)]
    assert "dead-lettered" in kinds2 and "redriven" in kinds2
    assert kinds2.index("redriven") > kinds2.index("dead-lettered")
    # The delivery the redrive caused comes after it (the redrive is dated when sent).
    delivered = [i for i, e in enumerate(_timeline(api, wid2)) if e.get("result") == "delivered"]
    assert delivered and delivered[-1] > kinds2.index("redriven"), kinds2
    assert api.get("/v1/dead-letters", env=env, webhook_id=wid2).json()["data"][0]["redriven_at"]

    # Newest first, a page at a time.
    p1 = api.get("/v1/webhooks", env=env, limit=1, expect=200).json()
    p2 = api.get("/v1/webhooks", env=env, limit=1, cursor=p1["next_cursor"], expect=200).json()
    assert [p1["data"][0]["webhook_id"], p2["data"][0]["webhook_id"]] == [wid2, wid] and p2["next_cursor"] is None
    api.get("/v1/webhooks", cursor="garbage", expect=400)

    # Destinations' health: the receiver's URL, with its attempts and success rate.
    dests = api.get("/v1/destinations", env=env, expect=200).json()["data"]
    mine = [d for d in dests if d["url"].startswith(receiver.url)]
    assert mine and mine[0]["attempts"] >= 3 and 0 < mine[0]["success_rate"] < 1 and mine[0]["gone"] is False


def test_dead_letter_redriven_to_a_new_url(api, api_url, app, receiver):
    """POST /v1/dead-letters/{id}/redrive with {"url": ...} delivers the dead letter there
    (as `hookline dlq redrive --to`), not to the destination that failed; {} keeps that
    one. The answer, the timeline and the audit log name the URL. A URL the CLI would
    refuse, an address the forwarder may not reach (the stack allows only loopback: the
    refused ones are judged without connecting), another member, or a body that is not
    JSON is 400."""
    env = app.env["id"]
    app.connect({"installation_id": "31338"})
    receiver.status = 400   # refused by the app: dead-lettered at once
    body = github_body(31338, n=uid())
    wid = app.send(body).headers["X-Hookline-Webhook-Id"]
    dl = wait_until(lambda: api.get("/v1/dead-letters", env=env, webhook_id=wid).json()["data"], LOG_TIMEOUT,
                    "the dead letter in the API")[0]
    redrive = f"/v1/dead-letters/{dl['id']}/redrive"

    refused = [({"url": "ftp://app.example/hooks"}, "http:// or https://"), ({"url": "https://"}, "http:// or https://"),
               ({"url": "https://app.example/a b"}, "http:// or https://"), ({"url": 7}, "http:// or https://"),
               ({"url": "http://10.1.2.3/hooks"}, "private address"),
               ({"url": "http://[fd00::1]:8080/"}, "private address"),
               ({"url": "http://169.254.169.254/latest"}, "link-local address"),
               ({"url": "https://app.example/", "to": "x"}, "unknown member 'to'"), ([], "JSON object")]
    for bad, why in refused:
        r = api.call("POST", redrive, body=bad, expect=400)
        assert r.headers["Content-Type"] == "application/problem+json" and why in r.json()["detail"], (bad, r.text)
    r = requests.post(api_url + redrive, data=b'{"url": ', timeout=30,
                      headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON object" in r.json()["detail"], r.text

    # {}: the destination that failed, which refuses it again.
    assert api.call("POST", redrive, body={}, expect=202).json()["destination"] == dl["destination"]
    receiver.wait_for(lambda rs: len(app.mine(rs, body)) >= 2, TIMEOUT, "the redrive to the old URL", attempts=True)
    old = len(app.mine(receiver.snapshot(), body))

    moved = Receiver().start()
    try:
        path = f"/moved/{uid()}"
        url = moved.url + path
        r = api.call("POST", redrive, body={"url": url}, expect=202).json()
        assert r == {"dead_letter": dl["id"], "webhook_id": wid, "destination": url,
                     "original_destination": dl["destination"], "redriven": True}, r
        got = app.wait_payload(body, receiver=moved, path=path)
        assert got[0].header("webhook-id") == dl["delivery_id"]
        events = wait_until(lambda: [e for e in _timeline(api, wid, "redriven") or []
                                     if e["detail"]["destination"] == url], LOG_TIMEOUT, "the redrive in the timeline")
        assert events[0]["detail"]["original_destination"] == dl["destination"]
        assert events[0]["detail"]["dead_letter"] == dl["id"]
        delivered = wait_until(lambda: [e for e in _timeline(api, wid) or [] if e.get("result") == "delivered"],
                               LOG_TIMEOUT, "the delivery in the timeline")
        assert delivered[-1]["destination"] == url
        assert len(app.mine(receiver.snapshot(), body)) == old, "the old URL was sent the redrive to the new one"
    finally:
        moved.stop()
    audit = api.get("/v1/audit", limit=100, expect=200).json()["data"]
    rows = {(a["target"], a["status"]) for a in audit if a["action"] == "POST /v1/dead-letters/{}/redrive"}
    assert (f"dead-letter {dl['id']} to {url}", 202) in rows, rows
    assert (f"dead-letter {dl['id']} to http://10.1.2.3/hooks", 400) in rows, rows
    assert (f"dead-letter {dl['id']}", 202) in rows, rows


def test_a_key_sees_only_its_environments(api, api_url, app, cli, stack, receiver):
    other = App(cli, stack, receiver, "github-app")
    oenv = other.env["id"]
    conn = other.connect({"installation_id": "8080"})
    cli.run("sync", "create", "--env", oenv, "--integration", other.key, "--name", "theirs",
            "--subscriptions", "*", "--runner-url", "http://127.0.0.1:9/x", "--max-attempts", "1")
    receiver.status = 400
    wid = other.send(github_body(8080, n=uid())).headers["X-Hookline-Webhook-Id"]
    all_key = make_key(cli, "--all", "--scope", "write")
    admin = Api(api_url, all_key["key"])
    dl = wait_until(lambda: admin.get("/v1/dead-letters", env=oenv, webhook_id=wid).json()["data"], LOG_TIMEOUT,
                    "the other environment's dead letter")
    run = wait_until(lambda: admin.get("/v1/sync-runs", env=oenv, webhook_id=wid).json()["data"], LOG_TIMEOUT,
                     "the other environment's sync run")
    receiver.status = 200
    assert oenv in [e["id"] for e in admin.get("/v1/environments", limit=500).json()["data"]]

    # The key of `app`'s environment: every one of those answers 404, never 403.
    for method, path, body in [
        ("GET", f"/v1/environments/{oenv}", None),
        ("PATCH", f"/v1/environments/{oenv}", {"legacy_signature": True}),
        ("GET", f"/v1/environments/{oenv}/integrations", None),
        ("GET", f"/v1/environments/{oenv}/integrations/{other.key}", None),
        ("PATCH", f"/v1/environments/{oenv}/integrations/{other.key}", {"forward_enabled": False}),
        ("PUT", f"/v1/environments/{oenv}/integrations/{other.key}/secrets", {"webhook_secret": "x"}),
        ("POST", f"/v1/environments/{oenv}/integrations", {"key": "k", "provider": "github-app"}),
        ("GET", f"/v1/environments/{oenv}/connections", None),
        ("GET", f"/v1/environments/{oenv}/connections/{other.key}/{conn}", None),
        ("PATCH", f"/v1/environments/{oenv}/connections/{other.key}/{conn}", {"metadata": {"stolen": True}}),
        ("DELETE", f"/v1/environments/{oenv}/connections/{other.key}/{conn}", None),
        ("POST", f"/v1/environments/{oenv}/connections", {"integration": other.key, "connection_id": "x"}),
        ("GET", f"/v1/environments/{oenv}/syncs", None),
        ("POST", f"/v1/environments/{oenv}/syncs",
         {"integration": other.key, "name": "mine", "subscriptions": ["*"], "runner_url": "http://127.0.0.1:9/y"}),
        ("GET", f"/v1/environments/{oenv}/syncs/{other.key}/theirs", None),
        ("PATCH", f"/v1/environments/{oenv}/syncs/{other.key}/theirs", {"enabled": False}),
        ("DELETE", f"/v1/environments/{oenv}/syncs/{other.key}/theirs", None),
        ("GET", f"/v1/sync-runs/{run[0]['id']}", None),
        ("POST", f"/v1/sync-runs/{run[0]['id']}/retry", None),
        ("GET", f"/v1/webhooks/{wid}", None),
        ("POST", f"/v1/dead-letters/{dl[0]['id']}/redrive", None),
    ]:
        r = api.call(method, path, body=body)
        assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:300]}"
    # A list filtered on that environment is not found either (not an empty list).
    for path in ("/v1/webhooks", "/v1/dead-letters", "/v1/sync-runs", "/v1/destinations", "/v1/replays"):
        r = api.get(path, env=oenv)
        assert r.status_code == 404, f"GET {path}?env={oenv}: {r.status_code} {r.text[:300]}"
    api.get("/v1/webhooks", env=str(uuid.uuid4()), expect=404)       # unknown: the same answer
    # Lists simply leave them out.
    assert oenv not in [e["id"] for e in api.get("/v1/environments").json()["data"]]
    assert api.get("/v1/webhooks", webhook_id=wid).json()["data"] == []
    assert api.get("/v1/dead-letters", webhook_id=wid).json()["data"] == []
    assert api.get("/v1/sync-runs", webhook_id=wid).json()["data"] == []
    assert all(oenv not in d["environment_ids"] for d in api.get("/v1/destinations").json()["data"])
    # Nothing changed in the other environment.
    assert admin.get(f"/v1/environments/{oenv}/connections/{other.key}/{conn}").status_code == 200
    assert admin.get(f"/v1/environments/{oenv}").json()["legacy_signature"] is False
    assert "stolen" not in admin.get(f"/v1/environments/{oenv}/connections/{other.key}/{conn}").json()["metadata"]
    theirs = admin.get(f"/v1/environments/{oenv}/syncs/{other.key}/theirs", expect=200).json()
    assert theirs["enabled"] is True
    assert [x["name"] for x in admin.get(f"/v1/environments/{oenv}/syncs").json()["data"]] == ["theirs"]


def test_providers_listed(api):
    providers = {p["name"]: p for p in api.get("/v1/providers", expect=200).json()["data"]}
    assert "github-app" in providers and "hubspot" in providers
    assert providers["hubspot"]["alias_of"] is None
    assert providers["google-ads"]["alias_of"] == "google"
    assert providers["google-ads"]["attribution"] == providers["google"]["attribution"]


def test_rate_limit_answers_429_with_retry_after(api_url, cli, app):
    made = make_key(cli, "--env", app.env["id"], "--scope", "write")
    key = made["key"]
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    statuses = []
    for _ in range(400):
        r = s.get(api_url + "/v1/me", timeout=10)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.headers["Content-Type"] == "application/problem+json"
            break
    assert statuses[-1] == 429, f"no 429 after {len(statuses)} requests"
    # A write refused for the rate limit is audited (the bucket refills between requests:
    # write until one is refused).
    path = f"/v1/environments/{app.env['id']}"
    for _ in range(400):
        r = s.patch(api_url + path, json={"sync_notifications": False}, timeout=10)
        if r.status_code == 429:
            break
    assert r.status_code == 429, r.text
    time.sleep(int(r.headers["Retry-After"]) + 1)   # waiting out the limit, not timing anything
    audit = Api(api_url, key).get("/v1/audit", limit=500, expect=200).json()["data"]
    assert ("PATCH /v1/environments/{}", 429, made["id"]) in {(a["action"], a["status"], a["key_id"]) for a in audit}
    # Another key is not limited by this one's use.
    other = make_key(cli, "--env", app.env["id"], "--scope", "read")["key"]
    assert requests.get(api_url + "/v1/me", headers={"Authorization": f"Bearer {other}"}, timeout=5).status_code == 200


def test_log_is_off_the_hot_path_and_survives_kill(api, app, daemons):
    """Webhooks are accepted and delivered while hookline-api is down; once it is back
    its consumer catches up, and a SIGKILL (offsets stored only after COMMIT, so a batch
    may be read twice) leaves each message in the log once. SIGTERM drains in time."""
    conn = app.connect({"installation_id": "6006"})
    before = github_body(6006, n=uid())
    wid0 = app.send(before).headers["X-Hookline-Webhook-Id"]
    wait_until(lambda: api.get(f"/v1/webhooks/{wid0}").status_code == 200, LOG_TIMEOUT, "the first webhook logged")
    daemons.kill("api")
    body = github_body(6006, n=uid())
    wid = app.send(body).headers["X-Hookline-Webhook-Id"]
    app.wait_payload(body)                      # delivered without the API
    daemons.start("api")
    w = wait_until(lambda: (lambda r: r.status_code == 200 and r.json())(api.get(f"/v1/webhooks/{wid}")),
                   LOG_TIMEOUT, "the webhook sent while the API was down, in the log")
    wait_until(lambda: api.get(f"/v1/webhooks/{wid}").json()["status"] == "delivered", LOG_TIMEOUT, "its delivery")
    for x in (wid0, wid):
        # Each topic's partitions are read independently: wait for both, then none twice.
        wait_until(lambda: {"received", "routed"} <= {e["kind"] for e in _timeline(api, x)}, LOG_TIMEOUT,
                   f"webhook {x} received and routed in the log", lambda: _timeline(api, x))
        kinds = [e["kind"] for e in _timeline(api, x)]
        assert kinds.count("received") == 1 and kinds.count("routed") == 1, (x, kinds)
    # Read again now that it is routed: w may have been read between received and routed.
    assert w["webhook_id"] == wid and api.get(f"/v1/webhooks/{wid}").json()["connections"] == [conn]
    daemons.stop("api")                          # fails if it had to be SIGKILLed
    daemons.start("api")
    assert api.get(f"/v1/webhooks/{wid}", expect=200).json()["webhook_id"] == wid


def _raw_line(headers, body=b"{}", key="k"):
    hs = [[k, base64.b64encode(v).decode(), "b64"] if isinstance(v, bytes) else [k, v] for k, v in headers]
    return (json.dumps({"key": key, "value_b64": base64.b64encode(body).decode(), "headers": hs}) + "\n").encode()


def test_log_shows_quarantine_and_survives_poison(api, api_url, app, cli):
    """A raw message the router cannot read is quarantined: the log shows it received,
    then quarantined by the router with the reason. Messages the log itself cannot store
    (a webhook id that is not UTF-8) are skipped and counted; the log goes on."""
    admin = Api(api_url, make_key(cli, "--all", "--scope", "read")["key"])
    wid = str(uuid.uuid4())
    lines = [_raw_line([("hl.webhook-id", b"\xff\xfe"), ("hl.environment", app.env["id"])]),
             _raw_line([("hl.webhook-id", wid), ("hl.environment", "not-a-uuid"), ("hl.integration", "github"),
                        ("hl.provider", "github-app"), ("hl.received-at", str(int(time.time() * 1000)))])]
    topic_tool("produce", topic("raw"), stdin=b"".join(lines))
    # Both events: the log reads the raw and rejected topics at their own pace.
    w = wait_until(lambda: (lambda r: r.status_code == 200 and r.json()["status"] == "quarantined" and
                            {"received", "quarantined"} <= {e["kind"] for e in r.json()["timeline"]} and r.json())(
        admin.get(f"/v1/webhooks/{wid}")), LOG_TIMEOUT, "the quarantined webhook in the log")
    q = [e for e in w["timeline"] if e["kind"] == "quarantined"]
    assert q and q[0]["detail"]["stage"] == "router" and q[0]["detail"]["reason"], w["timeline"]
    assert w["timeline"][0]["kind"] == "received"
    listed = admin.get("/v1/webhooks", status="quarantined", limit=500, expect=200).json()["data"]
    assert wid in [x["webhook_id"] for x in listed] and {x["status"] for x in listed} == {"quarantined"}
    # Scoped keys do not see a webhook of no environment.
    api.get(f"/v1/webhooks/{wid}", expect=404)
    # The log kept going: a normal webhook after the poison is logged.
    conn = app.connect({"installation_id": "4040"})
    after = app.send(github_body(4040, n=uid())).headers["X-Hookline-Webhook-Id"]
    wait_until(lambda: api.get(f"/v1/webhooks/{after}").status_code == 200, LOG_TIMEOUT, "the next webhook logged")
    port = os.environ["HOOKLINE_STACK_API_ADMIN_PORT"]
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    refused = re.search(r"^hookline_api_log_refused_total (\d+)", metrics, re.M)
    assert refused and int(refused.group(1)) >= 1, "the unstorable row was not counted"
    assert conn


def test_log_retention_prunes_old_rows(api, app, daemons):
    """Rows older than HOOKLINE_API_LOG_RETENTION_DAYS go at the next pruning (one at
    startup, then hourly); recent ones stay."""
    old_wid = f"old-{uid()}"
    sql = (f"INSERT INTO webhook_log (webhook_id, received_at, environment_id) VALUES "
           f"('{old_wid}', now() - interval '40 days', '{app.env['id']}');"
           f"INSERT INTO webhook_events (webhook_id, kind, at, environment_id) VALUES "
           f"('{old_wid}', 'received', now() - interval '40 days', '{app.env['id']}');")
    subprocess.run(["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    os.environ["HOOKLINE_DATABASE_URL"], "-c", sql], check=True, capture_output=True, timeout=30)
    api.get(f"/v1/webhooks/{old_wid}", expect=200)
    recent = app.send(github_body(4141, n=uid())).headers["X-Hookline-Webhook-Id"]
    wait_until(lambda: api.get(f"/v1/webhooks/{recent}").status_code == 200, LOG_TIMEOUT, "a recent webhook logged")
    daemons.stop("api")
    daemons.start("api")
    wait_until(lambda: api.get(f"/v1/webhooks/{old_wid}").status_code == 404, LOG_TIMEOUT, "the old webhook pruned")
    api.get(f"/v1/webhooks/{recent}", expect=200)


def test_replays_start_list_get_and_cancel(api, app):
    """Every /v1/replays route (test_api_replays.py has the replays themselves)."""
    env = app.env["id"]
    r = api.call("POST", "/v1/replays", body={"stage": "forwarder", "from": "-10m", "dry_run": True,
                                              "filters": {"env": env, "integration": app.key}}, expect=202)
    rid = r.json()["id"]
    assert r.headers["Location"] == f"/v1/replays/{rid}"
    assert rid in [x["id"] for x in api.get("/v1/replays", env=env).json()["data"]]
    c = api.call("POST", f"/v1/replays/{rid}/cancel")
    assert c.status_code in (202, 409), c.text       # 409: it had already ended
    done = wait_until(lambda: (lambda x: x if x["status"] != "running" else None)(
        api.get(f"/v1/replays/{rid}", expect=200).json()), TIMEOUT, "the replay ended")
    assert done["status"] in ("done", "cancelled") and done["published"] == 0, done
    api.get("/v1/replays/not-a-uuid", expect=404)


def test_zy_no_key_or_secret_in_any_log(api):
    """API keys and the secrets written through the API never reach a daemon's log (the
    key id may: it is not a secret)."""
    stack_dir = os.environ["HOOKLINE_STACK_DIR"]
    secrets = [k.split("_", 2)[2] for k in KEYS] + ["first-secret", "second-secret"]
    assert len(KEYS) >= 5
    for name in ("api", "ingress", "router", "forwarder", "syncer"):
        path = os.path.join(stack_dir, f"{name}.log")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        leaked = [x for x in secrets if x in text]
        assert not leaked, f"{path} holds {len(leaked)} secret(s)"


def test_zz_every_documented_path_was_called(api):
    """Runs last (file order): every (method, path) of the OpenAPI document was exercised."""
    missing = []
    for path, item in _doc_paths().items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete") and (method.upper(), path) not in CALLED:
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"documented but never called by the API tests: {missing}"
