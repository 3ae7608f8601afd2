"""Scale-out: two app servers on one PostgreSQL, as a load balancer sees them (issue 13).

Two separate gunicorn processes serve the test database (and Redis when REDIS_URL is set).
What one of them changes is honoured on the very next request through the other: an
AuthKey revoked, a logout, a permission changed, a password changed; the failure throttles
count the attempts made through both; and the audit trail both wrote verifies afterwards.
The app servers keep no state of their own that these depend on.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Operator, Principal
from security import audit
from security.models import AuditEntry
from tests.conftest import ROOT_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
THROTTLE = 4  # LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP of both servers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): two app server processes cannot share "
        "pytest-django's in-memory SQLite database, and PostgreSQL is the engine operators "
        "scale out on",
    ),
    pytest.mark.django_db(transaction=True),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class AppServer:
    """One gunicorn process serving the test database with the test settings."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = _free_port()
        env = {
            **os.environ,  # the throwaway keys tests/settings.py put there: shared by both
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
            "LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP": str(THROTTLE),
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "console.wsgi",
                f"--bind=127.0.0.1:{self.port}",
                "--workers=1",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        self._wait()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app server {self.name} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"app server {self.name} did not start")

    def call(self, method: str, path: str, session: dict | None = None, body=None):
        """Return (status, parsed JSON body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if session is not None:
            request.add_header("X-Soracom-API-Key", session["apiKey"])
            request.add_header("X-Soracom-Token", session["token"])
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def auth(self, **credentials) -> dict:
        status, body = self.call("POST", "/v1/auth", body=credentials)
        assert status == 200, (self.name, status, body)
        return body

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(django_db_setup):  # after the test database exists: both serve it
    first = AppServer("A")
    try:
        second = AppServer("B")
    except Exception:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def world(servers):
    """An operator with a root password and AuthKey and a SAM user alice, made through A."""
    a, _ = servers
    operator = Operator.create()
    Principal.objects.create_root(operator, "root@example.com", ROOT_PASSWORD)
    root = a.auth(email="root@example.com", password=ROOT_PASSWORD)
    op = f"/v1/operators/{operator.pk}"
    assert a.call("POST", f"{op}/users/alice", root, {"description": "scale-out"})[0] == 201
    assert (
        a.call("POST", f"{op}/users/alice/password", root, {"password": "Alice-pass-1234"})[0]
        == 201
    )
    permission = {
        "statements": [{"effect": "allow", "api": ["User:getUser", "User:updateUserPassword"]}]
    }
    status, _ = a.call(
        "PUT", f"{op}/users/alice/permission", root, {"permission": json.dumps(permission)}
    )
    assert status == 200
    status, key = a.call("POST", f"{op}/auth_keys", root)
    assert status == 201, key
    return {"operator": operator, "op": op, "root": root, "key": key}


def _alice(server: AppServer, world: dict, password: str = "Alice-pass-1234") -> dict:
    return server.auth(operatorId=world["operator"].pk, userName="alice", password=password)


def test_a_revocation_through_one_server_is_honoured_by_the_other(servers, world):
    a, b = servers
    key = world["key"]
    session = a.auth(authKeyId=key["authKeyId"], authKey=key["authKey"])
    assert b.call("GET", f"{world['op']}/auth_keys", session)[0] == 200
    status, _ = a.call("DELETE", f"{world['op']}/auth_keys/{key['authKeyId']}", world["root"])
    assert status == 204
    assert b.call("GET", f"{world['op']}/auth_keys", session)[0] == 401
    assert (
        b.call(
            "POST",
            "/v1/auth",
            body={"authKeyId": key["authKeyId"], "authKey": key["authKey"]},
        )[0]
        == 401
    )


def test_a_logout_through_one_server_is_honoured_by_the_other(servers, world):
    a, b = servers
    session = b.auth(email="root@example.com", password=ROOT_PASSWORD)
    assert b.call("GET", f"{world['op']}/users", session)[0] == 200
    assert a.call("POST", "/v1/auth/logout", session)[0] == 204
    assert b.call("GET", f"{world['op']}/users", session)[0] == 401


def test_a_permission_change_through_one_server_is_honoured_by_the_other(servers, world):
    a, b = servers
    alice = _alice(b, world)
    assert b.call("GET", f"{world['op']}/users/alice", alice)[0] == 200
    narrower = {"statements": [{"effect": "allow", "api": "User:updateUserPassword"}]}
    status, _ = a.call(
        "PUT",
        f"{world['op']}/users/alice/permission",
        world["root"],
        {"permission": json.dumps(narrower)},
    )
    assert status == 200
    assert b.call("GET", f"{world['op']}/users/alice", alice)[0] == 403


def test_a_password_change_through_one_server_is_honoured_by_the_other(servers, world):
    a, b = servers
    changer, other = _alice(a, world), _alice(b, world)
    assert b.call("GET", f"{world['op']}/users/alice", other)[0] == 200
    status, _ = a.call(
        "PUT",
        f"{world['op']}/users/alice/password",
        changer,
        {"currentPassword": "Alice-pass-1234", "newPassword": "Alice-new-pass-5678"},
    )
    assert status == 200
    assert b.call("GET", f"{world['op']}/users/alice", other)[0] == 401  # the other session ended
    assert b.call("GET", f"{world['op']}/users/alice", changer)[0] == 200  # the changer's lives on
    _alice(b, world, "Alice-new-pass-5678")


def test_the_throttle_counts_failures_made_through_both_servers(servers, world):
    a, b = servers
    wrong = {"email": "root@example.com", "password": "not-the-password"}
    statuses = [
        (a if n % 2 else b).call("POST", "/v1/auth", body=wrong)[0] for n in range(THROTTLE)
    ]
    assert statuses == [401] * THROTTLE  # half through each server
    assert a.call("POST", "/v1/auth", body=wrong)[0] == 429
    assert b.call("POST", "/v1/auth", body={**wrong, "password": ROOT_PASSWORD})[0] == 429


def test_the_audit_trail_both_servers_wrote_verifies(servers, world):
    a, b = servers
    for server, n in ((a, 1), (b, 2), (a, 3), (b, 4)):
        status, _ = server.call(
            "PUT", f"{world['op']}/users/alice", world["root"], {"description": f"v{n}"}
        )
        assert status == 200
    chain = world["operator"].pk
    updates = AuditEntry.objects.filter(chain=chain, action="User:updateUser")
    assert updates.count() == 4
    assert not AuditEntry.objects.filter(chain=chain, seq__isnull=True).exists()  # sealed by now
    checked, broken = audit.verify_chain(chain)
    assert broken is None
    assert checked == AuditEntry.objects.filter(chain=chain).count()
