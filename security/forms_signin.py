"""The console's two sign-in forms: root (e-mail) and SAM user (operator ID + user name)."""

from django import forms

from accounts.identifiers import canonical_operator_id
from accounts.passwords import MAX_PASSWORD_LENGTH


class RootSignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        max_length=MAX_PASSWORD_LENGTH,
        strip=False,
    )

    def clean_operator_id(self) -> str:
        # People type or paste it in any case (op5311...); the account's throttles and its
        # audit entries see the one canonical form.
        return canonical_operator_id(self.cleaned_data["operator_id"])


class SamSignInForm(forms.Form):
    operator_id = forms.CharField(
        label="Operator ID",
        max_length=12,
        widget=forms.TextInput(attrs={"autofocus": True, "placeholder": "OP0123456789"}),
    )
    user_name = forms.CharField(
        label="User name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        max_length=MAX_PASSWORD_LENGTH,
        strip=False,
    )

    def clean_operator_id(self) -> str:
        # People type or paste it in any case (op5311...); the account's throttles and its
        # audit entries see the one canonical form.
        return canonical_operator_id(self.cleaned_data["operator_id"])
