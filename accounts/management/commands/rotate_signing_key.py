"""Print a new token-signing key and the LATCHKEY_JWT_KEYS value that puts it first.

The new key signs every token issued after the setting is deployed; the previous keys stay
in the list and keep verifying the tokens they signed until those expire (at most the
longest token lifetime, 172800 s). Retire an old key with `--retire KID` after that.
Nothing is written anywhere: the output holds private keys, so put it straight into the
secret store and clear the terminal.
"""

import secrets
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import apisessions, tokens


def new_entry(taken: set[str]) -> tuple[str, str]:
    """Return (kid, "kid:base64url(raw Ed25519 private key)") with a kid not in taken."""
    while True:
        kid = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
        if kid not in taken:
            break
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return kid, f"{kid}:{tokens.b64url(raw)}"


class Command(BaseCommand):
    help = "Print a new JWT signing key and the LATCHKEY_JWT_KEYS value to deploy (newest first)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--retire",
            action="append",
            default=[],
            metavar="KID",
            help="Leave this old key out (only once every token it signed has expired).",
        )

    def handle(self, *args: object, retire: list[str], **options: object) -> None:
        try:
            current = tokens.parse_keys(settings.LATCHKEY_JWT_KEYS)
        except ValueError as exc:
            raise CommandError(f"LATCHKEY_JWT_KEYS is not valid: {exc}") from None
        entries = [e.strip() for e in settings.LATCHKEY_JWT_KEYS.split(",") if e.strip()]
        kids = [key.kid for key in current]
        unknown = sorted(set(retire) - set(kids))
        if unknown:
            raise CommandError(f"No such key to retire: {', '.join(unknown)}.")
        kid, entry = new_entry(set(kids))
        kept = [e for e, k in zip(entries, kids, strict=True) if k not in retire]
        self.stdout.write(f"New signing key ({kid}); keep it secret:\n{entry}\n")
        self.stdout.write(
            "Set LATCHKEY_JWT_KEYS to this value on every app server (newest first):\n"
            + ",".join([entry, *kept])
            + "\n"
        )
        self.stdout.write(
            f"Keys still verifying: {', '.join([kid, *(k for k in kids if k not in retire)])}. "
            f"Retire the previous key with --retire once {apisessions.MAX_TIMEOUT} s "
            "(the longest token lifetime) have passed since this value was deployed.\n"
        )
