"""Set one operator's credential-set quota (installation administrators only)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Operator
from security import audit

MAX_QUOTA = 100_000


class Command(BaseCommand):
    help = "Raise or lower one operator's quota: setquota OP0012345678 --credentials 200"

    def add_arguments(self, parser) -> None:
        parser.add_argument("operator_id")
        parser.add_argument(
            "--credentials",
            type=int,
            required=True,
            help=f"The most credential sets the operator may hold (0-{MAX_QUOTA}).",
        )

    def handle(self, *args, operator_id: str, credentials: int, **options) -> None:
        if not 0 <= credentials <= MAX_QUOTA:
            raise CommandError(f"--credentials must be between 0 and {MAX_QUOTA}.")
        operator = Operator.objects.filter(pk=operator_id).first()
        if operator is None:
            raise CommandError(f"No operator {operator_id}.")
        before = operator.credential_quota
        Operator.objects.filter(pk=operator.pk).update(credential_quota=credentials)
        audit.record(
            None,
            "Installation:setQuota",
            operator=operator,
            target=operator.pk,
            details={"credentials": {"from": before, "to": credentials}},
        )
        self.stdout.write(f"{operator.pk}: credential sets quota {before} -> {credentials}.")
