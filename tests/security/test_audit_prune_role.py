"""On PostgreSQL, only the pruning role deletes audit entries; the application's role cannot.

The application connects as an ordinary (non-superuser, non-owner) role with the usual
table grants, as docs/audit.md recommends; `prune_audit` connects through its own URL as a
member of the pruning role. Both run here as separate processes on the test database.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from accounts.models import Operator, Principal
from security import audit
from security.models import AuditEntry
from tests.security.auditsupport import age, reseal
from tests.security.pgroles import create_login_role, drop_login_role, ensure_prune_role

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL roles"),
    pytest.mark.django_db(transaction=True),
]


def _url(role: str) -> str:
    db = connection.settings_dict
    return f"postgres://{role}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def roles():
    """An application login role, and a prune login role that is a member of the pruning role."""
    with connection.cursor() as cursor:
        ensure_prune_role(cursor)
        app = create_login_role(cursor, "lk_test_app")
        pruner = create_login_role(cursor, "lk_test_prune", member_of=audit.PRUNE_ROLE)
    yield {"app": app, "pruner": pruner}
    with connection.cursor() as cursor:
        drop_login_role(cursor, app)
        drop_login_role(cursor, pruner)


@pytest.fixture
def chain():
    """Five entries of one operator, the first three 400 days old (re-sealed)."""
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "prune@example.com", "x-Password-123456")
    entries = [
        audit.record(None, "User:updateUser", operator=operator, principal=root, target=str(n))
        for n in range(5)
    ]
    for entry in entries[:3]:
        age(entry, 400)
    reseal(operator.pk)
    return operator.pk


def _as(role: str) -> psycopg.Connection:
    return psycopg.connect(_url(role), autocommit=False)


def _count(chain: str) -> int:
    return AuditEntry.objects.filter(chain=chain).count()


def test_it_ignores_the_old_session_switch_for_the_application_role(roles, chain):
    with _as(roles["app"]) as app, pytest.raises(psycopg.errors.RaiseException), app.cursor() as c:
        c.execute("SET LOCAL latchkey.audit_delete = 'on'")
        c.execute("DELETE FROM security_auditentry WHERE chain = %s", [chain])
    assert _count(chain) == 5


def test_it_refuses_the_application_role_an_update(roles, chain):
    with _as(roles["app"]) as app, pytest.raises(psycopg.errors.RaiseException), app.cursor() as c:
        c.execute("UPDATE security_auditentry SET target = 'x' WHERE chain = %s", [chain])
    assert not AuditEntry.objects.filter(chain=chain, target="x").exists()


def test_it_does_not_let_the_application_role_become_the_pruning_role(roles, chain):
    with (
        _as(roles["app"]) as app,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        app.cursor() as c,
    ):
        c.execute(f"SET ROLE {audit.PRUNE_ROLE}")


def test_it_does_not_let_the_application_role_disarm_the_trigger(roles, chain):
    with (
        _as(roles["app"]) as app,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        app.cursor() as c,
    ):
        c.execute("ALTER TABLE security_auditentry DISABLE TRIGGER USER")


def test_it_refuses_a_member_of_the_pruning_role_that_does_not_switch_to_it(roles, chain):
    # Membership alone is not enough: the DELETE must run as the role (prune_chain switches).
    with _as(roles["pruner"]) as p, pytest.raises(psycopg.errors.RaiseException), p.cursor() as c:
        c.execute("DELETE FROM security_auditentry WHERE chain = %s", [chain])
    assert _count(chain) == 5


def _prune(roles: dict, *, through_pruner: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=_url(roles["app"]))
    env.pop("LATCHKEY_AUDIT_PRUNE_DATABASE_URL", None)
    if through_pruner:
        env["LATCHKEY_AUDIT_PRUNE_DATABASE_URL"] = _url(roles["pruner"])
    return subprocess.run(
        [sys.executable, "manage.py", "prune_audit", "--days", "365"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_prunes_through_the_pruning_connection(roles, chain):
    result = _prune(roles, through_pruner=True)
    assert result.returncode == 0, result.stderr
    assert "Pruned 3 entries" in result.stdout
    kept = AuditEntry.objects.filter(chain=chain).order_by("seq")
    assert [e.seq for e in kept] == [4, 5, 6]
    assert kept.last().action == audit.PRUNE_ACTION
    assert audit.verify_chain(chain) == (3, None)


def test_it_refuses_to_prune_through_the_application_connection(roles, chain):
    result = _prune(roles, through_pruner=False)
    assert result.returncode != 0
    assert "LATCHKEY_AUDIT_PRUNE_DATABASE_URL" in result.stderr
    assert _count(chain) == 5
