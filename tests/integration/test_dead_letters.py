"""A delivery the app keeps failing is not dropped: after the last attempt the routed
message goes to the dead-letter topic with where and why it failed, and
`hookline dlq list` shows it. A delivery the app refuses outright (a 4xx that is not
worth retrying) is dead-lettered at once, after a single attempt."""
import json
import random

from hlsupport import github_body, wait_until


def dead_letters(cli):
    return cli.json("dlq", "list")


def wait_dead_letter(cli, webhook_id, timeout=90):
    return wait_until(lambda: [d for d in dead_letters(cli) if d["webhook_id"] == webhook_id], timeout,
                      f"webhook {webhook_id} on the dead-letter topic",
                      lambda: f"{len(dead_letters(cli))} dead letters")[0]


def test_out_of_attempts_goes_to_the_dead_letter_topic(github, receiver, cli):
    receiver.status = 503
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    webhook_id = github.send(body).headers["X-Hookline-Webhook-Id"]

    dl = wait_dead_letter(cli, webhook_id)
    attempts = github.mine(receiver.snapshot(), body)
    assert len(attempts) == int(dl["attempts"]) >= 2, "the dead letter does not count the attempts made"
    assert {a.header("webhook-id") for a in attempts} == {dl["delivery_id"]}, \
        "webhook-id changed across attempts, or the dead letter names another delivery"
    assert dl["destination"] == github.env["webhook_url"]
    assert dl["status"] == "503" and dl["error"] == "HTTP 503"
    assert dl["connection_id"] == conn and dl["integration"] == github.key


def test_refused_delivery_is_dead_lettered_after_one_attempt(github, receiver, cli):
    receiver.status = 400
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    webhook_id = github.send(body).headers["X-Hookline-Webhook-Id"]

    dl = wait_dead_letter(cli, webhook_id, timeout=30)
    assert dl["attempts"] == "1" and dl["status"] == "400"
    assert len(github.mine(receiver.snapshot(), body)) == 1, "a 400 was retried"
    text = cli.run("dlq", "list")
    assert webhook_id in text, "the text listing does not show the dead letter"
