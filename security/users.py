"""SAM users, their passwords and API sessions: the service functions the console and API call.

Every function takes the acting principal and scopes its work to the actor's operator, so a
name from another tenant simply does not match (DESIGN.md, Tenancy). Each change and its
audit entry commit together or not at all.
"""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404, HttpRequest

from accounts import apisessions, identifiers, rowlocks, signin
from accounts.identifiers import refuse_secret
from accounts.models import Operator, Principal, RoleAttachment
from accounts.passwords import MAX_PASSWORD_LENGTH
from console.net import client_ip
from security import audit, authkeys, notifications
from security.models import AuditEntry, AuthKey

RESERVED_NAMES = identifiers.RESERVED_USER_NAMES  # the one list (accounts/identifiers.py)


class UserExists(Exception):
    pass


class UserGone(Http404):
    """The user was deleted by a concurrent request: it answers as a missing user (404)."""


def _still_there(user: Principal) -> None:
    """Hold the user's row until commit (accounts/rowlocks.py), or raise UserGone.

    A change to a user that a concurrent request has just deleted would otherwise update
    no row and fail as a 500 ("did not affect any rows").
    """
    if not rowlocks.hold(user.pk):
        raise UserGone(user.user_name)


class PasswordExists(Exception):
    pass


NO_PASSWORD = "Password registration is required."


class NoPassword(Exception):
    def __init__(self, message: str = NO_PASSWORD) -> None:
        super().__init__(message)


class WrongPassword(Exception):
    """The current password did not match (retry_after > 0: throttled, not even checked)."""

    def __init__(self, retry_after: int = 0) -> None:
        super().__init__("The current password is wrong.")
        self.retry_after = retry_after


def _operator_id(operator: Operator | str) -> str:
    return operator.pk if isinstance(operator, Operator) else operator


def sam_users(operator: Operator | str):
    return Principal.objects.filter(operator_id=_operator_id(operator), kind=Principal.Kind.SAM)


# The Users list's orders; the user name breaks ties, so that pages never overlap.
USER_SORTS = {
    "name": ("user_name",),
    "-name": ("-user_name",),
    "created": ("created_at", "user_name"),
    "-created": ("-created_at", "user_name"),
}


def search_sam_users(operator: Operator | str, text: str = "", sort: str = "name"):
    """Return the operator's SAM users whose name or description holds text, sorted."""
    found = sam_users(operator)
    if text:
        found = found.filter(Q(user_name__icontains=text) | Q(description__icontains=text))
    return found.order_by(*USER_SORTS.get(sort, USER_SORTS["name"]))


def get_sam_user(operator: Operator | str, user_name: str) -> Principal | None:
    """Return the operator's SAM user of that name, or None (other tenants never match)."""
    return sam_users(operator).filter(user_name=user_name).first()


def get_root(operator: Operator | str) -> Principal | None:
    """Return the operator's root account, or None."""
    return Principal.objects.filter(
        operator_id=_operator_id(operator), kind=Principal.Kind.ROOT
    ).first()


def validate_description(description: str) -> None:
    if len(description) > 1000:
        raise ValidationError("The description is too long (at most 1000 characters).")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in description):
        raise ValidationError("The description contains control characters.")
    refuse_secret(description, "description")


def validate_new_password(password: str, user: Principal) -> None:
    """Raise ValidationError unless the password may be set (never echoes it back)."""
    if "\x00" in password:
        raise ValidationError("The password contains a NUL character.")
    password_validation.validate_password(password, user)


def role_lists(principals: list[Principal]) -> dict[int, list[dict]]:
    """Return each user's attached roles as ListRolesResponse items, by principal id.

    The one place the users API reads roles (`roleList`: no `permission`, §4.7).
    """
    lists: dict[int, list[dict]] = {p.pk: [] for p in principals}
    attached = RoleAttachment.objects.filter(principal__in=lists.keys()).select_related("role")
    for attachment in attached.order_by("role__role_id"):
        role = attachment.role
        item = {
            "roleId": role.role_id,
            "roleName": role.role_id,
            "owner": "operator",
            "createDateTime": int(role.created_at.timestamp()),
            "updateDateTime": int(role.updated_at.timestamp()),
        }
        if role.description:
            item["description"] = role.description
        lists[attachment.principal_id].append(item)
    return lists


def auth_key_lists(principals: list[Principal]) -> dict[int, list[dict]]:
    """Return each principal's live AuthKeys as AuthKeyResponse items, by principal id."""
    lists: dict[int, list[dict]] = {p.pk: [] for p in principals}
    live = AuthKey.objects.filter(principal__in=lists.keys(), slot__isnull=False)
    for key in live.order_by("created_at", "id"):
        lists[key.principal_id].append(authkeys.as_response(key))
    return lists


def user_detail(user: Principal, auth_keys: list[dict], roles: list[dict]) -> dict:
    """Return a UserDetailResponse (no nulls: absent optional fields are omitted)."""
    return {
        "userName": user.user_name,
        "description": user.description,
        "createDateTime": int(user.created_at.timestamp()),
        "updateDateTime": int(user.updated_at.timestamp()),
        "hasPassword": user.has_usable_password(),
        "authKeyList": auth_keys,
        "roleList": roles,
    }


@transaction.atomic
def create_user(
    request: HttpRequest | None, actor: Principal, user_name: str, description: str = ""
) -> Principal:
    identifiers.validate_user_name(user_name)
    validate_description(description)
    try:
        with transaction.atomic():
            user = Principal.objects.create_sam_user(actor.operator, user_name, description)
    except IntegrityError as exc:
        raise UserExists(f"A user named {user_name} already exists.") from exc
    audit.record(
        request, "User:createUser", operator=actor.operator_id, principal=actor, target=user_name
    )
    return user


@transaction.atomic
def update_description(
    request: HttpRequest | None, actor: Principal, user: Principal, description: str
) -> None:
    validate_description(description)
    _still_there(user)
    user.description = description
    user.save(update_fields=["description", "updated_at"])
    audit.record(
        request,
        "User:updateUser",
        operator=actor.operator_id,
        principal=actor,
        target=user.user_name,
    )


@transaction.atomic
def set_password(
    request: HttpRequest | None, actor: Principal, user: Principal, password: str, api: str
) -> None:
    """Set a principal's password after the validators accept it (ValidationError if not).

    Ends every session opened with the old password but the one making the change, console
    and API; AuthKey sessions live on (docs/sessions.md).
    """
    validate_new_password(password, user)
    _still_there(user)
    user.set_password(password)
    user.save(update_fields=["password", "password_changed_at", "updated_at"])
    ended = apisessions.end_password_sessions(request, user)
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        target=user.user_name or user.email,
        details={"sessionsEnded": ended},
    )


def create_password(
    request: HttpRequest | None, actor: Principal, user: Principal, password: str
) -> None:
    """Give a user without a password its first one (PasswordExists if it has one)."""
    with transaction.atomic():
        # Lock the row so that two concurrent creates cannot both pass the check.
        locked = Principal.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            raise UserGone(user.user_name)
        if locked.has_usable_password():
            raise PasswordExists("The user already has a password; change it instead.")
        set_password(request, actor, locked, password, "User:createUserPassword")


def change_password(
    request: HttpRequest,
    actor: Principal,
    user: Principal,
    current: str,
    new: str,
    api: str,
) -> None:
    """Replace a password after checking the current one, behind the sign-in throttles.

    Raises NoPassword, WrongPassword (throttled or not matching) or ValidationError.
    """
    if not user.has_usable_password():
        raise NoPassword("Password registration is required.")
    if len(new) > MAX_PASSWORD_LENGTH or len(current) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"A password is at most {MAX_PASSWORD_LENGTH} characters.")
    # Validate the new password first: a weak new one must not cost a throttle slot.
    validate_new_password(new, user)
    if user.is_root:
        result = signin.sign_in(request, password=current, email=user.email)
    else:
        result = signin.sign_in(
            request, password=current, operator_id=user.operator_id, user_name=user.user_name
        )
    if result.principal is None or result.principal.pk != user.pk:
        audit.record(
            request,
            api,
            operator=actor.operator_id,
            principal=actor,
            outcome=AuditEntry.Outcome.FAILED,
            target=user.user_name or user.email,
            details={"throttled": bool(result.retry_after)},
        )
        raise WrongPassword(result.retry_after)
    set_password(request, actor, user, new, api)
    if user.is_root:
        notifications.root_password_changed(user.operator_id, client_ip(request))


@transaction.atomic
def remove_password(request: HttpRequest | None, actor: Principal, user: Principal) -> None:
    """Remove a user's password, ending the sessions it opened (NoPassword if it has none).

    AuthKey sessions live on; nothing is written when there is no password.
    """
    if not user.has_usable_password():
        raise NoPassword()
    _still_there(user)
    user.set_unusable_password()
    user.save(update_fields=["password", "password_changed_at", "updated_at"])
    ended = apisessions.end_password_sessions(request, user)
    audit.record(
        request,
        "User:deleteUserPassword",
        operator=actor.operator_id,
        principal=actor,
        target=user.user_name,
        details={"sessionsEnded": ended},
    )


@transaction.atomic
def revoke_tokens(
    request: HttpRequest | None, actor: Principal, subject: Principal, api: str
) -> int:
    """End every session of a principal, console included; return how many API sessions ended.

    In Soracom the console itself holds an API key + token, so "revoke all tokens" ends
    the console too; AuthKeys stay live and can open new sessions (docs/sessions.md).
    """
    ended = apisessions.revoke_for_principal(subject)
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        target=subject.user_name or "root",
        details={"sessions": ended},
    )
    return ended


@transaction.atomic
def generate_auth_token(request: HttpRequest, caller: apisessions.ApiCaller, timeout: int) -> str:
    """Return a fresh token of the caller's own session (Operator:generateAuthToken)."""
    token = apisessions.refresh_token(caller, timeout)
    audit.record(
        request,
        "Operator:generateAuthToken",
        operator=caller.operator_id,
        principal=caller.principal,
        auth_key_id=caller.auth_key_id,
        target=caller.principal.user_name or "root",
        details={"timeoutSeconds": timeout},
    )
    return token


@transaction.atomic
def delete_user(request: HttpRequest | None, actor: Principal, user: Principal) -> None:
    """Delete a SAM user after ending its AuthKeys and API sessions (UserGone if it is gone).

    The user's row is locked first (accounts/rowlocks.py), so a key generated, a session
    opened or a role attached at the same moment either commits first, and is ended here,
    or finds the user gone.
    """
    if not rowlocks.take(user.pk):
        raise UserGone(user.user_name)
    name = user.user_name
    authkeys.revoke_all(user, request=request, actor=actor, reason="The user was deleted.")
    apisessions.revoke_for_principal(user)
    user.delete()
    audit.record(
        request, "User:deleteUser", operator=actor.operator_id, principal=actor, target=name
    )
