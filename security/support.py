"""Support staff: revoking a reported AuthKey, and time-limited support access to an account.

Support staff (security/staff.py: kind "staff", role "support", signed in at /staff/login/)
may, without any grant:
- look up an AuthKey by its exact public ID and learn only whether a live key has that
  ID (an unknown and a revoked ID answer alike);
- revoke a live key with a required reason (never see a secret, never generate a key).
A leaked key must be revocable at once, whoever reports it; but who holds a key (operator,
root e-mail, user name, times, revocation history) is the tenant's data, shown only while
the key's operator has granted support access. Look-ups and revocations land in the
operator's own audit trail, with the staff member and the reason.

Anything more (seeing an operator's users, keys and audit trail) needs support access,
granted by the operator's root for a limited time and withdrawable at any moment; every
staff view during it is audited in the operator's trail. Support staff never read
credential sets, mint tokens or keys, or change roles or permissions (SECURITY.md D11):
no staff page does, and the console and the API refuse staff principals.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.identifiers import OPERATOR_ID_RE
from accounts.models import Operator, Principal
from console import secretscan
from security import audit, authkeys, notifications
from security import staff as staff_accounts
from security.models import AuditEntry, AuthKey

GRANT_HOURS = (1, 4, 8, 24, 72, 168)
MAX_GRANT_HOURS = max(GRANT_HOURS)
MAX_REASON_LENGTH = 400


def duration_label(hours: int) -> str:
    """Return how the grant menu names a duration: "1 hour", "24 hours", "7 days"."""
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


SECRET_IN_REASON = "Leave the secret out of the reason: name the key by its ID only."


def contains_secret(text: str) -> bool:
    """Return whether text holds real bearer material (an AuthKey secret, API key or token)."""
    return secretscan.contains_secret(text)


def redact_secrets(text: str) -> str:
    """Return text with every real secret replaced by a marker."""
    return secretscan.redact(text)


class SupportAccessClosed(Exception):
    """The operator has not granted support access (or it has expired)."""


def _now() -> datetime:
    return timezone.now()


# --- the grant (root, on the Security page) --------------------------------------------


def access_until(operator: Operator, now: datetime | None = None) -> datetime | None:
    """Return when the operator's support access ends, or None if it is closed."""
    until = operator.support_access_until
    return until if until is not None and until > (now or _now()) else None


@transaction.atomic
def grant(request: HttpRequest | None, root: Principal, hours: int) -> datetime:
    """Open support access for `hours` from now (replacing any open grant); return the end."""
    if hours not in GRANT_HOURS:
        raise ValueError(f"Choose one of {', '.join(map(str, GRANT_HOURS))} hours.")
    until = _now() + timedelta(hours=hours)
    Operator.objects.filter(pk=root.operator_id).update(
        support_access_until=until, support_access_granted_by=root
    )
    audit.record(
        request,
        "Operator:grantSupportAccess",
        operator=root.operator_id,
        principal=root,
        target=root.operator_id,
        details={"hours": hours, "until": until.isoformat(timespec="seconds")},
    )
    return until


@transaction.atomic
def withdraw(request: HttpRequest | None, root: Principal) -> bool:
    """Close support access at once; return whether it was open."""
    operator = Operator.objects.select_for_update().get(pk=root.operator_id)
    was_open = access_until(operator) is not None
    Operator.objects.filter(pk=operator.pk).update(
        support_access_until=None, support_access_granted_by=None
    )
    audit.record(
        request,
        "Operator:revokeSupportAccess",
        operator=operator.pk,
        principal=root,
        target=operator.pk,
        details={"wasOpen": was_open},
    )
    return was_open


def open_operators(now: datetime | None = None):
    """Return the operators whose support access is open now, ending soonest first."""
    return Operator.objects.filter(support_access_until__gt=now or _now()).order_by(
        "support_access_until"
    )


# --- staff actions ---------------------------------------------------------------------


@dataclass(frozen=True)
class KeyHolder:
    """Who holds a key and how it was used: tenant data, only while a grant is open."""

    operator_id: str
    holder_kind: str  # "root", "sam" or "deleted" (a deleted SAM user's tombstone)
    user_name: str  # the SAM user's name; "" for root
    root_email: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str


@dataclass(frozen=True)
class KeyLookup:
    """What a look-up shows: never a secret or hash; the holder only under a grant."""

    key_id: str
    is_live: bool
    holder: KeyHolder | None = None


def _holder(key: AuthKey) -> KeyHolder:
    principal = key.principal
    kind = principal.kind if principal is not None else "deleted"
    root = Principal.objects.filter(operator_id=key.operator_id, kind=Principal.Kind.ROOT).first()
    return KeyHolder(
        operator_id=key.operator_id,
        holder_kind=kind,
        user_name="" if kind == Principal.Kind.ROOT else key.holder,
        root_email=root.email if root else "",
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        revoked_by=key.revoked_by,
        revoke_reason=key.revoke_reason,
    )


def lookup_key(request: HttpRequest | None, staff: Principal, key_id: str) -> KeyLookup | None:
    """Return what support staff may see of the key with that exact ID (audited), or None.

    Without a grant from the key's operator only a live key is found, and only as live;
    None answers alike for an unknown and a revoked ID. With a grant, the holder is shown.
    """
    key_id = key_id.strip()
    if not authkeys.looks_like_key_id(key_id):
        return None
    key = AuthKey.objects.select_related("principal", "operator").filter(key_id=key_id).first()
    if key is None:  # recorded in the installation's chain: staff activity stays traceable
        audit.record(
            request,
            "Support:lookupAuthKey",
            operator=None,
            principal=staff,
            outcome=AuditEntry.Outcome.FAILED,
            target=key_id,
        )
        return None
    granted = access_until(key.operator) is not None
    found = key.is_live or granted
    audit.record(
        request,
        "Support:lookupAuthKey",
        operator=key.operator_id,
        principal=staff,
        outcome=AuditEntry.Outcome.ALLOWED if found else AuditEntry.Outcome.FAILED,
        target=key.holder,
        details={"authKeyId": key.key_id, "holderShown": granted},
    )
    if not found:
        return None
    return KeyLookup(key.key_id, key.is_live, _holder(key) if granted else None)


def live_key(key_id: str) -> AuthKey | None:
    """Return the live key with that exact ID, or None (unknown and revoked alike)."""
    if not isinstance(key_id, str) or not authkeys.looks_like_key_id(key_id):
        return None
    return AuthKey.objects.filter(key_id=key_id, slot__isnull=False).first()


def revoke_key(request: HttpRequest | None, staff: Principal, key: AuthKey, reason: str) -> bool:
    """Revoke a key for a reported leak; the reason is required and lands in the audit trail.

    No grant is needed: a leaked key must be revocable at once. The revocation reveals to
    staff only that a live key was revoked.
    """
    reason = " ".join(reason.split())[:MAX_REASON_LENGTH]
    if not reason:
        raise ValueError("Give a reason: the operator will read it in its audit log.")
    if contains_secret(reason):
        raise ValueError(SECRET_IN_REASON)
    if not staff_accounts.is_support_staff(staff):
        raise PermissionError("Only support staff revoke keys through this path.")
    with transaction.atomic():
        revoked = authkeys.revoke(request, staff, key, reason=reason, api="Support:revokeAuthKey")
        if revoked:
            notifications.authkey_revoked_by_staff(key.operator_id, key.key_id, key.holder, reason)
    return revoked


def view_operator(request: HttpRequest | None, staff: Principal, operator_id: str, what: str):
    """Return the operator if its support access is open (auditing the view); else raise."""
    if not staff_accounts.is_support_staff(staff):
        raise PermissionError("Only support staff view an operator's account.")
    operator = None
    if isinstance(operator_id, str) and OPERATOR_ID_RE.match(operator_id):
        operator = Operator.objects.filter(pk=operator_id).first()
    if operator is None or access_until(operator) is None:
        # In the staff member's own (installation) chain, never the operator's, and the same
        # entry whether or not the operator exists: a refused look is traceable, not an oracle.
        audit.record(
            request,
            "Support:viewOperator",
            operator=None,
            principal=staff,
            outcome=AuditEntry.Outcome.DENIED,
            target=operator_id[:40],
            details={"what": what, "refused": "no open support access"},
        )
        raise SupportAccessClosed(operator_id)
    audit.record(
        request,
        "Support:viewOperator",
        operator=operator,
        principal=staff,
        target=what,
        details={"grantEnds": operator.support_access_until.isoformat(timespec="seconds")},
    )
    return operator
