"""Envelope encryption: master-key parsing, sealing, tamper detection, re-wrapping."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from security import crypto

ROOT = Path(__file__).resolve().parents[2]


def key_entry(key_id: str, raw: bytes | None = None) -> str:
    raw = raw or secrets.token_bytes(32)
    return f"{key_id}:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
def two_keys(settings):
    """Configure a new key k2 in front of the test key: k2 is now the newest."""
    settings.LATCHKEY_MASTER_KEYS = key_entry("k2") + "," + settings.LATCHKEY_MASTER_KEYS
    return settings


AAD = crypto.record_aad("OP0000000001", "aws-prod", "aws-credentials")


def test_it_parses_keys_newest_first():
    keys = crypto.parse_master_keys(key_entry("new") + ", " + key_entry("old"))
    assert [k.key_id for k in keys] == ["new", "old"]
    assert all(len(k.key) == 32 for k in keys)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("nokey", "id:base64url-key"),
        ("bad id:" + "A" * 43, "id:base64url-key"),
        ("k1:***", "not valid base64url"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "32 bytes"),
        (key_entry("k1") + "," + key_entry("k1"), "twice"),
    ],
)
def test_it_refuses_malformed_master_keys(value, fragment):
    with pytest.raises(crypto.MasterKeyError, match=fragment):
        crypto.parse_master_keys(value)


def test_it_refuses_the_same_key_under_two_ids():
    raw = secrets.token_bytes(32)
    with pytest.raises(crypto.MasterKeyError, match="repeats"):
        crypto.parse_master_keys(key_entry("a", raw) + "," + key_entry("b", raw))


def test_it_never_shows_key_material_in_repr():
    key = crypto.parse_master_keys(key_entry("k1"))[0]
    assert repr(key) == "MasterKey('k1')"


def _start_production(master_keys: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env.update(
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="console.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        LATCHKEY_PEPPER=secrets.token_urlsafe(32),
        LATCHKEY_JWT_KEYS="j1:" + secrets.token_urlsafe(32),
        ALLOWED_HOSTS="example.com",
    )
    if master_keys is not None:
        env["LATCHKEY_MASTER_KEYS"] = master_keys
    code = "import django; django.setup(); print('started')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_production_without_a_master_key():
    result = _start_production(None)
    assert result.returncode != 0
    assert "LATCHKEY_MASTER_KEYS" in result.stderr


def test_it_refuses_to_start_production_with_a_malformed_master_key():
    result = _start_production("k1:not-a-32-byte-key")
    assert result.returncode != 0
    assert "LATCHKEY_MASTER_KEYS" in result.stderr
    assert "not-a-32-byte-key" not in result.stderr


def test_it_starts_production_with_a_valid_master_key():
    result = _start_production(key_entry("prod1"))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_it_round_trips_a_sealed_value():
    sealed = crypto.seal(b"the secret", AAD)
    assert crypto.open_sealed(sealed, AAD) == b"the secret"
    assert b"the secret" not in sealed.ciphertext + sealed.wrapped_key


def test_it_records_the_newest_master_key_id(two_keys):
    assert crypto.seal(b"x", AAD).master_key_id == "k2"


def test_it_fails_loudly_on_a_flipped_ciphertext_byte():
    sealed = crypto.seal(b"the secret", AAD)
    for position in (0, 12, len(sealed.ciphertext) - 1):
        blob = bytearray(sealed.ciphertext)
        blob[position] ^= 0x01
        with pytest.raises(crypto.DecryptionError):
            crypto.open_sealed(crypto.Sealed(bytes(blob), sealed.wrapped_key, "test1"), AAD)


def test_it_fails_loudly_on_a_flipped_wrapped_key_byte():
    sealed = crypto.seal(b"the secret", AAD)
    wrapped = bytearray(sealed.wrapped_key)
    wrapped[20] ^= 0x80
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(crypto.Sealed(sealed.ciphertext, bytes(wrapped), "test1"), AAD)


@pytest.mark.parametrize(
    "other",
    [
        ("OP0000000002", "aws-prod", "aws-credentials"),  # another operator
        ("OP0000000001", "aws-dev", "aws-credentials"),  # another ID
        ("OP0000000001", "aws-prod", "psk"),  # another type
    ],
)
def test_it_refuses_a_ciphertext_under_other_associated_data(other):
    sealed = crypto.seal(b"the secret", AAD)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(sealed, crypto.record_aad(*other))


def test_it_refuses_a_truncated_ciphertext():
    sealed = crypto.seal(b"the secret", AAD)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(crypto.Sealed(b"\0" * 5, sealed.wrapped_key, "test1"), AAD)


def test_it_rewraps_under_the_newest_key_and_still_opens(two_keys):
    old_only = two_keys.LATCHKEY_MASTER_KEYS.split(",", 1)[1]
    two_keys.LATCHKEY_MASTER_KEYS = old_only
    sealed = crypto.seal(b"the secret", AAD)
    two_keys.LATCHKEY_MASTER_KEYS = key_entry("k3") + "," + old_only
    fresh = crypto.rewrap(sealed, AAD)
    assert fresh.master_key_id == "k3"
    assert fresh.ciphertext == sealed.ciphertext
    two_keys.LATCHKEY_MASTER_KEYS = two_keys.LATCHKEY_MASTER_KEYS.split(",", 1)[0]
    assert crypto.open_sealed(fresh, AAD) == b"the secret"


def test_it_names_a_missing_master_key_without_its_material(settings):
    sealed = crypto.seal(b"the secret", AAD)
    settings.LATCHKEY_MASTER_KEYS = key_entry("other")
    with pytest.raises(crypto.MasterKeyError, match="'test1' is not configured"):
        crypto.open_sealed(sealed, AAD)


def test_it_refuses_to_rewrap_a_tampered_record(two_keys):
    sealed = crypto.seal(b"the secret", AAD)
    blob = bytearray(sealed.ciphertext)
    blob[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.rewrap(crypto.Sealed(bytes(blob), sealed.wrapped_key, sealed.master_key_id), AAD)


def test_it_never_repeats_a_nonce_in_ten_thousand_writes():
    nonces = set()
    for _ in range(10_000):
        sealed = crypto.seal(b"x", AAD)
        nonces.add(sealed.ciphertext[: crypto.NONCE_BYTES])
        nonces.add(sealed.wrapped_key[: crypto.NONCE_BYTES])
    assert len(nonces) == 20_000
