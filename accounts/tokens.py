"""API tokens: compact JWS with EdDSA (Ed25519), verified with a pinned algorithm.

Signing keys come from LATCHKEY_JWT_KEYS: "kid:base64url(raw private key)" entries,
comma-separated, newest first, each optionally ending in ":YYYYMMDDTHHMMSSZ", the UTC time
from which it may sign. Every configured key is published at /.well-known/jwks.json and
verifies; the first key whose time has come signs. So a rotated-out key keeps verifying
until the tokens it signed expire, and a new key is published (services that verify
locally cache the JWKS for up to JWKS_MAX_AGE seconds) before it signs anything: a fresh
token is never signed by a key that a cached JWKS does not hold yet (RFC 8725 §3.1: one
algorithm per key; §3.11: explicit typ; 8725bis: only base64url characters).
"""

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

ALG = "EdDSA"
TYP = "JWT"
_COMPACT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\Z", re.ASCII)
MAX_TOKEN_LENGTH = 4096
# Tolerated clock difference between app servers for iat/nbf (seconds).
CLOCK_SKEW = 60
# How long services may cache /.well-known/jwks.json (its Cache-Control max-age), and so
# the least time between publishing a key and letting it sign.
JWKS_MAX_AGE = 300
# "Signs from" suffix of a key entry: ISO 8601 basic format, UTC (no ":" inside).
SIGNS_FROM_FORMAT = "%Y%m%dT%H%M%SZ"
_SIGNS_FROM = re.compile(r"^\d{8}T\d{6}Z\Z", re.ASCII)


class InvalidToken(Exception):
    pass


class NoSigningKey(RuntimeError):
    pass


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    signs_from: int = 0  # Unix time from which this key may sign; 0: from the start


def format_signs_from(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime(SIGNS_FROM_FORMAT)


def _parse_signs_from(text: str) -> int:
    if not _SIGNS_FROM.match(text):
        raise ValueError("LATCHKEY_JWT_KEYS: a key's signing time is YYYYMMDDTHHMMSSZ (UTC)")
    try:
        at = datetime.strptime(text, SIGNS_FROM_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"LATCHKEY_JWT_KEYS: {text} is not a valid time") from None
    return int(at.timestamp())


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(spec: str) -> list[SigningKey]:
    keys = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        kid, _, rest = entry.partition(":")
        material, has_time, signs_from = rest.partition(":")
        raw = b64url_decode(material)
        if not kid or len(raw) != 32:
            raise ValueError(
                "LATCHKEY_JWT_KEYS entries are kid:base64url(32-byte Ed25519 key)"
                "[:YYYYMMDDTHHMMSSZ]"
            )
        if any(k.kid == kid for k in keys):
            raise ValueError(f"LATCHKEY_JWT_KEYS names the key {kid} twice")
        private = Ed25519PrivateKey.from_private_bytes(raw)
        start = _parse_signs_from(signs_from) if has_time else 0
        keys.append(SigningKey(kid, private, private.public_key(), start))
    if not keys:
        raise ValueError("LATCHKEY_JWT_KEYS holds no key")
    return keys


@cache
def _keys() -> tuple[SigningKey, ...]:
    return tuple(parse_keys(settings.LATCHKEY_JWT_KEYS))


def keys() -> tuple[SigningKey, ...]:
    return _keys()


def signing_key(now: int) -> SigningKey:
    """Return the key that signs at this time: the first listed whose signing time has come."""
    for key in keys():
        if key.signs_from <= now:
            return key
    raise NoSigningKey(
        "LATCHKEY_JWT_KEYS: no key may sign yet; keep a key that signs today listed until "
        "the new one's time (manage.py rotate_signing_key)."
    )


def sign(claims: dict) -> str:
    """Return the claims as a token, signed by the key that signs at their issue time."""
    key = signing_key(claims["iat"])
    header = {"alg": ALG, "typ": TYP, "kid": key.kid}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url(key.private.sign(signing_input.encode()))


def _verify_uncached(token: str) -> dict:
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT.match(token):
        raise InvalidToken("malformed")
    head_b64, body_b64, sig_b64 = token.split(".")
    try:
        header = json.loads(b64url_decode(head_b64))
    except ValueError as exc:
        raise InvalidToken("malformed header") from exc
    # Allowlist, exact match: alg must be EdDSA (no "none", no case games), typ JWT, a known
    # kid, and nothing that points elsewhere for keys (jku, x5u, jwk, crit ...).
    if not isinstance(header, dict) or set(header) != {"alg", "typ", "kid"}:
        raise InvalidToken("unexpected header")
    if header["alg"] != ALG or header["typ"] != TYP:
        raise InvalidToken("unexpected algorithm or type")
    key = next((k for k in keys() if k.kid == header["kid"]), None)
    if key is None:
        raise InvalidToken("unknown key")
    try:
        key.public.verify(b64url_decode(sig_b64), f"{head_b64}.{body_b64}".encode())
    except (InvalidSignature, ValueError) as exc:
        raise InvalidToken("bad signature") from exc
    try:
        claims = json.loads(b64url_decode(body_b64))
    except ValueError as exc:
        raise InvalidToken("malformed claims") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("malformed claims")
    return claims


# Verified signatures, keyed by a digest of the token: an Ed25519 check costs ~80 µs and
# a client sends the same token on every call. Only the signature result is cached; the
# claims' times and the API session are checked on every request.
_VERIFIED: dict[bytes, dict] = {}
_VERIFIED_MAX = 10_000


def verify(token: str, now: int) -> dict:
    """Return the claims of a valid, unexpired token of ours, or raise InvalidToken."""
    digest = hashlib.blake2b(token.encode(), digest_size=32).digest()
    claims = _VERIFIED.get(digest)
    if claims is None:
        claims = _verify_uncached(token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[digest] = claims
    if claims.get("iss") != settings.LATCHKEY_ISSUER or claims.get("aud") != (
        settings.LATCHKEY_AUDIENCE
    ):
        raise InvalidToken("wrong issuer or audience")
    exp, iat, jti = claims.get("exp"), claims.get("iat"), claims.get("jti")
    if not (_is_int(exp) and _is_int(iat) and isinstance(jti, str)):
        raise InvalidToken("missing claims")
    nbf = claims.get("nbf", iat)
    if not _is_int(nbf):
        raise InvalidToken("malformed claims")
    if exp <= now or max(iat, nbf) > now + CLOCK_SKEW:
        raise InvalidToken("expired or not yet valid")
    return claims


def verify_ignoring_time(token: str) -> dict:
    """Return the claims of a token of ours whatever its times (raise InvalidToken if not).

    For telling an expired token from a forged one only: never authenticates anything.
    """
    claims = _verify_uncached(token)
    if claims.get("iss") != settings.LATCHKEY_ISSUER or claims.get("aud") != (
        settings.LATCHKEY_AUDIENCE
    ):
        raise InvalidToken("wrong issuer or audience")
    if not (_is_int(claims.get("exp")) and isinstance(claims.get("jti"), str)):
        raise InvalidToken("missing claims")
    return claims


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@receiver(setting_changed)
def _forget_keys(setting: str, **kwargs: object) -> None:
    """Reload keys (and drop verified signatures) when tests or rotation change them."""
    if setting in ("LATCHKEY_JWT_KEYS", "LATCHKEY_ISSUER", "LATCHKEY_AUDIENCE"):
        _keys.cache_clear()
        _VERIFIED.clear()


def jwks() -> dict:
    """Return the public keys as a JWK Set (RFC 8037 OKP keys)."""
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": ALG,
                "use": "sig",
                "kid": k.kid,
                "x": b64url(
                    k.public.public_bytes(
                        serialization.Encoding.Raw, serialization.PublicFormat.Raw
                    )
                ),
            }
            for k in keys()
        ]
    }


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
