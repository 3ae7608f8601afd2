"""Remove audit entries older than the retention period, whole prefixes per chain."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from security import audit, checkpoints


class Command(BaseCommand):
    help = (
        "Prune audit entries older than LATCHKEY_AUDIT_RETENTION_DAYS (or --days). Each "
        "chain loses a whole oldest prefix, and the prune is itself recorded in the chain. "
        "On PostgreSQL this connects through LATCHKEY_AUDIT_PRUNE_DATABASE_URL as a member "
        f"of the {audit.PRUNE_ROLE} role (--role-sql prints the SQL that creates it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days (overrides the setting).")
        parser.add_argument("--operator", help="Prune only this operator's chain.")
        parser.add_argument(
            "--role-sql",
            action="store_true",
            help="Print the SQL that creates the pruning role and its grants, and stop.",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["role_sql"]:
            for statement in audit.prune_role_sql():
                self.stdout.write(statement + ";")
            return
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
        using = audit.prune_database()
        total = 0
        for chain in chains:
            try:
                removed = audit.prune_chain(chain, before, using=using)
            except DatabaseError as exc:
                raise CommandError(
                    f"Pruning {chain or '(installation)'} was refused ({exc}). Only the "
                    f"{audit.PRUNE_ROLE} role may delete audit entries: set "
                    "LATCHKEY_AUDIT_PRUNE_DATABASE_URL to a login role that is a member of "
                    "it (prune_audit --role-sql)."
                ) from None
            total += removed
            if removed:
                self.stdout.write(f"{chain or '(installation)'}: removed {removed} entries")
        self.stdout.write(f"Pruned {total} entries older than {before:%Y-%m-%d %H:%M} UTC.")
        if total:
            # Auditors' older checkpoints now verify only as far as the prune; hand out a
            # fresh one (it also lands in the application log).
            checkpoints.for_installation()
            self.stdout.write("Wrote a signed checkpoint of every chain to the application log.")
