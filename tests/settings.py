"""Test settings: production settings with throwaway keys, a fast hasher and plain static files."""

import base64
import os
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_signing = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
)
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("LATCHKEY_PEPPER", secrets.token_urlsafe(32))
os.environ.setdefault("LATCHKEY_JWT_KEYS", "test1:" + _b64(_signing))
os.environ.setdefault("LATCHKEY_MASTER_KEYS", "test1:" + _b64(secrets.token_bytes(32)))
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")

from console.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    # Each run gets its own test database name so that parallel runs do not collide.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("LATCHKEY_TEST_DB")}  # noqa: F405
    if not DATABASES["default"]["TEST"]["NAME"]:  # noqa: F405
        del DATABASES["default"]["TEST"]  # noqa: F405
