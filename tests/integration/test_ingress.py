"""The ingress's answers: what it accepts, what it refuses and with which status."""
import http.client
import random
import select
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest

from hlsupport import (assert_bytes, get, github_body, github_headers, hubspot_event, hubspot_headers, post,
                       post_raw, uid, wait_until)

LIMIT = 1048576   # default body limit, 1 MiB


def assert_only_delivered(app, barrier):
    """Send a valid webhook after the refused ones and wait for it: once it is through the
    pipeline, nothing refused before it may have reached the app."""
    app.send(barrier)
    app.wait_payload(barrier)
    delivered = app.mine(app.receiver.snapshot())
    others = [d.body[:300] for d in delivered if d not in app.mine(delivered, barrier)]
    assert not others, f"refused webhooks reached the app: {others}"


def test_bad_github_signatures_are_401_and_never_delivered(github):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst, attempt="forged")
    good = github.sign(body)
    cases = {
        "tampered body": (body.replace(b"forged", b"f0rged"), good),
        "wrong secret": (body, github_headers("not-the-secret", body)),
        "missing signature": (body, {k: v for k, v in good.items() if k != "X-Hub-Signature-256"}),
        "garbled signature": (body, {**good, "X-Hub-Signature-256": "sha256=not-hex"}),
    }
    statuses = {name: post(github.url, b, h).status_code for name, (b, h) in cases.items()}
    assert statuses == {name: 401 for name in cases}

    assert_only_delivered(github, github_body(inst, attempt="valid"))


@pytest.mark.parametrize("case", ["timestamp-6-min-old", "timestamp-6-min-ahead", "signed-for-other-url"])
def test_bad_hubspot_signatures_are_401_and_never_delivered(hubspot, case):
    portal = random.randint(10**6, 10**8)
    hubspot.connect({"portalId": str(portal)})
    body = b"[" + hubspot_event(portal, 1) + b"]"
    now_ms = int(time.time() * 1000)
    headers = {
        "timestamp-6-min-old": hubspot.sign(body, ts_ms=now_ms - 360_000),
        "timestamp-6-min-ahead": hubspot.sign(body, ts_ms=now_ms + 360_000),
        "signed-for-other-url": hubspot_headers(hubspot.secret, hubspot.url + "x", body),
    }[case]
    hubspot.send(body, headers, expect=401)

    assert_only_delivered(hubspot, b"[" + hubspot_event(portal, 2) + b"]")


@pytest.mark.parametrize("target", ["unknown-integration", "unknown-environment", "malformed-uuid"])
def test_unknown_target_is_404(github, stack, target):
    path = {
        "unknown-integration": f"{github.env['id']}/no-such-{uid()}",
        "unknown-environment": f"{uuid.uuid4()}/{github.key}",
        "malformed-uuid": f"{github.env['id'][:-1]}/{github.key}",
    }[target]
    body = github_body(1)
    r = post(f"{stack.public_url}/webhook/{path}", body, github.sign(body))
    assert r.status_code == 404, f"POST /webhook/{path} answered {r.status_code} {r.text[:200]!r}"


def padded_body(inst, size):
    body = github_body(inst, pad="")
    body = github_body(inst, pad="x" * (size - len(body)))
    assert len(body) == size
    return body


def test_body_over_1_mib_is_413(github):
    body = padded_body(1, LIMIT + 1)
    status, text = post_raw(github.url, body, github.sign(body))
    assert status == 413, f"a {len(body)}-byte body answered {status} {text[:200]!r}"


def test_body_of_exactly_1_mib_is_accepted_and_delivered(github):
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    body = padded_body(inst, LIMIT)
    github.send(body)
    d = github.wait_payload(body)[0]
    assert_bytes(d.body, github.expected(conn, body))


def peer_closed(sock):
    """True if the other end has closed the connection (readable with EOF)."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ConnectionError:
        return True


def test_ingress_keeps_the_connection_alive(github):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    u = urlsplit(github.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    bodies = [github_body(inst, n=i) for i in range(5)]
    try:
        first = None
        for i, body in enumerate(bodies, 1):
            conn.request("POST", u.path, body, github.sign(body))
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == 200, f"request {i}: {resp.status} {data[:200]!r}"
            assert resp.version == 11, f"request {i} answered HTTP/{resp.version / 10}"
            assert (resp.getheader("Connection") or "").lower() != "close", f"request {i}: Connection: close"
            assert not resp.will_close and conn.sock is not None, \
                f"request {i}: the response ends the connection"
            first = first or (conn.sock, conn.sock.fileno())
            assert (conn.sock, conn.sock.fileno()) == first, f"request {i} went over a new connection"
            assert not peer_closed(conn.sock), f"the ingress closed the connection after request {i}"
    finally:
        conn.close()
    for body in bodies:
        github.wait_payload(body)


def test_identifiers_that_cannot_exist_are_404_and_leave_readyz_alone(github, stack):
    """A key PostgreSQL would refuse (%ff is not UTF-8), an environment that is not a UUID
    and a key with a space name nothing: 404 without asking the database, and a burst of
    them never makes the ingress report the database down (it used to answer 503 and go
    NotReady, so a trickle of such requests kept every replica out of service)."""
    paths = [f"{github.env['id']}/%ff", f"not-a-uuid-{uid()}/{github.key}", f"{github.env['id']}/a%20b"]
    body = github_body(1)
    readyz = stack.admin_url("ingress", "/readyz")
    for round_ in range(30):
        for path in paths:
            r = post(f"{stack.public_url}/webhook/{path}", body, github.sign(body))
            assert r.status_code == 404, f"round {round_}: POST /webhook/{path} answered {r.status_code} {r.text[:200]!r}"
        ready = get(readyz)
        assert ready.status_code == 200, f"round {round_}: /readyz answered {ready.status_code} {ready.text[:200]!r}"
    # The real integration is still served.
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    github.send(github_body(inst, n="after-the-burst"))


def test_content_length_over_the_limit_is_413_before_the_body(github):
    """The body is not waited for (nor read) when Content-Length already says it is too large."""
    u = urlsplit(github.url)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    try:
        s.sendall(f"POST {u.path} HTTP/1.1\r\nHost: {u.hostname}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {LIMIT + 1}\r\n\r\n".encode())
        try:
            head = s.recv(4096)
        except TimeoutError:
            head = b"(nothing within 5 s)"
        assert head.startswith(b"HTTP/1.1 413 "), f"headers announcing {LIMIT + 1} bytes answered {head[:200]!r}"
    finally:
        s.close()


def test_an_integration_created_after_a_404_is_accepted_within_a_second(cli, github, stack):
    """A 404 is remembered (so that floods of unknown targets stay off the database), but
    briefly, and a configuration change drops it: the provider of a tenant created a
    moment after its first, refused webhook is accepted within about a second."""
    key, secret = f"late-{uid()}", f"s3cret-{uid()}"
    url = f"{stack.public_url}/webhook/{github.env['id']}/{key}"
    body = github_body(1, late=key)
    r = post(url, body, github_headers(secret, body))
    assert r.status_code == 404, f"before it exists: {r.status_code} {r.text[:200]!r}"
    cli.integration(github.env["id"], key, "github-app", secret=secret)
    created = time.monotonic()
    answers = []

    def accepted():
        answers.append(post(url, body, github_headers(secret, body)).status_code)
        return answers[-1] == 200
    wait_until(accepted, 5, "the new integration's webhook to be accepted", lambda: answers, interval=0.05)
    took = time.monotonic() - created
    assert took < 1.5, f"accepted {took:.2f} s after the integration was created (answers: {answers})"
    assert set(answers) <= {200, 404}, f"answers meanwhile: {answers}"
