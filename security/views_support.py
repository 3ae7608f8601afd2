"""Support: root's grant on the Security page, and the support staff's pages under /staff/."""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Principal
from console import secretscan
from console.htmx import announce
from security import auditlog, authkeys, staff, support
from security.access import ConsoleRequest, console_action
from security.forms_staff import SupportSignInForm
from security.models import AuthKey

View = Callable[..., HttpResponse]


# --- root: grant and withdraw (Security page) ---------------------------------------------


class GrantForm(forms.Form):
    hours = forms.TypedChoiceField(
        coerce=int,
        choices=[(h, support.duration_label(h)) for h in support.GRANT_HOURS],
        initial=24,
        label="Open support access for",
    )


def _support_page(request: ConsoleRequest, form: GrantForm, status: int = 200) -> HttpResponse:
    operator = request.user.operator
    operator.refresh_from_db()
    template = "security/support.html"
    if request.htmx and request.htmx.target == "support-state":
        template += "#support-state"
    context = {
        "tab": "support",
        "form": form,
        "until": support.access_until(operator),
        "granted_by": operator.support_access_granted_by,
    }
    return render(request, template, context, status=status)


@require_GET
@console_action("Operator:getSupportAccess")
def support_access(request: ConsoleRequest) -> HttpResponse:
    return _support_page(request, GrantForm())


@require_POST
@console_action("Operator:grantSupportAccess")
def support_grant(request: ConsoleRequest) -> HttpResponse:
    form = GrantForm(request.POST)
    if not form.is_valid():
        return _support_page(request, form, status=400)
    hours = form.cleaned_data["hours"]
    support.grant(request, request.user, hours)
    message = f"Support access granted for {hours} hour{pluralize(hours)}."
    if not request.htmx:
        return announce(request, redirect("support-access"), message)
    return announce(request, _support_page(request, GrantForm()), message)


@require_POST
@console_action("Operator:revokeSupportAccess")
def support_withdraw(request: ConsoleRequest) -> HttpResponse:
    support.withdraw(request, request.user)
    message = "Support access withdrawn."
    if not request.htmx:
        return announce(request, redirect("support-access"), message)
    return announce(request, _support_page(request, GrantForm()), message)


# --- support staff: sign-in ---------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if allowed and target.startswith("/staff/") else reverse("staff-home")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def staff_login(request: HttpRequest) -> HttpResponse:
    """Support staff sign in here (throttled and audited like the console's sign-in)."""
    if request.method == "GET" and staff.is_support_staff(request.user):
        return redirect(_safe_next(request))
    form = SupportSignInForm(request.POST or None, request=request)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            login(request, form.principal)  # rotates the session key (no fixation)
            response = redirect(_safe_next(request))
            staff.remember_device(request, response, form.principal)
            return response
        status = 429 if form.retry_after else 400
    context = {"form": form, "next": _safe_next(request)}
    response = render(request, "staff/login.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(form.retry_after)
    return response


@require_POST
def staff_logout(request: HttpRequest) -> HttpResponse:
    logout(request)  # audited as Support:signOut (security/staff.py)
    return redirect("staff-login")


# --- support staff: pages --------------------------------------------------------------------


def support_required(view: View) -> View:
    """Require a signed-in member of the support staff; everyone else is kept out.

    Anonymous visitors go to the support sign-in; installation administrators get 403
    (their role has no support rights); tenants get 404 (they learn nothing of staff pages).
    """

    @wraps(view)
    def wrapped(request: ConsoleRequest, *args: object, **kwargs: object) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("staff-login"))
        if staff.is_support_staff(user):
            return view(request, *args, **kwargs)
        if user.kind == Principal.Kind.STAFF:
            return render(request, "staff/forbidden.html", status=403)
        raise Http404("No such page.")

    wrapped.api_name = None  # type: ignore[attr-defined]
    wrapped.staff_only = True  # type: ignore[attr-defined]
    return wrapped


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=support.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. The operator reads it in its audit log and on its AuthKeys tab.",
    )

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError("Give a reason.")
        if support.contains_secret(reason) or secretscan.is_redacted(reason):
            raise forms.ValidationError(support.SECRET_IN_REASON)
        return reason


NOT_A_KEY_ID = "That is not an AuthKey ID (keyId- then 32 letters and digits)."
A_SECRET_NOT_AN_ID = (
    "That is an AuthKey secret or another credential, not an AuthKey ID: treat it as leaked. "
    "It was not looked up or kept. Look the key up by its ID (keyId-...), which the report "
    "should name too."
)
NO_LIVE_KEY = "No live AuthKey has that ID."


@require_GET
@support_required
def staff_home(request: ConsoleRequest) -> HttpResponse:
    return redirect("staff-authkeys")


def _authkeys_page(request: ConsoleRequest, key_id: str, form: RevokeForm) -> HttpResponse:
    found, error, status = None, "", 400 if form.is_bound else 200
    if key_id and secretscan.contains_secret(key_id):
        # Never put it back into the page: say what it is, echo nothing.
        key_id, error, status = "", A_SECRET_NOT_AN_ID, 400
    elif key_id:
        if len(key_id) > 100 or not authkeys.looks_like_key_id(key_id):
            error, status = NOT_A_KEY_ID, 400
        else:
            found = support.lookup_key(request, request.user, key_id)
            if found is None:
                error, status = NO_LIVE_KEY, 404
    context = {
        "key_id": key_id,
        "found": found,
        "error": error,
        "form": form,
        "section": "authkeys",
    }
    return render(request, "staff/authkeys.html", context, status=status)


@sensitive_post_parameters("key_id")
@require_http_methods(["GET", "POST"])
@support_required
def staff_authkeys(request: ConsoleRequest) -> HttpResponse:
    """Look up an AuthKey by its exact ID: live or not, and its holder under a grant.

    The look-up is a POST: whatever is pasted (too often the secret itself) stays out of
    the URL, so out of browser history, proxy logs and the Referer of the next page.
    """
    if request.method == "GET":
        return _authkeys_page(request, "", RevokeForm())
    return _authkeys_page(request, request.POST.get("key_id", "").strip(), RevokeForm())


@require_POST
@support_required
def staff_revoke(request: ConsoleRequest, key_id: str) -> HttpResponse:
    """Revoke a live key by its exact ID, with a reason; no grant needed (leaks are urgent)."""
    key = support.live_key(key_id) if len(key_id) <= 100 else None
    if key is None:
        raise Http404(NO_LIVE_KEY)
    data = request.POST.copy()
    if support.contains_secret(data.get("reason", "")):  # never echo a secret back
        data["reason"] = support.redact_secrets(data["reason"])
    form = RevokeForm(data)  # a redacted reason fails validation with SECRET_IN_REASON
    # From the operator view, back to it; only while that account's grant is open (then
    # its keys are visible anyway), so the answer never tells who holds a key.
    back = data.get("back", "")
    from_operator = back == key.operator_id and support.access_until(key.operator) is not None
    if not form.is_valid():
        if from_operator:
            return _operator_page(request, key.operator_id, {key.key_id: form}, status=400)
        return _authkeys_page(request, key_id, form)
    if support.revoke_key(request, request.user, key, form.cleaned_data["reason"]):
        messages.success(
            request,
            f"{key_id} is revoked and its API sessions have ended; the account's audit log "
            "shows your reason.",
        )
    else:
        messages.info(request, f"{key_id} was no longer live.")
    if from_operator:
        return redirect("staff-operator", key.operator_id)
    return redirect("staff-authkeys")


@require_GET
@support_required
def staff_operators(request: ConsoleRequest) -> HttpResponse:
    """List the operators that have granted support access right now."""
    context = {"operators": support.open_operators(), "section": "operators"}
    return render(request, "staff/operators.html", context)


@require_GET
@support_required
def staff_operator(request: ConsoleRequest, operator_id: str) -> HttpResponse:
    """Show an operator's account while (and only while) its support access is open."""
    return _operator_page(request, operator_id)


def _operator_page(
    request: ConsoleRequest,
    operator_id: str,
    revoke_forms: dict[str, RevokeForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The operator view; each live key has a revoke form (refused ones come back filled)."""
    try:
        operator = support.view_operator(request, request.user, operator_id, "account overview")
    except support.SupportAccessClosed:
        raise Http404("This operator has not granted support access.") from None
    revoke_forms = revoke_forms or {}
    principals = Principal.objects.filter(operator=operator).order_by("kind", "user_name")
    # Keys are grouped by the principal that holds them, never by name: a SAM user's
    # name may look like another principal's (issue 17, item 9).
    keys_by_principal: dict[int, list[AuthKey]] = {}
    live = AuthKey.objects.filter(operator=operator, slot__isnull=False).order_by("created_at")
    for key in live:
        key.revoke_form = revoke_forms.get(key.key_id) or RevokeForm(auto_id=f"{key.key_id}-%s")
        keys_by_principal.setdefault(key.principal_id, []).append(key)
    rows = [{"principal": p, "keys": keys_by_principal.get(p.pk, [])} for p in principals]
    recent = [auditlog.display(e) for e in auditlog.entries(operator)[:50]]
    context = {
        "operator": operator,
        "until": support.access_until(operator),
        "rows": rows,
        "recent": recent,
        "section": "operators",
    }
    return render(request, "staff/operator.html", context, status=status)
