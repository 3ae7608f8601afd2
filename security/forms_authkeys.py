"""Console forms for AuthKeys: each validates its input and owns the action it performs."""

from django import forms
from django.core.exceptions import ValidationError

from console.fields import FreeTextField
from security import authkeys
from security.access import ConsoleRequest
from security.models import AuthKey


class GenerateAuthKeyForm(forms.Form):
    """The generate dialog: an optional description that tells this key from the other."""

    description = FreeTextField(
        secret_label="description",
        label="Description (optional)",
        max_length=authkeys.MAX_DESCRIPTION_LENGTH,
        required=False,
        help_text="What the key is for, e.g. “CI deploy job”. Shown in the list of keys.",
    )

    def clean_description(self) -> str:
        return authkeys.validate_description(self.cleaned_data["description"])


class RevokeAuthKeyForm(forms.Form):
    """Confirm a revocation; the optional reason goes to the key's tombstone and the audit."""

    reason = FreeTextField(
        secret_label="reason",
        label="Reason (optional)",
        max_length=400,
        required=False,
        help_text="Kept with the revoked key and in the audit log, e.g. “leaked in a CI log”.",
    )

    def __init__(self, *args, request: ConsoleRequest, key: AuthKey, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.key = key

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in reason):
            raise ValidationError("The reason contains control characters.")
        return reason

    def revoke(self) -> bool:
        """Revoke the key; return False if it was no longer live."""
        return authkeys.revoke(
            self.request, self.request.user, self.key, reason=self.cleaned_data["reason"]
        )
