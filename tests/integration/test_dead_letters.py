"""A delivery the app keeps failing is not dropped: after the last attempt the routed
message goes to the dead-letter topic with where and why it failed, and
`hookline dlq list` shows it. A delivery the app refuses outright (a 4xx that is not
worth retrying) is dead-lettered at once, after a single attempt."""
import json
import os
import random
import subprocess

from hlsupport import github_body, wait_until
from test_syncer import headers_of, topic_tool


def dead_letters(cli):
    return cli.json("dlq", "list")


def wait_dead_letter(cli, webhook_id, timeout=90):
    return wait_until(lambda: [d for d in dead_letters(cli) if d["webhook_id"] == webhook_id], timeout,
                      f"webhook {webhook_id} on the dead-letter topic",
                      lambda: f"{len(dead_letters(cli))} dead letters")[0]


def send_to_failing_app(app, receiver, status):
    """A webhook for a new connection of app, whose receiver answers status from now on:
    (connection id, body, webhook id)."""
    receiver.status = status
    inst = random.randint(10**6, 10**9)
    conn = app.connect({"installation_id": str(inst)})
    body = github_body(inst)
    return conn, body, app.send(body).headers["X-Hookline-Webhook-Id"]


def test_out_of_attempts_goes_to_the_dead_letter_topic(github, receiver, cli):
    conn, body, webhook_id = send_to_failing_app(github, receiver, 503)

    dl = wait_dead_letter(cli, webhook_id)
    attempts = github.mine(receiver.snapshot(), body)
    assert len(attempts) == int(dl["attempts"]) >= 2, "the dead letter does not count the attempts made"
    assert {a.header("webhook-id") for a in attempts} == {dl["delivery_id"]}, \
        "webhook-id changed across attempts, or the dead letter names another delivery"
    assert dl["destination"] == github.env["webhook_url"]
    assert dl["status"] == "503" and dl["error"] == "HTTP 503"
    assert dl["connection_id"] == conn and dl["integration"] == github.key


def test_refused_delivery_is_dead_lettered_after_one_attempt(github, receiver, cli):
    _, body, webhook_id = send_to_failing_app(github, receiver, 400)

    dl = wait_dead_letter(cli, webhook_id, timeout=30)
    assert dl["attempts"] == "1" and dl["status"] == "400"
    assert len(github.mine(receiver.snapshot(), body)) == 1, "a 400 was retried"
    text = cli.run("dlq", "list")
    assert webhook_id in text, "the text listing does not show the dead letter"


URL_MAX = 2048   # OUTBOUND_URL_MAX (common/outbound.h): the one limit of a tenant's URL


def test_url_of_the_longest_allowed_length_survives_retries_and_dead_letters(github, receiver, cli):
    """A URL of exactly the limit travels through every retry pass and into the dead letter
    whole (a smaller buffer on the way used to drop the retry: no attempt, no dead letter);
    one byte more is refused by the CLI, naming the limit."""
    long_url = f"{receiver.url}{github.path}?pad="
    long_url += "x" * (URL_MAX - len(long_url))
    assert len(long_url) == URL_MAX
    cli.run("env", "update", "--env", github.env["id"], "--webhook-url", long_url)
    r = subprocess.run([str(cli.path), "env", "update", "--env", github.env["id"], "--webhook-url", long_url + "x"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and str(URL_MAX).encode() in r.stderr, r.stderr

    _, body, webhook_id = send_to_failing_app(github, receiver, 503)
    dl = wait_dead_letter(cli, webhook_id)
    attempts = [d for d in receiver.snapshot() if d.path == long_url[len(receiver.url):]
                and json.loads(d.body)["payload"] == json.loads(body)]
    assert len(attempts) == int(dl["attempts"]) > 2, "the retry passes did not reach the long URL"
    dumped = [m for m in topic_tool("dump", os.environ.get("HOOKLINE_TOPIC_DEAD_LETTERS", "webhooks.dead-letters"))
              if headers_of(m).get("hl.webhook-id") == webhook_id]
    assert [headers_of(m)["hl.dl.destination"] for m in dumped] == [long_url]
