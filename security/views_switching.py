"""A user's Trust policy tab, its switched sessions, and the console's switch user menu."""

import json

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Principal
from accounts.trustpolicy import EMPTY_POLICY
from console.forms import ConfirmForm
from console.htmx import close_dialog, navigate, render_dialog
from security import switching
from security.access import ConsoleRequest, console_action, sam_user_or_404
from security.forms_switching import SwitchForm, TrustPolicyForm


def pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text or EMPTY_POLICY), indent=2)
    except ValueError:
        return text


def _page(request: ConsoleRequest, subject: Principal, form: TrustPolicyForm, status=200, **extra):
    template = "accounts/user_trust_policy.html"
    if request.htmx and request.method == "POST":
        template += "#trust-editor"
    context = {
        "subject": subject,
        "form": form,
        "trusted": switching.trusted_by(subject),
        "tab": "users",
        "section": "trust",
        "example": pretty(
            json.dumps(
                {
                    "statements": [
                        {
                            "effect": "allow",
                            "principal": {"soracom": ["srn:soracom:OP0000000000::User:name"]},
                        }
                    ]
                }
            )
        ),
        **extra,
    }
    return render(request, template, context, status=status)


@require_GET
@console_action("User:getUserTrustPolicy")
def user_trust_policy(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    return _page(
        request, subject, TrustPolicyForm(initial={"trust_policy": pretty(subject.trust_policy)})
    )


@require_POST
@console_action("User:updateUserTrustPolicy")
def user_trust_policy_update(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    form = TrustPolicyForm(request.POST)
    saved = False
    if form.is_valid():
        switching.set_trust_policy(
            request, request.user, subject, form.cleaned_data["trust_policy"]
        )
        saved = True
    return _page(request, subject, form, 400 if form.errors else 200, saved=saved)


@require_http_methods(["GET", "POST"])
@console_action("User:deleteUserTrustPolicy")
def user_trust_policy_delete(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        switching.delete_trust_policy(request, request.user, subject)
        return close_dialog(
            request,
            reverse("user-trust-policy", args=[subject.user_name]),
            "trustChanged",
            message=f"Trust policy of {subject.user_name} removed.",
        )
    return render_dialog(
        request, "accounts/partials/trust_policy_delete_dialog.html", {"subject": subject}
    )


@require_GET
@console_action("User:listUserSwitchedSessions")
def user_switched_sessions(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    context = {"subject": subject, "sessions": switching.switched_sessions(subject)}
    template = "accounts/partials/switched_sessions.html"
    if request.htmx:
        return render(request, template, context)
    return render(
        request, "accounts/role_panel_page.html", {**context, "panel": template, "tab": "users"}
    )


@require_http_methods(["GET", "POST"])
@console_action("User:revokeUserSwitchedSessions")
def user_switched_sessions_end(request: ConsoleRequest, user_name: str) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        switching.end_switched_sessions(request, request.user, subject)
        return close_dialog(
            request,
            reverse("user-trust-policy", args=[subject.user_name]),
            "trustChanged",
            message=f"Switched sessions into {subject.user_name} ended.",
        )
    return render_dialog(
        request, "accounts/partials/switched_sessions_end_dialog.html", {"subject": subject}
    )


@require_http_methods(["GET", "POST"])
@console_action("Auth:switchUser", method="POST")
def switch_user(request: ConsoleRequest) -> HttpResponse:
    """The switch user menu (GET) and the switch itself (POST), for a principal not switched."""
    refused = False
    if request.method == "POST":
        form = SwitchForm(request.POST)
        if form.is_valid():
            try:
                switching.console_switch(
                    request, form.cleaned_data["operator_id"], form.cleaned_data["user_name"]
                )
            except switching.SwitchNotAllowed:
                refused = True
            else:
                target = form.cleaned_data["user_name"]
                return navigate(request, reverse("home"), message=f"You now act as {target}.")
        refused = True
    switched = switching.console_switched(request) is not None
    targets = [] if switched else switching.targets_of(request.user)
    context = {"targets": targets, "refused": refused, "already_switched": switched}
    return render(request, "security/switch_user.html", context, status=400 if refused else 200)


@require_POST
def switch_back(request: ConsoleRequest) -> HttpResponse:
    """End this browser's switched session and return to the identity that opened it."""
    if switching.console_switched(request) is None or switching.console_switch_back(request):
        return redirect("home")
    return redirect("login")  # the source's own session had ended: signed out
