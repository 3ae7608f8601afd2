"""Set one operator's credential-set quota (installation administrators only)."""

from django.core.management.base import BaseCommand, CommandError

from security import staff


class Command(BaseCommand):
    help = "Raise or lower one operator's quota: setquota OP0012345678 --credentials 200"

    def add_arguments(self, parser) -> None:
        parser.add_argument("operator_id")
        parser.add_argument(
            "--credentials",
            type=int,
            required=True,
            help=f"The most credential sets the operator may hold (0-{staff.MAX_QUOTA}).",
        )
        parser.add_argument("--reason", default="", help="Shown to the operator in its audit log.")

    def handle(self, *args, operator_id: str, credentials: int, reason: str, **options) -> None:
        if not 0 <= credentials <= staff.MAX_QUOTA:
            raise CommandError(f"--credentials must be between 0 and {staff.MAX_QUOTA}.")
        try:
            staff.set_credential_quota(None, None, operator_id, credentials, reason)
        except staff.NoSuchOperator as exc:
            raise CommandError(f"No operator {operator_id}.") from exc
        self.stdout.write(f"{operator_id}: credential sets quota set to {credentials}.")
