"""Remove audit entries older than the retention period, whole prefixes per chain."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from security import audit


class Command(BaseCommand):
    help = (
        "Prune audit entries older than LATCHKEY_AUDIT_RETENTION_DAYS (or --days). Each "
        "chain loses a whole oldest prefix, and the prune is itself recorded in the chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days (overrides the setting).")
        parser.add_argument("--operator", help="Prune only this operator's chain.")

    def handle(self, *args: object, **options: object) -> None:
        days = (
            options["days"]
            if options["days"] is not None
            else settings.LATCHKEY_AUDIT_RETENTION_DAYS
        )
        if not days:
            self.stdout.write(
                "Retention is unlimited (LATCHKEY_AUDIT_RETENTION_DAYS=0): nothing pruned."
            )
            return
        if days < 1:
            raise CommandError("--days must be at least 1.")
        before = timezone.now() - timedelta(days=days)
        chains = [str(options["operator"])] if options["operator"] else audit.chains()
        total = 0
        for chain in chains:
            removed = audit.prune_chain(chain, before)
            total += removed
            if removed:
                self.stdout.write(f"{chain or '(installation)'}: removed {removed} entries")
        self.stdout.write(f"Pruned {total} entries older than {before:%Y-%m-%d %H:%M} UTC.")
