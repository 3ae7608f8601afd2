"""Development keys: generated once into an ignored file and shared by every process.

Only used when DEBUG is on. Production reads every key from the environment and
refuses to start without it (see settings.py).
"""

import base64
import json
import os
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _new_keys() -> dict[str, str]:
    signing_key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LATCHKEY_PEPPER": secrets.token_urlsafe(32),
        # "kid:base64url(raw 32-byte Ed25519 private key)"
        "LATCHKEY_JWT_KEYS": "dev1:" + base64.urlsafe_b64encode(signing_key).decode().rstrip("="),
        # "id:base64url(32-byte AES key)"
        "LATCHKEY_MASTER_KEYS": "dev1:"
        + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
    }


def load(path: Path) -> dict[str, str]:
    """Return the development keys, creating the file on first use (race-safe)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        # We won the race: write the keys; other processes wait for the content below.
        with os.fdopen(fd, "w") as f:
            json.dump(_new_keys(), f, indent=2)
        print(f"Latchkey: generated development keys into {path.name} (ignored by git).")
    for _ in range(100):
        text = path.read_text()
        if text.strip():
            return json.loads(text)
        time.sleep(0.05)
    raise RuntimeError(f"{path} is empty; delete it and start again")
