"""Support: root's grant on the Security page, and the staff pages under /staff/."""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Principal
from console import secretscan
from console.auth import ConsoleRequest, console_action
from security import auditlog, authkeys, support
from security.models import AuthKey

View = Callable[..., HttpResponse]


# --- root: grant and withdraw (Security page) ---------------------------------------------


class GrantForm(forms.Form):
    hours = forms.TypedChoiceField(
        coerce=int,
        choices=[(h, f"{h} hours" if h < 48 else f"{h // 24} days") for h in support.GRANT_HOURS],
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
    support.grant(request, request.user, form.cleaned_data["hours"])
    if not request.htmx:
        return redirect("support-access")
    return _support_page(request, GrantForm())


@require_POST
@console_action("Operator:revokeSupportAccess")
def support_withdraw(request: ConsoleRequest) -> HttpResponse:
    support.withdraw(request, request.user)
    if not request.htmx:
        return redirect("support-access")
    return _support_page(request, GrantForm())


# --- staff ---------------------------------------------------------------------------------


def staff_required(view: View) -> View:
    """Require a signed-in member of the installation's support staff (Django admin login)."""

    @wraps(view)
    def wrapped(request: ConsoleRequest, *args: object, **kwargs: object) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
        if not support.is_staff(user):
            raise Http404("No such page.")  # tenants learn nothing about staff pages
        return view(request, *args, **kwargs)

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


@require_GET
@staff_required
def staff_home(request: ConsoleRequest) -> HttpResponse:
    return redirect("staff-authkeys")


@require_GET
@staff_required
def staff_authkeys(request: ConsoleRequest) -> HttpResponse:
    """Look up an AuthKey by its ID and show who holds it."""
    key_id = request.GET.get("key_id", "").strip()
    owner, error, status = None, "", 200
    if key_id:
        if len(key_id) > 100 or not authkeys.looks_like_key_id(key_id):
            error, status = "That is not an AuthKey ID (keyId- then 32 letters and digits).", 400
        else:
            owner = support.lookup_key(request, request.user, key_id)
            if owner is None:
                error, status = "No AuthKey has that ID.", 404
    context = {
        "key_id": key_id,
        "owner": owner,
        "error": error,
        "form": RevokeForm(),
        "section": "authkeys",
    }
    return render(request, "staff/authkeys.html", context, status=status)


@require_http_methods(["POST"])
@staff_required
def staff_revoke(request: ConsoleRequest, key_id: str) -> HttpResponse:
    key = AuthKey.objects.filter(key_id=key_id).first() if len(key_id) <= 100 else None
    if key is None:
        raise Http404("No AuthKey has that ID.")
    data = request.POST.copy()
    secret_given = support.contains_secret(data.get("reason", ""))
    if secret_given:  # never echo a secret back into the page
        data["reason"] = support.redact_secrets(data["reason"])
    form = RevokeForm(data)  # a redacted reason fails validation with SECRET_IN_REASON
    if not form.is_valid():
        owner = support.lookup_key(request, request.user, key_id)
        context = {"key_id": key_id, "owner": owner, "form": form, "section": "authkeys"}
        return render(request, "staff/authkeys.html", context, status=400)
    if support.revoke_key(request, request.user, key, form.cleaned_data["reason"]):
        messages.success(request, f"{key_id} is revoked; its API sessions have ended.")
    else:
        messages.info(request, f"{key_id} was already revoked.")
    return redirect(f"{reverse('staff-authkeys')}?key_id={key_id}")


@require_GET
@staff_required
def staff_operators(request: ConsoleRequest) -> HttpResponse:
    """List the operators that have granted support access right now."""
    context = {"operators": support.open_operators(), "section": "operators"}
    return render(request, "staff/operators.html", context)


@require_GET
@staff_required
def staff_operator(request: ConsoleRequest, operator_id: str) -> HttpResponse:
    """Show an operator's account while (and only while) its support access is open."""
    try:
        operator = support.view_operator(request, request.user, operator_id, "account overview")
    except support.SupportAccessClosed:
        raise Http404("This operator has not granted support access.") from None
    principals = Principal.objects.filter(operator=operator).order_by("kind", "user_name")
    keys = AuthKey.objects.filter(operator=operator, slot__isnull=False).order_by("holder")
    keys_by_holder: dict[str, list[AuthKey]] = {}
    for key in keys:
        keys_by_holder.setdefault(key.holder, []).append(key)
    rows = [
        {
            "principal": p,
            "name": "root" if p.is_root else p.user_name,
            "keys": keys_by_holder.get("root" if p.is_root else p.user_name, []),
        }
        for p in principals
    ]
    recent = [auditlog.display(e) for e in auditlog.entries(operator)[:50]]
    context = {
        "operator": operator,
        "until": support.access_until(operator),
        "rows": rows,
        "recent": recent,
        "section": "operators",
    }
    return render(request, "staff/operator.html", context)
