"""Check the audit trail's hash chains, and that the log still extends signed checkpoints."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from security import audit, auditkeys, checkpoints


class Command(BaseCommand):
    help = (
        "Verify the audit hash chains (all, one operator's, or the installation's) and, with "
        "--checkpoint, that the log still extends each signed checkpoint given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--operator", help="Operator ID (OP...) whose chain to check.")
        parser.add_argument(
            "--installation",
            action="store_true",
            help="Check only the installation-level chain (entries without an operator).",
        )
        parser.add_argument(
            "--checkpoint",
            action="extend",
            nargs="+",
            default=[],
            metavar="FILE",
            help="Checkpoint files (JSON, a JSON list, or application log lines) to check.",
        )
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            metavar="BASE64URL",
            help="Check checkpoint signatures with this public key only (repeatable).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["operator"]:
            chains = [str(options["operator"])]
        elif options["installation"]:
            chains = [audit.INSTALLATION_CHAIN]
        else:
            chains = audit.chains()
        verified: dict[str, tuple] = {}
        failures = 0
        total = 0
        for chain in chains:
            verified[chain] = audit.verify_chain(chain)
            checked, broken = verified[chain]
            total += checked
            if broken is not None:
                failures += 1
                self.stderr.write(f"BROKEN {broken}")
            else:
                self.stdout.write(f"ok {chain or '(installation)'}: {checked} entries")
        failures += self._checkpoints(options, verified)
        if failures:
            raise CommandError(f"{failures} audit check(s) failed.")
        self.stdout.write(f"All {len(chains)} chain(s) verified, {total} entries.")

    def _checkpoints(self, options: dict, verified: dict[str, tuple]) -> int:
        try:
            pinned = [auditkeys.public_key_from_b64(k) for k in options["public_key"]]
        except ValueError:
            raise CommandError("--public-key takes a base64url Ed25519 public key.") from None
        failures = 0
        for name in options["checkpoint"]:
            try:
                found = checkpoints.load(Path(name).read_text())
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read {name}: {exc}") from None
            if not found:
                self.stderr.write(f"BROKEN checkpoint {name}: no checkpoint in the file")
                failures += 1
            for number, checkpoint in enumerate(found, start=1):
                label = f"checkpoint {name}#{number}"
                try:
                    checkpoints.verify_signature(checkpoint, pinned)
                except checkpoints.CheckpointError as exc:
                    self.stderr.write(f"BROKEN {label}: {exc}")
                    failures += 1
                    continue
                label += f" ({checkpoint['scope']}, issued {checkpoint['issuedAt']})"
                for finding in checkpoints.check(checkpoint, verified):
                    if finding.ok:
                        self.stdout.write(f"ok {label}: {finding}")
                    else:
                        self.stderr.write(f"BROKEN {label}: {finding}")
                        failures += 1
        return failures
