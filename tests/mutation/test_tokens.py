"""Token verification and signing keys (accounts/tokens.py), called directly: each check
of `verify` at its edge, and the reason it names. The HTTP-level forgery corpus is in
tests/api/test_tokens.py; these pin which check refuses what."""

import base64
import json
import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from accounts import tokens

NOW = 1_900_000_000


def claims(**changes) -> dict:
    base = {
        "iss": settings.LATCHKEY_ISSUER,
        "aud": "latchkey-api",
        "sub": "srn:soracom:OP1::Operator:OP1",
        "iat": NOW,
        "exp": NOW + 600,
        "jti": "a" * 32,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refusal(token: str, now: int = NOW) -> str:
    with pytest.raises(tokens.InvalidToken) as refused:
        tokens.verify(token, now)
    return str(refused.value)


def _b64(value) -> str:
    return tokens.b64url(json.dumps(value, separators=(",", ":")).encode())


def _signed(header, body) -> str:
    signing_input = f"{_b64(header)}.{_b64(body)}"
    key = tokens.keys()[0]
    return signing_input + "." + tokens.b64url(key.private.sign(signing_input.encode()))


@pytest.fixture(autouse=True)
def _fresh_cache():
    tokens._VERIFIED.clear()
    yield
    tokens._VERIFIED.clear()


def test_it_accepts_a_token_until_the_second_before_it_expires():
    token = tokens.sign(claims())
    assert tokens.verify(token, NOW + 599)["jti"] == "a" * 32
    assert refusal(token, NOW + 600) == "expired or not yet valid"


def test_it_tolerates_a_minute_of_clock_skew_and_not_a_second_more():
    ahead = tokens.sign(claims(iat=NOW + tokens.CLOCK_SKEW, exp=NOW + 900))
    assert tokens.verify(ahead, NOW)["iat"] == NOW + 60
    too_far = tokens.sign(claims(iat=NOW + tokens.CLOCK_SKEW + 1, exp=NOW + 900))
    assert refusal(too_far) == "expired or not yet valid"


def test_it_holds_not_before_to_the_same_skew():
    assert tokens.verify(tokens.sign(claims(nbf=NOW + 60)), NOW)["nbf"] == NOW + 60
    assert refusal(tokens.sign(claims(nbf=NOW + 61))) == "expired or not yet valid"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "someone-else"}, "wrong issuer or audience"),
        ({"aud": "another-api"}, "wrong issuer or audience"),
        ({"exp": None}, "missing claims"),
        ({"iat": None}, "missing claims"),
        ({"jti": None}, "missing claims"),
        ({"exp": True}, "missing claims"),
        ({"jti": 7}, "missing claims"),
        ({"nbf": "soon"}, "malformed claims"),
        ({"nbf": False}, "malformed claims"),
    ],
)
def test_it_names_the_claim_check_that_refused(changes, reason):
    key = tokens.keys()[0]
    token = _signed({"alg": "EdDSA", "typ": "JWT", "kid": key.kid}, claims(**changes))
    assert refusal(token) == reason


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "EdDSA", "typ": "JWT"}, "unexpected header"),
        ({"alg": "EdDSA", "typ": "JWT", "kid": "x", "jku": "http://x"}, "unexpected header"),
        ({"alg": "none", "typ": "JWT", "kid": "KID"}, "unexpected algorithm or type"),
        ({"alg": "EdDSA", "typ": "jwt", "kid": "KID"}, "unexpected algorithm or type"),
        ({"alg": "EdDSA", "typ": "JWT", "kid": "nope"}, "unknown key"),
    ],
)
def test_it_names_the_header_check_that_refused(header, reason):
    header = {k: (tokens.keys()[0].kid if v == "KID" else v) for k, v in header.items()}
    assert refusal(_signed(header, claims())) == reason


def test_it_names_a_malformed_token_signature_and_body():
    token = tokens.sign(claims())
    head, body, sig = token.split(".")
    assert refusal("x" * (tokens.MAX_TOKEN_LENGTH + 1)) == "malformed"
    assert refusal(f"{head}.{body}") == "malformed"
    assert refusal(f"{tokens.b64url(b'{')}.{body}.{sig}") == "malformed header"
    assert refusal(f"{head}.{body}.{tokens.b64url(b'x' * 64)}") == "bad signature"
    key = tokens.keys()[0]
    garbled = f"{head}.{tokens.b64url(b'{')}"
    garbled += "." + tokens.b64url(key.private.sign(garbled.encode()))
    assert refusal(garbled) == "malformed claims"
    listed = _signed({"alg": "EdDSA", "typ": "JWT", "kid": key.kid}, [claims()])
    assert refusal(listed) == "malformed claims"


def _padded(length: int) -> str:
    """A valid token of about `length` characters (a filler claim)."""
    n = (length - len(tokens.sign(claims(pad="")))) * 3 // 4
    while len(token := tokens.sign(claims(pad="x" * n))) < length:
        n += 1
    while len(token) > length:
        n -= 1
        token = tokens.sign(claims(pad="x" * n))
    return token


def test_it_accepts_a_token_of_the_longest_length_and_not_longer(settings):
    # A one-character key ID: with it, the filler can make the token exactly that long.
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    settings.LATCHKEY_JWT_KEYS = "k:" + tokens.b64url(raw)
    longest = _padded(tokens.MAX_TOKEN_LENGTH)
    assert len(longest) == tokens.MAX_TOKEN_LENGTH
    assert tokens.verify(longest, NOW)["pad"]
    too_long = _padded(tokens.MAX_TOKEN_LENGTH + 4)
    assert len(too_long) > tokens.MAX_TOKEN_LENGTH
    assert refusal(too_long) == "malformed"


def test_it_forgets_verified_signatures_when_the_cache_is_full(monkeypatch):
    monkeypatch.setattr(tokens, "_VERIFIED_MAX", 2)
    for jti in ("1" * 32, "2" * 32):
        tokens.verify(tokens.sign(claims(jti=jti)), NOW)
    assert len(tokens._VERIFIED) == 2
    tokens.verify(tokens.sign(claims(jti="3" * 32)), NOW)
    assert len(tokens._VERIFIED) == 1


def test_it_signs_with_the_first_key_whose_time_has_come(settings):
    old, new = (Ed25519PrivateKey.generate() for _ in range(2))

    def entry(kid, key, suffix=""):
        raw = key.private_bytes_raw()
        return f"{kid}:" + base64.urlsafe_b64encode(raw).decode().rstrip("=") + suffix

    later = tokens.format_signs_from(NOW + 100)
    settings.LATCHKEY_JWT_KEYS = entry("new", new, ":" + later) + "," + entry("old", old)
    assert tokens.signing_key(NOW + 99).kid == "old"
    assert tokens.signing_key(NOW + 100).kid == "new"
    head = json.loads(tokens.b64url_decode(tokens.sign(claims(iat=NOW + 100)).split(".")[0]))
    assert head == {"alg": "EdDSA", "typ": "JWT", "kid": "new"}


def test_it_refuses_to_sign_before_any_key_may(settings):
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    later = tokens.format_signs_from(NOW + 100)
    settings.LATCHKEY_JWT_KEYS = "k:" + tokens.b64url(raw) + ":" + later
    with pytest.raises(tokens.NoSigningKey):
        tokens.signing_key(NOW)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (" , ", "LATCHKEY_JWT_KEYS holds no key"),
        (
            ":" + "A" * 43,
            "LATCHKEY_JWT_KEYS entries are kid:base64url(32-byte Ed25519 key)[:YYYYMMDDTHHMMSSZ]",
        ),
        (
            "k:" + "A" * 42,
            "LATCHKEY_JWT_KEYS entries are kid:base64url(32-byte Ed25519 key)[:YYYYMMDDTHHMMSSZ]",
        ),
        ("k:" + "A" * 43 + ",k:" + "B" * 43, "LATCHKEY_JWT_KEYS names the key k twice"),
        (
            "k:" + "A" * 43 + ":2030-01-01",
            "LATCHKEY_JWT_KEYS: a key's signing time is YYYYMMDDTHHMMSSZ (UTC)",
        ),
        (
            "k:" + "A" * 43 + ":20301301T000000Z",
            "LATCHKEY_JWT_KEYS: 20301301T000000Z is not a valid time",
        ),
    ],
)
def test_it_says_what_is_wrong_with_the_signing_keys(spec, message):
    with pytest.raises(ValueError) as refused:
        tokens.parse_keys(spec)
    assert str(refused.value) == message


def test_it_reads_each_keys_signing_time_and_skips_blank_entries():
    spec = "a:" + "A" * 43 + ":20300101T000000Z, ,b:" + "B" * 43
    parsed = tokens.parse_keys(spec)
    assert [(k.kid, k.signs_from) for k in parsed] == [("a", 1893456000), ("b", 0)]


def test_it_publishes_every_key_as_an_okp_jwk():
    published = tokens.jwks()["keys"]
    assert [k["kid"] for k in published] == [k.kid for k in tokens.keys()]
    first = published[0]
    assert {k: v for k, v in first.items() if k != "x"} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": tokens.keys()[0].kid,
    }
    assert tokens.b64url_decode(first["x"]) == tokens.keys()[0].public.public_bytes_raw()


def test_it_compares_api_keys_exactly():
    assert tokens.same("api-1", "api-1")
    assert not tokens.same("api-1", "api-2")
    assert not tokens.same("api-1", "api-10")


@pytest.fixture
def tokyo():
    """A server whose local time is not UTC (Asia/Tokyo, +09:00)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_it_writes_and_reads_signing_times_in_utc_whatever_the_local_zone(tokyo):
    assert tokens.format_signs_from(1893456000) == "20300101T000000Z"
    parsed = tokens.parse_keys("a:" + "A" * 43 + ":20300101T000000Z")
    assert parsed[0].signs_from == 1893456000
