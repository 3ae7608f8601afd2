"""The console's "Forgot your password?" forms: ask for a code, then use it."""

from django import forms

from accounts.passwords import MAX_PASSWORD_LENGTH
from security.password_reset import MAX_TOKEN_LENGTH


class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(
        label="Root account e-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )


class _CodeInput(forms.TextInput):
    """A text box that never writes the code back into a re-rendered page."""

    def format_value(self, value: object) -> None:
        return None


class ResetPasswordForm(forms.Form):
    token = forms.CharField(
        label="Reset code (from the mail)",
        max_length=MAX_TOKEN_LENGTH,
        widget=_CodeInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )
    new_password = forms.CharField(
        label="New password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=MAX_PASSWORD_LENGTH,
        strip=False,
    )
    confirm_password = forms.CharField(
        label="New password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=MAX_PASSWORD_LENGTH,
        strip=False,
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", "The two passwords differ.")
        return data
