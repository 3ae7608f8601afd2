"""Latchkey's own bearer material, recognised in free text: the one detector every layer uses.

A secret pasted where it does not belong (a revoke reason, a description, a user agent)
must not be stored in clear: a reason is shown on the Authentication tab, to auditors and to
staff. Three shapes are Latchkey's and recognisable offline:

- AuthKey secrets: `secret-` + 64 base62 characters whose last 6 encode a CRC32 of the rest
  (GitHub's token scheme), so a real secret is told from look-alike text without any
  database look-up, and a secret with one character changed is not one;
- API keys: `api-` + a version-4 UUID (accounts/apisessions.py);
- API tokens: compact JWS whose protected header says `"alg": "EdDSA"` (accounts/tokens.py).

Where a person typed the text (reasons, descriptions, names, permission documents) callers
refuse it with `message()`; where an attacker chose it and nobody typed it (a user agent, the
user name of a failed sign-in) callers store `redact()`'s result instead.

Pure Python, no Django app imported, so that console/, accounts/ and security/ can all use it.
Linear in the length of the text: one pass finds the runs of token characters, and each run
is examined with fixed-length checks (no backtracking pattern ever sees the whole text).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass

AUTHKEY_SECRET_PREFIX = "secret-"
AUTHKEY_SECRET_LENGTH = 64  # characters after the prefix, checksum included
CHECKSUM_LENGTH = 6
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
API_KEY_PREFIX = "api-"

AUTHKEY_SECRET, API_KEY, API_TOKEN = "authkey-secret", "api-key", "api-token"
REDACTED = {
    AUTHKEY_SECRET: "secret-[REDACTED]",
    API_KEY: "api-[REDACTED]",
    API_TOKEN: "token-[REDACTED]",
}
_NAMES = {
    AUTHKEY_SECRET: "an AuthKey secret",
    API_KEY: "an API key",
    API_TOKEN: "an API token",
}

# Maximal runs of the characters the three shapes are made of: each character of the text is
# looked at once (a run always matches to its end, so nothing is retried).
_RUN = re.compile(r"[A-Za-z0-9_.\-]+")
_BASE62_BODY = re.compile(rf"[A-Za-z0-9]{{{AUTHKEY_SECRET_LENGTH}}}\Z", re.ASCII)
_UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z", re.ASCII
)
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+\Z", re.ASCII)
_HEADER_START = "eyJ"  # base64url of '{"'
_MAX_HEADER = 512  # characters of a token header worth decoding (ours is about 60)


@dataclass(frozen=True)
class Finding:
    kind: str  # AUTHKEY_SECRET, API_KEY or API_TOKEN
    start: int
    end: int


class SecretInText(ValueError):
    """Free text holds bearer material; str() is the message to show (never the secret)."""

    def __init__(self, label: str, kind: str) -> None:
        super().__init__(message(label, kind))
        self.label, self.kind = label, kind


def authkey_checksum(body: str) -> str:
    """Return the 6-character base62 CRC32 tail of an AuthKey secret's first 58 characters."""
    number = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def is_authkey_secret(value: object) -> bool:
    """Return whether value is exactly an AuthKey secret: shape and checksum (no database)."""
    if not isinstance(value, str) or not value.startswith(AUTHKEY_SECRET_PREFIX):
        return False
    body = value[len(AUTHKEY_SECRET_PREFIX) :]
    if not _BASE62_BODY.match(body):
        return False
    return authkey_checksum(value[:-CHECKSUM_LENGTH]) == value[-CHECKSUM_LENGTH:]


def _secrets_in(run: str, offset: int) -> list[Finding]:
    found = []
    size = len(AUTHKEY_SECRET_PREFIX) + AUTHKEY_SECRET_LENGTH
    at = run.find(AUTHKEY_SECRET_PREFIX)
    while at >= 0:
        if is_authkey_secret(run[at : at + size]):
            found.append(Finding(AUTHKEY_SECRET, offset + at, offset + at + size))
            at = run.find(AUTHKEY_SECRET_PREFIX, at + size)
        else:
            at = run.find(AUTHKEY_SECRET_PREFIX, at + 1)
    return found


def _api_keys_in(run: str, offset: int) -> list[Finding]:
    found = []
    size = len(API_KEY_PREFIX) + 36
    at = run.find(API_KEY_PREFIX)
    while at >= 0:
        if _UUID4.match(run[at + len(API_KEY_PREFIX) : at + size].lower()):
            found.append(Finding(API_KEY, offset + at, offset + at + size))
            at = run.find(API_KEY_PREFIX, at + size)
        else:
            at = run.find(API_KEY_PREFIX, at + 1)
    return found


def _is_token_header(segment: str) -> bool:
    if not segment.startswith(_HEADER_START) or len(segment) > _MAX_HEADER:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and header.get("alg") == "EdDSA"


def _tokens_in(run: str, offset: int) -> list[Finding]:
    if "." not in run:
        return []
    found = []
    segments = run.split(".")
    starts, position = [], 0
    for segment in segments:
        starts.append(position)
        position += len(segment) + 1
    i = 0
    while i + 2 < len(segments):
        header, payload, signature = segments[i], segments[i + 1], segments[i + 2]
        if (
            _is_token_header(header)
            and payload.startswith(_HEADER_START)
            and _SEGMENT.match(payload)
            and _SEGMENT.match(signature)
        ):
            start = offset + starts[i]
            found.append(
                Finding(API_TOKEN, start, start + len(header) + len(payload) + 2 + len(signature))
            )
            i += 3
        else:
            i += 1
    return found


def findings(text: str) -> list[Finding]:
    """Return every piece of bearer material in text, in order, without overlaps."""
    if not isinstance(text, str):
        return []
    found: list[Finding] = []
    for match in _RUN.finditer(text):
        run, offset = match.group(), match.start()
        found += _secrets_in(run, offset) + _api_keys_in(run, offset) + _tokens_in(run, offset)
    found.sort(key=lambda f: (f.start, -f.end))
    kept: list[Finding] = []
    for finding in found:
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def first_kind(text: str) -> str | None:
    """Return the kind of the first piece of bearer material in text, or None."""
    found = findings(text)
    return found[0].kind if found else None


def contains_secret(text: str) -> bool:
    return bool(findings(text))


def is_redacted(text: str) -> bool:
    """Return whether text carries one of redact()'s markers (a secret was taken out)."""
    return isinstance(text, str) and any(marker in text for marker in REDACTED.values())


def redact(text: str) -> str:
    """Return text with every piece of bearer material replaced by its kind's marker."""
    found = findings(text)
    if not found:
        return text
    parts, position = [], 0
    for finding in found:
        parts += [text[position : finding.start], REDACTED[finding.kind]]
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def fragment(kind: str) -> str:
    """Return the refusal as a predicate for a field name to precede ("… holds what …")."""
    return (
        f"holds what looks like {_NAMES.get(kind, 'a secret')}. Leave secrets out "
        "(name an AuthKey by its ID); if it was real, treat it as leaked and revoke it."
    )


def message(label: str, kind: str) -> str:
    """Return the refusal shown for free text holding a secret (it never quotes the secret)."""
    return f"The {label} {fragment(kind)}"


def refuse(text: str, label: str) -> None:
    """Raise SecretInText if text holds bearer material; `label` names the field."""
    kind = first_kind(text)
    if kind is not None:
        raise SecretInText(label, kind)
