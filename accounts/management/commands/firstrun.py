"""Say how to create the first operator when there is none (used by `make run`)."""

from django.core.management.base import BaseCommand

from accounts.models import Operator


class Command(BaseCommand):
    help = "Print first-start guidance when no operator exists yet."

    def handle(self, *args, **options) -> None:
        if Operator.objects.exists():
            return
        self.stdout.write(
            "\nNo operator exists yet. Create one (with its root account) in another terminal:\n"
            "  DEBUG=true .venv/bin/python manage.py createoperator --email you@example.com\n"
            "then sign in at http://127.0.0.1:8000/ with that e-mail and password.\n"
        )
