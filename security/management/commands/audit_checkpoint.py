"""Sign a checkpoint of the audit trail (every chain, or one) for auditors to keep."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from security import checkpoints, failures


class Command(BaseCommand):
    help = (
        "Print a signed checkpoint of every audit chain (or of one operator's) and write it "
        "to the application log, after recording the counts of throttled sign-ins whose "
        "window has ended. Keep its output outside the database (run it from cron); "
        "`verify_audit --checkpoint FILE` later proves the log still extends it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--operator", help="Checkpoint only this operator's chain.")
        parser.add_argument("--out", metavar="FILE", help="Also write the checkpoint here.")
        parser.add_argument(
            "--public-keys",
            action="store_true",
            help="Print the checkpoint public keys (signing key first) instead.",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["public_keys"]:
            for key in checkpoints.public_keys():
                self.stdout.write(f"{key.key_id} {key.public_b64}")
            return
        # Counts of throttled sign-ins whose window has ended go into their chains first,
        # so that the checkpoint covers them (security/failures.py).
        failures.flush()
        if options["operator"]:
            checkpoint = checkpoints.for_chain(str(options["operator"]))
        else:
            checkpoint = checkpoints.for_installation()
        text = json.dumps(checkpoint, indent=2, sort_keys=True)
        if options["out"]:
            Path(str(options["out"])).write_text(text + "\n")
        self.stdout.write(text)
