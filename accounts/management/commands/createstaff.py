"""Create an installation staff account of one role: support staff or an administrator."""

import getpass
import sys

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Principal


class Command(BaseCommand):
    help = (
        "Create a staff account: --role support (revokes AuthKeys at /staff/, sees an account "
        "only under its root's grant) or --role admin (quotas and staff accounts at /admin/)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("handle", help="The sign-in name (letters, digits, - _ . @).")
        parser.add_argument("--role", required=True, choices=Principal.StaffRole.values)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of stdin.",
        )

    def handle(self, *args, handle: str, role: str, password_stdin: bool, **options) -> None:
        if Principal.objects.filter(handle=handle).exists():
            raise CommandError(f"A staff account {handle} already exists.")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Repeat: "):
                raise CommandError("The passwords differ.")
        try:
            password_validation.validate_password(password)
            staff = Principal.objects.create_staff(handle, password, role)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        label = Principal.StaffRole(role).label.lower()
        page = "/staff/login/" if role == Principal.StaffRole.SUPPORT else "/admin/login/"
        self.stdout.write(f"Created {label} {staff.handle}; sign in at {page}.")
