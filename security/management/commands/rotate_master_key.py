"""Re-wrap every credential set's data key under the newest master key (resumable)."""

from django.core.management.base import BaseCommand, CommandError

from security import audit, credential_rotation, crypto
from security.models import CredentialSet


class Command(BaseCommand):
    help = (
        "Re-wrap the data key of every credential set under the newest master key in "
        "LATCHKEY_MASTER_KEYS, one record per transaction. Safe to interrupt and run again. "
        "Refuses to run while a record uses a master key that is no longer configured."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report which master keys the records use (exit 1 if one is missing).",
        )

    def handle(self, *args, check: bool = False, **options) -> None:
        configured = [key.key_id for key in crypto.master_keys()]
        newest = configured[0]
        usage = credential_rotation.master_key_usage()
        missing = {key_id: n for key_id, n in usage.items() if key_id not in configured}
        if missing:
            listed = ", ".join(f"{key_id} ({n} records)" for key_id, n in sorted(missing.items()))
            raise CommandError(
                f"Records still use master keys that are not configured: {listed}. Put those "
                "keys back into LATCHKEY_MASTER_KEYS (after the newest) and run this command "
                "again before retiring them."
            )
        for key_id in configured:
            role = "newest" if key_id == newest else "older"
            self.stdout.write(f"{key_id} ({role}): {usage.get(key_id, 0)} records")
        if check:
            return
        pending = list(
            CredentialSet.objects.exclude(master_key_id=newest)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        rewrapped, broken = 0, []
        for pk in pending:
            try:
                rewrapped += credential_rotation.rewrap_record(pk)
            except credential_rotation.CredentialUnavailable:
                broken.append(pk)
        audit.record(
            None,
            "Installation:rotateMasterKey",
            operator=None,
            details={"newestKeyId": newest, "rewrapped": rewrapped, "failed": len(broken)},
        )
        self.stdout.write(f"Re-wrapped {rewrapped} records under {newest}.")
        if broken:
            raise CommandError(
                f"{len(broken)} records did not authenticate and were left as they were "
                f"(row IDs {', '.join(map(str, broken[:20]))}). See the log; their owners must "
                "register those secrets again."
            )
        left = {k: n for k, n in credential_rotation.master_key_usage().items() if k != newest}
        if not left:
            older = [k for k in configured if k != newest]
            if older:
                self.stdout.write(
                    f"No record uses {', '.join(older)} any more: they can be removed from "
                    "LATCHKEY_MASTER_KEYS."
                )
