"""Replays over the API (POST /v1/replays), against the real stack: a replay for the
forwarder reaches the app again with the same webhook-id and the replay's id and starts
no sync run; a dry run counts and publishes nothing; a key limited to an environment can
neither replay nor see another's (404); bad bodies answer 400 problems; a slow replay is
cancelled; at most HOOKLINE_API_REPLAYS_MAX run at once (429); a drain and a dead
process leave their replays interrupted. Every answer is checked against the OpenAPI
document (test_api.Api)."""
import os
import random
import subprocess
import time

import pytest

from hlsupport import TIMEOUT, App, github_body, headers_of, topic, topic_tool, wait_until
from test_api import _DOC, Api, api_url, make_key  # noqa: F401  (api_url: a fixture)
from test_replay import rfc3339, synced_webhooks, wait_replayed
from test_syncer import runner, syncs  # noqa: F401  (fixtures)

FINAL = ("done", "cancelled", "failed", "interrupted")


@pytest.fixture
def admin(api_url, cli):  # noqa: F811
    """A write key of all environments."""
    a = Api(api_url, make_key(cli, "--all", "--scope", "write")["key"])
    if not _DOC:
        _DOC.update(a.get("/v1/openapi.json", expect=200).json())
    return a


def scoped(api_url, cli, env, scope="write"):  # noqa: F811
    return Api(api_url, make_key(cli, "--env", env, "--scope", scope)["key"])


def start(api, body, expect=202):
    r = api.call("POST", "/v1/replays", body=body, expect=expect)
    if expect == 202:
        rep = r.json()
        assert r.headers["Location"] == f"/v1/replays/{rep['id']}" and rep["status"] == "running", (r.headers, rep)
        return rep
    assert r.headers["Content-Type"] == "application/problem+json" and r.json()["status"] == expect, r.text
    return r.json()


def wait_status(api, rid, want=FINAL, timeout=TIMEOUT * 2):
    seen = {}

    def ended():
        seen["r"] = api.get(f"/v1/replays/{rid}", expect=200).json()
        return seen["r"] if seen["r"]["status"] in want else None
    return wait_until(ended, timeout, f"replay {rid} {want}", lambda: seen.get("r"), interval=0.3)


def copies_of(rid, stage="forwarder"):
    return [m for m in topic_tool("dump", topic(f"replay.{stage}")) if headers_of(m).get("hl.replay-id") == rid]


def delivered(app, n):
    """n webhooks of one new connection, delivered: (a time before them, their webhook ids)."""
    inst = random.randint(10**6, 10**9)
    app.connect({"installation_id": str(inst)})
    start_t = time.time() - 1
    bodies = [github_body(inst, n=i) for i in range(n)]
    wids = [app.send(b).headers["X-Hookline-Webhook-Id"] for b in bodies]
    for b in bodies:
        app.wait_payload(b)
    return start_t, wids


def test_api_replay_for_the_forwarder_reaches_the_app_again_and_starts_no_sync_run(syncs, receiver, api_url, cli,
                                                                                  admin):  # noqa: F811
    app = syncs.app
    inst, start_t, sent, first = synced_webhooks(syncs, receiver)
    api = scoped(api_url, cli, syncs.env)

    rep = start(api, {"stage": "forwarder", "from": rfc3339(start_t), "to": rfc3339(time.time() + 1),
                      "filters": {"env": syncs.env, "integration": app.key}})
    assert rep["environment_id"] == syncs.env and rep["dry_run"] is False
    rid = rep["id"]
    done = wait_status(api, rid)
    assert done["status"] == "done" and done["matched"] == 2 and done["published"] == 2, done
    assert done["error"] is None and done["finished_at"]
    wait_replayed(app, receiver, rid, sent, first)
    # A webhook sent after the replay starts its run: the syncer is past the replay's
    # time, and the replay added none.
    syncs.send(inst, event="issues", n=9)
    syncs.wait_runs(3)
    assert len(syncs.runs()) == 3, "a replay for the forwarder started sync runs"
    # The write is audited; the list shows it.
    assert any(a["action"] == "POST /v1/replays" and a["target"] == f"replay {rid}" and a["status"] == 202
               for a in api.get("/v1/audit", limit=500).json()["data"])
    assert rid in [r["id"] for r in api.get("/v1/replays", expect=200).json()["data"]]


def test_api_dry_run_counts_matches_and_publishes_nothing(github, api_url, cli):  # noqa: F811
    start_t, _ = delivered(github, 3)
    api = scoped(api_url, cli, github.env["id"])
    for stage in ("forwarder", "router"):
        rep = start(api, {"stage": stage, "from": rfc3339(start_t), "dry_run": True,
                          "filters": {"env": github.env["id"], "integration": github.key}})
        done = wait_status(api, rep["id"])
        assert done["status"] == "done" and done["dry_run"] is True, done
        assert done["matched"] == 3 and done["published"] == 0 and done["read"] >= 3, done
        assert not copies_of(rep["id"], stage), "a dry run published"
    # One webhook id among them.
    _, (wid,) = delivered(github, 1)
    rep = start(api, {"stage": "forwarder", "from": "-1h", "dry_run": True,
                      "filters": {"env": github.env["id"], "webhook_ids": [wid]}})
    assert wait_status(api, rep["id"])["matched"] == 1


def test_api_a_scoped_key_cannot_replay_or_see_another_environment(api_url, cli, stack, receiver, admin):  # noqa: F811
    mine, theirs = App(cli, stack, receiver, "github-app"), App(cli, stack, receiver, "github-app")
    start_t, _ = delivered(theirs, 1)
    api = scoped(api_url, cli, mine.env["id"])
    oenv = theirs.env["id"]

    # Naming the other environment: not found. Naming none: the key must.
    p = start(api, {"stage": "forwarder", "from": "-1h", "filters": {"env": oenv}}, expect=404)
    assert "environment" in p["detail"]
    p = start(api, {"stage": "forwarder", "from": "-1h"}, expect=400)
    assert "filters.env" in p["detail"]
    # Its own environment with the other's integration: the environment filter holds.
    rep = start(api, {"stage": "forwarder", "from": rfc3339(start_t), "dry_run": True,
                      "filters": {"env": mine.env["id"], "integration": theirs.key}})
    done = wait_status(api, rep["id"])
    assert done["status"] == "done" and done["matched"] == 0 and done["read"] >= 1, done

    # The other environment's replay (and one of all environments) are invisible: 404.
    theirs_rep = start(admin, {"stage": "forwarder", "from": rfc3339(start_t), "dry_run": True,
                               "filters": {"env": oenv, "integration": theirs.key}})
    all_rep = start(admin, {"stage": "syncer", "from": rfc3339(start_t), "dry_run": True,
                            "filters": {"integration": theirs.key}})
    assert all_rep["environment_id"] is None
    assert wait_status(admin, theirs_rep["id"])["matched"] == 1
    wait_status(admin, all_rep["id"])
    for rid in (theirs_rep["id"], all_rep["id"]):
        api.get(f"/v1/replays/{rid}", expect=404)
        api.call("POST", f"/v1/replays/{rid}/cancel", expect=404)
    listed = [r["id"] for r in api.get("/v1/replays", limit=500).json()["data"]]
    assert rep["id"] in listed and theirs_rep["id"] not in listed and all_rep["id"] not in listed
    assert theirs_rep["id"] in [r["id"] for r in admin.get("/v1/replays", env=oenv).json()["data"]]
    # A read key may look but not start.
    ro = scoped(api_url, cli, mine.env["id"], "read")
    ro.call("POST", "/v1/replays", body={"stage": "forwarder", "from": "-1h", "filters": {"env": mine.env["id"]}},
            expect=403)
    ro.get(f"/v1/replays/{rep['id']}", expect=200)


@pytest.mark.parametrize("body, words", [
    ({"from": "-1h"}, "stage"),
    ({"stage": "mailer", "from": "-1h"}, "stage"),
    ({"stage": "forwarder"}, "from is required"),
    ({"stage": "forwarder", "from": "yesterday"}, "RFC 3339"),
    ({"stage": "forwarder", "from": "-1h", "to": "-2h"}, "after from"),
    ({"stage": "forwarder", "from": "-1h", "rate": 0}, "rate"),
    ({"stage": "forwarder", "from": "-1h", "rate": "fast"}, "rate"),
    ({"stage": "forwarder", "from": "-1h", "dry_run": "yes"}, "dry_run"),
    ({"stage": "forwarder", "from": "-1h", "filters": []}, "filters must be an object"),
    ({"stage": "forwarder", "from": "-1h", "filters": {"colour": "red"}}, "unknown filter"),
    ({"stage": "forwarder", "from": "-1h", "filters": {"integration": ""}}, "filters.integration"),
    ({"stage": "forwarder", "from": "-1h", "filters": {"webhook_ids": ["nope"]}}, "webhook_ids[0]"),
    ({"stage": "forwarder", "from": "-1h", "filters": {"env": "nope"}}, "filters.env"),
    ({"stage": "router", "from": "-1h", "filters": {"connection": "c1"}}, "forwarder or syncer"),
    ({"stage": "forwarder", "from": "-1h", "speed": 3}, "unknown member"),
    ("not an object", "JSON object"),
])
def test_api_replay_validation_errors(admin, body, words):
    p = start(admin, body, expect=400)
    assert words in p["detail"], p


def test_api_cancel_stops_a_slow_replay_and_the_limit_holds(github, api_url, cli, admin):  # noqa: F811
    start_t, _ = delivered(github, 4)
    api = scoped(api_url, cli, github.env["id"])
    slow = {"stage": "forwarder", "from": rfc3339(start_t), "rate": 0.2,
            "filters": {"env": github.env["id"], "integration": github.key}}
    a = start(api, slow)
    b = start(api, dict(slow, rate=0.25))
    # HOOKLINE_API_REPLAYS_MAX (2) run: a third waits.
    r = api.call("POST", "/v1/replays", body=slow, expect=429)
    assert int(r.headers["Retry-After"]) >= 1 and "HOOKLINE_API_REPLAYS_MAX" in r.json()["detail"]
    wait_status(api, a["id"], want=("running",))
    wait_until(lambda: api.get(f"/v1/replays/{a['id']}").json()["published"] >= 1, TIMEOUT, "a first copy")
    for rep in (a, b):
        c = api.call("POST", f"/v1/replays/{rep['id']}/cancel", expect=202).json()
        assert c["cancel_requested"] is True
    for rep in (a, b):
        done = wait_status(api, rep["id"], timeout=15)
        assert done["status"] == "cancelled" and 1 <= done["published"] < 4, done
        assert len(copies_of(rep["id"])) == done["published"]
    api.call("POST", f"/v1/replays/{a['id']}/cancel", expect=409)
    # Both places are free again.
    c = start(api, dict(slow, rate=None, dry_run=True))
    assert wait_status(api, c["id"])["status"] == "done"


def test_api_drain_and_a_dead_process_leave_replays_interrupted(github, api_url, cli, admin, daemons):  # noqa: F811
    start_t, _ = delivered(github, 3)
    rep = start(admin, {"stage": "forwarder", "from": rfc3339(start_t), "rate": 0.2,
                        "filters": {"env": github.env["id"], "integration": github.key}})
    wait_until(lambda: admin.get(f"/v1/replays/{rep['id']}").json()["published"] >= 1, TIMEOUT, "a first copy")
    # A replay whose process died: running, with a heartbeat long stale.
    dead = "0190a3d4-0000-7000-8000-%012d" % random.randint(0, 10**11)
    sql = (f"INSERT INTO replays (id, environment_id, stage, from_at, to_at, key_id, heartbeat_at) VALUES "
           f"('{dead}', '{github.env['id']}', 'router', now() - interval '1 hour', now(), 'gone', "
           f"now() - interval '10 minutes')")
    subprocess.run(["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    os.environ["HOOKLINE_DATABASE_URL"], "-c", sql], check=True, capture_output=True, timeout=30)
    daemons.stop("api")                          # SIGTERM: drains (fails if it had to be SIGKILLed)
    daemons.start("api")
    wait_until(lambda: admin.get("/v1/me").status_code == 200, 60, "the API back")
    drained = admin.get(f"/v1/replays/{rep['id']}", expect=200).json()
    assert drained["status"] == "interrupted" and "stopped" in drained["error"], drained
    assert 1 <= drained["published"] < 3 and len(copies_of(rep["id"])) == drained["published"], drained
    died = wait_status(admin, dead, want=("interrupted",))
    assert "heartbeat" in died["error"] and died["finished_at"], died
