"""Every secret, ID, nonce and token comes from the operating system's CSPRNG, never `random`.

Two checks, because either alone can be dodged: seeding `random` identically before two
generations must still give two different values (a value drawn from `random`'s Mersenne
Twister repeats), and no module of the product may import `random` at all (a
`random.Random()` instance is not affected by the global seed, yet is just as predictable).
"""

import ast
import random
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.test import RequestFactory

from accounts import apisessions, identifiers
from console import devkeys
from console.middleware import RequestIdMiddleware
from security import authkeys, crypto

ROOT = Path(__file__).resolve().parents[1]
APP_PACKAGES = ("console", "accounts", "security")


def _request_id() -> str:
    request = RequestFactory().get("/")
    RequestIdMiddleware(lambda r: HttpResponse())(request)
    return request.request_id


def _development_keys() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return devkeys.load(Path(folder) / "keys.json")


def _sealed() -> bytes:
    aad = crypto.record_aad("OP0000000001", "cs", "psk")
    sealed = crypto.seal(b"the same plaintext", aad)
    return bytes(sealed.ciphertext) + bytes(sealed.wrapped_key)


GENERATORS = {
    "AuthKey ID": authkeys.new_key_id,
    "AuthKey secret": authkeys.new_secret,
    "operator ID": identifiers.new_operator_id,
    "request ID": _request_id,
    "credential data key and nonces": _sealed,
    "development keys": _development_keys,
}


@pytest.mark.parametrize("generate", GENERATORS.values(), ids=GENERATORS.keys())
def test_it_draws_a_different_value_after_the_same_seed(generate):
    random.seed(20261201)
    first = generate()
    random.seed(20261201)
    assert generate() != first


def test_it_draws_different_session_keys_and_token_ids_after_the_same_seed(root):
    random.seed(7)
    first = apisessions.create_session(root, timeout=600)
    random.seed(7)
    second = apisessions.create_session(root, timeout=600)
    assert first[0] != second[0]  # the apiKey
    assert first[1] != second[1]  # the token, whose jti is random


def test_it_draws_a_different_signing_key_id_after_the_same_seed(capsys):
    random.seed(3)
    call_command("rotate_signing_key")
    first = capsys.readouterr().out
    random.seed(3)
    call_command("rotate_signing_key")
    assert capsys.readouterr().out != first


# --- no module of the product imports random ----------------------------------------------


def random_imports(source: str) -> list[int]:
    """Return the lines of `source` that import the `random` module, however spelt."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == "random" for alias in node.names):
                found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] == "random":
                found.append(node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if (
                name in ("__import__", "import_module")
                and isinstance(first, ast.Constant)
                and str(first.value).split(".")[0] == "random"
            ):
                found.append(node.lineno)
    return found


def _app_modules() -> list[Path]:
    return sorted(p for package in APP_PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_it_finds_the_modules_it_scans():
    names = {p.relative_to(ROOT).as_posix() for p in _app_modules()}
    assert {"security/authkeys.py", "accounts/apisessions.py", "console/middleware.py"} <= names


def test_it_imports_random_nowhere_in_the_product():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _app_modules()
        for line in random_imports(path.read_text())
    ]
    assert offenders == [], "use `secrets` (or os.urandom) instead of `random`"


@pytest.mark.parametrize(
    "source",
    [
        "import random",
        "import random as r",
        "import os, random",
        "from random import choice",
        "from random import SystemRandom as S",
        "random = __import__('random')",
        "import importlib\nr = importlib.import_module('random')",
    ],
)
def test_it_recognises_every_way_of_importing_random(source):
    assert random_imports(source)


@pytest.mark.parametrize(
    "source",
    ["import secrets", "from secrets import choice", "from .random import x", "import randomness"],
)
def test_it_leaves_other_imports_alone(source):
    assert random_imports(source) == []
