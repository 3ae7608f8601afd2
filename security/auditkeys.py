"""The audit trail's keys: all derived from a server-side pepper, none of them in the database.

One secret, several purposes, each under its own label (key separation: learning one
derived key tells nothing about the pepper or the others):

- the chain key, HMAC-SHA256(pepper, "latchkey.audit-chain.v1"), seals every entry
  (unchanged since the first chained entries, so that they keep verifying);
- the key fingerprint, 16 hex digits of SHA-256 over a label and the chain key, stored
  with each entry so that it is verified with exactly the key that sealed it, never with
  whichever configured pepper happens to match (a leaked retired pepper must not vouch
  for entries written after the rotation);
- the checkpoint signing key, an Ed25519 key whose 32-byte seed is
  HKDF-SHA256(pepper, info="latchkey.audit.checkpoint-signing.v1"): checkpoints are
  signed with it, and anyone holding the public key can check them without any secret.

Deriving the signing key instead of configuring another secret keeps one key to keep
safe and rotate; the price is that a pepper rotation also rotates the checkpoint key (the
new public key is in every new checkpoint; old checkpoints verify while the old pepper
is listed in LATCHKEY_PEPPER_FALLBACKS, or with its public key given to verify_audit).

Pepper strength is checked here as well: this module imports nothing from Django, so
that console/settings.py can refuse a weak pepper at start-up.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_CHAIN_LABEL = b"latchkey.audit-chain.v1"
_FINGERPRINT_LABEL = b"latchkey.audit-chain.key-fingerprint.v1|"
_SIGNING_INFO = b"latchkey.audit.checkpoint-signing.v1"
FINGERPRINT_LENGTH = 16

# At least 256 bits as written: 43 base64url characters (6 bits each, what
# `secrets.token_urlsafe(32)` prints) or 64 hex digits (4 bits each).
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}\Z", re.ASCII)
_HEX = re.compile(r"[0-9a-fA-F]+\Z", re.ASCII)
MIN_BASE64URL_CHARS = 43
MIN_HEX_CHARS = 64
# A long run of one or two characters is not random, whatever its length.
MIN_DISTINCT_CHARS = 10


class WeakPepper(ValueError):
    """A pepper (or a fallback) is missing, malformed or too short to hold 32 random bytes."""


def check_pepper(name: str, value: str) -> None:
    """Raise WeakPepper naming `name` unless value can hold 32 random bytes (never echo it)."""
    rule = (
        f"{name} must be at least 32 random bytes: {MIN_BASE64URL_CHARS}+ base64url "
        f'characters (python -c "import secrets; print(secrets.token_urlsafe(32))") '
        f"or {MIN_HEX_CHARS} hex digits"
    )
    text = value.rstrip("=")
    if not value.strip():
        raise WeakPepper(f"{name} is blank; {rule}.")
    if not _BASE64URL.match(value):
        raise WeakPepper(f"{name} holds characters outside base64url; {rule}.")
    needed = MIN_HEX_CHARS if _HEX.match(text) else MIN_BASE64URL_CHARS
    if len(text) < needed or len(set(text)) < MIN_DISTINCT_CHARS:
        raise WeakPepper(f"{name} is too weak; {rule}.")


@lru_cache(maxsize=8)
def chain_key(pepper: str) -> bytes:
    """Return the HMAC key that seals audit entries under this pepper."""
    return hmac.new(pepper.encode(), _CHAIN_LABEL, hashlib.sha256).digest()


@lru_cache(maxsize=8)
def fingerprint(pepper: str) -> str:
    """Return the short public name of this pepper's chain key (stored with each entry)."""
    digest = hashlib.sha256(_FINGERPRINT_LABEL + chain_key(pepper)).hexdigest()
    return digest[:FINGERPRINT_LENGTH]


@dataclass(frozen=True)
class CheckpointKey:
    key_id: str  # the pepper's fingerprint: names the key in a checkpoint
    private: Ed25519PrivateKey
    public: Ed25519PublicKey

    def __repr__(self) -> str:  # never print key material, even in a traceback
        return f"CheckpointKey({self.key_id!r})"

    @property
    def public_b64(self) -> str:
        return b64url(
            self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )


@lru_cache(maxsize=8)
def checkpoint_key(pepper: str) -> CheckpointKey:
    """Return the Ed25519 key that signs audit checkpoints under this pepper."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SIGNING_INFO).derive(
        pepper.encode()
    )
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return CheckpointKey(fingerprint(pepper), private, private.public_key())


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    if not _BASE64URL.match(text or "="):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Return the Ed25519 public key of a base64url string of 32 raw bytes."""
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)
