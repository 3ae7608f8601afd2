"""Print a new token-signing key and the LATCHKEY_JWT_KEYS value that puts it first.

Services that verify tokens locally cache /.well-known/jwks.json for up to
tokens.JWKS_MAX_AGE seconds, so a key that signed the moment it was deployed would make
them refuse fresh tokens until their cache expired. The new entry therefore carries the
time from which it signs (`--signs-in`, one hour by default, never less than the cache
lifetime): from deployment until then it is published and verifies while the current key
keeps signing. The previous keys stay in the list and keep verifying the tokens they
signed until those expire (at most the longest token lifetime, 172800 s after the new key
starts signing). Retire an old key with `--retire KID` after that.
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

DEFAULT_SIGNS_IN = 3600


def _now() -> datetime:
    return datetime.now(UTC)


def new_entry(taken: set[str], signs_from: int) -> tuple[str, str]:
    """Return (kid, "kid:base64url(raw Ed25519 private key):signs-from") with a new kid."""
    while True:
        kid = f"k{_now():%Y%m%d}-{secrets.token_hex(3)}"
        if kid not in taken:
            break
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return kid, f"{kid}:{tokens.b64url(raw)}:{tokens.format_signs_from(signs_from)}"


def _utc(at: int) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M:%S} UTC"


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
        parser.add_argument(
            "--signs-in",
            type=int,
            default=DEFAULT_SIGNS_IN,
            metavar="SECONDS",
            help=(
                "Seconds from now until the new key signs (default %(default)s; at least the "
                f"{tokens.JWKS_MAX_AGE} s for which services may cache the JWKS). Deploy "
                "the value before then."
            ),
        )

    def handle(self, *args: object, retire: list[str], signs_in: int, **options: object) -> None:
        if signs_in < tokens.JWKS_MAX_AGE:
            raise CommandError(
                f"--signs-in must be at least {tokens.JWKS_MAX_AGE} s: services may cache "
                "/.well-known/jwks.json that long and would refuse tokens of a key they "
                "have not seen."
            )
        try:
            current = tokens.parse_keys(settings.LATCHKEY_JWT_KEYS)
        except ValueError as exc:
            raise CommandError(f"LATCHKEY_JWT_KEYS is not valid: {exc}") from None
        entries = [e.strip() for e in settings.LATCHKEY_JWT_KEYS.split(",") if e.strip()]
        kids = [key.kid for key in current]
        unknown = sorted(set(retire) - set(kids))
        if unknown:
            raise CommandError(f"No such key to retire: {', '.join(unknown)}.")
        now = int(_now().timestamp())
        kept = [k for k in current if k.kid not in retire]
        signing_now = next((k for k in kept if k.signs_from <= now), None)
        if signing_now is None:
            raise CommandError(
                "Keep a key that signs today: the new key signs only after "
                f"{signs_in} s, and no key left in the list could sign until then."
            )
        signs_from = now + signs_in
        kid, entry = new_entry(set(kids), signs_from)
        kept_entries = [e for e, k in zip(entries, kids, strict=True) if k not in retire]
        self.stdout.write(f"New signing key ({kid}); keep it secret:\n{entry}\n")
        self.stdout.write(
            "Set LATCHKEY_JWT_KEYS to this value on every app server (newest first):\n"
            + ",".join([entry, *kept_entries])
            + "\n"
        )
        self.stdout.write(
            f"{kid} is published at /.well-known/jwks.json and verifies as soon as this value "
            f"is deployed, but signs only from {_utc(signs_from)} (in {signs_in} s); until "
            f"then {signing_now.kid} keeps signing. Deploy to every app server before "
            f"{_utc(signs_from - tokens.JWKS_MAX_AGE)} (services may cache the JWKS for "
            f"{tokens.JWKS_MAX_AGE} s); if the deployment is later, run this command again.\n"
        )
        self.stdout.write(
            f"Keys still verifying: {', '.join([kid, *(k.kid for k in kept)])}. "
            f"Retire {signing_now.kid} with --retire once {apisessions.MAX_TIMEOUT} s "
            f"(the longest token lifetime) have passed since {_utc(signs_from)}, that is "
            f"after {_utc(signs_from + apisessions.MAX_TIMEOUT)}.\n"
        )
