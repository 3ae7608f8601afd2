"""Re-wrap every credential set's data key under the newest master key (resumable)."""

from django.core.management.base import BaseCommand, CommandError

from security import credential_rotation, crypto, mfa


def _usage() -> dict[str, int]:
    """Records per master key: credential sets and TOTP secrets (security/mfa.py)."""
    usage = dict(credential_rotation.master_key_usage())
    for key_id, n in mfa.master_key_usage().items():
        usage[key_id] = usage.get(key_id, 0) + n
    return usage


class Command(BaseCommand):
    help = (
        "Re-wrap the data key of every credential set under the newest master key in "
        "LATCHKEY_MASTER_KEYS, in batches: each batch is one transaction with its own audit "
        "entry naming the rows it re-wrapped. Safe to interrupt and run again. Refuses to "
        "run while a record uses a master key that is no longer configured."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report which master keys the records use (exit 1 if one is missing).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=credential_rotation.MAX_BATCH,
            help=f"Records per transaction and audit entry (1-{credential_rotation.MAX_BATCH}).",
        )

    def handle(self, *args, check: bool = False, batch_size: int = 50, **options) -> None:
        if not 1 <= batch_size <= credential_rotation.MAX_BATCH:
            raise CommandError(f"--batch-size must be 1-{credential_rotation.MAX_BATCH}.")
        configured = [key.key_id for key in crypto.master_keys()]
        newest = configured[0]
        missing = {k: n for k, n in _usage().items() if k not in configured}
        if missing:
            listed = ", ".join(f"{key_id} ({n} records)" for key_id, n in sorted(missing.items()))
            raise CommandError(
                f"Records still use master keys that are not configured: {listed}. Put those "
                "keys back into LATCHKEY_MASTER_KEYS (after the newest) and run this command "
                "again before retiring them."
            )
        usage = _usage()
        for key_id in configured:
            role = "newest" if key_id == newest else "older"
            self.stdout.write(f"{key_id} ({role}): {usage.get(key_id, 0)} records")
        if check:
            return
        pending = credential_rotation.pending_rows()
        rewrapped, broken = 0, []
        for start in range(0, len(pending), batch_size):
            result = credential_rotation.rewrap_batch(pending[start : start + batch_size])
            rewrapped += len(result.rewrapped)
            broken += result.failed
        totp_done, totp_broken = mfa.rewrap_devices()
        rewrapped += totp_done
        broken += totp_broken
        self.stdout.write(f"Re-wrapped {rewrapped} records under {newest}.")
        if broken:
            raise CommandError(
                f"{len(broken)} records did not authenticate and were left as they were "
                f"(row IDs {', '.join(map(str, broken[:20]))}). See the log; their owners must "
                "register those secrets again."
            )
        left = {k: n for k, n in _usage().items() if k != newest}
        if not left:
            older = [k for k in configured if k != newest]
            if older:
                self.stdout.write(
                    f"No record uses {', '.join(older)} any more: they can be removed from "
                    "LATCHKEY_MASTER_KEYS."
                )
