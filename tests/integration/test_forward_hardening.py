"""The forwarder is never stopped by a message, and nothing a stranger controls reaches
the app's request line or framing.

- Poison on webhooks.routed (a connection id that is not UTF-8, has a control character
  or is over the one identifier cap, an environment that is not a UUID, no contract
  headers at all) is
  quarantined on webhooks.rejected with stage `forwarder` and its origin, counted, and
  the webhooks behind it on the same partition are delivered within seconds.
- An offset is stored only once the quarantine copy is acknowledged: while Kafka
  refuses the copy, the poison and what follows it on the partition are read again
  after a restart.
- Hop-by-hop, framing and origin-claiming headers sent to the ingress (including names
  libmicrohttpd keeps with a trailing space or tab) never reach the app, and values
  planted with CR/LF on webhooks.routed cannot add a header line."""
import base64
import json
import os
import random
import re
import socket
import struct
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hlsupport import TIMEOUT, App, Receiver, assert_bytes, get, github_body, uid, verify_standard, wait_until
from test_syncer import headers_of
from test_syncer import topic_tool as _topic_tool

ROUTED = os.environ.get("HOOKLINE_TOPIC_ROUTED", "webhooks.routed")
REJECTED = os.environ.get("HOOKLINE_TOPIC_REJECTED", "webhooks.rejected")
IDENT_MAX_LEN = 1024   # common/ident.h: the one cap of every stage
URL_MAX = 2048         # OUTBOUND_URL_MAX (common/outbound.h): the one cap of a tenant's URL
DELIVERED_WITHIN = 15  # seconds for a webhook behind poison (sanitizer build)


def topic_tool(*args, stdin=b""):
    """hookline-topic-tool's JSON lines, split on "\n" only: a header value may hold
    U+0085 or U+2028, which str.splitlines would also split on."""
    if args[0] != "dump":
        return _topic_tool(*args, stdin=stdin)
    tool = Path(os.environ["HOOKLINE_BIN_DIR"]).parent / "tools" / "hookline-topic-tool"
    r = subprocess.run([str(tool), *args], capture_output=True, timeout=60)
    assert r.returncode == 0, f"topic tool {args}: {r.stderr.decode(errors='replace')}"
    return [json.loads(x) for x in r.stdout.decode().split("\n") if x.strip()]


# ---- a Kafka producer of arbitrary header bytes --------------------------------------
# hookline-topic-tool reads header values from JSON strings, which cannot hold bytes that
# are not UTF-8; this speaks the Kafka protocol (Produce v3 carrying one record batch v2)
# to put exactly such a message on a partition of the test broker (a single node: the
# leader of every partition).

def _crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def _varint(n):
    """Kafka's zigzag varint."""
    n, out = (n << 1) ^ (n >> 63), bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def _vbytes(b):
    return _varint(len(b)) + b


def _recv(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "the broker closed the connection"
        buf += chunk
    return buf


def produce_raw(topic, partition, key, value, headers):
    """Writes one record (key, value: bytes; headers: [(name, bytes)]) to topic/partition,
    acks=all. Returns its offset; fails on a broker error."""
    record = b"\0" + _varint(0) + _varint(0) + _vbytes(key) + _vbytes(value) + _varint(len(headers))
    record += b"".join(_vbytes(k.encode()) + _vbytes(v) for k, v in headers)
    now = int(time.time() * 1000)
    # attributes, last offset delta, first/max timestamp, producer id/epoch, base sequence, count
    crc_covered = struct.pack(">hiqqqhii", 0, 0, now, now, -1, -1, -1, 1) + _varint(len(record)) + record
    tail = struct.pack(">ibI", -1, 2, _crc32c(crc_covered)) + crc_covered   # leader epoch, magic 2, crc
    batch = struct.pack(">qi", 0, len(tail)) + tail
    name = topic.encode()
    # header (api 0 Produce v3, correlation id, client id), no transactional id, acks -1,
    # timeout, one topic with one partition
    req = struct.pack(">hhih4shhii", 0, 3, 1, 4, b"test", -1, -1, 15000, 1)
    req += struct.pack(">h", len(name)) + name + struct.pack(">iii", 1, partition, len(batch)) + batch
    host, port = os.environ["HOOKLINE_KAFKA_BROKERS"].split(",")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(struct.pack(">i", len(req)) + req)
        resp = _recv(sock, struct.unpack(">i", _recv(sock, 4))[0])
    at = 8 + 2 + struct.unpack_from(">h", resp, 8)[0] + 4   # correlation id, topic count, name, partition count
    _, err, offset = struct.unpack_from(">ihq", resp, at)
    assert err == 0, f"produce to {topic} [{partition}]: Kafka error {err}"
    return offset


def routed_of(webhook_id):
    """The routed message(s) of one webhook."""
    return [m for m in topic_tool("dump", ROUTED) if headers_of(m).get("hl.webhook-id") == webhook_id]


def line(key, value, headers):
    """One input line of `hookline-topic-tool produce`."""
    return json.dumps({"key": key, "value_b64": base64.b64encode(value).decode(), "headers": headers}).encode() + b"\n"


def with_headers(template, changes, drop=()):
    """template's headers ([[name, value]]) with changes {name: value} replacing theirs and
    the names in drop removed."""
    out = [[k, v] for k, v in template if k not in changes and k not in drop]
    return out + [[k, v] for k, v in changes.items()]


def first_routed(github, receiver):
    """Sends one webhook for a fresh connection and returns (its routed message, the
    installation id): the template the crafted messages are made of."""
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst)
    wid = github.send(body).headers["X-Hookline-Webhook-Id"]
    github.wait_payload(body)
    return wait_until(lambda: routed_of(wid), 10, f"the routed message of {wid}")[0], inst


def quarantined(marker_values):
    """The forwarder's quarantined messages whose value is one of marker_values."""
    out = {}
    for m in topic_tool("dump", REJECTED):
        value = base64.b64decode(m["value_b64"])
        if value in marker_values and headers_of(m).get("hl.reject-stage") == "forwarder":
            out[value] = m
    return out


def metric(stack, name):
    text = get(stack.admin_url("forwarder", "/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\d+)", text, re.M)
    return int(found.group(1)) if found else 0


def test_poison_is_quarantined_and_the_webhooks_behind_it_are_delivered(github, receiver, stack):
    template, inst = first_routed(github, receiver)
    hs = template["headers"]
    before = metric(stack, "hookline_forwarder_quarantined_total")
    poison = {
        # (a C1 control other than U+0085: other tests split dumps of this topic with splitlines)
        "connection id with a C1 control": {"hl.connection-id": "conn-\u0090x"},
        "connection id over IDENT_MAX_LEN": {"hl.connection-id": "c" * (IDENT_MAX_LEN + 1)},
        "environment %ff": {"hl.environment": "%ff"},
        "environment not a UUID": {"hl.environment": "not-a-uuid"},
        "no routed id": {"hl.routed-id": None},
        "no headers at all": None,
    }
    values, lines = {}, b""
    for what, changes in poison.items():
        value = json.dumps({"poison": what, "n": uid()}).encode()
        values[value] = what
        headers = []
        if changes is not None:
            fresh = {"hl.webhook-id": f"poison-{uid()}", "hl.routed-id": f"r-{uid()}"}
            changes = {**fresh, **changes}
            headers = with_headers(hs, {k: v for k, v in changes.items() if v is not None},
                                   [k for k, v in changes.items() if v is None])
        lines += line(template["key"], value, headers)   # the template's key: the same partition
    topic_tool("produce", ROUTED, stdin=lines)
    # Bytes that are not UTF-8, which only the protocol itself can carry.
    for what, changes in {"connection id not UTF-8": {"hl.connection-id": b"conn-\xff\xc0\xaf"},
                          "environment not UTF-8": {"hl.environment": b"\xff\xfe"}}.items():
        value = json.dumps({"poison": what, "n": uid()}).encode()
        values[value] = what
        headers = [(k, v.encode()) for k, v in with_headers(hs, {"hl.webhook-id": f"poison-{uid()}"}, changes)]
        produce_raw(ROUTED, template["partition"], template["key"].encode(), value,
                    headers + list(changes.items()))

    # A webhook for the same connection, behind the poison on its partition: delivered.
    body = github_body(inst, after_poison=uid())
    started = time.monotonic()
    github.send(body)
    github.wait_payload(body, timeout=DELIVERED_WITHIN)
    assert time.monotonic() - started < DELIVERED_WITHIN

    got = wait_until(lambda: (lambda q: q if len(q) == len(values) else None)(quarantined(values)), TIMEOUT,
                     "every poison message on the quarantine topic",
                     lambda: sorted(values[v] for v in quarantined(values)))
    origin = {base64.b64decode(m["value_b64"]): m for m in topic_tool("dump", ROUTED)
              if base64.b64decode(m["value_b64"]) in values}
    for value, m in got.items():
        h, src = headers_of(m), origin[value]
        assert h["hl.reject-topic"] == ROUTED, values[value]
        assert int(h["hl.reject-partition"]) == src["partition"] == template["partition"], values[value]
        assert int(h["hl.reject-offset"]) == src["offset"], f"{values[value]}: not its origin offset"
        assert h["hl.reject-reason"].strip(), f"{values[value]}: no reason"
        assert base64.b64decode(m["value_b64"]) == value
    assert not [d for d in receiver.snapshot() if b'"poison"' in d.body], "a poison message was delivered"
    assert metric(stack, "hookline_forwarder_quarantined_total") >= before + len(values)


def test_a_quarantine_copy_kafka_refuses_for_size_goes_without_its_body_and_the_forwarder_goes_on(
        daemons, github, receiver):
    """While Kafka refuses the quarantine copy for size (the forwarder's producer limited
    to 2,000 bytes, the poison bigger: refused alone, so for good, not a moment's
    failure), the poison is quarantined without its body, the reason saying where it
    stays, and the webhook behind it is delivered once: after a restart (normal limits)
    neither is read again, because both offsets were stored once the copy was
    acknowledged. (A copy Kafka fails to store for a moment is tried again and holds the
    offset: test_outage.py, test_crash.py.)"""
    template, inst = first_routed(github, receiver)
    daemons.stop("forwarder")
    os.environ["HOOKLINE_KAFKA_MESSAGE_MAX_BYTES"] = "2000"
    try:
        daemons.start("forwarder")
    finally:
        del os.environ["HOOKLINE_KAFKA_MESSAGE_MAX_BYTES"]
    value = json.dumps({"poison": "too big to quarantine whole", "pad": "x" * 2500, "n": uid()}).encode()
    poison_id = f"poison-{uid()}"
    headers = with_headers(template["headers"], {"hl.environment": "%ff", "hl.webhook-id": poison_id})
    topic_tool("produce", ROUTED, stdin=line(template["key"], value, headers))
    body = github_body(inst, behind_refused=uid())
    github.send(body)
    first = github.wait_payload(body, timeout=DELIVERED_WITHIN)[0]

    def bare_copy():
        return [m for m in topic_tool("dump", REJECTED) if headers_of(m).get("hl.webhook-id") == poison_id and
                headers_of(m).get("hl.reject-stage") == "forwarder"]   # the syncer quarantines it too
    copy = wait_until(bare_copy, TIMEOUT, "the poison quarantined without its body")[0]
    h = headers_of(copy)
    assert copy["value_b64"] == "" and int(h["hl.reject-body-omitted"]) == len(value), h
    assert h["hl.reject-stage"] == "forwarder" and "body omitted, still in" in h["hl.reject-reason"], h

    daemons.stop("forwarder")
    daemons.start("forwarder")
    marker = github_body(inst, after_restart=uid())
    github.send(marker)
    github.wait_payload(marker, timeout=DELIVERED_WITHIN)
    assert len(bare_copy()) == 1, "the poison was read again after the restart: its offset was not stored"
    assert github.mine(github.receiver.deliveries(), body) == [first], "the webhook behind the poison was delivered again"


NEVER_PASSED = {"transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "proxy-authorization",
                "proxy-x", "content-encoding", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip",
                "x-http-method-override", "x-original-url"}


def raw_post(url, body, header_lines):
    """POSTs body to url over a plain socket with header_lines written exactly as given
    (names with trailing spaces or tabs, which HTTP client libraries refuse to send)."""
    u = urlsplit(url)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n").encode() + b"".join(h + b"\r\n" for h in header_lines) + b"\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=15) as s:
        s.sendall(head + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def names(delivery):
    return [k.strip().lower() for k, _ in delivery.header_items]


def test_framing_and_hop_by_hop_headers_from_the_sender_never_reach_the_app(github, receiver):
    inst = random.randint(10**6, 10**9)
    conn = github.connect({"installation_id": str(inst)})
    body = github_body(inst, framing=uid())
    signed = github.sign(body)
    header_lines = [f"{k}: {v}".encode() for k, v in signed.items()] + [
        b"Transfer-Encoding : chunked",            # kept by libmicrohttpd as "transfer-encoding "
        b"webhook-signature\t: v1,Zm9yZ2Vk",         # and as "webhook-signature\t"
        b"X-Forwarded-For: 10.0.0.1", b"X-Forwarded-Host: evil.example", b"Forwarded: for=10.0.0.1",
        b"X-Real-IP: 10.0.0.1", b"Proxy-Authorization: Basic eDp5", b"Proxy-X: 1", b"TE: trailers",
        b"Trailer: X-Late", b"Keep-Alive: timeout=5", b"Content-Encoding: identity",
        b"X-HTTP-Method-Override: DELETE", b"X-Original-URL: /admin",   # read by frameworks as the request line
        b"X-Custom-Ok : yes",                      # a benign name with a trailing space: passed, trimmed
    ]
    status, answer = raw_post(github.url, body, header_lines)
    assert status == 200, answer[:300]

    d = github.wait_payload(body)[0]
    assert_bytes(d.body, github.expected(conn, body))
    got = names(d)
    leaked = sorted(set(got) & NEVER_PASSED)
    assert not leaked, f"the app got hop-by-hop, framing or origin headers: {leaked}"
    assert got.count("webhook-signature") == 1, f"the sender's webhook-signature was passed on: {d.header_items}"
    assert verify_standard(github.env["signing_key"], d.header("webhook-id"), d.header("webhook-timestamp"),
                           d.header("webhook-signature"), d.body)
    assert d.header("Host") == urlsplit(github.env["webhook_url"]).netloc, "the sender's Host was passed on"
    assert d.header("x-custom-ok") == "yes", f"a benign header was lost: {d.header_items}"


def test_cr_lf_planted_on_the_routed_topic_cannot_add_a_header(github, receiver):
    template, inst = first_routed(github, receiver)
    value = json.dumps({"planted": uid()}).encode()
    headers = with_headers(template["headers"], {
        "hl.webhook-id": f"planted-{uid()}", "hl.routed-id": f"r-{uid()}",
        "hl.event-type": "push\r\nX-Injected: 1\r\n\r\nGET /admin HTTP/1.1",
        "http.x-planted": "a\r\nX-Injected-Too: 1",
        "http.transfer-encoding": "chunked", "http.content-length": "1",
    })
    topic_tool("produce", ROUTED, stdin=line(template["key"], value, headers))

    d = github.wait_payload(value)[0]
    got = names(d)
    assert not {"x-injected", "x-injected-too", "x-planted", "transfer-encoding"} & set(got), d.header_items
    assert d.header("X-Hookline-Event-Type") == "pushX-Injected: 1GET /admin HTTP/1.1"
    assert json.loads(d.body)["payload"] == json.loads(value), "the body was cut or reframed"
    assert d.header("Content-Length") == str(len(d.body))


def test_a_sync_runner_topic_cannot_be_one_of_hooklines_own(github, cli):
    base = [str(cli.path), "sync", "create", "--env", github.env["id"], "--integration", github.key,
            "--subscriptions", "*"]
    for topic in ("webhooks.routed", "webhooks.raw", "WEBHOOKS.Rejected", "webhooks.anything",
                  "webhooks.forward-retry.hookline-forwarder.1"):
        r = subprocess.run(base + ["--name", f"s-{uid()}", "--runner-topic", topic], capture_output=True, timeout=60)
        assert r.returncode != 0, f"--runner-topic {topic} was accepted"
        assert b"hookline's own topics" in r.stderr, r.stderr
    created = cli.json("sync", "create", "--env", github.env["id"], "--integration", github.key,
                       "--subscriptions", "*", "--name", f"s-{uid()}", "--runner-topic", f"runner-jobs-{uid()}")
    assert created["runner_topic"].startswith("runner-jobs-")


def test_after_reencrypt_the_database_refuses_plain_text_secrets(github, receiver, cli):
    """`hookline secrets reencrypt` leaves every secret encrypted and from then on the
    database refuses a plain-text one (a known key planted by SQL), while forwarding
    goes on. The constraints are dropped afterwards: other tests plant plain text."""
    done = cli.json("secrets", "reencrypt")
    try:
        assert done["plaintext_refused"] is True
        for sql in (f"UPDATE environments SET signing_key = 'planted' WHERE id = '{github.env['id']}'",
                    f"UPDATE integrations SET webhook_secret = 'planted' WHERE environment_id = '{github.env['id']}'"):
            r = subprocess.run(["psql", os.environ["HOOKLINE_DATABASE_URL"], "-XAtqc", sql], capture_output=True,
                               timeout=30)
            assert r.returncode != 0 and b"secrets_encrypted" in r.stderr, (sql, r.stderr)
        inst = random.randint(10**6, 10**9)
        github.connect({"installation_id": str(inst)})
        body = github_body(inst, after_reencrypt=uid())
        github.send(body)
        github.wait_payload(body)
    finally:
        for table in ("environments", "integrations"):
            subprocess.run(["psql", os.environ["HOOKLINE_DATABASE_URL"], "-XAtqc",
                            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_secrets_encrypted"],
                           capture_output=True, timeout=30)


def psql(sql, *params):
    """Runs sql with psql variables :'p1'.. bound to params; its output."""
    args = ["psql", os.environ["HOOKLINE_DATABASE_URL"], "-XAtq"]
    for i, p in enumerate(params, 1):
        args += ["-v", f"p{i}={p}"]
    r = subprocess.run(args, input=sql.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode().strip()


@pytest.mark.parametrize("broken", ["signing key that cannot be decrypted", "webhook URL over the limit"])
def test_an_environment_that_cannot_be_used_holds_only_its_own_webhooks(cli, stack, github, receiver, broken):
    """Not the message's fault, so not quarantined: its webhooks wait (nothing is signed
    with a wrong key, nothing goes to a URL cut short) and are delivered once the row is
    usable again, while every other environment's webhooks flow and the forwarder stays
    ready. The rows are broken by SQL, past what the CLI lets through."""
    column, bad = {
        "signing key that cannot be decrypted":
            ("signing_key", "hl1:gone-key:" + base64.b64encode(b"\0" * 40).decode()),
        "webhook URL over the limit":   # cut at the limit it would still reach the receiver
            ("webhook_url", github.env["webhook_url"] + "?pad=" + "x" * URL_MAX),
    }[broken]
    stored = psql(f"SELECT {column} FROM environments WHERE id = :'p1'::uuid", github.env["id"])
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    other_receiver = Receiver().start()
    try:
        other = App(cli, stack, other_receiver, "github-app")
        other_inst = random.randint(10**6, 10**9)
        other.connect({"installation_id": str(other_inst)})
        psql(f"UPDATE environments SET {column} = :'p1' WHERE id = :'p2'::uuid", bad, github.env["id"])
        try:
            held = github_body(inst, held=uid())
            github.send(held)
            time.sleep(2)
            for i in range(3):   # behind it, other tenants' webhooks flow
                body = github_body(other_inst, n=i, flowing=uid())
                other.send(body)
                other.wait_payload(body, timeout=DELIVERED_WITHIN)
            assert not [d for d in receiver.snapshot() if b'"held"' in d.body], \
                f"delivered although the environment has a {broken}"
            assert get(stack.admin_url("forwarder", "/readyz")).status_code == 200
        finally:
            psql(f"UPDATE environments SET {column} = :'p1' WHERE id = :'p2'::uuid", stored, github.env["id"])
        github.wait_payload(held)
    finally:
        other_receiver.stop()
