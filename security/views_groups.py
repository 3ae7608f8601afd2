"""The Security page's Groups tab: groups and the credential sets their services use."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from console.forms import ConfirmForm
from console.htmx import close_dialog, render_dialog
from security import groups
from security.access import ConsoleRequest, WriteControls, console_action
from security.forms_credentials import GroupForm
from security.models import Group


def _group_or_404(request: ConsoleRequest, name: str) -> Group:
    group = groups.get_group(request.user.operator_id, name)
    if group is None:
        raise Http404("No such group.")
    return group


@require_GET
@console_action("Group:listGroups")
def group_list(request: ConsoleRequest) -> HttpResponse:
    template = "security/groups.html"
    if request.htmx and request.htmx.target == "group-list":
        template += "#group-list"
    found = list(groups.listed_groups(request.user.operator_id))
    controls = WriteControls(request)
    for group in found:
        group.update_denied = controls.reason("group-update", group_name=group.name)
        group.delete_denied = controls.reason("group-delete", group_name=group.name)
    denied = controls.of(create="group-create")
    context = {"groups": found, "tab": "groups", "denied": denied}
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@console_action("Group:createGroup")
def group_create(request: ConsoleRequest) -> HttpResponse:
    form = GroupForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid() and (group := form.save()) is not None:
        message = f"Group {group.name} created."
        return close_dialog(request, reverse("groups"), "groupsChanged", message=message)
    return render_dialog(
        request,
        "security/partials/group_dialog.html",
        {"form": form, "subject": None},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@console_action("Group:updateGroup")
def group_update(request: ConsoleRequest, group_name: str) -> HttpResponse:
    group = _group_or_404(request, group_name)
    form = GroupForm(request.POST or None, request=request, instance=group)
    if request.method == "POST" and form.is_valid() and form.save() is not None:
        message = f"Group {group.name} updated."
        return close_dialog(request, reverse("groups"), "groupsChanged", message=message)
    return render_dialog(
        request,
        "security/partials/group_dialog.html",
        {"form": form, "subject": group},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@console_action("Group:deleteGroup")
def group_delete(request: ConsoleRequest, group_name: str) -> HttpResponse:
    group = _group_or_404(request, group_name)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        groups.delete_group(request, request.user, group)
        message = f"Group {group.name} deleted."
        return close_dialog(request, reverse("groups"), "groupsChanged", message=message)
    return render_dialog(request, "security/partials/group_delete_dialog.html", {"subject": group})
