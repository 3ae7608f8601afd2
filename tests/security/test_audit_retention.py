"""Retention pruning: whole prefixes per chain, recorded in the chain, still verifiable."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from security import audit
from security.models import AuditChainHead, AuditEntry
from tests.security.auditsupport import age, reseal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("audit_prune_role")]


@pytest.fixture
def aged(operator, root):
    """Five entries: the first three 400 days old (re-sealed so the chain still verifies)."""
    entries = []
    for n in range(5):
        entries.append(
            audit.record(None, "User:updateUser", operator=operator, principal=root, target=f"u{n}")
        )
    return entries


def _prepare(aged, operator):
    for entry in aged[:3]:
        age(entry, 400)
    reseal(operator.pk)
    assert audit.verify_chain(operator.pk)[1] is None


def test_it_removes_the_old_prefix_only(aged, operator):
    _prepare(aged, operator)
    removed = audit.prune_chain(operator.pk, timezone.now() - timedelta(days=365))
    assert removed == 3
    kept = AuditEntry.objects.filter(chain=operator.pk).exclude(action=audit.PRUNE_ACTION)
    assert sorted(kept.values_list("seq", flat=True)) == [4, 5]


def test_it_records_the_prune_in_the_chain(aged, operator):
    _prepare(aged, operator)
    audit.prune_chain(operator.pk, timezone.now() - timedelta(days=365))
    entry = AuditEntry.objects.get(chain=operator.pk, action=audit.PRUNE_ACTION)
    assert entry.details["throughSeq"] == 3
    assert entry.details["removed"] == 3
    assert entry.seq == 6


def test_it_still_verifies_after_a_prune(aged, operator):
    _prepare(aged, operator)
    audit.prune_chain(operator.pk, timezone.now() - timedelta(days=365))
    assert audit.verify_chain(operator.pk) == (3, None)


def test_it_detects_a_prefix_deleted_without_a_prune(aged, operator):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "DELETE FROM security_auditentry WHERE chain = %s AND seq <= 2", [operator.pk]
        )
    AuditChainHead.objects.filter(pk=operator.pk).update(
        pruned_through_seq=2, pruned_through_hash=aged[1].entry_hash
    )
    _, broken = audit.verify_chain(operator.pk)
    assert "no prune entry" in broken.reason


def test_it_prunes_nothing_when_retention_is_unlimited(aged, operator, settings):
    settings.LATCHKEY_AUDIT_RETENTION_DAYS = 0
    out = StringIO()
    call_command("prune_audit", stdout=out)
    assert "nothing pruned" in out.getvalue()
    assert AuditEntry.objects.filter(chain=operator.pk).count() == 5


def test_it_prunes_from_the_command(aged, operator, settings):
    _prepare(aged, operator)
    settings.LATCHKEY_AUDIT_RETENTION_DAYS = 365
    out = StringIO()
    call_command("prune_audit", stdout=out)
    assert "Pruned 3 entries" in out.getvalue()
    call_command("verify_audit", stdout=StringIO())
