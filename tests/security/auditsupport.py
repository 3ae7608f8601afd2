"""Helpers of the audit tests: change rows behind the application's back, as a DBA could."""

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from security import audit
from security.models import AuditChainHead, AuditEntry


def raw(sql: str, params: list) -> None:
    """Run SQL with the append-only trigger switched off (a superuser can; a forger might)."""
    with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL needs a transaction
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def age(entry: AuditEntry, days: int) -> None:
    raw(
        "UPDATE security_auditentry SET at = %s WHERE id = %s",
        [timezone.now() - timedelta(days=days), entry.pk],
    )


def reseal(chain: str) -> None:
    """Recompute hashes after changing entries in a test (what only a pepper holder can do)."""
    prev = ""
    for entry in AuditEntry.objects.filter(chain=chain).order_by("seq"):
        entry.prev_hash = prev
        entry.entry_hash = audit.entry_digest(entry)
        raw(
            "UPDATE security_auditentry SET prev_hash = %s, entry_hash = %s, key_fp = %s "
            "WHERE id = %s",
            [prev, entry.entry_hash, entry.key_fp, entry.pk],
        )
        prev = entry.entry_hash
    AuditChainHead.objects.filter(pk=chain).update(last_hash=prev)
