"""Create an operator with its root account; print the operator ID on the last line."""

import getpass
import sys

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Operator, Principal


class Command(BaseCommand):
    help = "Create an operator and its root account (password prompted or from stdin)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the root password from the first line of stdin.",
        )

    def handle(self, *args, email: str, password_stdin: bool, **options) -> None:
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"Invalid e-mail address: {email}") from exc
        if Principal.objects.filter(handle=f"root:{email}").exists():
            raise CommandError(f"An operator with root e-mail {email} already exists.")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Root password: ")
            if password != getpass.getpass("Repeat: "):
                raise CommandError("The passwords differ.")
        try:
            password_validation.validate_password(password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        with transaction.atomic():
            operator = Operator.create()
            Principal.objects.create_root(operator, email, password)
        self.stdout.write(f"Created operator {operator.id} with root {email}.")
        self.stdout.write(operator.id)
