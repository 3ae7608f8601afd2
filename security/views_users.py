"""The Security page's Users tab: list, create, detail, password, delete."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.forms import ConfirmForm, SearchForm
from console.htmx import announce, close_dialog, navigate, render_dialog
from security import mfa, users
from security.access import ConsoleRequest, console_action, denials, sam_user_or_404
from security.forms_users import (
    ChangePasswordForm,
    DescriptionForm,
    SetPasswordForm,
    UserCreateForm,
)
from security.views_signin import sign_in_link

USERS_PER_PAGE = 25
# The sort control of a small screen, whose stacked rows have no column headers: one label
# per order of users.USER_SORTS.
USER_SORT_CHOICES = (
    ("name", "User name, A to Z"),
    ("-name", "User name, Z to A"),
    ("-created", "Newest first"),
    ("created", "Oldest first"),
)


@require_GET
@console_action("User:listUsers")
def user_list(request: ConsoleRequest) -> HttpResponse:
    search = SearchForm(request.GET)
    text = search.text()
    sort = request.GET.get("sort", "name")
    sort = sort if sort in users.USER_SORTS else "name"
    page = Paginator(
        users.search_sam_users(request.user.operator, text, sort), USERS_PER_PAGE
    ).get_page(request.GET.get("page"))
    template = "accounts/users.html"
    if request.htmx and request.htmx.target == "user-list":
        template += "#user-list"
    context = {
        "page": page,
        "tab": "users",
        "search": search,
        "searched": text,
        "sort": sort,
        "sort_choices": USER_SORT_CHOICES,
        "query": urlencode({k: v for k, v in (("q", text), ("sort", sort)) if v}),
        "denied": denials(request, create="user-create"),
        "with_mfa": mfa.active_ids(u.pk for u in page),
    }
    return render(request, template, context, status=400 if search.errors else 200)


@require_http_methods(["GET", "POST"])
@console_action("User:createUser")
def user_create(request: ConsoleRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save(request)
        if user is not None:
            return close_dialog(
                request,
                reverse("user-detail", args=[user.user_name]),
                "usersChanged",
                message=f"User {user.user_name} created.",
            )
    return render_dialog(
        request,
        "accounts/partials/user_create_dialog.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@require_GET
@console_action("User:getUser")
def user_detail(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    form = DescriptionForm(initial={"description": user.description})
    template = "accounts/user_detail.html"
    if request.htmx and request.htmx.target == "user-general":
        template += "#general"
    context = {
        "subject": user,
        "form": form,
        "tab": "users",
        "section": "general",
        "sign_in_link": sign_in_link(request, user.operator_id),
    }
    return render(request, template, {**context, "denied": _detail_denials(request, user)})


def _detail_denials(request: ConsoleRequest, user) -> dict[str, str]:
    path = {"user_name": user.user_name}
    return denials(
        request,
        update=("user-update", path),
        set_password=("user-password", path),
        change_password=("user-password-change", path),
        remove_password=("user-password-delete", path),
        delete=("user-delete", path),
    )


@require_POST
@console_action("User:updateUser")
def user_update(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    form = DescriptionForm(request.POST)
    saved = False
    if form.is_valid():
        users.update_description(request, request.user, user, form.cleaned_data["description"])
        saved = True
    template = "accounts/user_detail.html"
    if request.htmx:
        template += "#description"
    response = render(
        request,
        template,
        {
            "subject": user,
            "form": form,
            "saved": saved,
            "tab": "users",
            "section": "general",
            "sign_in_link": sign_in_link(request, user.operator_id),
            "denied": _detail_denials(request, user),
        },
        status=200 if saved else 400,
    )
    if saved:
        announce(request, response, f"Description of {user.user_name} saved.")
    return response


# Passwords: the console does exactly what the API's three operations do, each under its own
# name and through the same service function: a first password (createUserPassword, refused
# when one exists), a change that needs the current one (updateUserPassword, throttled),
# and removal (deleteUserPassword, refused when there is none).


def _password_dialog(request: ConsoleRequest, form, template: str, user, status: int):
    response = render_dialog(request, template, {"form": form, "subject": user}, status=status)
    if getattr(form, "retry_after", 0):
        response["Retry-After"] = str(form.retry_after)
    return response


@require_http_methods(["GET", "POST"])
@console_action("User:createUserPassword")
def user_password(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    form = SetPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid() and form.save(request, request.user):
        # What to send the user now: the link, the user name, and the password apart.
        response = render_dialog(
            request,
            "accounts/partials/password_set_dialog.html",
            {"subject": user, "sign_in_link": sign_in_link(request, user.operator_id)},
        )
        return announce(request, response, f"Password set for {user.user_name}.")
    # Shown before any POST too: the API would refuse (409), so the console says so.
    status = form.status if form.errors else (409 if user.has_password else 200)
    return _password_dialog(request, form, "accounts/partials/password_dialog.html", user, status)


@require_http_methods(["GET", "POST"])
@console_action("User:updateUserPassword")
def user_password_change(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    form = ChangePasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid() and form.save(request, request.user):
        target = reverse("user-detail", args=[user.user_name])
        return close_dialog(
            request, target, "userChanged", message=f"Password of {user.user_name} changed."
        )
    status = form.status if form.errors else (200 if user.has_password else 404)
    return _password_dialog(
        request, form, "accounts/partials/password_change_dialog.html", user, status
    )


@require_http_methods(["GET", "POST"])
@console_action("User:deleteUserPassword")
def user_password_delete(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    missing = ""
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        try:
            users.remove_password(request, request.user, user)
        except users.NoPassword as exc:
            missing = str(exc)
        else:
            target = reverse("user-detail", args=[user.user_name])
            message = f"Password of {user.user_name} removed."
            return close_dialog(request, target, "userChanged", message=message)
    if not user.has_password:
        missing = missing or users.NO_PASSWORD
    return render_dialog(
        request,
        "accounts/partials/password_delete_dialog.html",
        {"subject": user, "missing": missing},
        status=404 if missing else 200,
    )


@require_http_methods(["GET", "POST"])
@console_action("User:deleteUser")
def user_delete(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        try:
            users.delete_user(request, request.user, user)
        except users.UserGone:
            raise Http404("No such user.") from None
        return navigate(request, reverse("users"), message=f"User {user.user_name} deleted.")
    return render_dialog(request, "accounts/partials/user_delete_dialog.html", {"subject": user})
