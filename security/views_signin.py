"""The console's sign-in and sign-out (audited), the home redirect and the JWKS."""

from django.conf import settings
from django.contrib.auth import login, logout
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import policy, signin, tokens
from accounts.context import SECOND_FACTOR_SESSION_KEY, CallContext
from accounts.identifiers import OPERATOR_ID_RE, canonical_operator_id
from accounts.signin import account_key, device_token, sign_in
from console.net import client_ip
from security import audit, failures, mfa, notifications, second_step
from security.forms_signin import RootSignInForm, SamSignInForm

DEVICE_COOKIE_AGE = 180 * 24 * 3600
GENERIC_FAILURE = "Sign-in failed. Check what you entered and try again."


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """Serve the token-signing public keys so that services can verify tokens locally."""
    response = JsonResponse(tokens.jwks())
    # A new key is published at least this long before it signs (accounts/tokens.py).
    response["Cache-Control"] = f"public, max-age={tokens.JWKS_MAX_AGE}"
    return response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_authenticated and user.operator_id:
        # The first page this principal may open: a SAM user without User:listUsers
        # lands on its own page, or on a plain welcome when it may open neither.
        if policy.is_allowed(CallContext.from_request(request, user, "User:listUsers", {})):
            return redirect("users")
        own = {"user_name": user.user_name}
        if user.is_sam and policy.is_allowed(
            CallContext.from_request(request, user, "User:getUser", own)
        ):
            return redirect("user-detail", user.user_name)
        return render(request, "console/welcome.html")
    if user.is_authenticated:  # installation staff: each role has its own pages
        return redirect("staff-home" if user.is_support_staff else "admin:index")
    return redirect("login")


def _device_tokens(request: HttpRequest) -> list[str]:
    """Return the accounts this browser signed in to before (from its signed device cookie)."""
    try:
        value = signing.get_cookie_signer(salt="latchkey.device").unsign(
            request.COOKIES.get(settings.LATCHKEY_DEVICE_COOKIE_NAME, ""),
            max_age=DEVICE_COOKIE_AGE,
        )
    except signing.BadSignature:
        return []
    return [t for t in value.split(",") if t]


def _trusted_device(request: HttpRequest, account: str) -> bool:
    return device_token(account) in _device_tokens(request)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("home")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    mode = "sam" if (request.POST.get("mode") or request.GET.get("mode")) == "sam" else "root"
    form_class = SamSignInForm if mode == "sam" else RootSignInForm
    form = form_class(request.POST or None, prefix=mode)
    if mode == "sam" and request.method == "GET":
        _prefill_operator(form, request.GET.get("operator", ""))
    error, status = "", 200
    if request.method == "POST":
        status = 400
        error = GENERIC_FAILURE
        if form.is_valid():
            data = form.cleaned_data
            if mode == "sam":
                creds = {"operator_id": data["operator_id"], "user_name": data["user_name"]}
                account = account_key(**creds)
            else:
                creds = {"email": data["email"]}
                account = account_key(email=data["email"])
            result = sign_in(
                request,
                password=data["password"],
                trusted_device=_trusted_device(request, account),
                second_factor=_second_factor_due,
                **creds,
            )
            if result.pending:
                return second_step.begin(request, result.principal, account, _safe_next(request))
            if result.ok:
                return _signed_in(request, result.principal, account)
            if result.retry_after:
                status = 429
                error = f"Too many failed sign-ins. Try again in {result.retry_after} seconds."
            failures.record_sign_in_failure(request, "Console:signIn", result, **creds)
    response = render(
        request,
        "console/login.html",
        {
            "form": form,
            "mode": mode,
            "error": error,
            "next": _safe_next(request),
        },
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(result.retry_after)
    return response


def _prefill_operator(form: SamSignInForm, value: str) -> None:
    """Fill in the operator ID of a sign-in link (`?mode=sam&operator=OP...`), if it is one.

    Only a well-formed operator ID is taken (in any case); the cursor then starts in the
    user name. Whether that operator exists is not looked up: the page is the same for all.
    """
    operator_id = canonical_operator_id(value[:20])
    if not OPERATOR_ID_RE.match(operator_id):
        return
    form.initial = {"operator_id": operator_id}
    form.fields["operator_id"].widget.attrs.pop("autofocus", None)
    form.fields["user_name"].widget.attrs["autofocus"] = True


def sign_in_link(request: HttpRequest, operator_id: str) -> str:
    """Return the absolute link that opens the SAM sign-in with the operator ID filled in."""
    query = urlencode({"mode": "sam", "operator": operator_id})
    return request.build_absolute_uri(f"{reverse('login')}?{query}")


def _second_factor_due(principal) -> str:
    """After a right password: the console's second step is due when MFA is active (TOTP
    or a passkey), or when the operator requires a second factor of its SAM users."""
    if mfa.has_second_factor(principal):
        return signin.PENDING
    if principal.is_sam and principal.operator.require_sam_console_mfa:
        return signin.PENDING
    return signin.PASSED


def _signed_in(
    request: HttpRequest, principal, account: str, second_factor: str = "", next_url: str = ""
) -> HttpResponse:
    # Read before login(): the device cookie says whether this browser signed in here before.
    new_browser = not _trusted_device(request, account)
    login(request, principal)  # rotates the session key (no fixation)
    if second_factor:
        request.session[SECOND_FACTOR_SESSION_KEY] = True
    if principal.is_root and new_browser:
        notifications.new_browser_sign_in(
            principal.operator_id, client_ip(request), request.META.get("HTTP_USER_AGENT", "")
        )
    audit.record(
        request,
        "Console:signIn",
        operator=principal.operator,
        principal=principal,
        target=principal.user_name or "root",
        details={"secondFactor": second_factor} if second_factor else None,
    )
    response = HttpResponseRedirect(next_url or _safe_next(request))
    signer = signing.get_cookie_signer(salt="latchkey.device")
    token = device_token(account)
    known = [token, *[t for t in _device_tokens(request) if t != token]][:10]
    response.set_cookie(
        settings.LATCHKEY_DEVICE_COOKIE_NAME,
        signer.sign(",".join(known)),
        max_age=DEVICE_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """The second step of a console sign-in: a TOTP code or a backup code (or a passkey).

    Reachable only in the half-signed-in state that a right password opened in this
    browser's session, for a few minutes (security/second_step.py); no other page is.
    """
    pending = second_step.current(request)
    if pending is None:  # signed in already, or no right password first
        return redirect("home" if request.user.is_authenticated else "login")
    principal = pending.principal
    if not mfa.has_second_factor(principal):
        # The operator requires a second factor and this SAM user has none yet.
        second_step.drop(request)
        failures.record_failure(
            request,
            "Console:signIn",
            operator=principal.operator_id,
            target=principal.user_name,
            extra={"secondFactor": "required"},
        )
        return render(request, "console/login_verify.html", {"required": True}, status=403)
    error, status = "", 200
    if request.method == "POST":
        code = request.POST.get("code", "").strip()[:64]
        used = {"kind": ""}

        def check() -> bool:
            if mfa.looks_like_totp_code(code):
                used["kind"] = "totp" if mfa.accept_code(principal, code) else ""
            elif mfa.use_backup_code(request, principal, code):
                used["kind"] = "backupCode"
            return bool(used["kind"])

        result = signin.second_step(
            request, pending.account, check, _trusted_device(request, pending.account)
        )
        if not result.retry_after and not result.second_factor_failed:
            second_step.drop(request)
            return _signed_in(request, principal, pending.account, used["kind"], pending.next)
        failures.record_sign_in_failure(
            request, "Console:signIn", result, **second_step.credentials(principal)
        )
        if result.retry_after:
            second_step.drop(request)
            status = 429
            error = f"Too many failed sign-ins. Try again in {result.retry_after} seconds."
        elif second_step.count_failure(request):
            status, error = 400, "That code did not work. Enter the current code or a backup code."
        else:
            return redirect("login")
    return render(
        request,
        "console/login_verify.html",
        {"error": error, "passkeys": mfa.has_passkeys(principal)},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit.record(
            request,
            "Console:signOut",
            operator=request.user.operator_id,
            principal=request.user,
            target=request.user.user_name or "root",
        )
    logout(request)
    return redirect("login")
