"""JSON API: roles, role attachments, inline and default permissions (soracom-api.md §4.6-4.7).

Permission documents travel as JSON strings inside JSON. Status codes copy the contract:
createRole 200 `{roleId}`, attachRole and detachRole 200 with no body, deleting an attached
role 400 "The role is still in use.", updateDefaultPermissions 202. A document is
validated completely before anything is written; its problems answer 400 naming the
statement. Handlers parse, authorize through `@operation`, and call `security.roles`.
"""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from accounts.identifiers import is_valid_name
from accounts.models import Principal, Role
from accounts.permissions import EMPTY_DOCUMENT, InvalidPermission, warnings
from console import secretscan
from console.api import ApiError, StrictSchema, bad_request, empty, not_found
from security import roles, users
from security.api_access import caller_of, operation, sam_user_or_404

router = Router(tags=["Role"])

ROLES = "/operators/{v1opid:operator_id}/roles"
ROLE = "/operators/{v1opid:operator_id}/roles/{v1name:role_id}"
USER = "/operators/{v1opid:operator_id}/users/{v1samuser:user_name}"
DEFAULTS = "/operators/{v1opid:operator_id}/users/default_permissions"
ROLE_NOT_FOUND = "Role not found."
OWNERS = ("operator", "soracom", "all")


class RoleBody(StrictSchema):
    permission: str
    description: str = None  # type: ignore[assignment]  # absent: "" on create, kept on update


class UserPermissionBody(StrictSchema):
    permission: str
    # In the contract's request; Latchkey keeps no description per inline permission.
    description: str = None  # type: ignore[assignment]


class DefaultPermissionsBody(StrictSchema):
    permissions: str


class AttachBody(StrictSchema):
    roleId: str


def _role(request: HttpRequest, role_id: str) -> Role:
    role = None
    if is_valid_name(role_id):
        role = roles.get_role(caller_of(request).operator_id, role_id)
    if role is None:
        raise not_found(ROLE_NOT_FOUND)
    return role


def _refused(exc: InvalidPermission | ValidationError) -> ApiError:
    if isinstance(exc, ValidationError):
        return bad_request(" ".join(exc.messages))
    return bad_request(str(exc))


def _actor(request: HttpRequest) -> Principal:
    return caller_of(request).principal


WARNING_HEADER = "X-Latchkey-Warning"
MAX_WARNINGS = 10


def _warned(response: HttpResponse, permission: str) -> HttpResponse:
    """Name the API names of a saved document that match no operation (a typo, most often).

    A header, so that the contract's bodies (none, or `{roleId}`) stay exactly as Soracom's
    clients expect; the document was saved, as Soracom saves it. Parsed again here (only
    after a successful save, at most 32 KiB) rather than threading warnings through the
    service functions that the console shares.
    """
    found = warnings(roles.validate_permission(permission))
    if found:
        shown = [f"Statement {number}: {message}" for number, message in found[:MAX_WARNINGS]]
        more = len(found) - len(shown)
        response[WARNING_HEADER] = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return response


# Roles --------------------------------------------------------------------------------------


@router.get(ROLES, url_name="listRoles")
@operation("Role:listRoles")
def list_roles(request: HttpRequest, operator_id: str, owner: str = "operator") -> list[dict]:
    """List the roles (owner: operator, soracom or all; Latchkey has no Soracom roles)."""
    if owner not in OWNERS:
        raise bad_request("owner must be operator, soracom or all.")
    if owner == "soracom":
        return []
    return [roles.role_summary(r) for r in roles.roles_of(operator_id).order_by("role_id")]


@router.post(ROLE, url_name="createRole")
@operation("Role:createRole")
def create_role(
    request: HttpRequest, operator_id: str, role_id: str, body: RoleBody
) -> HttpResponse:
    """Create a role (200 `{roleId}`)."""
    try:
        role = roles.create_role(
            request, _actor(request), role_id, body.permission, body.description or ""
        )
    except (InvalidPermission, ValidationError) as exc:
        raise _refused(exc) from None
    except roles.RoleExists as exc:
        raise bad_request(str(exc)) from None
    return _warned(JsonResponse({"roleId": role.role_id}), body.permission)


@router.get(ROLE, url_name="getRole")
@operation("Role:getRole")
def get_role(request: HttpRequest, operator_id: str, role_id: str) -> dict:
    """Return a role with its permission document."""
    return roles.role_detail(_role(request, role_id))


@router.put(ROLE, url_name="updateRole")
@operation("Role:updateRole")
def update_role(
    request: HttpRequest, operator_id: str, role_id: str, body: RoleBody
) -> HttpResponse:
    """Replace a role's permission (and description when sent); 200, no body."""
    role = _role(request, role_id)
    try:
        roles.update_role(request, _actor(request), role, body.permission, body.description)
    except (InvalidPermission, ValidationError) as exc:
        raise _refused(exc) from None
    return _warned(empty(200), body.permission)


@router.delete(ROLE, url_name="deleteRole")
@operation("Role:deleteRole")
def delete_role(request: HttpRequest, operator_id: str, role_id: str) -> HttpResponse:
    """Delete a role (204); one still attached answers 400 and names its users."""
    role = _role(request, role_id)
    try:
        roles.delete_role(request, _actor(request), role)
    except roles.RoleInUse as exc:
        raise bad_request(str(exc)) from None
    return empty(204)


@router.get(ROLE + "/users", url_name="listRoleAttachedUsers")
@operation("Role:listRoleAttachedUsers")
def list_role_attached_users(request: HttpRequest, operator_id: str, role_id: str) -> list[dict]:
    """List the SAM users a role is attached to."""
    found = list(roles.attached_users(_role(request, role_id)))
    keys, held = users.auth_key_lists(found), users.role_lists(found)
    return [users.user_detail(u, keys[u.pk], held[u.pk]) for u in found]


@router.get(ROLE + "/versions", url_name="listRoleVersions")
@operation("Role:listRoleVersions")
def list_role_versions(request: HttpRequest, operator_id: str, role_id: str) -> list[dict]:
    """Versions exist only for Soracom-managed roles: an operator role answers 400."""
    _role(request, role_id)
    raise bad_request("Versions exist only for Soracom-managed roles.")


# A user's roles -------------------------------------------------------------------------------


@router.get(USER + "/roles", url_name="listUserRoles")
@operation("Role:listUserRoles")
def list_user_roles(request: HttpRequest, operator_id: str, user_name: str) -> list[dict]:
    """List the roles attached to a SAM user, with their permission documents."""
    return [roles.role_detail(r) for r in roles.user_roles(sam_user_or_404(request, user_name))]


@router.post(USER + "/roles", url_name="attachRole")
@operation("Role:attachRole")
def attach_role(
    request: HttpRequest, operator_id: str, user_name: str, body: AttachBody
) -> HttpResponse:
    """Attach a role (200); a missing role or one already attached answers 400."""
    user = sam_user_or_404(request, user_name)
    role = roles.get_role(operator_id, body.roleId) if is_valid_name(body.roleId) else None
    if role is None:
        raise bad_request(f"The role {secretscan.redact(body.roleId[:100])} was not found.")
    try:
        roles.attach_role(request, _actor(request), user, role)
    except roles.AttachRefused as exc:
        raise bad_request(str(exc)) from None
    return empty(200)


@router.delete(USER + "/roles/{v1name:role_id}", url_name="detachRole")
@operation("Role:detachRole")
def detach_role(
    request: HttpRequest, operator_id: str, user_name: str, role_id: str
) -> HttpResponse:
    """Detach a role (200, as the contract says); one not attached answers 404."""
    user = sam_user_or_404(request, user_name)
    role = _role(request, role_id)
    if not roles.detach_role(request, _actor(request), user, role):
        raise not_found("The role is not attached to this user.")
    return empty(200)


# Inline permission ----------------------------------------------------------------------------


@router.get(USER + "/permission", url_name="getUserPermission")
@operation("User:getUserPermission")
def get_user_permission(request: HttpRequest, operator_id: str, user_name: str) -> dict:
    """Return a SAM user's inline permission document."""
    return {"permission": sam_user_or_404(request, user_name).inline_permission or EMPTY_DOCUMENT}


@router.put(USER + "/permission", url_name="updateUserPermission")
@operation("User:updateUserPermission")
def update_user_permission(
    request: HttpRequest, operator_id: str, user_name: str, body: UserPermissionBody
) -> HttpResponse:
    """Replace a SAM user's inline permission (200, no body)."""
    user = sam_user_or_404(request, user_name)
    try:
        roles.set_inline_permission(request, _actor(request), user, body.permission)
    except InvalidPermission as exc:
        raise _refused(exc) from None
    return _warned(empty(200), body.permission)


@router.delete(USER + "/permission", url_name="deleteUserPermission")
@operation("User:deleteUserPermission")
def delete_user_permission(request: HttpRequest, operator_id: str, user_name: str) -> HttpResponse:
    """Remove a SAM user's inline permission (204)."""
    roles.delete_inline_permission(request, _actor(request), sam_user_or_404(request, user_name))
    return empty(204)


# Default permissions --------------------------------------------------------------------------


@router.get(DEFAULTS, url_name="getDefaultPermissions")
@operation("User:getDefaultPermissions")
def get_default_permissions(request: HttpRequest, operator_id: str) -> dict:
    """Return the default permissions every SAM user holds."""
    return {"defaultPermissions": roles.default_permissions(operator_id) or EMPTY_DOCUMENT}


@router.put(DEFAULTS, url_name="updateDefaultPermissions")
@operation("User:updateDefaultPermissions")
def update_default_permissions(
    request: HttpRequest, operator_id: str, body: DefaultPermissionsBody
) -> HttpResponse:
    """Replace the default permissions (202, as the contract says; applied at once)."""
    try:
        roles.set_default_permissions(request, _actor(request), body.permissions)
    except InvalidPermission as exc:
        raise _refused(exc) from None
    return _warned(empty(202), body.permissions)


@router.delete(DEFAULTS, url_name="deleteDefaultPermissions")
@operation("User:deleteDefaultPermissions")
def delete_default_permissions(request: HttpRequest, operator_id: str) -> HttpResponse:
    """Remove the default permissions (204)."""
    roles.delete_default_permissions(request, _actor(request))
    return empty(204)
