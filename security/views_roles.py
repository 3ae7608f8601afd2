"""The Security page's Roles tab, Default permissions page and a user's Permissions tab."""

import json

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import policy
from accounts.context import CallContext
from accounts.identifiers import is_valid_name
from accounts.models import Principal, Role
from console.forms import ConfirmForm, SearchForm
from console.htmx import announce, close_dialog, navigate, render_dialog
from security import roles
from security.access import (
    ConsoleRequest,
    WriteControls,
    console_action,
    denials,
    sam_user_or_404,
)
from security.forms_roles import (
    SELF_SERVICE_STATEMENT,
    AttachForm,
    PermissionForm,
    RoleCreateForm,
    RoleForm,
    SimulatorForm,
    pretty,
)

SELF_SERVICE_JSON = json.dumps(SELF_SERVICE_STATEMENT)
ROLES_PER_PAGE = 25


def _role_or_404(request: ConsoleRequest, role_id: str) -> Role:
    role = roles.get_role(request.user.operator_id, role_id) if is_valid_name(role_id) else None
    if role is None:
        raise Http404("No such role.")
    return role


def _panel(request: ConsoleRequest, template: str, context: dict) -> HttpResponse:
    """Render a panel alone for htmx, or inside a page of its own without JavaScript."""
    if request.htmx:
        return render(request, template, context)
    return render(request, "accounts/role_panel_page.html", {**context, "panel": template})


def _is_self(request: ConsoleRequest, subject: Principal) -> bool:
    return request.user.is_sam and request.user.pk == subject.pk


# Roles ------------------------------------------------------------------------------------


@require_GET
@console_action("Role:listRoles")
def role_list(request: ConsoleRequest) -> HttpResponse:
    search = SearchForm(request.GET)
    text = search.text()
    found = (
        roles.search_roles(request.user.operator_id, text)
        .annotate(attached=Count("attachments"))
        .order_by("role_id")
    )
    page = Paginator(found, ROLES_PER_PAGE).get_page(request.GET.get("page"))
    template = "accounts/roles.html"
    if request.htmx and request.htmx.target == "role-list":
        template += "#role-list"
    context = {
        "roles": [(r, r.attached) for r in page.object_list],
        "page": page,
        "tab": "roles",
        "search": search,
        "searched": text,
        "query": urlencode({"q": text}) if text else "",
        "denied": denials(request, create="role-create"),
    }
    return render(request, template, context, status=400 if search.errors else 200)


@require_http_methods(["GET", "POST"])
@console_action("Role:createRole")
def role_create(request: ConsoleRequest) -> HttpResponse:
    initial = {"permission": pretty("")}
    form = RoleCreateForm(request.POST or None, initial=initial, actor=request.user)
    if request.method == "POST" and form.is_valid():
        role = form.save(request)
        if role is not None:
            detail = reverse("role-detail", args=[role.role_id])
            message = f"Role {role.role_id} created."
            if form.review is not None and form.review.has_warnings:
                return navigate(request, detail, message=message)  # its page shows the warnings
            return close_dialog(request, detail, "rolesChanged", message=message)
    return render_dialog(
        request,
        "accounts/partials/role_create_dialog.html",
        {"form": form, "review": form.review, "self_service": SELF_SERVICE_JSON},
        status=400 if form.errors else 200,
    )


@require_GET
@console_action("Role:getRole")
def role_detail(request: ConsoleRequest, role_id: str) -> HttpResponse:
    role = _role_or_404(request, role_id)
    form = RoleForm(
        initial={"description": role.description, "permission": pretty(role.permission)}
    )
    return render(request, "accounts/role_detail.html", _role_context(request, role, form))


def _role_context(request: ConsoleRequest, role: Role, form: RoleForm, **extra) -> dict:
    held = request.user.is_sam and role.attachments.filter(principal=request.user).exists()
    return {
        "role": role,
        "form": form,
        "review": form.review,
        "tab": "roles",
        "self_service": SELF_SERVICE_JSON,
        "held_by_me": held,
        "denied": denials(
            request,
            save=("role-update", {"role_id": role.role_id}),
            delete=("role-delete", {"role_id": role.role_id}),
        ),
        **extra,
    }


@require_POST
@console_action("Role:updateRole")
def role_update(request: ConsoleRequest, role_id: str) -> HttpResponse:
    role = _role_or_404(request, role_id)
    form = RoleForm(request.POST)
    saved = False
    if form.is_valid() and "check" not in request.POST:
        roles.update_role(
            request,
            request.user,
            role,
            form.cleaned_data["permission"],
            form.cleaned_data["description"],
        )
        saved = True
    template = "accounts/role_detail.html"
    if request.htmx:
        template += "#role-editor"
    context = _role_context(request, role, form, saved=saved, checked="check" in request.POST)
    response = render(request, template, context, status=400 if form.errors else 200)
    return announce(request, response, f"Role {role.role_id} saved.") if saved else response


@require_GET
@console_action("Role:listRoleAttachedUsers")
def role_users(request: ConsoleRequest, role_id: str) -> HttpResponse:
    role = _role_or_404(request, role_id)
    context = {"role": role, "attached": roles.attached_users(role), "tab": "roles"}
    return _panel(request, "accounts/partials/role_users.html", context)


@require_http_methods(["GET", "POST"])
@console_action("Role:deleteRole")
def role_delete(request: ConsoleRequest, role_id: str) -> HttpResponse:
    role = _role_or_404(request, role_id)
    in_use = list(roles.attached_users(role).values_list("user_name", flat=True))
    if request.method == "POST" and not in_use and ConfirmForm(request.POST).is_valid():
        try:
            roles.delete_role(request, request.user, role)
        except roles.RoleInUse as exc:
            in_use = exc.user_names
        else:
            message = f"Role {role.role_id} deleted."
            return close_dialog(request, reverse("roles"), "rolesChanged", message=message)
    status = 400 if request.method == "POST" else 200
    return render_dialog(
        request,
        "accounts/partials/role_delete_dialog.html",
        {"role": role, "in_use": in_use},
        status=status,
    )


# Default permissions ------------------------------------------------------------------------


def _defaults_page(request: ConsoleRequest, form: PermissionForm, status: int = 200, **extra):
    template = "accounts/default_permissions.html"
    if request.htmx and request.method == "POST":
        template += "#permission-editor"
    context = {
        "form": form,
        "review": form.review,
        "tab": "default-permissions",
        "self_service": SELF_SERVICE_JSON,
        "action": reverse("default-permissions-update"),
        "denied": denials(
            request, save="default-permissions-update", delete="default-permissions-delete"
        ),
        **extra,
    }
    return render(request, template, context, status=status)


@require_GET
@console_action("User:getDefaultPermissions")
def default_permissions(request: ConsoleRequest) -> HttpResponse:
    text = roles.default_permissions(request.user.operator_id)
    return _defaults_page(request, PermissionForm(initial={"permission": pretty(text)}))


@require_POST
@console_action("User:updateDefaultPermissions")
def default_permissions_update(request: ConsoleRequest) -> HttpResponse:
    form = PermissionForm(request.POST)
    saved = False
    if form.is_valid() and "check" not in request.POST:
        roles.set_default_permissions(request, request.user, form.cleaned_data["permission"])
        saved = True
    status = 400 if form.errors else 200
    response = _defaults_page(request, form, status, saved=saved, checked="check" in request.POST)
    return announce(request, response, "Default permissions saved.") if saved else response


@require_http_methods(["GET", "POST"])
@console_action("User:deleteDefaultPermissions")
def default_permissions_delete(request: ConsoleRequest) -> HttpResponse:
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        roles.delete_default_permissions(request, request.user)
        message = "Default permissions cleared."
        target = reverse("default-permissions")
        return close_dialog(request, target, "permissionsChanged", message=message)
    return render_dialog(request, "accounts/partials/permission_defaults_delete_dialog.html", {})


# A user's Permissions tab ---------------------------------------------------------------------


def _user_page(
    request: ConsoleRequest, subject: Principal, form: PermissionForm, status=200, **extra
):
    template = "accounts/user_permissions.html"
    if request.htmx and request.method == "POST":
        template += "#permission-editor"
    context = {
        "subject": subject,
        "form": form,
        "review": form.review,
        "tab": "users",
        "section": "permissions",
        "self_service": SELF_SERVICE_JSON,
        "is_self": _is_self(request, subject),
        "action": reverse("user-permission-update", args=[subject.user_name]),
        "simulator": SimulatorForm(initial={"path_vars": f"user_name={subject.user_name}"}),
        "denied": denials(
            request,
            save=("user-permission-update", {"user_name": subject.user_name}),
            delete=("user-permission-delete", {"user_name": subject.user_name}),
        ),
        **extra,
    }
    return render(request, template, context, status=status)


@require_GET
@console_action("User:getUserPermission")
def user_permissions(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    form = PermissionForm(initial={"permission": pretty(subject.inline_permission)})
    return _user_page(request, subject, form)


@require_POST
@console_action("User:updateUserPermission")
def user_permission_update(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    form = PermissionForm(request.POST)
    saved = False
    if form.is_valid() and "check" not in request.POST:
        roles.set_inline_permission(request, request.user, subject, form.cleaned_data["permission"])
        saved = True
    status = 400 if form.errors else 200
    checked = "check" in request.POST
    response = _user_page(request, subject, form, status, saved=saved, checked=checked)
    if not saved:
        return response
    if request.htmx:
        # The panels that show what was saved refresh (effective list, the Remove button).
        response["HX-Trigger"] = "permissionSaved"
    return announce(request, response, f"Inline permission of {subject.user_name} saved.")


@require_http_methods(["GET", "POST"])
@console_action("User:deleteUserPermission")
def user_permission_delete(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        roles.delete_inline_permission(request, request.user, subject)
        target = reverse("user-permissions", args=[subject.user_name])
        message = f"Inline permission of {subject.user_name} removed."
        return close_dialog(request, target, "permissionsChanged", message=message)
    return render_dialog(
        request,
        "accounts/partials/permission_inline_delete_dialog.html",
        {"subject": subject, "is_self": _is_self(request, subject)},
    )


@require_GET
@console_action("Role:listUserRoles")
def user_roles(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    controls = WriteControls(request)
    attached = list(roles.user_roles(subject))
    for role in attached:
        path = {"user_name": subject.user_name, "role_id": role.role_id}
        role.detach_denied = controls.reason("role-detach", **path)
    context = {
        "subject": subject,
        "attached": attached,
        "tab": "users",
        "section": "permissions",
        "denied": controls.of(attach=("role-attach", {"user_name": subject.user_name})),
    }
    return _panel(request, "accounts/partials/role_user_roles.html", context)


@require_http_methods(["GET", "POST"])
@console_action("Role:attachRole")
def role_attach(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    form = AttachForm(request.POST or None, subject=subject)
    if request.method == "POST" and form.is_valid():
        try:
            roles.attach_role(request, request.user, subject, form.cleaned_data["role"])
        except roles.AttachRefused as exc:
            form.add_error("role", str(exc))
        else:
            target = reverse("user-permissions", args=[subject.user_name])
            role_id = form.cleaned_data["role"].role_id
            message = f"Role {role_id} attached to {subject.user_name}."
            return close_dialog(request, target, "permissionsChanged", message=message)
    return render_dialog(
        request,
        "accounts/partials/role_attach_dialog.html",
        {"form": form, "subject": subject, "is_self": _is_self(request, subject)},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@console_action("Role:detachRole")
def role_detach(request: ConsoleRequest, user_name: str, role_id: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    role = _role_or_404(request, role_id)
    if not role.attachments.filter(principal=subject).exists():
        raise Http404("The role is not attached to this user.")
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        roles.detach_role(request, request.user, subject, role)
        target = reverse("user-permissions", args=[subject.user_name])
        message = f"Role {role.role_id} detached from {subject.user_name}."
        return close_dialog(request, target, "permissionsChanged", message=message)
    return render_dialog(
        request, "accounts/partials/role_detach_dialog.html", {"subject": subject, "role": role}
    )


# The effective permission and the simulator have no API twin. What they show is the user's
# inline permission, its roles' documents and the default permissions, so each also needs
# the three API reads of that data: they never show what those operations would refuse.
POLICY_READS = ("User:getUserPermission", "Role:listUserRoles", "User:getDefaultPermissions")


@require_GET
@console_action("User:getEffectivePermission", also=POLICY_READS)
def user_effective(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    context = {
        "subject": subject,
        "rules": policy.load_rules(subject.pk),
        "tab": "users",
        "section": "permissions",
    }
    return _panel(request, "accounts/partials/permission_effective.html", context)


@require_GET
@console_action("User:simulatePermission", also=POLICY_READS)
def user_simulate(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    form = SimulatorForm(request.GET)
    decision = None
    if form.is_valid():
        data = form.cleaned_data
        ctx = CallContext(
            principal=subject,
            api=data["api"],
            source_ip=data["source_ip"],
            method=data["method"],
            path_vars=data["path_vars"],
            now=data["at"],
            second_factor=data["second_factor"],
        )
        decision = policy.explain(ctx)
    context = {
        "subject": subject,
        "simulator": form,
        "decision": decision,
        "tab": "users",
        "section": "permissions",
    }
    return _panel(request, "accounts/partials/permission_simulator.html", context)
