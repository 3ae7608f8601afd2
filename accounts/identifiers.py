"""Identifier rules shared by the console, the API and the models."""

import re
import secrets

from django.core.exceptions import ValidationError

from console import secretscan

# SAM user names, role IDs, credentials IDs, group names: 1-100 characters of letters,
# digits, "-", "_", ".", "@", starting with a letter or digit (DESIGN.md, Conventions).
# The *_PATTERN forms are what URL paths accept (accounts/converters.py): a path value that
# cannot be an identifier answers 404 before any view or query sees it.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}"
OPERATOR_ID_PATTERN = r"OP[0-9]{10}"
KEY_ID_PATTERN = r"keyId-[a-z0-9]{32}"
NAME_RE = re.compile(rf"^{NAME_PATTERN}\Z", re.ASCII)
OPERATOR_ID_RE = re.compile(rf"^{OPERATOR_ID_PATTERN}\Z", re.ASCII)
KEY_ID_RE = re.compile(rf"^{KEY_ID_PATTERN}\Z", re.ASCII)
NAME_RULE = (
    "1 to 100 characters: letters, digits, '-', '_', '.' or '@', starting with a letter or digit."
)


_ANY_CASE_OPERATOR_ID_RE = re.compile(rf"^{OPERATOR_ID_PATTERN}\Z", re.ASCII | re.IGNORECASE)


def canonical_operator_id(value: str) -> str:
    """Return an operator ID as stored (`op0123456789` -> `OP0123456789`), trimmed.

    Anything that is not an operator ID in some case comes back trimmed only: it then
    fails sign-in exactly as before, with the same work and the same message.
    """
    value = value.strip()
    if _ANY_CASE_OPERATOR_ID_RE.match(value):
        return value.upper()
    return value


def _character(c: str) -> str:
    if c == " ":
        return "spaces"
    if not c.isprintable():
        return f"U+{ord(c):04X}"
    return f"“{c}”"


def name_problem(value: str, label: str = "name") -> str:
    """Say what is wrong with a value that breaks the name rule, without restating the rule.

    Forms show NAME_RULE as the field's help; the error names the fault: the characters
    that are not allowed, the first character, or the length.
    """
    if not value:
        return f"Enter a {label}."
    if len(value) > 100:
        return f"A {label} has at most 100 characters (this one has {len(value)})."
    bad = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c in "-_.@"))})
    if bad:
        return f"A {label} cannot hold " + ", ".join(_character(c) for c in bad) + "."
    return f"A {label} starts with a letter or a digit, not {_character(value[0])}."


def is_valid_name(value: object) -> bool:
    return isinstance(value, str) and NAME_RE.match(value) is not None


def validate_name(value: str, label: str = "name") -> None:
    """Raise ValidationError unless value may name a new user, role, credential set or group.

    An AuthKey secret (`secret-` + 64 base62) and an API key fit the name rule: a name is
    shown everywhere, so one that is really a secret is refused like any secret in free text.
    """
    if not is_valid_name(value):
        raise ValidationError(f"Invalid name. Use {NAME_RULE}", code="invalid_name")
    refuse_secret(value, label)


def refuse_secret(text: str, label: str) -> None:
    """Raise ValidationError (naming the field, never the secret) if text holds a secret."""
    kind = secretscan.first_kind(text)
    if kind is not None:
        raise ValidationError(secretscan.message(label, kind), code="secret")


# SAM user names the product uses for itself, compared case-insensitively: `root` names the
# root account wherever a principal is named (AuthKey holders, audit targets, sign-in
# entries), and `users/default_permissions` is a route of its own (soracom-api.md §10.7),
# so a user of that name would be unreachable. The one list: every path that creates a
# SAM user (console, API, the model manager) checks it through validate_user_name.
RESERVED_USER_NAMES = frozenset({"root", "default_permissions"})


def is_reserved_user_name(value: str) -> bool:
    return value.lower() in RESERVED_USER_NAMES


def validate_user_name(value: str) -> None:
    """Raise ValidationError unless value may name a new SAM user."""
    validate_name(value, "user name")
    if is_reserved_user_name(value):
        raise ValidationError(
            f"The name {value} is reserved: Latchkey uses it for itself.", code="reserved_name"
        )


def new_operator_id() -> str:
    return "OP" + "".join(secrets.choice("0123456789") for _ in range(10))
