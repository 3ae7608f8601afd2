"""Master-key rotation: which keys the records use, and re-wrapping data keys batch by batch.

Each batch is one transaction that locks its rows, re-wraps their data keys under the
newest master key and writes one installation audit entry naming every row it re-wrapped
(and every row that did not authenticate). The entry commits with the rows or not at all,
so however a run ends (Ctrl-C, a crash, a lost connection) the audit trail says exactly
which records were re-wrapped; a later run resumes with the rows still on older keys.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count

from security import audit, crypto
from security.credential_sealing import CredentialUnavailable, record_aad
from security.models import CredentialSet

log = logging.getLogger("latchkey.credentials")

# One audit entry lists at most 50 items (security/audit.py keeps lists that short), so a
# batch is never larger: every re-wrapped row is named.
MAX_BATCH = 50
AUDIT_ACTION = "Installation:rotateMasterKey"


@dataclass
class BatchResult:
    rewrapped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def master_key_usage() -> dict[str, int]:
    """Return {master key ID: number of credential sets whose data key it wraps}."""
    rows = CredentialSet.objects.values_list("master_key_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def missing_master_keys() -> dict[str, int]:
    """Return {master key ID: records it wraps} for the IDs that are not configured."""
    configured = {key.key_id for key in crypto.master_keys()}
    return {key_id: n for key_id, n in master_key_usage().items() if key_id not in configured}


def pending_rows() -> list[int]:
    """Return the row IDs of the records not yet wrapped by the newest master key."""
    newest = crypto.newest_master_key().key_id
    rows = CredentialSet.objects.exclude(master_key_id=newest).order_by("pk")
    return list(rows.values_list("pk", flat=True))


def _rewrap(cs: CredentialSet, newest: str) -> None:
    sealed = crypto.Sealed(bytes(cs.ciphertext), bytes(cs.wrapped_key), cs.master_key_id)
    try:
        fresh = crypto.rewrap(sealed, record_aad(cs.operator_id, cs.credentials_id, cs.type))
    except (crypto.DecryptionError, crypto.MasterKeyError) as exc:
        log.error(
            "credential set %s/%s (row %s) cannot be re-wrapped: %s",
            cs.operator_id,
            cs.credentials_id,
            cs.pk,
            exc.__class__.__name__,
        )
        raise CredentialUnavailable(f"row {cs.pk} does not authenticate") from None
    # update(): the record's content and updated_at do not change, only its wrapping.
    CredentialSet.objects.filter(pk=cs.pk).update(
        wrapped_key=fresh.wrapped_key, master_key_id=newest
    )


def rewrap_batch(pks: list[int]) -> BatchResult:
    """Re-wrap these rows (at most MAX_BATCH) and audit them, all in one transaction.

    Rows already on the newest key or deleted meanwhile are skipped; a row that does not
    authenticate is left as it was and named in the entry's `failedRows`.
    """
    if len(pks) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} rows")
    newest = crypto.newest_master_key().key_id
    result = BatchResult()
    with transaction.atomic():
        rows = list(
            CredentialSet.objects.select_for_update()
            .filter(pk__in=pks)
            .exclude(master_key_id=newest)
            .order_by("pk")
        )
        previous = Counter(cs.master_key_id for cs in rows)
        for cs in rows:
            try:
                _rewrap(cs, newest)
            except CredentialUnavailable:
                result.failed.append(cs.pk)
            else:
                result.rewrapped.append(cs.pk)
        if rows:
            audit.record(
                None,
                AUDIT_ACTION,
                operator=None,
                details={
                    "newestKeyId": newest,
                    "previousKeyIds": dict(sorted(previous.items())),
                    "rewrappedRows": result.rewrapped,
                    "failedRows": result.failed,
                },
            )
    return result
