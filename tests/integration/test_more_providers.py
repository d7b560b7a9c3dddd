"""Some of the APIs Nango lacks, through the real pipeline: their handshakes are answered
by the ingress as each provider's documentation says, their signatures (computed here,
independently, from the published schemes) verify, forged ones are refused, and their
webhooks reach the connection the provider's own account field names."""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

from hlsupport import assert_bytes, get, post, uid
from test_providers_e2e import ProviderApp


def _payload(delivery):
    try:
        return json.loads(delivery.body)["payload"]
    except (ValueError, KeyError, TypeError):
        return None


def wait_text_payload(app, text):
    """The deliveries of app whose payload is the (non-JSON) text, sent as a JSON string."""
    return app.receiver.wait_for(lambda rs: [d for d in app.mine(rs) if _payload(d) == text], 60,
                                 f"a delivery with payload {text[:120]!r}")


def test_twilio_form_signed_over_url_and_sorted_fields(cli, stack, receiver):
    token = f"tw-{uid()}"
    app = ProviderApp(cli, stack, receiver, "twilio", token)
    account = f"AC{uid()}"
    conn = app.connect({"accountSid": account})
    fields = [("MessageSid", f"SM{uid()}"), ("AccountSid", account), ("From", "+14155552671"),
              ("To", "+15005550006"), ("Body", "Hi & bye!"), ("SmsStatus", "received")]
    body = urllib.parse.urlencode(fields)
    signed = app.url + "".join(k + v for k, v in sorted(fields))
    sig = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}

    forged = body.replace("bye", "hello")
    assert post(app.url, forged.encode(), headers).status_code == 401, "a changed Twilio form was accepted"
    r = post(app.url, body.encode(), headers)
    assert r.status_code == 200, r.text
    d = wait_text_payload(app, body)[0]
    sent = json.loads(d.body)
    assert sent["connectionId"] == conn and sent["from"] == "twilio"
    assert not [x for x in app.mine(receiver.snapshot()) if _payload(x) == forged], "the forged form was forwarded"


def test_asana_handshake_echoes_the_hook_secret_then_events_verify(cli, stack, receiver):
    hook_secret = hashlib.sha256(uid().encode()).hexdigest()
    app = ProviderApp(cli, stack, receiver, "asana", hook_secret)
    conn = app.connect({}, secret=hook_secret)   # named in the URL: it proves it with its own secret
    url = app.url + "?nangoConnectionId=" + conn
    r = post(url, b"", {"X-Hook-Secret": hook_secret})
    assert r.status_code == 200 and r.headers.get("X-Hook-Secret") == hook_secret, \
        f"the handshake answered {r.status_code} {dict(r.headers)}"
    assert post(url, b"", {"X-Hook-Secret": "<not a token>"}).status_code == 400

    body = (f'{{"events":[{{"user":{{"gid":"1"}},"created_at":"2023-11-14T22:13:20.000Z","action":"added",'
            f'"resource":{{"gid":"{uid()}","resource_type":"task"}},"parent":null}}]}}').encode()
    sig = hmac.new(hook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert post(url, body, {"X-Hook-Signature": "0" * 64}).status_code == 401
    r = post(url, body, {"Content-Type": "application/json", "X-Hook-Signature": sig})
    assert r.status_code == 200, r.text
    assert_bytes(app.wait_payload(body)[0].body, app.expected(conn, body))


def test_discord_ping_is_answered_and_events_reach_the_guild(cli, stack, receiver):
    key = Ed25519PrivateKey.generate()
    public_hex = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    app = ProviderApp(cli, stack, receiver, "discord", public_hex)
    guild = str(int(time.time() * 1000))
    conn = app.connect({"guildId": guild})

    def signed(body, by=key):
        ts = str(int(time.time()))
        return {"Content-Type": "application/json", "X-Signature-Timestamp": ts,
                "X-Signature-Ed25519": by.sign(ts.encode() + body).hex()}

    ping = b'{"id":"1","application_id":"2","type":1,"token":"t","version":1}'
    r = post(app.url, ping, signed(ping))
    assert r.status_code == 200 and r.json() == {"type": 1}, f"PING answered {r.status_code} {r.text!r}"
    # Discord checks that an endpoint refuses bad signatures before it saves the URL.
    assert post(app.url, ping, signed(ping, Ed25519PrivateKey.generate())).status_code == 401

    body = (f'{{"version":1,"application_id":"2","type":1,"event":{{"type":"APPLICATION_AUTHORIZED",'
            f'"data":{{"guild":{{"id":"{guild}"}},"user":{{"id":"{uid()}"}}}}}}}}').encode()
    r = post(app.url, body, signed(body))
    assert r.status_code == 200, r.text
    assert_bytes(app.wait_payload(body)[0].body, app.expected(conn, body))


def test_meta_get_challenge_and_batch_split_by_page(cli, stack, receiver):
    verify_token, app_secret = f"verify-{uid()}", f"appsecret-{uid()}"
    app = ProviderApp(cli, stack, receiver, "meta", verify_token, "--client-secret", app_secret)
    p1, p2 = f"1{int(time.time() * 1000)}", f"2{int(time.time() * 1000)}"
    c1, c2 = app.connect({"pageId": p1}), app.connect({"pageId": p2})

    q = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": verify_token}
    r = get(app.url + "?" + urllib.parse.urlencode(q))
    assert r.status_code == 200 and r.text == "1158201444", f"the challenge answered {r.status_code} {r.text!r}"
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    r = get(app.url + "?" + urllib.parse.urlencode({**q, "hub.verify_token": "guess"}))
    assert r.status_code == 403 and "1158201444" not in r.text

    e1 = f'{{"id":"{p1}","time":1700000000,"changes":[{{"field":"feed","value":{{"verb":"add"}}}}]}}'
    e2 = f'{{"id":"{p2}","time":1700000000,"changes":[{{"field":"feed","value":{{"verb":"edit"}}}}]}}'
    body = f'{{"object":"page","entry":[{e1},{e2}]}}'.encode()
    sig = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    assert post(app.url, body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}).status_code == 401
    r = post(app.url, body, {"Content-Type": "application/json", "X-Hub-Signature-256": sig})
    assert r.status_code == 200, r.text
    d1 = app.wait_payload(f'{{"object":"page","entry":[{e1}]}}'.encode())[0]
    d2 = app.wait_payload(f'{{"object":"page","entry":[{e2}]}}'.encode())[0]
    assert json.loads(d1.body)["connectionId"] == c1
    assert json.loads(d2.body)["connectionId"] == c2


def test_get_checks_of_dropbox_x_and_mailchimp(cli, stack, receiver):
    """The GET requests these providers make when a webhook is set up are answered by the
    ingress (a provider without GET checks gets 405), and never forwarded."""
    dropbox = ProviderApp(cli, stack, receiver, "dropbox", "unused", "--client-secret", f"dbx-{uid()}")
    challenge = f"dbx{uid()}"
    r = get(dropbox.url + "?challenge=" + challenge)
    assert r.status_code == 200 and r.text == challenge, f"Dropbox's challenge answered {r.status_code} {r.text!r}"
    assert r.headers["Content-Type"].startswith("text/plain") and r.headers.get("X-Content-Type-Options") == "nosniff"
    assert get(dropbox.url + "?challenge=" + urllib.parse.quote("<b>x</b>")).status_code == 400

    consumer = f"consumer-{uid()}"
    x = ProviderApp(cli, stack, receiver, "x", "unused", "--client-secret", consumer)
    token = f"crc{uid()}"
    r = get(x.url + "?crc_token=" + token)
    want = "sha256=" + base64.b64encode(hmac.new(consumer.encode(), token.encode(), hashlib.sha256).digest()).decode()
    assert r.status_code == 200 and r.json() == {"response_token": want}, f"X's CRC answered {r.status_code} {r.text!r}"

    mailchimp = ProviderApp(cli, stack, receiver, "mailchimp", f"mc-{uid()}")
    assert get(mailchimp.url + "?secret=" + mailchimp.secret).status_code == 200
    form = f"type=subscribe&fired_at=2023-11-14+22%3A13%3A20&data%5Blist_id%5D={uid()}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert post(mailchimp.url + "?secret=guess", form.encode(), headers).status_code == 401
    assert post(mailchimp.url + "?secret=" + mailchimp.secret, form.encode(), headers).status_code == 200
    wait_text_payload(mailchimp, form)
    for app in (dropbox, x, mailchimp):
        assert not [d for d in app.mine(receiver.snapshot()) if _payload(d) in (challenge, token, "")], \
            "a GET check was forwarded to the app"
