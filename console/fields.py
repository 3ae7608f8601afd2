"""Form fields shared by the console's forms."""

from django import forms

from console import secretscan


class FreeTextField(forms.CharField):
    """Text a person types that is kept and shown to others: never holds a secret.

    A pasted AuthKey secret, API key or token is refused with a field error, and the form
    re-renders the input with the secret replaced by a marker, so the page that says "leave
    the secret out" does not send it back to the browser either.
    """

    def __init__(self, *, secret_label: str = "", refuse: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.secret_label = secret_label
        # refuse=False: the form refuses in its own words (a permission document names the
        # statement); the field still never sends a secret back.
        self.refuse = refuse

    def validate(self, value: str) -> None:
        super().validate(value)
        kind = secretscan.first_kind(value) if self.refuse else None
        if kind is not None:
            label = self.secret_label or str(self.label or "text").lower()
            raise forms.ValidationError(secretscan.message(label, kind), code="secret")

    def bound_data(self, data, initial):
        data = super().bound_data(data, initial)
        return secretscan.redact(data) if isinstance(data, str) else data
