"""Check the audit trail's hash chains and name the first broken entry of each."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from security import audit


class Command(BaseCommand):
    help = "Verify the audit hash chains (all operators, or one with --operator)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--operator", help="Operator ID (OP...) whose chain to check.")
        parser.add_argument(
            "--installation",
            action="store_true",
            help="Check only the installation-level chain (entries without an operator).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["operator"]:
            chains = [str(options["operator"])]
        elif options["installation"]:
            chains = [audit.INSTALLATION_CHAIN]
        else:
            chains = audit.chains()
        breaks = []
        total = 0
        for chain in chains:
            checked, broken = audit.verify_chain(chain)
            total += checked
            if broken is not None:
                breaks.append(broken)
                self.stderr.write(f"BROKEN {broken}")
            else:
                self.stdout.write(f"ok {chain or '(installation)'}: {checked} entries")
        if breaks:
            raise CommandError(f"{len(breaks)} of {len(chains)} audit chain(s) failed to verify.")
        self.stdout.write(f"All {len(chains)} chain(s) verified, {total} entries.")
