"""The two-key limit and revocation under real concurrency (SECURITY.md T9, E3, E4, B8).

PostgreSQL: real threads, each with its own connection, in transaction=True tests (a
TestCase transaction would hide the races). SQLite: the same generate storm runs in a
child process against a file database with the production SQLite settings (WAL,
IMMEDIATE transactions); pytest-django's in-memory SQLite shares one connection between
threads, which would prove nothing.
"""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from accounts.models import ApiSession
from security import authkeys
from security.models import AuthKey
from tests.conftest import ROOT_PASSWORD

ON_POSTGRES = connection.vendor == "postgresql"
needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL (DATABASE_URL): SQLite's in-memory test database shares one "
    "connection between threads; the SQLite storm runs in a child process instead",
)
ROOT = Path(__file__).resolve().parents[2]


def run_together(count: int, work) -> list:
    """Run work(i) in `count` threads released at once; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_at_most_two_keys_after_20_concurrent_generates(root):
    def generate(_: int) -> str:
        try:
            authkeys.generate(None, root, root)
        except authkeys.AuthKeyLimitReached:
            return "limit"
        return "ok"

    results = run_together(20, generate)
    assert sorted(results) == ["limit"] * 18 + ["ok"] * 2, results
    assert AuthKey.objects.filter(principal=root, slot__isnull=False).count() == 2


# SECURITY.md M1: `LATCHKEY_STORM_RUNS=100 LATCHKEY_STORM_THREADS=50` reproduces the figure.
STORM_RUNS = int(os.environ.get("LATCHKEY_STORM_RUNS", "3"))
STORM_THREADS = int(os.environ.get("LATCHKEY_STORM_THREADS", "20"))


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_limit_over_repeated_storms(root, settings, capsys):
    settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = 10**6
    most, errors = 0, []
    for _ in range(STORM_RUNS):
        for key in list(authkeys.live_keys(root)):
            authkeys.revoke(None, root, key)

        def generate(_: int) -> str:
            try:
                authkeys.generate(None, root, root)
            except authkeys.AuthKeyLimitReached:
                return "limit"
            return "ok"

        results = run_together(STORM_THREADS, generate)
        errors += [r for r in results if isinstance(r, Exception)]
        most = max(most, authkeys.live_keys(root).count())
        assert results.count("ok") == 2, results
    with capsys.disabled():
        print(f"\nAuthKey storms: {STORM_RUNS} x {STORM_THREADS} threads, max live {most}")
    assert most == 2 and not errors


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_answers_20_concurrent_generate_requests_with_two_keys(root, live_server):
    session = Client().post(
        "/v1/auth",
        {"email": root.email, "password": ROOT_PASSWORD},
        content_type="application/json",
    )
    headers = {
        "X-Soracom-API-Key": session.json()["apiKey"],
        "X-Soracom-Token": session.json()["token"],
    }
    url = f"{live_server.url}/v1/operators/{root.operator_id}/auth_keys"

    def post(_: int) -> int:
        request = urllib.request.Request(url, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    statuses = run_together(20, post)
    assert sorted(statuses) == [201, 201] + [409] * 18, statuses
    assert AuthKey.objects.filter(principal=root, slot__isnull=False).count() == 2


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_shows_more_than_two_live_keys_while_generates_and_revokes_interleave(
    root, settings
):
    settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = 1000  # this test churns on purpose
    stop = threading.Event()
    seen: list[int] = []

    def watch() -> None:
        try:
            while not stop.is_set():
                seen.append(AuthKey.objects.filter(principal=root, slot__isnull=False).count())
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()

    def churn(i: int) -> str:
        if i % 2 == 0:
            try:
                authkeys.generate(None, root, root)
            except authkeys.AuthKeyLimitReached:
                return "limit"
            return "generated"
        key = authkeys.live_keys(root).first()
        if key is None:
            return "none"
        return "revoked" if authkeys.revoke(None, root, key) else "gone"

    results = run_together(50, churn)
    stop.set()
    watcher.join(30)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert seen and max(seen) <= 2
    assert AuthKey.objects.filter(principal=root, slot__isnull=False).count() <= 2


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_live_session_when_revoke_races_the_exchange(root):
    for _ in range(8):
        key, secret = authkeys.generate(None, root, root)

        def race(i: int, key=key, secret=secret):
            if i == 0:
                return authkeys.revoke(None, root, key)
            return (
                Client()
                .post(
                    "/v1/auth",
                    {"authKeyId": key.key_id, "authKey": secret},
                    content_type="application/json",
                )
                .status_code
            )

        results = run_together(4, race)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert set(results[1:]) <= {200, 401}
        live = ApiSession.objects.filter(auth_key_id=key.key_id, revoked_at__isnull=True)
        assert not live.exists()


_SQLITE_STORM = """
import json, sys, threading
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from accounts.models import Operator, Principal
from security import authkeys
from security.models import AuthKey
runs, count = int(sys.argv[1]), int(sys.argv[2])
root = Principal.objects.create_root(Operator.create(), "storm@example.com", "Storm-Pass-1234")
outcomes = []
for _ in range(runs):
    for key in list(authkeys.live_keys(root)):
        authkeys.revoke(None, root, key)
    connection.close()
    barrier = threading.Barrier(count)
    results = []
    def work():
        try:
            barrier.wait()
            authkeys.generate(None, root, root)
            results.append("ok")
        except authkeys.AuthKeyLimitReached:
            results.append("limit")
        except Exception as exc:
            results.append(repr(exc))
        finally:
            connection.close()
    threads = [threading.Thread(target=work) for _ in range(count)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    live = AuthKey.objects.filter(principal=root, slot__isnull=False).count()
    outcomes.append({"results": sorted(results), "live": live})
print(json.dumps(outcomes))
"""


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite storm; PostgreSQL runs the threaded tests")
def test_it_keeps_at_most_two_keys_after_concurrent_generates_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'storm.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "LATCHKEY_AUTHKEY_GENERATES_PER_HOUR": "1000000",  # storms churn on purpose
    }
    done = subprocess.run(
        [sys.executable, "-c", _SQLITE_STORM, str(STORM_RUNS), str(STORM_THREADS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    expected = {"results": ["limit"] * (STORM_THREADS - 2) + ["ok"] * 2, "live": 2}
    assert outcomes == [expected] * STORM_RUNS, outcomes
