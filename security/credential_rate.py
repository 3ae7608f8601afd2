"""The per-principal limit on credential-set writes (LATCHKEY_CREDENTIAL_WRITES_PER_HOUR).

Every create, update and delete attempt counts, refused or not, because validating key
material is what costs CPU (keymaterial.py): a stream of invalid requests must be bounded
as much as a stream of valid ones. The attempt is counted before anything is parsed, in a
short transaction of its own that locks the principal's row, so concurrent requests of one
principal count one after the other and the limit holds on PostgreSQL (SQLite's IMMEDIATE
transactions serialize writers already). The rows are the counter, as AuthKey generation
counts its own rows (authkeys.py).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Principal
from security import audit
from security.credential_schemas import CredentialError
from security.models import AuditEntry, CredentialWrite

WINDOW = timedelta(hours=1)


class WriteRateLimited(CredentialError):
    """The principal attempted LATCHKEY_CREDENTIAL_WRITES_PER_HOUR writes in the last hour."""

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(
            f"Too many credential set changes by this user in the last hour (at most {limit}). "
            f"Try again in {retry_after} seconds."
        )
        self.retry_after = retry_after


def _now() -> datetime:
    return timezone.now()


def count_attempt(
    request: HttpRequest | None, actor: Principal, api: str, target: str, auth_key_id: str = ""
) -> None:
    """Count one write attempt by actor, or raise WriteRateLimited (and audit the refusal)."""
    limit = settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR
    now = _now()
    since = now - WINDOW
    with transaction.atomic():
        # NO KEY UPDATE: serializes this principal's attempts without blocking inserts of
        # rows that refer to the principal (its API sessions, for one).
        Principal.objects.select_for_update(no_key=True).filter(pk=actor.pk).first()
        recent = CredentialWrite.objects.filter(principal_id=actor.pk, at__gt=since)
        if recent.count() < limit:
            CredentialWrite.objects.filter(principal_id=actor.pk, at__lte=since).delete()
            CredentialWrite.objects.create(principal_id=actor.pk, at=now)
            return
        # The attempt that must leave the window before another one fits in it.
        ordered = recent.order_by("-at").values_list("at", flat=True)
        oldest = ordered[limit - 1] if limit > 0 else now  # a limit of 0 refuses every write
    retry_after = max(1, int((oldest - since).total_seconds()) + 1)
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        auth_key_id=auth_key_id,
        outcome=AuditEntry.Outcome.FAILED,
        target=target,
        details={"reason": "rate", "perHour": limit},
    )
    raise WriteRateLimited(retry_after, limit)
