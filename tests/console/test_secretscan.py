"""console/secretscan.py: the one detector of Latchkey bearer material in free text."""

import base64
import json
import time
import uuid

import pytest

from console import secretscan
from security import authkeys
from tests.bounded import run_bounded


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def token(alg: str = "EdDSA") -> str:
    return f"{_b64({'alg': alg, 'typ': 'JWT', 'kid': 'k1'})}.{_b64({'sub': 'x'})}.{'A' * 86}"


def test_it_finds_an_authkey_secret_by_its_checksum():
    secret = authkeys.new_secret()
    assert secretscan.first_kind(f"leaked in CI: {secret}.") == secretscan.AUTHKEY_SECRET


def test_it_ignores_a_secret_with_one_character_changed():
    secret = authkeys.new_secret()
    typo = secret[:10] + ("x" if secret[10] != "x" else "y") + secret[11:]
    assert not secretscan.contains_secret(typo)


def test_it_finds_a_secret_glued_to_other_text():
    secret = authkeys.new_secret()
    assert secretscan.redact(f"mysecret-x{secret}tail") == "mysecret-xsecret-[REDACTED]tail"


def test_it_finds_an_api_key():
    assert secretscan.first_kind(f"key=api-{uuid.uuid4()}") == secretscan.API_KEY


def test_it_ignores_a_uuid_that_is_not_an_api_key():
    assert not secretscan.contains_secret(f"request {uuid.uuid4()} and api-{uuid.uuid1()}")


def test_it_finds_a_latchkey_token():
    assert secretscan.first_kind(f"Authorization: Bearer {token()}") == secretscan.API_TOKEN


def test_it_ignores_a_token_of_another_algorithm():
    assert not secretscan.contains_secret(token("HS256"))


def test_it_redacts_every_secret_and_keeps_the_rest():
    secret, key, jwt = authkeys.new_secret(), f"api-{uuid.uuid4()}", token()
    text = f"a {secret} b {key} c {jwt} d"
    assert secretscan.redact(text) == "a secret-[REDACTED] b api-[REDACTED] c token-[REDACTED] d"
    assert secretscan.is_redacted(secretscan.redact(text))


def test_it_says_which_field_and_what_without_quoting_the_secret():
    secret = authkeys.new_secret()
    with pytest.raises(secretscan.SecretInText) as info:
        secretscan.refuse(f"x {secret}", "reason")
    assert str(info.value).startswith("The reason holds what looks like an AuthKey secret.")
    assert secret not in str(info.value)


def test_it_agrees_with_authkeys_on_the_secret_format():
    samples = [authkeys.new_secret() for _ in range(50)] + ["secret-" + "a" * 64, "secret-"]
    for sample in samples:
        assert authkeys.looks_like_secret(sample) == secretscan.is_authkey_secret(sample)
    assert all(secretscan.is_authkey_secret(s) for s in samples[:50])


@pytest.mark.parametrize(
    "hostile",
    [
        "secret-" * 20_000,
        "api-" * 30_000,
        "eyJ" * 40_000,
        "eyJhbGciOiJFZERTQSJ9." * 6_000,
        ("eyJ" + "a" * 500 + ".") * 250,
        "a" * 120_000,
    ],
    ids=["prefixes", "api-prefixes", "header-starts", "headers", "long-segments", "one-run"],
)
def test_it_scans_hostile_text_in_linear_time(hostile):
    # A guard against pathological slowdowns, not a benchmark: 120 kB in well under a second.
    def work():
        started = time.perf_counter()
        secretscan.redact(hostile)
        return time.perf_counter() - started

    assert run_bounded(work) < 5
