"""Passkeys in the console: register (own account only), remove, and sign in with one, as
the second step after a password or alone. The ceremonies are JSON exchanges driven by
static/js/passkeys.js; security/passkeys.py checks them with the `webauthn` library."""

import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import Principal
from accounts.signin import account_key
from security import failures, passkeys, second_step
from security.access import ConsoleRequest, console_action, sam_user_or_404
from security.models import Passkey
from security.views_signin import _signed_in

BACKENDS = {
    Principal.Kind.ROOT: "accounts.backends.RootBackend",
    Principal.Kind.SAM: "accounts.backends.SamUserBackend",
}

MAX_BODY = passkeys.MAX_CREDENTIAL_JSON + 1024


def _body(request: HttpRequest) -> dict:
    if len(request.body) > MAX_BODY:
        return {}
    try:
        value = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _register(request: ConsoleRequest, subject: Principal, api: str) -> JsonResponse:
    if subject.pk != request.user.pk:
        # A passkey is made on the browser of whoever registers it: only for oneself.
        return _refused("Register a passkey for your own account only.")
    body = _body(request)
    name, credential = body.get("name"), body.get("credential")
    if not isinstance(name, str) or not isinstance(credential, str):
        return _refused("Name the passkey and create it in the browser.")
    try:
        passkey = passkeys.register(request, subject, name, credential, api)
    except passkeys.PasskeyError as exc:
        return _refused(str(exc))
    return JsonResponse({"name": passkey.name}, status=201)


def _options(request: ConsoleRequest, subject: Principal) -> HttpResponse:
    if subject.pk != request.user.pk:
        return _refused("Register a passkey for your own account only.")
    return HttpResponse(
        passkeys.registration_options(request, subject), content_type="application/json"
    )


def _passkey_of(subject: Principal, passkey_id: int) -> Passkey:
    found = Passkey.objects.filter(pk=passkey_id, principal_id=subject.pk).first()
    if found is None:
        raise Http404("No such passkey.")
    return found


# Root's own ---------------------------------------------------------------------------


@require_POST
@console_action("Operator:registerPasskey", method="POST")
def account_passkey_options(request: ConsoleRequest) -> HttpResponse:
    return _options(request, request.user)


@require_POST
@console_action("Operator:registerPasskey", method="POST")
def account_passkey_register(request: ConsoleRequest) -> HttpResponse:
    return _register(request, request.user, "Operator:registerPasskey")


@require_POST
@console_action("Operator:deletePasskey")
def account_passkey_delete(request: ConsoleRequest, passkey_id: int) -> HttpResponse:
    passkeys.remove(
        request, request.user, _passkey_of(request.user, passkey_id), "Operator:deletePasskey"
    )
    return redirect("account-mfa")


# A SAM user's -------------------------------------------------------------------------


@require_POST
@console_action("User:registerUserPasskey", method="POST")
def user_passkey_options(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _options(request, sam_user_or_404(request, user_name))


@require_POST
@console_action("User:registerUserPasskey", method="POST")
def user_passkey_register(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _register(request, sam_user_or_404(request, user_name), "User:registerUserPasskey")


@require_POST
@console_action("User:deleteUserPasskey")
def user_passkey_delete(request: ConsoleRequest, user_name: str, passkey_id: int) -> HttpResponse:
    subject = sam_user_or_404(request, user_name)
    passkeys.remove(
        request, request.user, _passkey_of(subject, passkey_id), "User:deleteUserPasskey"
    )
    return redirect("user-mfa", subject.user_name)


# Sign-in ------------------------------------------------------------------------------


@require_POST
def sign_in_options(request: HttpRequest) -> HttpResponse:
    """Request options: for the half-signed-in principal (second step), or for any
    discoverable passkey of this site (passkey-only sign-in)."""
    pending = second_step.current(request)
    principal = pending.principal if pending is not None else None
    return HttpResponse(
        passkeys.authentication_options(request, principal), content_type="application/json"
    )


@require_POST
def sign_in(request: HttpRequest) -> HttpResponse:
    """Verify the assertion and sign in (a passkey counts as the second factor)."""
    pending = second_step.current(request)
    credential = _body(request).get("credential")
    try:
        if not isinstance(credential, str):
            raise passkeys.PasskeyError("Use a passkey of this site.")
        passkey = passkeys.authenticate(request, credential)
    except passkeys.PasskeyError as exc:
        failures.record_failure(
            request,
            "Console:signIn",
            operator=pending.principal.operator_id if pending else None,
            target=(pending.principal.user_name or "root") if pending else "",
            extra={"secondFactor": "passkey failed"},
            # Without a half-signed-in state anyone can send this: aggregated per source
            # address and window, so the installation's chain stays bounded.
            malformed=pending is None,
        )
        return _refused(str(exc))
    principal = passkey.principal
    if principal.kind not in BACKENDS:
        return _refused("Use a passkey of this site.")
    principal.backend = BACKENDS[principal.kind]
    account = account_key(**second_step.credentials(principal))
    next_url = pending.next if pending is not None else ""
    second_step.drop(request)
    redirected = _signed_in(request, principal, account, "passkey", next_url)
    answer = JsonResponse({"next": redirected["Location"]})
    answer.cookies = redirected.cookies  # the device cookie
    return answer
