"""The credential-set quota under real concurrency (threads, one connection each)."""

import threading

import pytest
from django.db import connection, connections

from accounts.models import Operator, Principal
from security import credentials
from security.models import CredentialSet

# SQLite serialises writers with IMMEDIATE transactions, but the in-memory shared-cache
# test database answers "table is locked" instead of waiting, so the race is only
# meaningful against PostgreSQL (DATABASE_URL=postgres://...).
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite's test DB cannot race"
)


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_ends_with_exactly_100_after_20_concurrent_creates_at_99():
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "race@example.com", "x-Password-123456")
    for i in range(99):
        credentials.create_credential_set(None, root, f"pre-{i:02d}", "psk", "", {"key": "k" * 16})
    barrier = threading.Barrier(20)
    created: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def attempt(n: int) -> None:
        try:
            barrier.wait()
            cs = credentials.create_credential_set(
                None, root, f"race-{n:02d}", "psk", "", {"key": f"race-key-{n:04d}"}
            )
            created.append(cs.credentials_id)
        except credentials.QuotaExceeded:
            refused.append(str(n))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(created) == 1
    assert len(refused) == 19
    assert CredentialSet.objects.filter(operator=operator).count() == 100


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_exceeds_the_quota_through_the_api_under_concurrency(live_server):
    """The same race through HTTP: 20 clients, one live server, quota 5 starting at 4."""
    import json
    import urllib.error
    import urllib.request

    operator = Operator.create()
    operator.credential_quota = 5
    operator.save()
    root = Principal.objects.create_root(operator, "race2@example.com", "x-Password-123456")
    for i in range(4):
        credentials.create_credential_set(None, root, f"pre-{i}", "psk", "", {"key": "k" * 16})
    base = live_server.url

    def post(path: str, body: dict, headers: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    status, auth = post("/v1/auth", {"email": root.email, "password": "x-Password-123456"}, {})
    assert status == 200
    headers = {"X-Soracom-API-Key": auth["apiKey"], "X-Soracom-Token": auth["token"]}
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def attempt(n: int) -> None:
        barrier.wait()
        code, _ = post(f"/v1/credentials/api-{n}", {"type": "psk", "credentials": {
            "key": f"race-key-{n:04d}"}}, headers)  # fmt: skip
        statuses.append(code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 19
    assert CredentialSet.objects.filter(operator=operator).count() == 5
