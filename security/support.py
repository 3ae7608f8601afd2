"""Support staff: revoking a reported AuthKey, and time-limited support access to an account.

Installation staff (Principal.kind == "staff", signed in through the Django admin) may:
- look up any AuthKey by its public ID and see which operator and principal hold it;
- revoke it with a required reason (never see a secret, never generate a key).
Both land in the operator's own audit trail, with the staff member and the reason.

Anything more (seeing an operator's users, keys and audit trail) needs support access,
granted by the operator's root for a limited time and withdrawable at any moment; every
staff view during it is audited in the operator's trail.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Operator, Principal
from console import secretscan
from security import audit, authkeys
from security.models import AuditEntry, AuthKey

GRANT_HOURS = (1, 4, 8, 24, 72, 168)
MAX_GRANT_HOURS = max(GRANT_HOURS)
MAX_REASON_LENGTH = 400


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


def is_staff(principal: Principal) -> bool:
    return (
        principal.is_authenticated
        and principal.is_active
        and principal.kind == Principal.Kind.STAFF
        and principal.is_staff
    )


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
class KeyOwner:
    """What staff may know about a key: never its secret or hash."""

    key: AuthKey
    operator_id: str
    holder: str  # "root" or the SAM user name
    holder_kind: str  # "root", "sam" or "deleted"
    root_email: str


def lookup_key(request: HttpRequest | None, staff: Principal, key_id: str) -> KeyOwner | None:
    """Return who holds the key with that ID (audited in its operator's trail), or None."""
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
    root = Principal.objects.filter(operator_id=key.operator_id, kind=Principal.Kind.ROOT).first()
    holder_kind = key.principal.kind if key.principal is not None else "deleted"
    audit.record(
        request,
        "Support:lookupAuthKey",
        operator=key.operator_id,
        principal=staff,
        target=key.holder,
        details={"authKeyId": key.key_id},
    )
    return KeyOwner(key, key.operator_id, key.holder, holder_kind, root.email if root else "")


def revoke_key(request: HttpRequest | None, staff: Principal, key: AuthKey, reason: str) -> bool:
    """Revoke a key for a reported leak; the reason is required and lands in the audit trail."""
    reason = " ".join(reason.split())[:MAX_REASON_LENGTH]
    if not reason:
        raise ValueError("Give a reason: the operator will read it in its audit log.")
    if contains_secret(reason):
        raise ValueError(SECRET_IN_REASON)
    if not is_staff(staff):
        raise PermissionError("Only support staff revoke keys through this path.")
    return authkeys.revoke(request, staff, key, reason=reason, api="Support:revokeAuthKey")


def view_operator(request: HttpRequest | None, staff: Principal, operator_id: str, what: str):
    """Return the operator if its support access is open (auditing the view); else raise."""
    operator = Operator.objects.filter(pk=operator_id).first()
    if operator is None or access_until(operator) is None:
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


# --- staff sign-in through the Django admin (installation-level entries) ----------------


def _is_admin_request(request: HttpRequest | None) -> bool:
    return request is not None and request.path.startswith("/admin/")


@receiver(user_logged_in, dispatch_uid="latchkey.support.staff_signed_in")
def _staff_signed_in(sender, request, user, **kwargs) -> None:
    if getattr(user, "kind", "") == Principal.Kind.STAFF:
        audit.record(request, "Support:signIn", operator=None, principal=user, target=user.handle)


@receiver(user_logged_out, dispatch_uid="latchkey.support.staff_signed_out")
def _staff_signed_out(sender, request, user, **kwargs) -> None:
    if user is not None and getattr(user, "kind", "") == Principal.Kind.STAFF:
        audit.record(request, "Support:signOut", operator=None, principal=user, target=user.handle)


@receiver(user_login_failed, dispatch_uid="latchkey.support.staff_sign_in_failed")
def _staff_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the admin's form: the console and /v1/auth record their own failures. The
    # credentials dict is already cleansed by Django; only the user name is kept.
    if _is_admin_request(request):
        audit.record(
            request,
            "Support:signIn",
            operator=None,
            outcome=AuditEntry.Outcome.FAILED,
            target=str(credentials.get("username", ""))[:150],
        )
