"""Installation staff forms: the two sign-ins and credential quotas."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.identifiers import OPERATOR_ID_RE
from accounts.models import Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from console import secretscan
from security import staff, support

GENERIC_FAILURE = "Sign-in failed. Check what you entered and try again."


class _StaffSignIn:
    """Shared by both staff sign-in forms: the throttled, audited check of one role."""

    role: str
    request: HttpRequest
    retry_after = 0

    def _sign_in(self, handle: str, password: str) -> Principal:
        result = staff.sign_in(self.request, self.role, handle, password)
        if result.retry_after:
            self.retry_after = result.retry_after
            raise ValidationError(staff.throttled_message(result.retry_after), code="throttled")
        if not result.ok:
            raise ValidationError(GENERIC_FAILURE, code="invalid_login")
        return result.principal


class SupportSignInForm(_StaffSignIn, forms.Form):
    """Support staff sign in at /staff/login/ (administrators' accounts are refused)."""

    role = staff.SUPPORT

    handle = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        max_length=MAX_PASSWORD_LENGTH,
        strip=False,
    )

    def __init__(self, *args: object, request: HttpRequest, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.principal: Principal | None = None

    def clean(self) -> dict:
        data = super().clean()
        if "handle" in data and "password" in data:
            self.principal = self._sign_in(data["handle"], data["password"])
        return data


class InstallationAdminSignInForm(_StaffSignIn, AdminAuthenticationForm):
    """The admin site's sign-in (/admin/login/): administrators only, throttled, audited."""

    role = staff.ADMIN
    error_messages = {**AdminAuthenticationForm.error_messages, "invalid_login": GENERIC_FAILURE}

    def clean(self) -> dict:
        handle = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if handle is not None and password:
            self.user_cache = self._sign_in(handle, password)
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class QuotaForm(forms.Form):
    """Set one operator's credential-set quota: write-only, recorded in its audit log."""

    operator_id = forms.CharField(
        label="Operator ID",
        max_length=12,
        widget=forms.TextInput(attrs={"placeholder": "OP0123456789", "autocomplete": "off"}),
    )
    credentials = forms.IntegerField(
        label="Credential sets quota", min_value=0, max_value=staff.MAX_QUOTA
    )
    reason = forms.CharField(
        max_length=staff.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. The operator reads it in its audit log.",
    )

    def __init__(self, data=None, *args: object, **kwargs: object) -> None:
        if data is not None and support.contains_secret(data.get("reason", "")):
            data = data.copy()  # never echo a secret back into the page
            data["reason"] = support.redact_secrets(data["reason"])
        super().__init__(data, *args, **kwargs)

    def clean_operator_id(self) -> str:
        operator_id = self.cleaned_data["operator_id"].strip()
        if not OPERATOR_ID_RE.match(operator_id):
            raise ValidationError("An operator ID is OP followed by 10 digits.")
        return operator_id

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise ValidationError("Give a reason.")
        if support.contains_secret(reason) or secretscan.is_redacted(reason):
            raise ValidationError(support.SECRET_IN_REASON)
        return reason

    def apply(self, request: HttpRequest) -> bool:
        """Set the quota; return False (with a field error) when no such operator exists."""
        data = self.cleaned_data
        try:
            staff.set_credential_quota(
                request, request.user, data["operator_id"], data["credentials"], data["reason"]
            )
        except staff.NoSuchOperator:
            self.add_error("operator_id", "No operator has that ID.")
            return False
        return True
