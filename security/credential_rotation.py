"""Master-key rotation: which keys the records use, and re-wrapping one record's data key."""

import logging

from django.db import transaction
from django.db.models import Count

from security import crypto
from security.credential_sealing import CredentialUnavailable, record_aad
from security.models import CredentialSet

log = logging.getLogger("latchkey.credentials")


def master_key_usage() -> dict[str, int]:
    """Return {master key ID: number of credential sets whose data key it wraps}."""
    rows = CredentialSet.objects.values_list("master_key_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def rewrap_record(pk: int) -> bool:
    """Re-wrap one record's data key under the newest master key, in its own transaction.

    Return False when there was nothing to do (already on the newest key, or deleted).
    Raise CredentialUnavailable when the record does not authenticate.
    """
    newest = crypto.newest_master_key().key_id
    with transaction.atomic():
        cs = (
            CredentialSet.objects.select_for_update()
            .filter(pk=pk)
            .exclude(master_key_id=newest)
            .first()
        )
        if cs is None:
            return False
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
        CredentialSet.objects.filter(pk=pk).update(
            wrapped_key=fresh.wrapped_key, master_key_id=fresh.master_key_id
        )
    return True
