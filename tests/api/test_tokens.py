"""API tokens: a forged-token corpus (SECURITY.md B1-B8, M5), binding, rotation, JWKS."""

import base64
import hashlib
import hmac
import io
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from accounts import apisessions, checks, tokens
from accounts.management.commands import rotate_signing_key
from accounts.models import ApiSession
from tests.api.harness import call
from tests.conftest import ROOT_PASSWORD, api_login

AUTH_FAILED = {"code": "LKY0401", "message": "Authentication failed."}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def segment(value) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def parts(token: str) -> tuple[dict, dict, str]:
    head, body, sig = token.split(".")
    return (
        json.loads(tokens.b64url_decode(head)),
        json.loads(tokens.b64url_decode(body)),
        sig,
    )


def sign_with(private: Ed25519PrivateKey, header: dict, claims: dict) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    return signing_input + "." + b64(private.sign(signing_input.encode()))


def our_key() -> tokens.SigningKey:
    return tokens.keys()[0]


def resign(token: str, *, header: dict | None = None, **claim_changes) -> str:
    """Return the token re-signed with the server's real key after the given changes."""
    head, claims, _ = parts(token)
    claims.update(claim_changes)
    for name, value in claim_changes.items():
        if value is None:
            del claims[name]
    return sign_with(our_key().private, header or head, claims)


def public_raw() -> bytes:
    return our_key().public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def forgeries(token: str) -> dict[str, str]:
    """Return every forged or malformed variant of a live token, by name."""
    head, claims, sig = parts(token)
    now = int(time.time())
    attacker = Ed25519PrivateKey.generate()
    attacker_jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64(
            attacker.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        ),
    }
    public_pem = our_key().public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    corpus = {}
    for alg in ("none", "None", "NONE", "noNE", "nOnE"):
        none_head = {**head, "alg": alg}
        corpus[f"alg {alg}, empty signature"] = f"{segment(none_head)}.{segment(claims)}."
        corpus[f"alg {alg}, original signature"] = f"{segment(none_head)}.{segment(claims)}.{sig}"
    hs_head = {**head, "alg": "HS256"}
    corpus["HS256 with the raw public key"] = hs256(hs_head, claims, public_raw())
    corpus["HS256 with the PEM public key"] = hs256(hs_head, claims, public_pem)
    corpus["HS256 with the JWK x"] = hs256(hs_head, claims, b64(public_raw()).encode())
    corpus["alg eddsa (case)"] = resign(token, header={**head, "alg": "eddsa"})
    corpus["alg Ed25519"] = resign(token, header={**head, "alg": "Ed25519"})
    corpus["alg ES256"] = resign(token, header={**head, "alg": "ES256"})
    corpus["unknown kid"] = resign(token, header={**head, "kid": "nope"})
    corpus["kid path traversal"] = resign(token, header={**head, "kid": "../../x"})
    corpus["kid SQL injection"] = resign(token, header={**head, "kid": "' OR 1=1--"})
    corpus["kid as a list"] = resign(token, header={**head, "kid": [head["kid"]]})
    corpus["no kid"] = resign(token, header={"alg": head["alg"], "typ": head["typ"]})
    corpus["jku header"] = resign(token, header={**head, "jku": "http://127.0.0.1:9/jwks"})
    corpus["x5u header"] = resign(token, header={**head, "x5u": "http://127.0.0.1:9/cert"})
    corpus["jwk header (our key)"] = resign(token, header={**head, "jwk": attacker_jwk})
    corpus["jwk header, attacker key"] = sign_with(attacker, {**head, "jwk": attacker_jwk}, claims)
    corpus["crit header"] = resign(token, header={**head, "crit": ["exp"]})
    corpus["attacker key, our kid"] = sign_with(attacker, head, claims)
    corpus["typ at+jwt"] = resign(token, header={**head, "typ": "at+jwt"})
    corpus["typ jwt lower case"] = resign(token, header={**head, "typ": "jwt"})
    corpus["no typ"] = resign(token, header={"alg": head["alg"], "kid": head["kid"]})
    corpus["header not an object"] = sign_with(our_key().private, [head], claims)  # type: ignore[arg-type]
    corpus["expired one second ago"] = resign(token, exp=now - 1)
    corpus["expired at issue"] = resign(token, iat=now - 100, exp=now - 50)
    corpus["no exp"] = resign(token, exp=None)
    corpus["exp as a string"] = resign(token, exp=str(now + 3600))
    corpus["exp as a float"] = resign(token, exp=now + 3600.5)
    corpus["exp true"] = resign(token, exp=True)
    corpus["iat an hour ahead"] = resign(token, iat=now + 3600)
    corpus["no iat"] = resign(token, iat=None)
    corpus["nbf an hour ahead"] = resign(token, nbf=now + 3600)
    corpus["wrong iss"] = resign(token, iss="someone-else")
    corpus["no iss"] = resign(token, iss=None)
    corpus["wrong aud"] = resign(token, aud="another-api")
    corpus["aud as a list"] = resign(token, aud=[claims["aud"], "another-api"])
    corpus["no jti"] = resign(token, jti=None)
    corpus["unknown jti"] = resign(token, jti="0" * 32)
    corpus["jti as a number"] = resign(token, jti=12345)
    corpus["claims not an object"] = sign_with(our_key().private, head, [claims])  # type: ignore[arg-type]
    tampered = {**claims, "operator": {"operatorId": "OP0000000001"}}
    corpus["tampered payload"] = f"{segment(head)}.{segment(tampered)}.{sig}"
    flipped = bytearray(tokens.b64url_decode(sig))
    flipped[0] ^= 1
    corpus["signature with one bit flipped"] = f"{segment(head)}.{segment(claims)}.{b64(flipped)}"
    corpus["truncated signature"] = token[:-4]
    corpus["standard base64 characters"] = token.replace("-", "+").replace("_", "/") + "+/"
    corpus["base64 padding"] = token + "=="
    corpus["whitespace inside"] = token[:20] + " " + token[20:]
    corpus["newline inside"] = token[:20] + "\n" + token[20:]
    corpus["JSON serialization"] = json.dumps(
        {"protected": segment(head), "payload": segment(claims), "signature": sig}
    )
    corpus["braces and quotes"] = '{"alg":"none"}.' + segment(claims) + ".x"
    corpus["two segments"] = ".".join(token.split(".")[:2])
    corpus["four segments"] = token + "." + sig
    corpus["empty segments"] = ".."
    corpus["over-long token"] = resign(token, pad="x" * 5000)
    corpus["non-ASCII character"] = token[:30] + "\u00e9" + token[31:]
    return corpus


def assert_refused(response) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == AUTH_FAILED


def get_operator(root, headers: dict):
    return call("GET", f"/v1/operators/{root.operator_id}", headers)


def test_it_accepts_the_genuine_token(root, root_api):
    assert get_operator(root, root_api).status_code == 200


def test_it_refuses_every_forged_token_with_the_same_401(root, root_api):
    genuine = root_api["HTTP_X_SORACOM_TOKEN"]
    answers = set()
    corpus = forgeries(genuine)
    assert len(corpus) >= 60
    for name, forged in corpus.items():
        headers = {**root_api, "HTTP_X_SORACOM_TOKEN": forged}
        response = get_operator(root, headers)
        assert response.status_code == 401, name
        answers.add((response.status_code, response.content, response["Content-Type"]))
    assert len(answers) == 1
    assert json.loads(answers.pop()[1]) == AUTH_FAILED


def test_it_refuses_every_forged_token_sent_as_a_bearer(root, root_api):
    for name, forged in forgeries(root_api["HTTP_X_SORACOM_TOKEN"]).items():
        if "\n" in forged:
            continue  # not representable in one header line
        response = get_operator(root, {"HTTP_AUTHORIZATION": f"Bearer {forged}"})
        assert response.status_code == 401, name


def test_it_does_not_fetch_keys_from_a_jku_url(root, root_api, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("the verifier tried to fetch a key")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    head = parts(root_api["HTTP_X_SORACOM_TOKEN"])[0]
    forged = resign(root_api["HTTP_X_SORACOM_TOKEN"], header={**head, "jku": "http://x/"})
    assert_refused(get_operator(root, {**root_api, "HTTP_X_SORACOM_TOKEN": forged}))


def test_it_refuses_a_token_with_another_sessions_api_key(root, root_api):
    other = api_login(Client(), email=root.email, password=ROOT_PASSWORD)
    headers = {**root_api, "HTTP_X_SORACOM_API_KEY": other["apiKey"]}
    assert_refused(get_operator(root, headers))


def test_it_refuses_a_token_with_another_operators_api_key(root, root_api, outsider_api):
    headers = {**root_api, "HTTP_X_SORACOM_API_KEY": outsider_api["HTTP_X_SORACOM_API_KEY"]}
    assert_refused(get_operator(root, headers))


def test_it_refuses_an_api_key_without_a_token(root, root_api):
    assert_refused(
        get_operator(root, {"HTTP_X_SORACOM_API_KEY": root_api["HTTP_X_SORACOM_API_KEY"]})
    )


def test_it_refuses_a_token_after_logout(root, root_api):
    assert call("POST", "/v1/auth/logout", root_api).status_code == 204
    assert_refused(get_operator(root, root_api))


def test_it_refuses_a_token_whose_session_was_revoked(root, root_api):
    ApiSession.objects.filter(api_key=root_api["HTTP_X_SORACOM_API_KEY"]).update(
        revoked_at="2020-01-01T00:00:00Z"
    )
    assert_refused(get_operator(root, root_api))


def test_it_refuses_a_token_whose_session_expired_in_the_database(root, root_api):
    ApiSession.objects.filter(api_key=root_api["HTTP_X_SORACOM_API_KEY"]).update(
        expires_at="2020-01-01T00:00:00Z"
    )
    assert_refused(get_operator(root, root_api))


def test_it_refuses_a_deleted_users_token(root, alice, alice_api):
    alice.delete()
    assert_refused(call("POST", "/v1/auth/logout", alice_api))


def test_it_refuses_a_deactivated_principals_token(root, root_api):
    root.is_active = False
    root.save()
    assert_refused(get_operator(root, root_api))


def test_it_refuses_a_token_of_a_session_of_another_principal(root, alice, root_api, alice_api):
    """A valid jti of alice's session re-signed into a root-looking token stays alice's."""
    _, alice_claims, _ = parts(alice_api["HTTP_X_SORACOM_TOKEN"])
    forged = resign(root_api["HTTP_X_SORACOM_TOKEN"], jti=alice_claims["jti"])
    assert_refused(get_operator(root, {**root_api, "HTTP_X_SORACOM_TOKEN": forged}))


def test_it_puts_the_operator_id_where_the_soracom_cli_reads_it(root, root_api):
    head, claims, _ = parts(root_api["HTTP_X_SORACOM_TOKEN"])
    assert head == {"alg": "EdDSA", "typ": "JWT", "kid": our_key().kid}
    assert claims["operator"] == {"operatorId": root.operator_id}
    assert claims["exp"] - claims["iat"] == 86400


def test_it_issues_a_fresh_token_and_api_key_at_each_exchange(root):
    first = api_login(Client(), email=root.email, password=ROOT_PASSWORD)
    second = api_login(Client(), email=root.email, password=ROOT_PASSWORD)
    assert first["token"] != second["token"]
    assert first["apiKey"] != second["apiKey"]


# Rotation and JWKS ------------------------------------------------------------------------


def rotate(settings, *args: str) -> tuple[str, str]:
    """Run rotate_signing_key, deploy its value; return (new kid, new value)."""
    out = io.StringIO()
    call_command("rotate_signing_key", *args, stdout=out)
    lines = out.getvalue().splitlines()
    value = lines[lines.index(next(x for x in lines if x.startswith("Set LATCHKEY_JWT_KEYS"))) + 1]
    settings.LATCHKEY_JWT_KEYS = value
    return value.split(",")[0].split(":")[0], value


def test_it_prints_a_new_key_first_and_keeps_the_old_ones(settings):
    old = settings.LATCHKEY_JWT_KEYS
    kid, value = rotate(settings)
    assert value.endswith("," + old)
    assert [k.kid for k in tokens.keys()] == [kid, "test1"]


def test_it_still_verifies_tokens_signed_by_the_old_key_after_rotation(root, root_api, settings):
    rotate(settings)
    assert get_operator(root, root_api).status_code == 200


class Clock:
    """The time apisessions and rotate_signing_key see; moved by hand, never slept on."""

    def __init__(self) -> None:
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(apisessions, "_now", clock)
    monkeypatch.setattr(rotate_signing_key, "_now", clock)
    return clock


def mint(principal) -> tuple[str, dict]:
    """Open an API session now (the clock's now); return its token and request headers."""
    api_key, token = apisessions.create_session(principal, timeout=apisessions.MAX_TIMEOUT)
    return token, {"HTTP_X_SORACOM_API_KEY": api_key, "HTTP_X_SORACOM_TOKEN": token}


def test_it_signs_new_tokens_with_the_new_key_from_its_signing_time(root, settings, clock):
    kid, _ = rotate(settings)
    clock.advance(rotate_signing_key.DEFAULT_SIGNS_IN)
    token, headers = mint(root)
    assert parts(token)[0]["kid"] == kid
    assert get_operator(root, headers).status_code == 200


def test_it_keeps_signing_with_the_current_key_until_then(root, settings, clock):
    rotate(settings)
    clock.advance(rotate_signing_key.DEFAULT_SIGNS_IN - 1)
    token, headers = mint(root)
    assert parts(token)[0]["kid"] == "test1"
    assert get_operator(root, headers).status_code == 200


def test_it_stops_verifying_a_retired_key(root, settings, clock):
    old_token, old_headers = mint(root)
    rotate(settings)
    clock.advance(rotate_signing_key.DEFAULT_SIGNS_IN + apisessions.MAX_TIMEOUT)
    rotate(settings, "--retire", "test1")
    assert parts(old_token)[0]["kid"] == "test1"
    assert_refused(get_operator(root, old_headers))


def test_it_refuses_to_retire_the_only_key_that_signs_before_the_new_one(settings, clock):
    _, value = rotate(settings)
    with pytest.raises(CommandError, match="Keep a key that signs today"):
        call_command("rotate_signing_key", "--retire", "test1", stdout=io.StringIO())
    assert settings.LATCHKEY_JWT_KEYS == value


@pytest.mark.parametrize("seconds", [0, 1, tokens.JWKS_MAX_AGE - 1, -3600])
def test_it_refuses_a_signing_delay_shorter_than_the_jwks_cache_lifetime(settings, seconds):
    with pytest.raises(CommandError, match="at least"):
        call_command("rotate_signing_key", f"--signs-in={seconds}", stdout=io.StringIO())


def test_it_says_when_the_new_key_signs_and_when_to_deploy_by(settings, clock):
    out = io.StringIO()
    call_command("rotate_signing_key", "--signs-in", "7200", stdout=out)
    text = out.getvalue()
    signs = clock.now + timedelta(seconds=7200)
    deadline = signs - timedelta(seconds=tokens.JWKS_MAX_AGE)
    assert f"signs only from {signs:%Y-%m-%d %H:%M:%S} UTC (in 7200 s)" in text
    assert "until then test1 keeps signing" in text
    assert f"Deploy to every app server before {deadline:%Y-%m-%d %H:%M:%S} UTC" in text
    assert "published at /.well-known/jwks.json and verifies" in text
    value = text.splitlines()[3]
    assert value.split(",")[0].endswith(f":{signs:%Y%m%dT%H%M%SZ}")


def test_it_publishes_the_next_key_before_it_signs(root, settings, clock):
    kid, _ = rotate(settings)
    published = [k["kid"] for k in Client().get("/.well-known/jwks.json").json()["keys"]]
    assert published == [kid, "test1"]
    token, _ = mint(root)
    assert parts(token)[0]["kid"] == "test1"


def test_it_verifies_a_token_signed_by_the_next_key_before_its_time(root, settings, clock):
    kid, _ = rotate(settings)
    _, headers = mint(root)
    head, claims, _ = parts(headers["HTTP_X_SORACOM_TOKEN"])
    next_key = next(k for k in tokens.keys() if k.kid == kid)
    headers["HTTP_X_SORACOM_TOKEN"] = sign_with(next_key.private, {**head, "kid": kid}, claims)
    assert get_operator(root, headers).status_code == 200


def test_it_caches_the_jwks_for_exactly_the_lifetime_rotation_waits_for(db):
    response = Client().get("/.well-known/jwks.json")
    assert response["Cache-Control"] == f"public, max-age={tokens.JWKS_MAX_AGE}"
    assert rotate_signing_key.DEFAULT_SIGNS_IN >= tokens.JWKS_MAX_AGE


class LocalVerifier:
    """A service verifying tokens itself with the JWKS, cached for its max-age."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.expires = None

    def refresh(self) -> None:
        response = Client().get("/.well-known/jwks.json")
        max_age = int(re.search(r"max-age=(\d+)", response["Cache-Control"]).group(1))
        self.keys = {
            k["kid"]: Ed25519PublicKey.from_public_bytes(tokens.b64url_decode(k["x"]))
            for k in response.json()["keys"]
        }
        self.expires = self.clock() + timedelta(seconds=max_age)

    def accepts(self, token: str) -> bool:
        if self.expires is None or self.clock() >= self.expires:
            self.refresh()
        head, _, sig = parts(token)
        key = self.keys.get(head["kid"])
        if key is None:
            return False
        try:
            key.verify(tokens.b64url_decode(sig), token.rsplit(".", 1)[0].encode())
        except InvalidSignature:
            return False
        return True


def test_it_never_signs_a_token_that_a_cached_jwks_cannot_verify(root, settings, clock):
    verifier = LocalVerifier(clock)
    verifier.refresh()  # cached just before the new value is deployed
    kid, _ = rotate(settings)
    signers = set()
    end = rotate_signing_key.DEFAULT_SIGNS_IN + 2 * tokens.JWKS_MAX_AGE
    for _ in range(0, end, 60):
        token, _ = mint(root)
        signers.add(parts(token)[0]["kid"])
        assert verifier.accepts(token), f"refused a token of {parts(token)[0]['kid']}"
        clock.advance(60)
    assert signers == {"test1", kid}


def test_it_refuses_a_malformed_signing_time(settings):
    entry = settings.LATCHKEY_JWT_KEYS
    for bad in (entry + ":", entry + ":2027-01-05T10:00:00Z", entry + ":20271305T100000Z"):
        with pytest.raises(ValueError, match="LATCHKEY_JWT_KEYS"):
            tokens.parse_keys(bad)


def midnight(day: str) -> int:
    return int(datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC).timestamp())


def test_it_signs_with_the_first_key_whose_time_has_come(settings):
    a, b, c = (b64(Ed25519PrivateKey.generate().private_bytes_raw()) for _ in range(3))
    settings.LATCHKEY_JWT_KEYS = f"c:{c}:20300101T000000Z,b:{b}:20290101T000000Z,a:{a}"
    assert tokens.signing_key(midnight("20281231")).kid == "a"
    assert tokens.signing_key(midnight("20290101")).kid == "b"
    assert tokens.signing_key(midnight("20300101")).kid == "c"


def test_it_refuses_to_sign_when_no_key_may_sign_yet(settings):
    raw = b64(Ed25519PrivateKey.generate().private_bytes_raw())
    settings.LATCHKEY_JWT_KEYS = f"later:{raw}:20990101T000000Z"
    with pytest.raises(tokens.NoSigningKey):
        tokens.signing_key(int(time.time()))


def test_it_fails_the_system_check_when_no_key_may_sign_yet(settings):
    raw = b64(Ed25519PrivateKey.generate().private_bytes_raw())
    settings.LATCHKEY_JWT_KEYS = f"later:{raw}:20990101T000000Z"
    assert [e.id for e in checks.signing_keys()] == ["latchkey.E002"]
    current = b64(Ed25519PrivateKey.generate().private_bytes_raw())
    settings.LATCHKEY_JWT_KEYS = f"later:{raw}:20990101T000000Z,now:{current}"
    assert checks.signing_keys() == []


def test_it_fails_the_system_check_on_a_malformed_key_list(settings):
    settings.LATCHKEY_JWT_KEYS = settings.LATCHKEY_JWT_KEYS + ":tomorrow"
    assert [e.id for e in checks.signing_keys()] == ["latchkey.E001"]


def test_it_refuses_to_retire_an_unknown_key(settings):
    with pytest.raises(CommandError):
        call_command("rotate_signing_key", "--retire", "nope", stdout=io.StringIO())


def test_it_lists_every_verifying_key_in_the_jwks(settings, db):
    kid, _ = rotate(settings)
    jwks = Client().get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [kid, "test1"]
    assert all(set(k) == {"kty", "crv", "alg", "use", "kid", "x"} for k in jwks["keys"])


def test_it_publishes_a_jwks_that_verifies_a_token(root, root_api):
    token = root_api["HTTP_X_SORACOM_TOKEN"]
    head, _, sig = parts(token)
    jwk = next(
        k for k in Client().get("/.well-known/jwks.json").json()["keys"] if k["kid"] == head["kid"]
    )
    public = Ed25519PublicKey.from_public_bytes(tokens.b64url_decode(jwk["x"]))
    public.verify(tokens.b64url_decode(sig), token.rsplit(".", 1)[0].encode())


def test_it_never_publishes_a_private_key(settings, db):
    body = Client().get("/.well-known/jwks.json").content.decode()
    for entry in settings.LATCHKEY_JWT_KEYS.split(","):
        assert entry.split(":")[1] not in body
    assert '"d"' not in body


# The session lookup on PostgreSQL -----------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL (DATABASE_URL)",
)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_replaces_a_connection_that_died_while_idle(root, root_api):
    from django.db import connection, connections

    from accounts import apisessions

    jti = parts(root_api["HTTP_X_SORACOM_TOKEN"])[1]["jti"]
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()
    row = apisessions._session_row(jti)
    assert row[0] == root_api["HTTP_X_SORACOM_API_KEY"]
    assert connection.connection.info.backend_pid != pid


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_answers_the_same_with_the_prepared_lookup_off(root, root_api, settings):
    settings.LATCHKEY_PREPARED_LOOKUP = False
    assert get_operator(root, root_api).status_code == 200


def test_it_refuses_a_session_whose_authkey_was_revoked_even_if_the_session_was_not(root):
    from security import authkeys
    from security.models import AuthKey

    key, secret = authkeys.generate(None, root, root)
    session = call("POST", "/v1/auth", {}, {"authKeyId": key.key_id, "authKey": secret}).json()
    headers = {
        "HTTP_X_SORACOM_API_KEY": session["apiKey"],
        "HTTP_X_SORACOM_TOKEN": session["token"],
    }
    assert get_operator(root, headers).status_code == 200
    # As if a revoke raced the exchange: the key is revoked, its session row is not.
    AuthKey.objects.filter(pk=key.pk).update(slot=None, revoked_at=timezone.now())
    assert_refused(get_operator(root, headers))
