"""The suite's own tools (signing helpers, receiver) against known vectors. No stack needed:
if these fail, the other tests' verdicts cannot be trusted."""
import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from hlsupport import (REPO, Receiver, envelope, github_headers, hmac_sha256, nango_signature,
                       verify_standard, wait_until)
from receiver import standard_signature

FOX = b"The quick brown fox jumps over the lazy dog"
FOX_HMAC = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"   # key "key"
# The Standard Webhooks specification's test vector.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID, SW_TS = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330"
SW_BODY, SW_SIG = b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_hmac_helpers_match_known_vectors():
    assert hmac_sha256(b"key", FOX).hex() == FOX_HMAC
    assert nango_signature("key", FOX) == FOX_HMAC
    assert nango_signature("whsec_a2V5", FOX) == FOX_HMAC   # whsec_ + base64("key")
    assert github_headers("key", FOX)["X-Hub-Signature-256"] == "sha256=" + FOX_HMAC


def test_standard_webhooks_verify_matches_the_spec_vector():
    assert standard_signature(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_SIG
    now = int(SW_TS)
    assert verify_standard(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, now=now)
    assert verify_standard(SW_SECRET, SW_ID, SW_TS, "v1,bm90LWl0 " + SW_SIG, SW_BODY, now=now)
    assert not verify_standard(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY + b" ", now=now)
    assert not verify_standard(SW_SECRET, SW_ID + "x", SW_TS, SW_SIG, SW_BODY, now=now)
    assert not verify_standard(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, now=now + 301)
    assert not verify_standard(SW_SECRET, SW_ID, SW_TS, "", SW_BODY, now=now)


def test_envelope_is_compact_in_order_and_splices_the_payload():
    payload = b'{ "a" : [1, 2] }'
    out = envelope("github-app", "gh", None, payload)
    assert out == (b'{"from":"github-app","type":"forward","providerConfigKey":"gh",'
                   b'"connectionId":null,"payload":{ "a" : [1, 2] }}')
    assert json.loads(out)["payload"] == {"a": [1, 2]}


def signed_request(key, body):
    ts = str(int(time.time()))
    return {"Content-Type": "application/json", "X-Nango-Hmac-Sha256": nango_signature(key, body),
            "webhook-id": "msg_1", "webhook-timestamp": ts,
            "webhook-signature": standard_signature(key, "msg_1", ts, body)}


def test_receiver_in_process_records_raw_bytes_and_checks_signatures(tmp_path):
    record = tmp_path / "record.jsonl"
    r = Receiver(status=202, signing_key="k3y", record=str(record)).start()
    try:
        s = requests.Session()
        s.trust_env = False
        body = b'{"from":"x", "payload":{"caf\xc3\xa9":1}}'
        resp = s.post(r.url + "/a", data=body, headers=signed_request("k3y", body), timeout=5)
        assert (resp.status_code, resp.json()) == (202, {"ok": True})
        chunked = iter([b'{"chunked":', b"true}"])   # a generator body is sent chunked
        s.post(r.url + "/b", data=chunked, headers=signed_request("other", b"x"), timeout=5)
        a, b = r.wait_for(lambda rs: len(rs) >= 2 and rs, 5, "two requests")
        assert (a.path, a.body, a.header("WEBHOOK-ID")) == ("/a", body, "msg_1")
        assert a.signatures("k3y") == {"X-Nango-Hmac-Sha256": True, "webhook-signature": True}
        assert a.signatures("whsec_azN5") == {"X-Nango-Hmac-Sha256": True, "webhook-signature": True}
        assert (b.body, b.signatures("k3y")) == (b'{"chunked":true}', {"X-Nango-Hmac-Sha256": False,
                                                                       "webhook-signature": False})
        lines = [json.loads(line) for line in record.read_text().splitlines()]
        assert [(x["path"], x["body"]) for x in lines] == [("/a", body.decode()), ("/b", '{"chunked":true}')]
        assert lines[0]["headers"]["X-Nango-Hmac-Sha256"] == nango_signature("k3y", body)
        with pytest.raises(AssertionError, match="waiting for a third request; the receiver got 2 request"):
            r.wait_for(lambda rs: len(rs) >= 3, 0.2, "a third request")
    finally:
        r.stop()


def test_receiver_command_line_prints_and_records(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    record = tmp_path / "record.jsonl"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests/tools/receiver.py"), "--port", str(port),
                             "--signing-key", "k3y", "--record", str(record), "--status", "201"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        s = requests.Session()
        s.trust_env = False
        body = b'{"from":"github-app","payload":{"n":1}}'

        def try_post():
            try:
                return s.post(f"http://127.0.0.1:{port}/hook", data=body,
                              headers=signed_request("k3y", body), timeout=5)
            except requests.ConnectionError:
                return None
        resp = wait_until(try_post, 10, "the receiver to answer")
        assert resp.status_code == 201
        assert json.loads(record.read_text())["body"] == body.decode()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "POST /hook" in out and '"n": 1' in out, out
    assert "signature X-Nango-Hmac-Sha256: valid" in out and "signature webhook-signature: valid" in out, out
