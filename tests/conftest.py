"""Shared fixtures: named personas (STYLE.md) and API helpers."""

import os

import pytest
from django.test import Client

from accounts.models import Operator, Principal
from security import destinations
from tests.canary import Canary
from tests.mail import smtp_server  # noqa: F401 (the SMTP fixture, tests/mail.py)
from tests.security.fake_dns import FakeDns

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM use.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT_PASSWORD = "root-Password-1234"
SAM_PASSWORD = "sam-Password-5678"
OUTSIDER_PASSWORD = "outsider-Password-9012"


@pytest.fixture
def operator(db) -> Operator:
    return Operator.create()


@pytest.fixture
def root(operator) -> Principal:
    """The operator's root account."""
    return Principal.objects.create_root(operator, "root@example.com", ROOT_PASSWORD)


@pytest.fixture
def alice(operator) -> Principal:
    """A SAM user of the operator with a password and nothing else."""
    user = Principal.objects.create_sam_user(operator, "alice", "Alice in ops")
    user.set_password(SAM_PASSWORD)
    user.save()
    return user


@pytest.fixture
def robot(operator) -> Principal:
    """A SAM user without a password (a program's identity)."""
    return Principal.objects.create_sam_user(operator, "robot", "CI pipeline")


@pytest.fixture
def outsider(db) -> Principal:
    """The root of another operator."""
    return Principal.objects.create_root(
        Operator.create(), "outsider@example.net", OUTSIDER_PASSWORD
    )


@pytest.fixture
def root_client(root) -> Client:
    client = Client()
    client.force_login(root, backend="accounts.backends.RootBackend")
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice, backend="accounts.backends.SamUserBackend")
    return client


@pytest.fixture
def outsider_client(outsider) -> Client:
    client = Client()
    client.force_login(outsider, backend="accounts.backends.RootBackend")
    return client


def api_login(client: Client, **body) -> dict:
    response = client.post("/v1/auth", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def root_api(root) -> dict:
    """Headers of a live root API session."""
    data = api_login(Client(), email=root.email, password=ROOT_PASSWORD)
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


@pytest.fixture
def alice_api(alice) -> dict:
    data = api_login(
        Client(), operatorId=alice.operator_id, userName="alice", password=SAM_PASSWORD
    )
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


@pytest.fixture
def outsider_api(outsider) -> dict:
    data = api_login(Client(), email=outsider.email, password=OUTSIDER_PASSWORD)
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch):
    """Resolve destination host names from a table, never from the network (tests are offline).

    Tests about resolution itself take the `fake_dns` fixture (tests/security/fake_dns.py),
    which replaces this one with answers of their choosing.
    """
    monkeypatch.setattr(destinations, "_resolve", FakeDns().resolve)


@pytest.fixture(autouse=True)
def _audit_seals_inside_test_transactions(request, monkeypatch):
    """Seal audit entries at once in tests whose transaction never commits.

    On PostgreSQL an entry is sealed after its transaction commits (security/audit.py). A
    `db` test runs inside one transaction that is rolled back, so the seal it would get
    after the commit is given when the entry is written, as it is on SQLite. Tests with
    `transactional_db` (or a live server) commit, and get the real after-commit seal.
    """
    marker = request.node.get_closest_marker("django_db")
    committing = marker is not None and (
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    )
    if committing or {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    from security import audit

    monkeypatch.setattr(
        audit,
        "_seal_after_commit",
        lambda chain, using, entry: audit.seal(chain, using=using, track=[entry]),
    )


# --- installation staff (security/staff.py): one persona per role -------------------------

SUPPORT_PASSWORD = "support-Password-3456"
ADMIN_PASSWORD = "admin-Password-7890"


@pytest.fixture
def helpdesk(db) -> Principal:
    """A member of the support staff."""
    return Principal.objects.create_staff("helpdesk", SUPPORT_PASSWORD, Principal.StaffRole.SUPPORT)


@pytest.fixture
def ops_admin(db) -> Principal:
    """An installation administrator (what `createsuperuser` makes)."""
    return Principal.objects.create_staff("ops-admin", ADMIN_PASSWORD, Principal.StaffRole.ADMIN)


@pytest.fixture
def helpdesk_client(helpdesk) -> Client:
    client = Client()
    client.force_login(helpdesk, backend="accounts.backends.StaffBackend")
    return client


@pytest.fixture
def ops_admin_client(ops_admin) -> Client:
    client = Client()
    client.force_login(ops_admin, backend="accounts.backends.StaffBackend")
    return client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed  # the canary fixture's teardown reads it
    return report


@pytest.fixture
def canary(request, capfd, monkeypatch, db):
    """The canary scanner (tests/canary.py): plant secrets, run a flow, `assert_nowhere()`."""
    scanner = Canary(capfd)
    scanner.start(monkeypatch)
    yield scanner
    scanner.stop()
    if scanner.planted and not scanner.scanned and not getattr(request.node, "call_failed", 1):
        pytest.fail("a canary was planted but never scanned: call canary.assert_nowhere()")
