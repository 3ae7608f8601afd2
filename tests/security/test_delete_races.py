"""Deleting a user while something is created for it, on PostgreSQL (issue 9 item 10).

Foreign keys are checked at commit on PostgreSQL, so an AuthKey generated (or an API
session opened, or a role attached) while its user was being deleted failed at commit with
an IntegrityError: a 500. Each side now locks the user's row first (accounts/rowlocks.py):
whoever comes second either finds the user gone (404, or a failed sign-in) or has what the
first committed ended by the delete. Real threads, each with its own connection; the
forced orders pause one side inside its transaction until the other is waiting for it.
"""

import threading
import time
from collections.abc import Callable
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from accounts import apisessions
from accounts.models import ApiSession, Principal, Role, RoleAttachment
from security import authkeys
from security.models import AuthKey
from tests.api.harness import call

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): foreign keys checked at commit, row locks",
    ),
    pytest.mark.django_db(transaction=True),
]

VICTIM_PASSWORD = "victim-Password-2468"


@pytest.fixture
def victim(operator) -> Principal:
    user = Principal.objects.create_sam_user(operator, "victim")
    user.set_password(VICTIM_PASSWORD)
    user.save()
    return user


def _thread(work: Callable[[], object], results: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            results[name] = work()
        except Exception as exc:  # asserted on by the test
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class Pause:
    """Wrap a function so that its first call waits (inside its caller's transaction)."""

    def __init__(self, target: Callable) -> None:
        self.target, self.reached, self.go = target, threading.Event(), threading.Event()
        self.first = True
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            first, self.first = self.first, False
        if first:
            self.reached.set()
            assert self.go.wait(30), "the paused side was never released"
        return self.target(*args, **kwargs)


def _waiting_for_a_lock(seconds: float = 10) -> bool:
    """Return once another connection is blocked on a row lock (True), or time out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


def _generate(root_api, operator) -> Callable[[], int]:
    path = f"/v1/operators/{operator.pk}/users/victim/auth_keys"
    return lambda: call("POST", path, root_api).status_code


def _delete(root_api, operator) -> Callable[[], int]:
    path = f"/v1/operators/{operator.pk}/users/victim"
    return lambda: call("DELETE", path, root_api).status_code


def _no_orphans() -> None:
    assert not Principal.objects.filter(user_name="victim").exists()
    assert not AuthKey.objects.filter(principal__isnull=True, slot__isnull=False).exists()


def test_it_answers_404_to_a_generate_that_waits_for_a_delete(root_api, operator, victim):
    pause = Pause(apisessions.revoke_for_principal)
    results: dict = {}
    with mock.patch("security.users.apisessions.revoke_for_principal", pause):
        deleting = _thread(_delete(root_api, operator), results, "delete")
        assert pause.reached.wait(10)  # the delete holds the user's row
        generating = _thread(_generate(root_api, operator), results, "generate")
        assert _waiting_for_a_lock()
        pause.go.set()
        deleting.join(30)
        generating.join(30)
    assert results == {"delete": 204, "generate": 404}
    _no_orphans()
    assert not AuthKey.objects.filter(operator=operator, holder="victim").exists()


def test_it_revokes_a_key_generated_just_before_the_delete(root_api, operator, victim):
    pause = Pause(authkeys.new_secret)
    results: dict = {}
    with mock.patch("security.authkeys.new_secret", pause):
        generating = _thread(_generate(root_api, operator), results, "generate")
        assert pause.reached.wait(10)  # the generate holds the user's row
        deleting = _thread(_delete(root_api, operator), results, "delete")
        assert _waiting_for_a_lock()
        pause.go.set()
        generating.join(30)
        deleting.join(30)
    assert results == {"generate": 200, "delete": 204}
    _no_orphans()
    tombstone = AuthKey.objects.get(operator=operator, holder="victim")
    assert tombstone.slot is None
    assert tombstone.revoke_reason == "The user was deleted."


def test_it_refuses_a_sign_in_that_waits_for_a_delete(root_api, operator, victim):
    pause = Pause(apisessions.revoke_for_principal)
    results: dict = {}
    body = {"operatorId": operator.pk, "userName": "victim", "password": VICTIM_PASSWORD}

    def sign_in() -> int:
        return Client().post("/v1/auth", body, content_type="application/json").status_code

    with mock.patch("security.users.apisessions.revoke_for_principal", pause):
        deleting = _thread(_delete(root_api, operator), results, "delete")
        assert pause.reached.wait(10)
        signing_in = _thread(sign_in, results, "sign-in")
        assert _waiting_for_a_lock()
        pause.go.set()
        deleting.join(30)
        signing_in.join(30)
    assert results == {"delete": 204, "sign-in": 401}
    _no_orphans()
    assert not ApiSession.objects.filter(principal__user_name="victim").exists()


def test_it_refuses_an_attach_that_waits_for_a_delete(root_api, operator, victim, root):
    Role.objects.create(operator=operator, role_id="reader", permission='{"statements":[]}')
    pause = Pause(apisessions.revoke_for_principal)
    results: dict = {}
    path = f"/v1/operators/{operator.pk}/users/victim/roles"

    def attach() -> int:
        return call("POST", path, root_api, {"roleId": "reader"}).status_code

    with mock.patch("security.users.apisessions.revoke_for_principal", pause):
        deleting = _thread(_delete(root_api, operator), results, "delete")
        assert pause.reached.wait(10)
        attaching = _thread(attach, results, "attach")
        assert _waiting_for_a_lock()
        pause.go.set()
        deleting.join(30)
        attaching.join(30)
    assert results["delete"] == 204
    assert results["attach"] in (400, 404)
    assert not RoleAttachment.objects.exists()


ROUNDS = 8


def test_it_never_answers_500_when_deletes_and_creates_race(root_api, operator, root):
    """Unforced: released together, round after round, whatever order the database picks."""
    statuses: list[tuple] = []
    for _ in range(ROUNDS):
        user = Principal.objects.create_sam_user(operator, "victim")
        user.set_password(VICTIM_PASSWORD)
        user.save()
        barrier = threading.Barrier(3)
        results: dict = {}
        body = {"operatorId": operator.pk, "userName": "victim", "password": VICTIM_PASSWORD}

        def sign_in(body: dict = body) -> int:
            return Client().post("/v1/auth", body, content_type="application/json").status_code

        work = {
            "delete": _delete(root_api, operator),
            "generate": _generate(root_api, operator),
            "sign-in": sign_in,
        }
        threads = [
            _thread(lambda w=w: (barrier.wait(), w())[1], results, name) for name, w in work.items()
        ]
        for thread in threads:
            thread.join(60)
        statuses.append(tuple(sorted(results.items())))
        assert results["delete"] == 204, results
        assert results["generate"] in (200, 404), results
        assert results["sign-in"] in (200, 401), results
        _no_orphans()
        assert not ApiSession.objects.filter(
            principal__user_name="victim", revoked_at__isnull=True
        ).exists()
