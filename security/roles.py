"""Roles, attachments, inline and default permissions: the service functions that the
console and the API both call.

Every change is one transaction that validates the document first, writes, bumps the
operator's policy version (so the next request is decided under the new rules) and
appends its audit entry. A SAM user changing what it may do itself (its own inline
permission, a role attached to itself, a role it holds) is allowed only when its
permissions say so, and its audit entry is flagged `selfEscalation`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from accounts import policy, rowlocks
from accounts.identifiers import validate_name
from accounts.models import Operator, Principal, Role, RoleAttachment
from accounts.permissions import Document, parse_document
from security import audit
from security.users import UserGone, validate_description


class RoleExists(Exception):
    pass


class RoleInUse(Exception):
    def __init__(self, user_names: list[str]) -> None:
        shown = ", ".join(user_names[:10]) + (" …" if len(user_names) > 10 else "")
        super().__init__(f"The role is still in use (attached to {shown}). Detach it first.")
        self.user_names = user_names


class RoleGone(Http404):
    """The role was deleted by a concurrent request: it answers as a missing role (404)."""


# Roles one SAM user may hold (AWS IAM's default for managed policies per user is 10): every
# call of the user evaluates each role's statements, so a tenant must not grow that cost
# without bound (each document is bounded by accounts/permissions.py).
MAX_ROLES_PER_USER = 10


class AttachRefused(Exception):
    """The role cannot be attached: it already is, or it was deleted meanwhile."""


class AlreadyAttached(AttachRefused):
    pass


def roles_of(operator: Operator | str) -> QuerySet[Role]:
    return Role.objects.filter(operator=operator)


def search_roles(operator: Operator | str, text: str = "") -> QuerySet[Role]:
    """Return the operator's roles whose ID or description holds text."""
    found = roles_of(operator)
    if text:
        found = found.filter(Q(role_id__icontains=text) | Q(description__icontains=text))
    return found


def get_role(operator: Operator | str, role_id: str) -> Role | None:
    """Return the operator's role with that ID, or None (other tenants never match)."""
    return roles_of(operator).filter(role_id=role_id).first()


def attached_users(role: Role) -> QuerySet[Principal]:
    return Principal.objects.filter(role_attachments__role=role, kind=Principal.Kind.SAM).order_by(
        "user_name"
    )


def user_roles(user: Principal) -> QuerySet[Role]:
    return Role.objects.filter(attachments__principal=user).order_by("role_id")


def validate_permission(text: str) -> Document:
    """Return the parsed document, or raise accounts.permissions.InvalidPermission."""
    return parse_document(text, refuse_secrets=True)


def _changed(operator_id: str) -> None:
    Operator(pk=operator_id).bump_policy_version()


def _flags(self_escalation: bool) -> dict:
    return {"selfEscalation": True} if self_escalation else {}


@transaction.atomic
def create_role(
    request: HttpRequest | None,
    actor: Principal,
    role_id: str,
    permission: str,
    description: str = "",
) -> Role:
    validate_name(role_id, "role ID")
    validate_description(description)
    document = validate_permission(permission)
    now = timezone.now()
    try:
        with transaction.atomic():
            role = Role.objects.create(
                operator_id=actor.operator_id,
                role_id=role_id,
                description=description,
                permission=permission,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError as exc:
        raise RoleExists(f"A role named {role_id} already exists.") from exc
    audit.record_action(
        request, actor, "Role:createRole", role_id, {"statements": len(document.statements)}
    )
    return role


@transaction.atomic
def update_role(
    request: HttpRequest | None,
    actor: Principal,
    role: Role,
    permission: str,
    description: str | None = None,
) -> None:
    document = validate_permission(permission)
    if description is not None:
        validate_description(description)
        role.description = description
    if not Role.objects.select_for_update().filter(pk=role.pk).exists():
        raise RoleGone(role.role_id)  # deleted meanwhile: a missing role, not a 500
    role.permission = permission
    role.updated_at = timezone.now()
    role.save(update_fields=["permission", "description", "updated_at"])
    _changed(role.operator_id)
    held = policy.is_self_escalation(actor, role=role)
    details = {"statements": len(document.statements), **_flags(held)}
    audit.record_action(request, actor, "Role:updateRole", role.role_id, details)


@transaction.atomic
def delete_role(request: HttpRequest | None, actor: Principal, role: Role) -> None:
    """Delete a role that no user holds (RoleInUse names the users otherwise)."""
    locked = Role.objects.select_for_update().filter(pk=role.pk).first()
    if locked is None:
        raise RoleGone(role.role_id)
    names = list(attached_users(locked).values_list("user_name", flat=True))
    if names:
        raise RoleInUse(names)
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError:  # attached between the check and the delete
        raise RoleInUse(list(attached_users(locked).values_list("user_name", flat=True))) from None
    _changed(role.operator_id)
    audit.record_action(request, actor, "Role:deleteRole", role.role_id)


@transaction.atomic
def attach_role(request: HttpRequest | None, actor: Principal, user: Principal, role: Role) -> None:
    if user.operator_id != role.operator_id or not user.is_sam:
        raise ValidationError("The role and the user belong to different accounts.")
    # The user's row first (accounts/rowlocks.py): a concurrent delete of the user either
    # removes this attachment with the user or has happened, and the user is gone. Claimed,
    # not held: attaches to one user take turns, so that the role cap below counts right.
    if not rowlocks.claim(user.pk):
        raise AttachRefused(f"The user {user.user_name} was not found.")
    # Then the role, as delete_role does: the foreign keys are checked only at commit
    # (deferred), so without this an attach and a delete of the same role can deadlock on
    # the operator row, or an attachment could land on a role being deleted.
    if not Role.objects.select_for_update().filter(pk=role.pk).exists():
        raise AttachRefused(f"The role {role.role_id} was not found.")
    # Counted under the user's claimed row: concurrent attaches to one user queue there.
    held = RoleAttachment.objects.filter(principal=user).exclude(role=role).count()
    if held >= MAX_ROLES_PER_USER:
        raise AttachRefused(
            f"{user.user_name} already holds {held} roles, the most a user may hold "
            f"({MAX_ROLES_PER_USER}). Detach one first, or merge roles."
        )
    try:
        with transaction.atomic():
            RoleAttachment.objects.create(role=role, principal=user)
    except IntegrityError as exc:
        raise AlreadyAttached(f"The role {role.role_id} is already attached.") from exc
    _changed(role.operator_id)
    details = {"roleId": role.role_id, **_flags(policy.is_self_escalation(actor, user))}
    audit.record_action(request, actor, "Role:attachRole", user.user_name, details)


@transaction.atomic
def detach_role(request: HttpRequest | None, actor: Principal, user: Principal, role: Role) -> bool:
    """Detach a role; return False when it was not attached."""
    deleted, _ = RoleAttachment.objects.filter(role=role, principal=user).delete()
    if not deleted:
        return False
    _changed(role.operator_id)
    details = {"roleId": role.role_id, **_flags(policy.is_self_escalation(actor, user))}
    audit.record_action(request, actor, "Role:detachRole", user.user_name, details)
    return True


@transaction.atomic
def set_inline_permission(
    request: HttpRequest | None, actor: Principal, user: Principal, permission: str
) -> None:
    document = validate_permission(permission)
    if not rowlocks.hold(user.pk):  # deleted meanwhile: a missing user, not a 500
        raise UserGone(user.user_name)
    user.inline_permission = permission
    user.save(update_fields=["inline_permission", "updated_at"])
    _changed(user.operator_id)
    details = {
        "statements": len(document.statements),
        **_flags(policy.is_self_escalation(actor, user)),
    }
    audit.record_action(request, actor, "User:updateUserPermission", user.user_name, details)


@transaction.atomic
def delete_inline_permission(
    request: HttpRequest | None, actor: Principal, user: Principal
) -> None:
    if not rowlocks.hold(user.pk):
        raise UserGone(user.user_name)
    user.inline_permission = ""
    user.save(update_fields=["inline_permission", "updated_at"])
    _changed(user.operator_id)
    details = _flags(policy.is_self_escalation(actor, user))
    audit.record_action(request, actor, "User:deleteUserPermission", user.user_name, details)


@transaction.atomic
def set_default_permissions(request: HttpRequest | None, actor: Principal, permission: str) -> None:
    document = validate_permission(permission)
    Operator.objects.filter(pk=actor.operator_id).update(default_permissions=permission)
    _changed(actor.operator_id)
    # Every SAM user holds the default permissions, the actor included.
    details = {"statements": len(document.statements), **_flags(actor.is_sam)}
    audit.record_action(request, actor, "User:updateDefaultPermissions", "default", details)


@transaction.atomic
def delete_default_permissions(request: HttpRequest | None, actor: Principal) -> None:
    Operator.objects.filter(pk=actor.operator_id).update(default_permissions="")
    _changed(actor.operator_id)
    audit.record_action(
        request, actor, "User:deleteDefaultPermissions", "default", _flags(actor.is_sam)
    )


def default_permissions(operator_id: str) -> str:
    return (
        Operator.objects.filter(pk=operator_id)
        .values_list("default_permissions", flat=True)
        .first()
        or ""
    )


# --- wire shapes (soracom-api.md §4.7) -----------------------------------------------------


def _seconds(value) -> int:
    return int(value.timestamp())


def role_summary(role: Role) -> dict:
    """Return a ListRolesResponse (no permission), as in listRoles and a user's roleList."""
    data = {
        "roleId": role.role_id,
        "roleName": role.role_id,
        "owner": "operator",
        "createDateTime": _seconds(role.created_at),
        "updateDateTime": _seconds(role.updated_at),
    }
    if role.description:
        data["description"] = role.description
    return data


def role_detail(role: Role) -> dict:
    """Return a RoleResponse: the summary plus the permission string."""
    return {**role_summary(role), "permission": role.permission}


def role_list_for(user: Principal) -> list[dict]:
    """Return a SAM user's `roleList` for UserDetailResponse."""
    return [role_summary(role) for role in user_roles(user)]
