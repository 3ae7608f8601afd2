"""Roles under real concurrency (PostgreSQL): a role is never deleted while attached, and
every change bumps the policy version exactly once."""

import json
import threading

import pytest
from django.db import connection, connections

from accounts.models import Operator, Principal, Role, RoleAttachment
from security import roles

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL) for row locks"
    ),
]

DOC = json.dumps({"statements": [{"effect": "allow", "api": "User:*"}]})


def _in_threads(*jobs) -> list[object]:
    outcomes: list[object] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(index, job):
        try:
            barrier.wait()
            outcomes[index] = job()
        except BaseException as exc:  # recorded; every caller asserts on it
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_it_never_deletes_a_role_while_a_concurrent_attach_lands(db):
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "root@race.example", "root-Pw-123456")
    users = [Principal.objects.create_sam_user(operator, f"u{i}") for i in range(6)]
    for _ in range(5):
        role = roles.create_role(None, root, "contended", DOC)
        jobs = [lambda u=u: roles.attach_role(None, root, u, role) for u in users]
        jobs.append(lambda: roles.delete_role(None, root, role))
        outcomes = _in_threads(*jobs)
        expected = (type(None), roles.AttachRefused, roles.RoleInUse)
        assert all(isinstance(o, expected) for o in outcomes), outcomes
        if Role.objects.filter(pk=role.pk).exists():
            assert isinstance(outcomes[-1], roles.RoleInUse)
            RoleAttachment.objects.filter(role=role).delete()
            Role.objects.filter(pk=role.pk).delete()
        else:
            assert not RoleAttachment.objects.filter(role_id=role.pk).exists()


def test_it_bumps_the_policy_version_once_per_concurrent_change(db):
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "root@bump.example", "root-Pw-123456")
    users = [Principal.objects.create_sam_user(operator, f"v{i}") for i in range(8)]
    before = Operator.objects.get(pk=operator.pk).policy_version
    outcomes = _in_threads(
        *[lambda u=u: roles.set_inline_permission(None, root, u, DOC) for u in users]
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, failures  # a thread that raised must fail the test, not vanish
    assert Operator.objects.get(pk=operator.pk).policy_version == before + len(users)
    saved = Principal.objects.filter(pk__in=[u.pk for u in users], inline_permission=DOC)
    assert saved.count() == len(users)


def test_concurrent_attaches_never_take_a_user_past_the_role_cap(db):
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "root@cap.example", "root-Pw-123456")
    user = Principal.objects.create_sam_user(operator, "capped")
    for i in range(roles.MAX_ROLES_PER_USER - 1):
        roles.attach_role(None, root, user, roles.create_role(None, root, f"held-{i}", DOC))
    contenders = [roles.create_role(None, root, f"late-{i}", DOC) for i in range(4)]
    outcomes = _in_threads(
        *[lambda r=r: roles.attach_role(None, root, user, r) for r in contenders]
    )
    assert sum(o is None for o in outcomes) == 1, outcomes
    assert all(o is None or isinstance(o, roles.AttachRefused) for o in outcomes), outcomes
    assert RoleAttachment.objects.filter(principal=user).count() == roles.MAX_ROLES_PER_USER
