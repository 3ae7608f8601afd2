"""The Security page's Users tab: list, create, detail, password, delete."""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import users
from accounts.forms import ConfirmForm, DescriptionForm, SetPasswordForm, UserCreateForm
from console.auth import ConsoleRequest, console_action, sam_user_or_404
from console.htmx import close_dialog, navigate, render_dialog

USERS_PER_PAGE = 25


@require_GET
@console_action("User:listUsers")
def user_list(request: ConsoleRequest) -> HttpResponse:
    page = Paginator(
        users.sam_users(request.user.operator).order_by("user_name"), USERS_PER_PAGE
    ).get_page(request.GET.get("page"))
    template = "accounts/users.html"
    if request.htmx and request.htmx.target == "user-list":
        template += "#user-list"
    return render(request, template, {"page": page, "tab": "users"})


@require_http_methods(["GET", "POST"])
@console_action("User:createUser")
def user_create(request: ConsoleRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save(request)
        except users.UserExists:
            pass
        else:
            return close_dialog(
                request, reverse("user-detail", args=[user.user_name]), "usersChanged"
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
    return render(
        request, template, {"subject": user, "form": form, "tab": "users", "section": "general"}
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
    return render(
        request,
        template,
        {"subject": user, "form": form, "saved": saved, "tab": "users", "section": "general"},
        status=200 if saved else 400,
    )


@require_http_methods(["GET", "POST"])
@console_action("User:createUserPassword")
def user_password(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    form = SetPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        api = "User:updateUserPassword" if user.has_password else "User:createUserPassword"
        try:
            users.set_password(request, request.user, user, form.cleaned_data["new_password"], api)
        except ValidationError as exc:
            form.add_error("new_password", exc)
        else:
            return close_dialog(
                request, reverse("user-detail", args=[user.user_name]), "userChanged"
            )
    return render_dialog(
        request,
        "accounts/partials/password_dialog.html",
        {"form": form, "subject": user},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@console_action("User:deleteUserPassword")
def user_password_delete(request: ConsoleRequest, user_name: str) -> HttpResponse:
    user = sam_user_or_404(request, user_name)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        users.remove_password(request, request.user, user)
        return close_dialog(request, reverse("user-detail", args=[user.user_name]), "userChanged")
    return render_dialog(
        request, "accounts/partials/password_delete_dialog.html", {"subject": user}
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
        return navigate(request, reverse("users"))
    return render_dialog(request, "accounts/partials/user_delete_dialog.html", {"subject": user})
