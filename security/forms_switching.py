"""Console forms for trust policies and switch user."""

from django import forms
from django.core.exceptions import ValidationError

from accounts.permissions import MAX_DOCUMENT_LENGTH
from accounts.trustpolicy import InvalidTrustPolicy
from console.fields import FreeTextField
from security import switching


class TrustPolicyForm(forms.Form):
    """A trust-policy document, validated as the API validates it (errors with positions)."""

    trust_policy = FreeTextField(
        label="Trust policy (JSON)",
        max_length=MAX_DOCUMENT_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 10, "spellcheck": "false", "class": "mono", "data-json-editor": ""}
        ),
        # The document's own validation refuses a secret and never echoes one.
        strip=False,
        refuse=False,
        secret_label="trust policy",
    )

    def clean_trust_policy(self) -> str:
        text = self.cleaned_data["trust_policy"]
        try:
            switching.validate(text)
        except InvalidTrustPolicy as exc:
            raise ValidationError(str(exc)) from None
        return text


class SwitchForm(forms.Form):
    """The target of a console switch: one of the menu's entries."""

    operator_id = forms.CharField(max_length=12)
    user_name = forms.CharField(max_length=100)
