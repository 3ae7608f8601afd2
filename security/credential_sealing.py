"""Sealing a credential set's fields into its row, and opening them again (crypto.py does AES).

The associated data names the record (operator, credentials ID, type), so that a sealed
blob copied to another row does not open. A record that does not open fails closed: the
installation log gets the reason, the caller a generic message.
"""

import json
import logging

from security import crypto
from security.credential_schemas import CleanFields, CredentialError
from security.models import CredentialSet

log = logging.getLogger("latchkey.credentials")


class CredentialUnavailable(CredentialError):
    """The stored record cannot be opened (tampered, moved, or its master key is missing)."""


def record_aad(operator_id: str, credentials_id: str, kind: str) -> bytes:
    return crypto.record_aad(operator_id, credentials_id, kind)


def seal_into(cs: CredentialSet, clean: CleanFields) -> None:
    """Seal validated fields into the row, with the certificate facts validation found."""
    plaintext = json.dumps(clean.values, separators=(",", ":"), sort_keys=True).encode()
    sealed = crypto.seal(plaintext, record_aad(cs.operator_id, cs.credentials_id, cs.type))
    cs.ciphertext, cs.wrapped_key, cs.master_key_id = (
        sealed.ciphertext,
        sealed.wrapped_key,
        sealed.master_key_id,
    )
    if clean.certificate is not None:
        cs.cert_subject = clean.certificate.subject
        cs.cert_expires_at = clean.certificate.expires_at
    else:
        cs.cert_subject, cs.cert_expires_at = "", None


def master_key_configured(cs: CredentialSet) -> bool:
    """Return whether the master key that wrapped the row is configured (nothing decrypted)."""
    return any(key.key_id == cs.master_key_id for key in crypto.master_keys())


def open_fields(cs: CredentialSet) -> dict[str, str]:
    """Return the row's fields, or raise CredentialUnavailable (the log says why)."""
    sealed = crypto.Sealed(bytes(cs.ciphertext), bytes(cs.wrapped_key), cs.master_key_id)
    try:
        plaintext = crypto.open_sealed(
            sealed, record_aad(cs.operator_id, cs.credentials_id, cs.type)
        )
        return json.loads(plaintext)
    except (crypto.DecryptionError, crypto.MasterKeyError, ValueError) as exc:
        # Internal detail for the installation's logs; the caller sees a generic error.
        log.error(
            "credential set %s/%s (row %s, master key %s) cannot be opened: %s",
            cs.operator_id,
            cs.credentials_id,
            cs.pk,
            cs.master_key_id,
            exc.__class__.__name__,
        )
        raise CredentialUnavailable(
            "This credential set cannot be read. Register its secrets again."
        ) from None
