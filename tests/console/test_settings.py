"""Production settings: refuse to start without secrets; `check --deploy` is clean."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from console.devkeys import _new_keys

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str) -> dict[str, str]:
    keys = _new_keys()
    # Only what a fresh production shell has: the test settings put test values in os.environ.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "DATABASE_URL") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        LATCHKEY_PEPPER=keys["LATCHKEY_PEPPER"],
        LATCHKEY_JWT_KEYS=keys["LATCHKEY_JWT_KEYS"],
        LATCHKEY_MASTER_KEYS=keys["LATCHKEY_MASTER_KEYS"],
        ALLOWED_HOSTS="latchkey.example.com",
        EMAIL_URL="smtp+tls://latchkey:mail-Password-1@mail.example.com:587",
        DEFAULT_FROM_EMAIL="latchkey@example.com",
    )
    env.update(overrides)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_check_deploy_with_the_readme_variables():
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "name",
    ["SECRET_KEY", "LATCHKEY_PEPPER", "LATCHKEY_JWT_KEYS", "LATCHKEY_MASTER_KEYS", "ALLOWED_HOSTS"],
)
def test_it_refuses_to_start_in_production_without(name):
    env = _production_env()
    del env[name]
    result = _manage(env, "check")
    assert result.returncode != 0
    assert name in result.stderr


def test_it_refuses_a_master_key_equal_to_the_secret_key():
    env = _production_env()
    env["LATCHKEY_MASTER_KEYS"] = env["SECRET_KEY"]
    assert _manage(env, "check").returncode != 0


# The pepper and its fallbacks (docs/audit.md): 32 random bytes, like the other keys.
WEAK_PEPPERS = {
    "one character": "a",
    "short base64url": secrets.token_urlsafe(16),
    "short hex": secrets.token_hex(24),
    "repeated character": "a" * 60,
    "not base64url": "p@ssw0rd-" + secrets.token_urlsafe(40),
}


@pytest.mark.parametrize("value", WEAK_PEPPERS.values(), ids=WEAK_PEPPERS.keys())
def test_it_refuses_a_weak_pepper(value):
    result = _manage(_production_env(LATCHKEY_PEPPER=value), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "LATCHKEY_PEPPER must be at least 32 random bytes" in result.stderr
    if len(value) > 8:
        assert value not in result.stderr  # never echo a key


def test_it_accepts_a_pepper_of_64_hex_digits():
    env = _production_env(LATCHKEY_PEPPER=secrets.token_hex(32))
    assert _manage(env, "check").returncode == 0


@pytest.mark.parametrize(
    "fallbacks", ["", f"{secrets.token_urlsafe(32)},,", "a"], ids=["blank", "empty entry", "weak"]
)
def test_it_refuses_a_weak_or_blank_pepper_fallback(fallbacks):
    env = _production_env(LATCHKEY_PEPPER_FALLBACKS=fallbacks or " ")
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "LATCHKEY_PEPPER_FALLBACKS (entry" in result.stderr


def test_it_accepts_strong_pepper_fallbacks():
    fallbacks = f"{secrets.token_urlsafe(32)},{secrets.token_hex(32)}"
    result = _manage(_production_env(LATCHKEY_PEPPER_FALLBACKS=fallbacks), "check", "--deploy")
    assert result.returncode == 0, result.stderr


def test_it_refuses_a_fallback_equal_to_the_pepper():
    env = _production_env()
    env["LATCHKEY_PEPPER_FALLBACKS"] = env["LATCHKEY_PEPPER"]
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "must not repeat LATCHKEY_PEPPER" in result.stderr
