"""Installation staff: the two roles, their sign-in, and what administrators change.

Two roles, each with its own sign-in page, throttle buckets and audit actions
(docs/security.md, section staff; docs/audit.md, Support staff):

- **support staff** (`/staff/login/`, `Support:signIn`) look up and revoke AuthKeys by ID
  and see an operator's account only while its root's grant is open (security/support.py);
- **installation administrators** (`/admin/login/`, `Installation:signIn`) set operators'
  quotas and manage staff accounts; they never see tenant data.

What a role may do is decided from the database row on every request, never by Django's
`is_superuser` (no principal is a superuser: a constraint on the table says so).
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core import signing
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from accounts import signin
from accounts.identifiers import OPERATOR_ID_RE
from accounts.models import Operator, Principal, StaffAccount
from security import audit, failures

SUPPORT = Principal.StaffRole.SUPPORT
ADMIN = Principal.StaffRole.ADMIN

SIGN_IN_ACTION = {SUPPORT: "Support:signIn", ADMIN: "Installation:signIn"}
SIGN_OUT_ACTION = {SUPPORT: "Support:signOut", ADMIN: "Installation:signOut"}
MAX_QUOTA = 100_000
MAX_REASON_LENGTH = 400

# A browser that signed in to a staff account before skips that account's per-account
# bucket (as the console's device cookie does), so that a stranger cannot lock staff out.
DEVICE_COOKIE_AGE = 180 * 24 * 3600
_DEVICE_SALT = "latchkey.staff-device"


class NoSuchOperator(Exception):
    pass


class OwnAccount(Exception):
    """An administrator tried to change its own role or deactivate itself."""


def is_support_staff(principal: Principal) -> bool:
    return principal.is_authenticated and principal.is_active and principal.is_support_staff


def is_installation_admin(principal: Principal) -> bool:
    return principal.is_authenticated and principal.is_active and principal.is_installation_admin


def throttled_message(retry_after: int) -> str:
    return f"Too many failed sign-ins. Try again in {retry_after} seconds."


# --- sign-in -----------------------------------------------------------------------------


def _device_tokens(request: HttpRequest) -> list[str]:
    try:
        value = signing.get_cookie_signer(salt=_DEVICE_SALT).unsign(
            request.COOKIES.get(settings.LATCHKEY_STAFF_DEVICE_COOKIE_NAME, ""),
            max_age=DEVICE_COOKIE_AGE,
        )
    except signing.BadSignature:
        return []
    return [t for t in value.split(",") if t]


def remember_device(request: HttpRequest, response: HttpResponse, principal: Principal) -> None:
    """Mark this browser as one that signed in to this staff account (signed cookie)."""
    token = signin.device_token(signin.staff_account_key(principal.staff_role, principal.handle))
    tokens = [token, *[t for t in _device_tokens(request) if t != token]][:10]
    response.set_cookie(
        settings.LATCHKEY_STAFF_DEVICE_COOKIE_NAME,
        signing.get_cookie_signer(salt=_DEVICE_SALT).sign(",".join(tokens)),
        max_age=DEVICE_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def sign_in(request: HttpRequest, role: str, handle: str, password: str) -> signin.SignInResult:
    """Return the staff account of `role` for these credentials, or why not.

    A failure (wrong handle or password, another role's account, throttled) is recorded
    in the installation's audit chain here; a success when the session starts
    (`_signed_in` below), whichever page started it.
    """
    account = signin.staff_account_key(role, handle)
    trusted = signin.device_token(account) in _device_tokens(request)
    result = signin.sign_in_staff(
        request, role=role, handle=handle, password=password, trusted_device=trusted
    )
    if not result.ok:
        # Checked attempts one by one, throttled ones counted (bounded volume, 9.8).
        failures.record_failure(
            request, SIGN_IN_ACTION[role], operator=None, target=handle,
            throttled_by=result.throttled_by,
        )  # fmt: skip
    return result


@receiver(user_logged_in, dispatch_uid="latchkey.staff.signed_in")
def _signed_in(sender, request, user, **kwargs) -> None:
    if getattr(user, "kind", "") == Principal.Kind.STAFF:
        action = SIGN_IN_ACTION[user.staff_role]
        audit.record(request, action, operator=None, principal=user, target=user.handle)


@receiver(user_logged_out, dispatch_uid="latchkey.staff.signed_out")
def _signed_out(sender, request, user, **kwargs) -> None:
    if user is not None and getattr(user, "kind", "") == Principal.Kind.STAFF:
        action = SIGN_OUT_ACTION[user.staff_role]
        audit.record(request, action, operator=None, principal=user, target=user.handle)


# --- staff accounts ----------------------------------------------------------------------


@receiver(post_save, sender=Principal, dispatch_uid="latchkey.staff.created")
@receiver(post_save, sender=StaffAccount, dispatch_uid="latchkey.staff.created.proxy")
def _staff_account_created(sender, instance: Principal, created: bool, **kwargs) -> None:
    # Whichever path made it (createsuperuser, createstaff, a shell), a new staff account
    # is an installation event.
    if created and instance.kind == Principal.Kind.STAFF:
        audit.record(
            None,
            "Installation:createStaffAccount",
            operator=None,
            target=instance.handle,
            details={"role": instance.staff_role},
        )


@transaction.atomic
def update_staff_account(
    request: HttpRequest | None, actor: Principal, account: Principal, role: str, is_active: bool
) -> dict:
    """Change a staff account's role or active flag; return what changed (audited).

    Deactivating ends the account's sessions on their next request (the session check
    reads `is_active`); a role change takes effect on the next request as well.
    """
    if role not in Principal.StaffRole.values:
        raise ValueError(f"Unknown staff role {role!r}.")
    locked = Principal.objects.select_for_update().get(pk=account.pk, kind=Principal.Kind.STAFF)
    changes = {}
    if locked.staff_role != role:
        changes["role"] = {"from": locked.staff_role, "to": role}
    if locked.is_active != is_active:
        changes["active"] = {"from": locked.is_active, "to": is_active}
    if not changes:
        return changes
    if locked.pk == actor.pk:
        raise OwnAccount("Ask another administrator to change your own account.")
    locked.staff_role, locked.is_active = role, is_active
    locked.save(update_fields=["staff_role", "is_active", "updated_at"])
    audit.record(
        request,
        "Installation:updateStaffAccount",
        operator=None,
        principal=actor,
        target=locked.handle,
        details=changes,
    )
    return changes


# --- quotas ------------------------------------------------------------------------------


@transaction.atomic
def set_credential_quota(
    request: HttpRequest | None,
    actor: Principal | None,
    operator_id: str,
    credentials: int,
    reason: str = "",
) -> None:
    """Set an operator's credential-set quota, recorded in that operator's audit trail.

    Write-only by design: nothing about the operator (its quota, how many sets it holds)
    is returned, so the administrator learns no tenant data; the operator reads the change,
    its old and new value and the reason in its own audit log.
    """
    if not 0 <= credentials <= MAX_QUOTA:
        raise ValueError(f"The quota must be between 0 and {MAX_QUOTA}.")
    if not isinstance(operator_id, str) or not OPERATOR_ID_RE.match(operator_id):
        raise NoSuchOperator(operator_id)
    operator = Operator.objects.select_for_update().filter(pk=operator_id).first()
    if operator is None:
        raise NoSuchOperator(operator_id)
    before = operator.credential_quota
    Operator.objects.filter(pk=operator.pk).update(credential_quota=credentials)
    details: dict = {"credentials": {"from": before, "to": credentials}}
    if reason:
        details["reason"] = reason[:MAX_REASON_LENGTH]
    audit.record(
        request,
        "Installation:setQuota",
        operator=operator,
        principal=actor,
        target=operator.pk,
        details=details,
    )
