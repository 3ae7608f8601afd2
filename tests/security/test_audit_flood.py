"""Nobody can flood a tenant's audit chain without signing in: failures are bounded, not lost."""

import secrets
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from accounts import throttle
from accounts.models import Operator, Principal
from security import authkeys, failures
from security.models import AuditEntry, AuditFailureWindow
from tests.conftest import SAM_PASSWORD

pytestmark = pytest.mark.django_db

PER_IP = 5
LONG_AGENT = "Mozilla/5.0 " + "x" * 2000


@pytest.fixture(autouse=True)
def limits(settings, monkeypatch):
    settings.LATCHKEY_THROTTLE_PER_IP = PER_IP
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 50
    # The middle of a throttle window, so that no test straddles the end of one by chance.
    start, end = throttle.window_bounds()
    monkeypatch.setattr(throttle, "_now", lambda: start + (end - start) / 2)


def _api_attempt(operator_id: str, user_name: str, agent: str = "flood/1.0"):
    return Client(HTTP_USER_AGENT=agent).post(
        "/v1/auth",
        {"operatorId": operator_id, "userName": user_name, "password": "wrong-Password-1"},
        content_type="application/json",
    )


def _chain(operator: Operator) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(chain=operator.pk).order_by("seq"))


def _next_window(monkeypatch) -> None:
    later = throttle._now() + timedelta(seconds=throttle._window())
    monkeypatch.setattr(throttle, "_now", lambda: later)


def _summaries(entries: list[AuditEntry]) -> list[dict]:
    return [e.details["throttledSummary"] for e in entries if "throttledSummary" in e.details]


def test_it_bounds_the_entries_one_address_writes_through_the_api(operator, monkeypatch):
    statuses = [_api_attempt(operator.pk, f"guess-{n}").status_code for n in range(60)]
    assert statuses.count(401) == PER_IP
    assert statuses.count(429) == 60 - PER_IP
    entries = _chain(operator)
    assert len(entries) == PER_IP + 1  # every checked guess, then the first throttled one
    assert [e.details["throttled"] for e in entries] == [False] * PER_IP + [True]
    assert entries[-1].details["aggregated"]["bucket"] == "ip"


def test_it_records_the_count_when_the_window_rolls(operator, monkeypatch):
    for n in range(60):
        _api_attempt(operator.pk, f"guess-{n}")
    throttled = _chain(operator)[-1]
    _next_window(monkeypatch)
    _api_attempt(operator.pk, "after-the-window")
    (summary,) = _summaries(_chain(operator))
    assert summary["attempts"] == 60 - PER_IP
    assert summary["firstSeq"] == throttled.seq
    assert summary["bucket"] == "ip"
    assert not AuditFailureWindow.objects.exists()


def test_it_shows_the_count_on_the_audit_tab(operator, root_client, monkeypatch):
    for n in range(20):
        _api_attempt(operator.pk, f"guess-{n}")
    _next_window(monkeypatch)
    _api_attempt(operator.pk, "after-the-window")
    page = root_client.get("/security/audit/", {"action": "Auth:auth"})
    assert b"throttledSummary" in page.content
    assert b"&quot;attempts&quot;: 15" in page.content


def test_it_records_the_count_from_the_checkpoint_command(operator, monkeypatch):
    for n in range(10):
        _api_attempt(operator.pk, f"guess-{n}")
    _next_window(monkeypatch)
    call_command("audit_checkpoint", stdout=StringIO())
    assert _summaries(_chain(operator))[0]["attempts"] == 10 - PER_IP


def test_it_writes_one_summary_per_window_whoever_flushes(operator, monkeypatch):
    for n in range(10):
        _api_attempt(operator.pk, f"guess-{n}")
    _next_window(monkeypatch)
    assert failures.flush() == 1
    assert failures.flush() == 0
    assert len(_summaries(_chain(operator))) == 1


def test_it_bounds_malformed_secrets_sent_for_a_known_key(root, operator):
    key, _ = authkeys.generate(None, root, root)
    typo = "secret-" + "A" * 64  # the checksum is wrong: refused before any look-up
    for _ in range(50):
        response = Client().post(
            "/v1/auth", {"authKeyId": key.key_id, "authKey": typo}, content_type="application/json"
        )
        assert response.status_code == 401
    entries = [e for e in _chain(operator) if e.action == "Auth:auth"]
    assert len(entries) == 1
    assert entries[0].details["aggregated"]["bucket"] == "malformed"
    assert AuditFailureWindow.objects.get(chain=operator.pk).attempts == 50


def test_it_still_records_each_wrong_secret_of_a_known_key(root, operator):
    key, _ = authkeys.generate(None, root, root)
    for _ in range(2):
        Client().post(
            "/v1/auth",
            {"authKeyId": key.key_id, "authKey": authkeys.new_secret()},
            content_type="application/json",
        )
    entries = [e for e in _chain(operator) if e.action == "Auth:auth"]
    assert len(entries) == 2
    assert all("aggregated" not in e.details for e in entries)


def test_it_bounds_the_console_sign_in_flood(operator, monkeypatch):
    client = Client(HTTP_USER_AGENT=LONG_AGENT)
    for n in range(40):
        client.post(
            "/login/",
            {
                "mode": "sam",
                "sam-operator_id": operator.pk,
                "sam-user_name": f"guess-{n}",
                "sam-password": "wrong-Password-1",
            },
        )
    entries = _chain(operator)
    assert len(entries) == PER_IP + 1
    assert {e.action for e in entries} == {"Console:signIn"}
    _next_window(monkeypatch)
    failures.flush()
    assert _summaries(_chain(operator))[0]["attempts"] == 40 - PER_IP


def test_it_caps_the_user_name_and_the_user_agent(operator):
    _api_attempt(operator.pk, "n" * 1000, agent=LONG_AGENT)
    (entry,) = _chain(operator)
    assert len(entry.target) == failures.MAX_TARGET
    assert len(entry.user_agent) == failures.MAX_USER_AGENT
    assert entry.details["truncated"] is True


def test_it_keeps_short_values_whole(operator):
    _api_attempt(operator.pk, "alice", agent="curl/8.0")
    (entry,) = _chain(operator)
    assert (entry.target, entry.user_agent) == ("alice", "curl/8.0")
    assert "truncated" not in entry.details


def test_it_bounds_the_installation_chain_too(db):
    for n in range(30):
        _api_attempt("OP0000000000", f"ghost-{n}")
    assert AuditEntry.objects.filter(chain="").count() == PER_IP + 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (real threads)")
@pytest.mark.django_db(transaction=True)
def test_it_accounts_for_every_attempt_of_a_concurrent_flood():
    operator = Operator.create()
    Principal.objects.create_root(operator, "flood@example.com", "x-Password-123456")
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def flood(n: int) -> None:
        try:
            barrier.wait()
            for i in range(15):
                _api_attempt(operator.pk, f"g{n}-{i}-{secrets.token_hex(2)}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = _chain(operator)
    first_throttled = [e for e in entries if e.details.get("throttled")]
    checked = [e for e in entries if not e.details.get("throttled")]
    assert len(first_throttled) == 1  # one per refusing bucket and window, however many raced
    counted = AuditFailureWindow.objects.get(chain=operator.pk).attempts
    assert len(checked) + counted == 8 * 15  # every attempt is either recorded or counted


def test_it_bounds_the_entries_one_principals_refused_calls_write(alice, operator):
    # A SAM user allowed nothing (a leaked low-privilege AuthKey will do) repeats a call it
    # may not make: every 403 appends an entry to the tenant's chain, locking its head, at
    # request rate, forever. Anonymous failures are counted per window (security/failures);
    # refused calls of one principal should be too (the first in full, then a count).
    session = Client().post(
        "/v1/auth",
        {"operatorId": operator.pk, "userName": "alice", "password": SAM_PASSWORD},
        content_type="application/json",
    )
    headers = {
        "HTTP_X_SORACOM_API_KEY": session.json()["apiKey"],
        "HTTP_X_SORACOM_TOKEN": session.json()["token"],
    }
    client = Client()
    for _ in range(150):
        assert client.get(f"/v1/operators/{operator.pk}/users", **headers).status_code == 403
    denied = AuditEntry.objects.filter(operator=operator, outcome=AuditEntry.Outcome.DENIED)
    assert denied.count() <= 102, f"{denied.count()} entries from one principal in one window"
