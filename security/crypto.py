"""Envelope encryption for credential sets (AES-256-GCM, master keys from the environment).

Each write draws a fresh 256-bit data key and a fresh 96-bit nonce, encrypts the record
with the data key under associated data that names the record (operator, credentials ID,
type), then wraps the data key with the newest master key under the same associated data
plus the master key ID. A ciphertext or a wrapped key copied to another row, another
operator or another type therefore fails authentication instead of decrypting.

Master keys come from LATCHKEY_MASTER_KEYS: "id:base64url(32 bytes)" entries separated by
commas, newest first. Each row records the ID of the master key that wrapped its data
key, so rotation (`manage.py rotate_master_key`) re-wraps only what needs it and a key
still referenced by a row can never be retired silently.

This module imports nothing from Django at import time so that settings.py can use
`parse_master_keys` to validate the environment at start-up.
"""

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = 1
MASTER_KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z", re.ASCII)


class MasterKeyError(ValueError):
    """LATCHKEY_MASTER_KEYS is malformed, or a row names a master key that is not configured."""


class DecryptionError(Exception):
    """A sealed record did not authenticate: tampered, moved to another row, or a wrong key."""


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    key: bytes

    def __repr__(self) -> str:  # never print key material, even in a traceback
        return f"MasterKey({self.key_id!r})"


@dataclass(frozen=True)
class Sealed:
    """What a row stores: nonce+ciphertext, nonce+wrapped data key, and the master key ID."""

    ciphertext: bytes
    wrapped_key: bytes
    master_key_id: str


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def parse_master_keys(value: str) -> tuple[MasterKey, ...]:
    """Return the configured master keys, newest first; MasterKeyError names what is wrong."""
    entries = [part.strip() for part in (value or "").split(",") if part.strip()]
    if not entries:
        raise MasterKeyError("LATCHKEY_MASTER_KEYS is empty: set at least one id:key entry.")
    keys: list[MasterKey] = []
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not MASTER_KEY_ID_RE.match(key_id):
            raise MasterKeyError(
                f"LATCHKEY_MASTER_KEYS entry {position} must be 'id:base64url-key' with an id of "
                "1-32 letters, digits, '.', '_' or '-'."
            )
        try:
            raw = _b64decode(encoded)
        except (binascii.Error, ValueError):
            raise MasterKeyError(
                f"LATCHKEY_MASTER_KEYS key {key_id!r} is not valid base64url."
            ) from None
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(
                f"LATCHKEY_MASTER_KEYS key {key_id!r} must decode to {KEY_BYTES} bytes "
                f"(got {len(raw)})."
            )
        if any(k.key_id == key_id for k in keys):
            raise MasterKeyError(f"LATCHKEY_MASTER_KEYS names the key ID {key_id!r} twice.")
        if any(k.key == raw for k in keys):
            raise MasterKeyError(f"LATCHKEY_MASTER_KEYS key {key_id!r} repeats another key.")
        keys.append(MasterKey(key_id, raw))
    return tuple(keys)


@lru_cache(maxsize=4)
def _keys_for(value: str) -> tuple[MasterKey, ...]:
    return parse_master_keys(value)


def master_keys() -> tuple[MasterKey, ...]:
    """Return the configured master keys (newest first), parsed once per setting value."""
    from django.conf import settings

    return _keys_for(settings.LATCHKEY_MASTER_KEYS)


def newest_master_key() -> MasterKey:
    return master_keys()[0]


def master_key(key_id: str) -> MasterKey:
    """Return the configured master key with that ID, or raise MasterKeyError."""
    for key in master_keys():
        if key.key_id == key_id:
            return key
    raise MasterKeyError(
        f"Master key {key_id!r} is not configured in LATCHKEY_MASTER_KEYS; a record still "
        "needs it. Put it back (after the newest key) and run manage.py rotate_master_key."
    )


def record_aad(operator_id: str, credentials_id: str, kind: str) -> bytes:
    """Return the associated data that binds a ciphertext to its record's identity."""
    return json.dumps(
        ["latchkey-credential", FORMAT_VERSION, operator_id, credentials_id, kind],
        separators=(",", ":"),
    ).encode()


def _wrap_aad(aad: bytes, key_id: str) -> bytes:
    return b"latchkey-dek|" + key_id.encode() + b"|" + aad


def _wrap(data_key: bytes, aad: bytes, master: MasterKey) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, data_key, _wrap_aad(aad, master.key_id))


def _unwrap(sealed: Sealed, aad: bytes) -> bytes:
    master = master_key(sealed.master_key_id)
    wrapped = bytes(sealed.wrapped_key)
    if len(wrapped) != NONCE_BYTES + KEY_BYTES + 16:
        raise DecryptionError("wrapped data key has the wrong length")
    try:
        return AESGCM(master.key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(aad, master.key_id)
        )
    except InvalidTag:
        raise DecryptionError("the wrapped data key did not authenticate") from None


def seal(plaintext: bytes, aad: bytes) -> Sealed:
    """Encrypt plaintext under a fresh data key, wrapped by the newest master key."""
    master = newest_master_key()
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
    return Sealed(ciphertext, _wrap(data_key, aad, master), master.key_id)


def open_sealed(sealed: Sealed, aad: bytes) -> bytes:
    """Return the plaintext, or raise DecryptionError (MasterKeyError if its key is gone)."""
    data_key = _unwrap(sealed, aad)
    blob = bytes(sealed.ciphertext)
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError("the ciphertext did not authenticate") from None


def rewrap(sealed: Sealed, aad: bytes) -> Sealed:
    """Return the same ciphertext with its data key wrapped by the newest master key.

    The data key is unwrapped and the ciphertext authenticated first, so that rotation never
    blesses a tampered record with a fresh wrapping.
    """
    data_key = _unwrap(sealed, aad)
    blob = bytes(sealed.ciphertext)
    try:
        AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError("the ciphertext did not authenticate") from None
    return Sealed(blob, _wrap(data_key, aad, newest_master_key()), newest_master_key().key_id)
