"""Writes the provider cases of the signed providers (tests/providers/<name>/<case>/)
from the test keys in tests/fixtures/signed/: tokens and signatures are made here,
so a case changes only when this script does. Run from anywhere:
    python3 tests/tools/signed_cases.py"""
import base64
import hashlib
import hmac
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jose  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOW = 1700000000
ENV = "0d5c9f4e-1111-4222-8333-944455556666"


def url(provider, connection="conn-1"):
    base = f"https://hooks.example.com/webhook/{ENV}/{provider}"
    return f"{base}?nangoConnectionId={connection}" if connection else base


def by_url(event_type=None, connection="conn-1"):
    g = {"key": "connectionId", "value": connection, "source": "connection_id"}
    if event_type:
        g["event_type"] = event_type
    return {"ordering_key": connection, "groups": [g]}


def write(provider, name, *, target, headers, body, expect, secrets=None, remote_keys=None):
    d = ROOT / "tests" / "providers" / provider / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "body.json").write_bytes(body)
    req = {"method": "POST", "url": target, "headers": headers, "now": NOW, "secrets": secrets or {},
           "body_file": "body.json"}
    if remote_keys:
        req["remote_keys"] = []
        for i, (u, doc, post) in enumerate(remote_keys):
            f = f"remote-{i}.json"
            (d / f).write_text(json.dumps(doc, indent=2) + "\n")
            req["remote_keys"].append({"url": u, "file": f, **({"post": post} if post else {})})
    (d / "request.json").write_text(json.dumps(req, indent=2) + "\n")
    (d / "expect.json").write_text(json.dumps(expect, indent=2) + "\n")


def refused(verdict, why, attribution):
    return {"verdict": verdict, "why": why, **attribution}


# ---- Gong: RS256 JWT in Authorization, the public key is the webhook secret ----------------

def gong(provider):
    body = b'{"callData":{"metaData":{"id":"7782342274025937895","title":"Demo call"}},"isTest":false}\n'
    target = url(provider)
    key, other = jose.private_key("rsa"), jose.private_key("rsa-other")
    secrets = {"webhook_secret": jose.public_pem("rsa")}

    def token(k=key, b=body, **over):
        claims = {"webhook_url": target, "body_sha256": jose.sha256_hex(b), "exp": NOW + 300, **over}
        return jose.jwt(k, claims)

    attr = by_url()
    ok = {"verdict": "valid", "why": "the Gong token verifies", **attr}
    write(provider, "valid", target=target, headers={"Authorization": token()}, body=body, secrets=secrets, expect=ok)
    write(provider, "tampered-body", target=target, headers={"Authorization": token()},
          body=body.replace(b"Demo", b"Fake"), secrets=secrets,
          expect=refused("invalid", "body_sha256 does not match", attr))
    write(provider, "wrong-secret", target=target, headers={"Authorization": token(other)}, body=body,
          secrets=secrets, expect=refused("invalid", "signature does not verify", attr))
    write(provider, "missing-header", target=target, headers={}, body=body, secrets=secrets,
          expect=refused("missing", "Authorization header absent", attr))
    write(provider, "expired-timestamp", target=target, headers={"Authorization": token(exp=NOW - 120)},
          body=body, secrets=secrets, expect=refused("invalid", "expired", attr))
    if provider != "gong":
        return
    write(provider, "bearer-and-bare-base64-key", target=target, headers={"Authorization": "Bearer " + token()},
          body=body, secrets={"webhook_secret": jose.public_der_b64("rsa")}, expect=ok)
    write(provider, "webhook-url-of-another-endpoint", target=target,
          headers={"Authorization": token(webhook_url=url("gong", "conn-2"))}, body=body, secrets=secrets,
          expect=refused("invalid", "webhook_url is not the URL called", attr))
    write(provider, "alg-none", target=target,
          headers={"Authorization": jose.jwt(None, {"webhook_url": target, "exp": NOW + 300}, alg="none")},
          body=body, secrets=secrets, expect=refused("invalid", "alg", attr))
    # The classic confusion: an HMAC keyed with the (public) key must never verify.
    hs = jose.jwt(jose.public_pem("rsa").encode(),
                  {"webhook_url": target, "body_sha256": jose.sha256_hex(body), "exp": NOW + 300}, alg="HS256")
    write(provider, "hs256-keyed-with-the-public-key", target=target, headers={"Authorization": hs}, body=body,
          secrets=secrets, expect=refused("invalid", "alg", attr))
    write(provider, "no-secret", target=target, headers={"Authorization": token()}, body=body, secrets={},
          expect=refused("no_secret", "no webhook secret", attr))


# ---- HighLevel: base64 RSA-SHA256 of the body in x-wh-signature ------------------------------

def highlevel(provider):
    body = b'{"type":"ContactCreate","locationId":"loc-1","id":"contact-9","email":"a@example.com"}\n'
    target = url(provider, None)
    secrets = {"webhook_secret": jose.public_pem("rsa")}
    sig = lambda b, k="rsa": base64.b64encode(jose.sign(jose.private_key(k), b)).decode()  # noqa: E731
    attr = {"ordering_key": "loc-1", "event_type": "ContactCreate",
            "groups": [{"key": "locationId", "value": "loc-1", "source": "connection_config",
                        "event_type": "ContactCreate"}]}
    write(provider, "valid", target=target, headers={"x-wh-signature": sig(body)}, body=body, secrets=secrets,
          expect={"verdict": "valid", "why": "HighLevel signature verifies", **attr})
    tampered = body.replace(b"a@example.com", b"b@example.com")
    write(provider, "tampered-body", target=target, headers={"x-wh-signature": sig(body)}, body=tampered,
          secrets=secrets, expect=refused("invalid", "does not verify", attr))
    write(provider, "wrong-secret", target=target, headers={"x-wh-signature": sig(body, "rsa-other")}, body=body,
          secrets=secrets, expect=refused("invalid", "does not verify", attr))
    write(provider, "missing-header", target=target, headers={}, body=body, secrets=secrets,
          expect=refused("missing", "x-wh-signature header absent", attr))
    if provider != "highlevel":
        return
    company = b'{"type":"AppInstall","companyId":"company-3","appId":"app-1"}\n'
    write(provider, "agency-level-event", target=target, headers={"x-wh-signature": sig(company)}, body=company,
          secrets=secrets,
          expect={"verdict": "valid", "ordering_key": "company-3", "event_type": "AppInstall",
                  "groups": [{"key": "companyId", "value": "company-3", "source": "connection_config",
                              "event_type": "AppInstall"}]})
    write(provider, "ec-key-refused", target=target, headers={"x-wh-signature": sig(body)}, body=body,
          secrets={"webhook_secret": jose.public_pem("ec")},
          expect=refused("invalid", "not HighLevel's public key", attr))
    write(provider, "not-a-key", target=target, headers={"x-wh-signature": sig(body)}, body=body,
          secrets={"webhook_secret": "whsec_this_is_an_hmac_secret"},
          expect=refused("invalid", "not HighLevel's public key", attr))


# ---- SendGrid: base64 DER ECDSA P-256 of timestamp + body ------------------------------------

def sendgrid():
    p = "sendgrid"
    body = (b'[{"email":"a@example.com","event":"delivered","sg_event_id":"ev-1","timestamp":1699999990},'
            b'{"email":"b@example.com","event":"open","sg_event_id":"ev-2","timestamp":1699999991}]\n')
    target = url(p)
    ts = str(NOW - 5)
    secrets = {"webhook_secret": jose.public_der_b64("ec")}

    def headers(b=body, t=ts, k="ec", raw=False):
        sig = jose.sign(jose.private_key(k), t.encode() + b, raw_ecdsa=raw)
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": t}

    attr = {**by_url("delivered"), "event_type": "delivered", "event_id": "ev-1,ev-2"}
    write(p, "valid", target=target, headers=headers(), body=body, secrets=secrets,
          expect={"verdict": "valid", "why": "SendGrid signature verifies", **attr})
    write(p, "pem-key", target=target, headers=headers(), body=body,
          secrets={"webhook_secret": jose.public_pem("ec")}, expect={"verdict": "valid", **attr})
    write(p, "tampered-body", target=target, headers=headers(), body=body.replace(b"open", b"click"),
          secrets=secrets, expect=refused("invalid", "does not verify", attr))
    h = headers()
    h["X-Twilio-Email-Event-Webhook-Timestamp"] = str(NOW - 4)
    write(p, "timestamp-swapped", target=target, headers=h, body=body, secrets=secrets,
          expect=refused("invalid", "does not verify", attr))
    write(p, "wrong-secret", target=target, headers=headers(k="ec-other"), body=body, secrets=secrets,
          expect=refused("invalid", "does not verify", attr))
    write(p, "missing-header", target=target, headers={}, body=body, secrets=secrets,
          expect=refused("missing", "X-Twilio-Email-Event-Webhook-Signature header absent", attr))
    old = str(NOW - 3600)
    write(p, "expired-timestamp", target=target, headers=headers(t=old), body=body, secrets=secrets,
          expect=refused("invalid", "timestamp outside the 300 s window", attr))
    write(p, "raw-signature-refused", target=target, headers=headers(raw=True), body=body, secrets=secrets,
          expect=refused("invalid", "does not verify", attr))
    # Without a connection in the URL, each event's custom argument names its own.
    split = (b'[{"email":"a@example.com","event":"delivered","sg_event_id":"ev-1","nangoConnectionId":"conn-a"},'
             b'{"email":"b@example.com","event":"open","sg_event_id":"ev-2","nangoConnectionId":"conn-b"},'
             b'{"email":"c@example.com","event":"click","sg_event_id":"ev-3","nangoConnectionId":"conn-a"}]\n')
    d = ROOT / "tests" / "providers" / p / "custom-args-split"
    d.mkdir(parents=True, exist_ok=True)
    (d / "payload-a.json").write_bytes(b'[{"email":"a@example.com","event":"delivered","sg_event_id":"ev-1",'
                                       b'"nangoConnectionId":"conn-a"},{"email":"c@example.com","event":"click",'
                                       b'"sg_event_id":"ev-3","nangoConnectionId":"conn-a"}]')
    (d / "payload-b.json").write_bytes(b'[{"email":"b@example.com","event":"open","sg_event_id":"ev-2",'
                                       b'"nangoConnectionId":"conn-b"}]')
    write(p, "custom-args-split", target=url(p, None), headers=headers(split), body=split, secrets=secrets,
          expect={"verdict": "valid", "ordering_key": "conn-a", "event_type": "delivered",
                  "groups": [{"key": "connectionId", "value": "conn-a", "source": "connection_id",
                              "event_type": "delivered", "payload_file": "payload-a.json"},
                             {"key": "connectionId", "value": "conn-b", "source": "connection_id",
                              "event_type": "open", "payload_file": "payload-b.json"}]})
    write(p, "rsa-key-refused", target=target, headers=headers(), body=body,
          secrets={"webhook_secret": jose.public_pem("rsa")},
          expect=refused("invalid", "not SendGrid's public key", attr))


# ---- Google Pub/Sub push (google-mail): OIDC token by Google's published keys ----------------

GOOGLE_JWKS = "https://www.googleapis.com/oauth2/v3/certs"


def google_mail():
    p = "google-mail"
    data = base64.b64encode(b'{"emailAddress":"user@example.com","historyId":9876}').decode()
    body = json.dumps({"message": {"data": data, "messageId": "2070443601311540",
                                   "publishTime": "2023-11-14T22:13:15Z"},
                       "subscription": "projects/demo/subscriptions/gmail-push"}).encode() + b"\n"
    target = url(p)
    keys = [(GOOGLE_JWKS, jose.jwks(("rsa-other", "g0"), ("rsa", "g1")), None)]
    sa = "push@demo.iam.gserviceaccount.com"

    def bearer(k="rsa", kid="g1", **over):
        claims = {"iss": "https://accounts.google.com", "aud": target, "iat": NOW - 10, "exp": NOW + 3590,
                  "email": sa, "email_verified": True, "sub": "1234", **over}
        return {"Authorization": "Bearer " + jose.jwt(jose.private_key(k), claims, kid=kid)}

    attr = by_url()
    attr["event_id"] = "2070443601311540"
    ok = {"verdict": "valid", "why": "the Google token verifies", **attr}
    write(p, "valid", target=target, headers=bearer(), body=body, remote_keys=keys, expect=ok)
    # The token proves the sender (Pub/Sub), not the bytes: a changed body still passes.
    write(p, "tampered-body", target=target, headers=bearer(), body=body.replace(b"9876", b"9877"),
          remote_keys=keys, expect={**ok, "event_id": "2070443601311540"})
    write(p, "wrong-secret", target=target, headers=bearer(k="rsa-other"), body=body, remote_keys=keys,
          expect=refused("invalid", "signature does not verify", attr))
    write(p, "missing-header", target=target, headers={}, body=body, remote_keys=keys,
          expect=refused("missing", "Authorization: Bearer header absent", attr))
    write(p, "expired-timestamp", target=target, headers=bearer(exp=NOW - 120), body=body, remote_keys=keys,
          expect=refused("invalid", "expired", attr))
    write(p, "another-audience", target=target, headers=bearer(aud=url(p, "conn-2")), body=body,
          remote_keys=keys, expect=refused("invalid", "audience", attr))
    write(p, "configured-audience", target=target, headers=bearer(aud="https://push.example.com/gmail"),
          body=body, remote_keys=keys, secrets={"verify_config": {"audience": "https://push.example.com/gmail"}},
          expect=ok)
    write(p, "another-issuer", target=target, headers=bearer(iss="https://evil.example.com"), body=body,
          remote_keys=keys, expect=refused("invalid", "issuer", attr))
    write(p, "unknown-kid", target=target, headers=bearer(kid="g9"), body=body, remote_keys=keys,
          expect=refused("invalid", "no published key has the token's kid", attr))
    write(p, "service-account-pinned", target=target, headers=bearer(), body=body, remote_keys=keys,
          secrets={"verify_config": {"email": sa}}, expect=ok)
    write(p, "service-account-mismatch", target=target, headers=bearer(email="other@demo.iam.gserviceaccount.com"),
          body=body, remote_keys=keys, secrets={"verify_config": {"email": sa}},
          expect=refused("invalid", "push service account", attr))
    write(p, "remote-key-failure", target=target, headers=bearer(), body=body,
          expect=refused("invalid", "keys are unavailable", attr))
    write(p, "jwks-url-on-a-foreign-host", target=target, headers=bearer(), body=body, remote_keys=keys,
          secrets={"verify_config": {"jwks_url": "https://evil.example.com/certs"}},
          expect=refused("invalid", "not https on an allowed host", attr))
    write(p, "es256-refused", target=target, headers=bearer(k="ec"), body=body, remote_keys=keys,
          expect=refused("invalid", "alg", attr))


# ---- Bot Framework (microsoft-teams, -bot) -------------------------------------------------

BOT_JWKS = "https://login.botframework.com/v1/.well-known/keys"


def teams(provider):
    service = "https://smba.trafficmanager.net/amer/"
    body = json.dumps({"type": "message", "id": "1700000000001", "serviceUrl": service, "channelId": "msteams",
                       "from": {"id": "29:abc"}, "text": "hello"}).encode() + b"\n"
    target = url(provider)
    keys = [(BOT_JWKS, jose.jwks(("rsa", "bf1")), None)]
    cfg = {"verify_config": {"audience": "app-123"}}

    def bearer(k="rsa", **over):
        claims = {"iss": "https://api.botframework.com", "aud": "app-123", "exp": NOW + 3000, "nbf": NOW - 300,
                  "serviceUrl": service, **over}
        return {"Authorization": "Bearer " + jose.jwt(jose.private_key(k), claims, kid="bf1")}

    attr = {**by_url("message"), "event_type": "message", "event_id": "1700000000001"}
    write(provider, "valid", target=target, headers=bearer(), body=body, remote_keys=keys, secrets=cfg,
          expect={"verdict": "valid", "why": "Bot Framework token verifies", **attr})
    write(provider, "tampered-body", target=target, headers=bearer(),
          body=body.replace(b"smba.trafficmanager.net", b"evil.example.com"), remote_keys=keys, secrets=cfg,
          expect=refused("invalid", "serviceUrl", attr))
    write(provider, "wrong-secret", target=target, headers=bearer(k="rsa-other"), body=body, remote_keys=keys,
          secrets=cfg, expect=refused("invalid", "signature does not verify", attr))
    write(provider, "missing-header", target=target, headers={}, body=body, remote_keys=keys, secrets=cfg,
          expect=refused("missing", "Authorization: Bearer header absent", attr))
    write(provider, "expired-timestamp", target=target, headers=bearer(exp=NOW - 600), body=body,
          remote_keys=keys, secrets=cfg, expect=refused("invalid", "expired", attr))
    write(provider, "not-yet-valid", target=target, headers=bearer(nbf=NOW + 600), body=body, remote_keys=keys,
          secrets=cfg, expect=refused("invalid", "nbf", attr))
    write(provider, "another-bot", target=target, headers=bearer(aud="app-999"), body=body, remote_keys=keys,
          secrets=cfg, expect=refused("invalid", "audience", attr))
    write(provider, "no-audience-configured", target=target, headers=bearer(), body=body, remote_keys=keys,
          expect=refused("no_secret", "no audience", attr))
    write(provider, "remote-key-failure", target=target, headers=bearer(), body=body, secrets=cfg,
          expect=refused("invalid", "keys are unavailable", attr))


# ---- Plaid: ES256 JWT in Plaid-Verification, the key fetched by kid ----------------------------

PLAID_KEYS = "https://production.plaid.com/webhook_verification_key/get"


def plaid():
    p = "plaid"
    body = (b'{"webhook_type":"TRANSACTIONS","webhook_code":"SYNC_UPDATES_AVAILABLE","item_id":"item-1",'
            b'"environment":"production"}\n')
    target = url(p, None)
    secrets = {"client_secret": "plaid-secret-for-tests", "verify_config": {"client_id": "client-1"}}
    post = json.dumps({"client_id": "client-1", "secret": "plaid-secret-for-tests", "key_id": "p1"},
                      separators=(",", ":"))

    def key_doc(expired_at=None):
        return {"key": {**jose.jwk("ec", "p1"), "use": "sig", "created_at": NOW - 86400, "expired_at": expired_at},
                "request_id": "req-1"}

    keys = [(PLAID_KEYS, key_doc(), post)]

    def verification(k="ec", b=body, alg=None, **over):
        claims = {"iat": NOW - 10, "request_body_sha256": jose.sha256_hex(b), **over}
        return {"Plaid-Verification": jose.jwt(jose.private_key(k), claims, kid="p1", alg=alg)}

    attr = {"ordering_key": "item-1", "event_type": "SYNC_UPDATES_AVAILABLE",
            "groups": [{"key": "itemId", "value": "item-1", "source": "connection_config",
                        "event_type": "SYNC_UPDATES_AVAILABLE"}]}
    write(p, "valid", target=target, headers=verification(), body=body, secrets=secrets, remote_keys=keys,
          expect={"verdict": "valid", "why": "the Plaid token verifies", **attr})
    write(p, "tampered-body", target=target, headers=verification(), body=body.replace(b"item-1", b"item-2"),
          secrets=secrets, remote_keys=keys,
          expect=refused("invalid", "request_body_sha256 does not match", {
              "ordering_key": "item-2", "event_type": "SYNC_UPDATES_AVAILABLE",
              "groups": [{"key": "itemId", "value": "item-2", "source": "connection_config"}]}))
    write(p, "wrong-secret", target=target, headers=verification(k="ec-other"), body=body, secrets=secrets,
          remote_keys=keys, expect=refused("invalid", "signature does not verify", attr))
    write(p, "missing-header", target=target, headers={}, body=body, secrets=secrets, remote_keys=keys,
          expect=refused("missing", "Plaid-Verification header absent", attr))
    write(p, "expired-timestamp", target=target, headers=verification(iat=NOW - 600), body=body,
          secrets=secrets, remote_keys=keys, expect=refused("invalid", "too old", attr))
    write(p, "key-expired", target=target, headers=verification(), body=body, secrets=secrets,
          remote_keys=[(PLAID_KEYS, key_doc(NOW - 60), post)], expect=refused("invalid", "key has expired", attr))
    write(p, "rs256-refused", target=target, headers=verification(k="rsa"), body=body, secrets=secrets,
          remote_keys=keys, expect=refused("invalid", "alg", attr))
    write(p, "remote-key-failure", target=target, headers=verification(), body=body, secrets=secrets,
          expect=refused("invalid", "key is unavailable", attr))
    write(p, "no-secret", target=target, headers=verification(), body=body, remote_keys=keys,
          expect=refused("no_secret", "client secret", attr))


# ---- ConnectWise PSA: HMAC keyed by the SHA-256 of the key at Metadata.key_url ---------------

def connectwise(provider):
    key_url = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbacks/keys/cb-7"

    def body_for(u):
        return json.dumps({"MessageId": "msg-1", "CompanyId": "acme", "Action": "added", "Type": "ticket",
                           "ID": 4242, "ProductInstanceId": "pi-1", "Entity": "{\"id\":4242}",
                           "Metadata": {"key_url": u}}).encode() + b"\n"

    body = body_for(key_url)
    target = url(provider, None)
    signing_key = "cw-signing-key-for-tests"
    keys = [(key_url, {"signing_key": signing_key}, None)]

    def sig(b=body, k=signing_key):
        mac = hmac.new(hashlib.sha256(k.encode()).digest(), b, hashlib.sha256).digest()
        return {"x-content-signature": base64.b64encode(mac).decode()}

    attr = {"ordering_key": "pi-1", "event_type": "ticket",
            "groups": [{"key": "productInstanceId", "value": "pi-1", "source": "metadata", "event_type": "ticket"}]}
    write(provider, "valid", target=target, headers=sig(), body=body, remote_keys=keys,
          expect={"verdict": "valid", "why": "ConnectWise signature verifies", **attr})
    write(provider, "tampered-body", target=target, headers=sig(), body=body.replace(b"added", b"deleted"),
          remote_keys=keys, expect=refused("invalid", "does not match", attr))
    write(provider, "wrong-secret", target=target, headers=sig(k="another-key"), body=body, remote_keys=keys,
          expect=refused("invalid", "does not match", attr))
    write(provider, "missing-header", target=target, headers={}, body=body, remote_keys=keys,
          expect=refused("missing", "x-content-signature header absent", attr))
    write(provider, "remote-key-failure", target=target, headers=sig(), body=body,
          expect=refused("invalid", "signing key is unavailable", attr))
    if provider != "connectwise-psa":
        return
    for name, u in (("key-url-on-a-foreign-host", "https://evil.example.com/keys/cb-7"),
                    ("key-url-lookalike-host", "https://api-na.myconnectwise.net.evil.example.com/k"),
                    ("key-url-plain-http", "http://api-na.myconnectwise.net/keys/cb-7"),
                    ("key-url-private-address", "https://10.0.0.8/keys/cb-7"),
                    ("key-url-link-local-address", "https://169.254.169.254/latest/meta-data"),
                    ("key-url-with-credentials", "https://user:pw@api-na.myconnectwise.net/keys/cb-7")):
        b = body_for(u)
        write(provider, name, target=target, headers=sig(b), body=b, remote_keys=[(u, {"signing_key": signing_key},
                                                                                   None)],
              expect=refused("invalid", "not https on a ConnectWise host", attr))


def main():
    for name in ("gong", "gong-oauth", "google-mail", "microsoft-teams", "microsoft-teams-bot", "highlevel",
                 "highlevel-white-label", "connectwise-psa", "connectwise-psa-staging", "sendgrid", "plaid"):
        shutil.rmtree(ROOT / "tests" / "providers" / name, ignore_errors=True)
    gong("gong")
    gong("gong-oauth")
    highlevel("highlevel")
    highlevel("highlevel-white-label")
    sendgrid()
    google_mail()
    teams("microsoft-teams")
    teams("microsoft-teams-bot")
    plaid()
    connectwise("connectwise-psa")
    connectwise("connectwise-psa-staging")


if __name__ == "__main__":
    main()
