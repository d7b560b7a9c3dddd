"""A provider's request headers are passed on to the app, but never in a way that lets a
header value add a header line of its own (header injection): a value holding CR, LF or
NUL is dropped, the others arrive unchanged, and the webhook itself is still delivered."""
import base64
import json
import random
import socket
import uuid
from urllib.parse import urlsplit

import pytest

from hlsupport import TIMEOUT, github_body, github_headers, headers_of, topic, topic_tool

INJECTED = ("x-injected", "x-injected-lf", "x-injected-cr", "x-injected-fold")


def assert_not_injected(d):
    names = [k.lower() for k, _ in d.header_items]
    assert not [n for n in names if n in INJECTED], f"a header value became a header line: {d.header_items}"
    for k, v in d.header_items:
        assert "\r" not in v and "\n" not in v, f"header {k} arrived with a line break: {v!r}"


def test_stored_header_values_with_line_breaks_are_not_passed_on(github):
    """The ingress stores request headers as Kafka headers; whatever is on the raw topic
    must not split the forwarder's header lines. HTTP cannot carry a LF inside a value
    (it ends the line), so the message is written there directly: a copy of one the
    ingress wrote, with such values added."""
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    template = github_body(inst, n="template")
    wid = github.send(template).headers["X-Hookline-Webhook-Id"]
    github.wait_payload(template)
    [raw] = [m for m in topic_tool("dump", topic("raw")) if headers_of(m).get("hl.webhook-id") == wid]

    crafted = github_body(inst, n="crafted")
    # A new webhook and a new delivery (the router drops a copy of a provider's delivery).
    headers = [[k, v] for k, v in raw["headers"] if k not in ("hl.webhook-id", "http.x-github-delivery")]
    headers += [["hl.webhook-id", str(uuid.uuid4())], ["http.x-github-delivery", str(uuid.uuid4())],
                ["http.x-test", "a\r\nX-Injected: yes"],
                ["http.x-test-lf", "b\nX-Injected-Lf: yes"],
                ["http.x-test-cr", "c\rX-Injected-Cr: yes"],
                ["http.x-clean", "passed on"]]
    line = {"key": raw["key"], "value_b64": base64.b64encode(crafted).decode(), "headers": headers}
    topic_tool("produce", topic("raw"), stdin=json.dumps(line).encode() + b"\n")

    [d] = github.wait_payload(crafted)
    assert d.body == github.expected(conn, crafted)
    assert d.header("x-clean") == "passed on", f"a plain provider header was not passed on: {d.header_items}"
    assert_not_injected(d)
    for name in ("x-test", "x-test-lf", "x-test-cr"):
        assert d.header(name) is None, f"{name} was passed on as {d.header(name)!r}"


def raw_post(url, head_lines, body):
    """POST with header lines written byte for byte (http.client refuses these); returns
    (status code, {lower-case header name: value}), or (None, {}) if the server closed
    without an answer."""
    u = urlsplit(url)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n").encode() + b"".join(h + b"\r\n" for h in head_lines) + b"\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                return None, {}
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
    return int(head[0].split(" ", 2)[1]), {k.strip().lower(): v.strip() for k, v in fields.items()}


def test_request_header_values_with_line_breaks_do_not_become_header_lines(github):
    """Over HTTP: a bare CR inside a value (libmicrohttpd 0.9.75 accepts it and keeps it
    in the value) and an obsolete folded line. The ingress may refuse the request or
    accept it; if it accepts it, the app gets no header line the sender hid in a value."""
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    cases = {
        "bare-cr": b"X-Test-Cr: c\rX-Injected-Cr: yes",
        "folded": b"X-Test-Fold: a\r\n X-Injected-Fold: yes",
    }
    accepted = []
    for name, odd in cases.items():
        body = github_body(inst, case=name)
        lines = [f"{k}: {v}".encode() for k, v in github_headers(github.secret, body, event="issues").items()]
        status, _ = raw_post(github.url, lines + [odd, b"X-Clean: passed on"], body)
        assert status in (None, 200, 400, 431), f"{name}: the ingress answered {status}"
        if status == 200:
            accepted.append(body)
    for body in accepted:
        [d] = github.wait_payload(body)
        assert d.header("x-clean") == "passed on", d.header_items
        assert_not_injected(d)


def test_request_header_names_with_a_cr_do_not_reach_the_app(github):
    """A bare CR inside a header *name* (libmicrohttpd 0.9.75 accepts it). Refused, or
    accepted and then either dropped or passed on harmlessly: the app must get the
    webhook's envelope and no header line hidden in the name."""
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    body = github_body(inst, case="cr-in-name")
    lines = [f"{k}: {v}".encode() for k, v in github_headers(github.secret, body, event="issues").items()]
    status, headers = raw_post(github.url, lines + [b"X-Odd\rX-Injected-Name: yes", b"X-Clean: passed on"], body)
    assert status in (None, 200, 400, 431), f"the ingress answered {status}"
    if status != 200:
        return
    wid = headers["x-hookline-webhook-id"]
    d = github.receiver.wait_for(lambda rs: [d for d in github.mine(rs) if d.header("x-hookline-webhook-id") == wid],
                                 TIMEOUT, f"a request for webhook {wid}", attempts=True)[0]
    assert d.body == github.expected(conn, body), f"the app got a broken request: {d.header_items} {d.body[:200]!r}"
    assert "x-injected-name" not in [k.lower() for k, _ in d.header_items], d.header_items
