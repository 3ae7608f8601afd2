"""Tombstone AuthKeys past their expiry (reason "expired") or a roll's scheduled revocation
(reason "rolled"), and end their sessions: run it from cron, e.g. every minute."""

from django.core.management.base import BaseCommand

from security import authkeys


class Command(BaseCommand):
    help = (
        "Revoke every live AuthKey past its expiry or its scheduled revocation (a roll), "
        "ending its sessions. Exchanges refuse such keys from the exact second anyway and "
        "tombstone them on use; this command does it for keys nobody uses. Idempotent: safe "
        "to run from cron on several hosts at once."
    )

    def handle(self, *args: object, **options: object) -> None:
        count = authkeys.lapse_due()
        self.stdout.write(f"{count} AuthKey{'' if count == 1 else 's'} lapsed.")
