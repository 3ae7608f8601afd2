"""Leak intake: GitHub secret scanning reports AuthKey secrets found in public code.

GitHub's secret-scanning partner program (docs/authkeys.md "Leak intake") POSTs a JSON
array `[{"token", "type", "url", "source"}]`, signed with ECDSA (P-256, SHA-256; the DER
signature base64 in `Github-Public-Key-Signature`) under the key named by
`Github-Public-Key-Identifier`. The installation lists the public keys it trusts
(LATCHKEY_LEAK_PUBLIC_KEYS: identifier -> PEM); nothing is fetched at run time.

For each reported token: a string that is not an AuthKey secret (shape and CRC32 tail,
console/secretscan.py) is a false positive, decided without any database work. A real
secret is looked up by its lookup hash (security/authkeys.lookup_hash) and confirmed with
the key-bound hash; every live key it matches is revoked through the revoke service
(reason "leaked"), the report is recorded in the key's tenant's audit trail with the URL
where it was found, and the root address is mailed. A key revoked before is still a true
positive. The token itself is never logged, stored, audited or mailed.
"""

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from security import audit, authkeys, notifications
from security.models import AuthKey

REPORT_ACTION = "AuthKey:reportLeak"
LEAKED_REASON = "leaked"
MAX_ITEMS = 100
MAX_TOKEN_LENGTH = 1000
MAX_FIELD_LENGTH = 2000
TRUE_POSITIVE, FALSE_POSITIVE = "true_positive", "false_positive"


class BadSignature(Exception):
    """A missing or unknown key identifier, or a signature that does not verify."""


class BadReport(ValueError):
    """A body that is not a report GitHub sends (the message says why, never a token)."""


@dataclass(frozen=True)
class Item:
    token: str
    type: str
    url: str
    source: str


@lru_cache(maxsize=16)
def _public_key(pem: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("A leak-intake public key must be an ECDSA P-256 key.")
    return key


def trusted_keys() -> dict[str, str]:
    return dict(settings.LATCHKEY_LEAK_PUBLIC_KEYS or {})


def verify_signature(body: bytes, key_id: str, signature: str) -> None:
    """Raise BadSignature unless `signature` is a trusted key's ECDSA signature of `body`."""
    pem = trusted_keys().get(key_id) if key_id else None
    if not pem or not signature or len(signature) > 256:
        raise BadSignature()
    try:
        der = base64.b64decode(signature, validate=True)
        _public_key(pem).verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise BadSignature() from None


def _text(entry: dict, name: str, limit: int, required: bool = False) -> str:
    value = entry.get(name, "")
    if value is None and not required:
        value = ""
    if not isinstance(value, str) or (required and not value):
        raise BadReport(f"Each match needs a string `{name}`.")
    if len(value) > limit:
        raise BadReport(f"`{name}` is longer than {limit} characters.")
    return value


def parse_report(data: object) -> list[Item]:
    """Return the report's matches, or raise BadReport (a whole report is refused)."""
    if not isinstance(data, list) or not data:
        raise BadReport("The body must be a non-empty JSON array of matches.")
    if len(data) > MAX_ITEMS:
        raise BadReport(f"At most {MAX_ITEMS} matches per report.")
    items = []
    for entry in data:
        if not isinstance(entry, dict):
            raise BadReport("Each match must be a JSON object.")
        items.append(
            Item(
                token=_text(entry, "token", MAX_TOKEN_LENGTH, required=True),
                type=_text(entry, "type", 200),
                url=_text(entry, "url", MAX_FIELD_LENGTH),
                source=_text(entry, "source", 200),
            )
        )
    return items


def matching_keys(secret: str) -> list[AuthKey]:
    """Return every key (live or revoked) whose secret this is; call only for a real shape.

    The lookup hash finds candidates by index; each is confirmed with the key-bound hash.
    Keys made before lookup hashes existed and never used since have none: they are checked
    one by one (live ones only: a tombstone of that age cannot be found).
    """
    candidates = list(AuthKey.objects.filter(secret_lookup__in=authkeys.lookup_hashes(secret)))
    legacy = AuthKey.objects.filter(secret_lookup="", slot__isnull=False)
    candidates += list(legacy.only("id", "key_id", "secret_hash"))
    found = [key for key in candidates if authkeys.verify_secret(key, secret)]
    return list(AuthKey.objects.filter(pk__in=[k.pk for k in found]).select_related("principal"))


def _report_one(request: HttpRequest, item: Item, intake: str) -> bool:
    if not authkeys.looks_like_secret(item.token):
        return False  # noise: decided by the checksum, no database work
    keys = matching_keys(item.token)
    for key in keys:
        facts = {"url": item.url, "type": item.type, "source": item.source, "intake": intake}
        with transaction.atomic():
            revoked = False
            if key.is_live:
                revoked = authkeys.revoke(
                    request,
                    None,
                    key,
                    reason=LEAKED_REASON,
                    api=REPORT_ACTION,
                    by=("leak", intake),
                    details=facts,
                )
            if not revoked:  # revoked before (or just now, by someone else): still recorded
                audit.record(
                    request,
                    REPORT_ACTION,
                    operator=key.operator_id,
                    target=key.holder,
                    details={**facts, "authKeyId": key.key_id, "alreadyRevoked": True},
                    actor=("leak", intake),
                )
            if revoked:  # mailed once, when revoked: a report of a dead key is only audited
                notifications.authkey_leaked(
                    key.operator_id, key.key_id, key.holder, item.url, revoked
                )
    return bool(keys)


def intake(request: HttpRequest, items: list[Item], intake: str = "github") -> list[dict]:
    """Revoke and record every reported secret; return GitHub's labels, in report order."""
    return [
        {
            "token_raw": item.token,
            "token_type": item.type,
            "label": TRUE_POSITIVE if _report_one(request, item, intake) else FALSE_POSITIVE,
        }
        for item in items
    ]
