"""Console enrolment of the TOTP second factor: root on its account page, SAM users on
their own page (and root on any user's page). The actions call the API's service
functions (security/mfa.py) and are authorized as their API twins.

The enrolment page (after "Set up") is the one page that shows the secret, as a QR code
rendered here (segno, an inline SVG: no image from elsewhere) and as text; the page after
a confirmed code is the one page that shows the backup codes, with copy and download.
"""

from dataclasses import dataclass

import segno
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Principal
from security import mfa, passkeys
from security.access import ConsoleRequest, console_action, sam_user_or_404

MAX_INPUT = 64


@dataclass(frozen=True)
class Scope:
    """Whose second factor a page manages, and the names of its operations."""

    subject: Principal
    label: str
    url: str
    api: dict[str, str]

    @property
    def is_root(self) -> bool:
        return self.subject.is_root


ROOT_API = {
    "enable": "Operator:enableMFA",
    "verify": "Operator:verifyMFA",
    "revoke": "Operator:revokeMFA",
}
USER_API = {
    "enable": "User:enableUserMFA",
    "verify": "User:verifyUserMFA",
    "revoke": "User:revokeUserMFA",
}


def _root_scope(request: ConsoleRequest) -> Scope:
    return Scope(request.user, "the root user", reverse("account-mfa"), ROOT_API)


def _user_scope(request: ConsoleRequest, user_name: str) -> Scope:
    user = sam_user_or_404(request, user_name)
    return Scope(user, user.user_name, reverse("user-mfa", args=[user.user_name]), USER_API)


def qr_svg(uri: str) -> str:
    """Return the otpauth:// URI as an inline SVG QR code (no script, no external image)."""
    return mark_safe(  # noqa: S308 (segno's own markup: paths and a title, no input echoed)
        segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator app")
    )


def _status_page(request: ConsoleRequest, scope: Scope, template: str, extra: dict) -> HttpResponse:
    subject = scope.subject
    context = {
        "scope": scope,
        "subject": subject,
        "status": mfa.status(subject),
        "backup_left": mfa.backup_codes_left(subject),
        "passkeys": list(passkeys.passkeys_of(subject)),
        "own": subject.pk == request.user.pk,
        **extra,
    }
    return render(request, template, context)


def _enrol(request: ConsoleRequest, scope: Scope) -> HttpResponse:
    try:
        uri = mfa.enable(request, request.user, scope.subject, scope.api["enable"])
    except mfa.MfaError as exc:
        messages.error(request, str(exc))
        return redirect(scope.url)
    secret = mfa.secret_from_uri(uri)
    return render(
        request,
        "security/mfa_enrol.html",
        {"scope": scope, "subject": scope.subject, "qr": qr_svg(uri), "secret": secret},
    )


def _verify(request: ConsoleRequest, scope: Scope) -> HttpResponse:
    code = request.POST.get("code", "").strip()[:MAX_INPUT]
    try:
        codes = mfa.verify(request, request.user, scope.subject, code, scope.api["verify"])
    except mfa.WrongCode as exc:
        context = {"scope": scope, "subject": scope.subject, "error": str(exc)}
        return render(request, "security/mfa_enrol.html", context, status=400)
    except mfa.MfaError as exc:
        messages.error(request, str(exc))
        return redirect(scope.url)
    return render(
        request,
        "security/mfa_backup_codes.html",
        {"scope": scope, "subject": scope.subject, "codes": codes},
    )


# Root ---------------------------------------------------------------------------------


@require_GET
@console_action("Operator:getMFAStatus")
def account_mfa(request: ConsoleRequest) -> HttpResponse:
    operator = request.user.operator
    return _status_page(
        request,
        _root_scope(request),
        "security/mfa.html",
        {"tab": "mfa", "require_sam": operator.require_sam_console_mfa},
    )


@require_POST
@console_action("Operator:enableMFA", method="POST")
def account_mfa_enable(request: ConsoleRequest) -> HttpResponse:
    return _enrol(request, _root_scope(request))


@require_POST
@console_action("Operator:verifyMFA", method="POST")
def account_mfa_verify(request: ConsoleRequest) -> HttpResponse:
    return _verify(request, _root_scope(request))


@require_POST
@console_action("Operator:revokeMFA")
def account_mfa_revoke(request: ConsoleRequest) -> HttpResponse:
    password = request.POST.get("password", "")
    try:
        mfa.revoke_root(request, request.user, request.user, password, second_factor_session=False)
    except mfa.WrongPassword as exc:
        text = str(exc)
        if exc.retry_after:
            text = f"Too many failed attempts. Try again in {exc.retry_after} seconds."
        messages.error(request, text)
        return redirect("account-mfa")
    except mfa.MfaError as exc:
        messages.error(request, str(exc))
        return redirect("account-mfa")
    messages.success(request, "MFA removed: sign-in needs only the password now.")
    return redirect("account-mfa")


@require_POST
@console_action("Operator:updateMFARequirement", method="PUT")
def account_mfa_requirement(request: ConsoleRequest) -> HttpResponse:
    required = request.POST.get("require_sam") == "on"
    mfa.set_sam_console_requirement(request, request.user, required)
    messages.success(
        request,
        "SAM users now need a second factor to sign in to the console."
        if required
        else "SAM users no longer need a second factor to sign in to the console.",
    )
    return redirect("account-mfa")


# SAM users ----------------------------------------------------------------------------


@require_GET
@console_action("User:getUserMFAStatus")
def user_mfa(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _status_page(
        request,
        _user_scope(request, user_name),
        "security/user_mfa.html",
        {"tab": "users", "section": "mfa"},
    )


@require_POST
@console_action("User:enableUserMFA", method="POST")
def user_mfa_enable(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _enrol(request, _user_scope(request, user_name))


@require_POST
@console_action("User:verifyUserMFA", method="POST")
def user_mfa_verify(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _verify(request, _user_scope(request, user_name))


@require_POST
@console_action("User:revokeUserMFA")
def user_mfa_revoke(request: ConsoleRequest, user_name: str) -> HttpResponse:
    scope = _user_scope(request, user_name)
    try:
        mfa.revoke(request, request.user, scope.subject, scope.api["revoke"])
    except mfa.MfaError as exc:
        messages.error(request, str(exc))
        return redirect(scope.url)
    messages.success(request, f"MFA removed for {scope.subject.user_name}.")
    return redirect(scope.url)
