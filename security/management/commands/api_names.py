"""Print, write or check the generated API-names table of docs/permissions.md."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from security import api_catalog
from security.api_openapi import the_api

DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"


class Command(BaseCommand):
    help = "Print the table of every API name (--write: into docs/permissions.md; --check)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--write", action="store_true", help="rewrite docs/permissions.md")
        parser.add_argument("--check", action="store_true", help="fail if the doc is stale")

    def handle(self, *args, write: bool = False, check: bool = False, **options) -> None:
        api = the_api()
        if not (write or check):
            self.stdout.write(api_catalog.markdown(api))
            return
        current = DOC.read_text(encoding="utf-8")
        wanted = api_catalog.replace_in(current, api)
        if check:
            if current != wanted:
                raise CommandError(f"{DOC} is stale: run manage.py api_names --write")
            self.stdout.write("docs/permissions.md is up to date.")
            return
        DOC.write_text(wanted, encoding="utf-8")
        self.stdout.write(f"Wrote {DOC}.")
