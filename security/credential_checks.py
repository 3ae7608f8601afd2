"""Deploy checks for credential sets: every master key a record needs is still configured.

A master key removed from LATCHKEY_MASTER_KEYS while records are still wrapped by it makes
those records unreadable for good (nothing else holds the key). `manage.py check --deploy`
therefore asks the database which key IDs still wrap records and fails, naming each
missing key, before such a configuration is rolled out.
"""

from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError, connection

from security import credential_rotation
from security.models import CredentialSet


@register(Tags.security, deploy=True)
def check_master_keys_cover_records(app_configs=None, **kwargs) -> list:
    """Return an error naming each master key that records need and that is not configured."""
    try:
        if CredentialSet._meta.db_table not in connection.introspection.table_names():
            return []  # not migrated yet: no record can need a key
        missing = credential_rotation.missing_master_keys()
    except DatabaseError as exc:
        return [
            Warning(
                "Could not check that LATCHKEY_MASTER_KEYS still holds every master key the "
                f"credential sets need: the database did not answer ({exc.__class__.__name__}).",
                hint="Run manage.py check --deploy again once the database is reachable.",
                id="latchkey_credentials.W001",
            )
        ]
    if not missing:
        return []
    listed = ", ".join(f"{key_id} ({n} records)" for key_id, n in sorted(missing.items()))
    return [
        Error(
            "Credential sets are wrapped by master keys that LATCHKEY_MASTER_KEYS no longer "
            f"holds: {listed}. Those records cannot be read or rotated.",
            hint=(
                "Put each key back into LATCHKEY_MASTER_KEYS after the newest, run "
                "manage.py rotate_master_key, and retire a key only once "
                "manage.py rotate_master_key --check shows it wraps 0 records."
            ),
            id="latchkey_credentials.E001",
        )
    ]
