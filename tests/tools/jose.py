"""jose: the few JOSE pieces the tests need (compact JWS with RS256 / ES256, JWKS
documents), on the `cryptography` package, with the test keys of tests/fixtures/signed/."""
import base64
import hashlib
import hmac
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "signed"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def private_key(name: str):
    return serialization.load_pem_private_key((KEYS / f"{name}.key").read_bytes(), password=None)


def public_pem(name: str) -> str:
    return (KEYS / f"{name}.pub").read_text()


def public_der_b64(name: str) -> str:
    """The public key as bare base64 DER, as some dashboards show it."""
    return "".join(line for line in public_pem(name).splitlines() if not line.startswith("-----"))


def sign(key, message: bytes, raw_ecdsa: bool = False) -> bytes:
    """RSA PKCS#1 v1.5 or ECDSA (DER, or JOSE's r||s) signature of SHA-256(message)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    der = key.sign(message, ec.ECDSA(hashes.SHA256()))
    if not raw_ecdsa:
        return der
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def jwt(key, claims: dict, alg: str = None, kid: str = None, header: dict = None) -> str:
    """A compact JWS; alg "HS256" uses key as the HMAC key (bytes), "none" signs nothing."""
    alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
    head = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {}), **(header or {})}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    if alg == "none":
        sig = b""
    elif alg == "HS256":
        sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    else:
        sig = sign(key, signing_input.encode(), raw_ecdsa=True)
    return f"{signing_input}.{b64url(sig)}"


def jwk(name: str, kid: str) -> dict:
    pub = private_key(name).public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")), "e": b64url(n.e.to_bytes(3, "big"))}
    n = pub.public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256",
            "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}


def jwks(*keys) -> dict:
    """jwks(("rsa", "kid-1"), ...) -> {"keys": [...]}"""
    return {"keys": [jwk(name, kid) for name, kid in keys]}


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
