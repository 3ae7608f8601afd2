"""Console forms for AuthKeys: each validates its input and owns the action it performs."""

import re

from django import forms
from django.core.exceptions import ValidationError

from console.fields import FreeTextField
from security import authkeys
from security.access import ConsoleRequest
from security.models import AuthKey


class SourceNetworksField(FreeTextField):
    """Allowed source networks typed one per line (commas and spaces also separate them)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Allowed source networks (optional)")
        kwargs.setdefault(
            "help_text",
            "IPv4 or IPv6 networks the key may be used from, one per line, e.g. "
            "203.0.113.0/24 or 2001:db8::/32 (at most 20). Empty: from anywhere.",
        )
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}))
        super().__init__(secret_label="allowed source networks", required=False, **kwargs)

    def to_list(self, value: str) -> list[str]:
        return [part for part in re.split(r"[\s,]+", value or "") if part]


def _clean_networks(field: SourceNetworksField, value: str) -> list[str]:
    values = field.to_list(value)
    authkeys.validate_source_networks(values)  # ValidationError: the field's error
    return values


class GenerateAuthKeyForm(forms.Form):
    """The generate dialog: an optional description that tells this key from the other,
    and optional allowed source networks."""

    description = FreeTextField(
        secret_label="description",
        label="Description (optional)",
        max_length=authkeys.MAX_DESCRIPTION_LENGTH,
        required=False,
        help_text="What the key is for, e.g. “CI deploy job”. Shown in the list of keys.",
    )

    allowed_networks = SourceNetworksField(max_length=2000)

    def clean_description(self) -> str:
        return authkeys.validate_description(self.cleaned_data["description"])

    def clean_allowed_networks(self) -> list[str]:
        field = self.fields["allowed_networks"]
        return _clean_networks(field, self.cleaned_data["allowed_networks"])


class SourceNetworksForm(forms.Form):
    """Edit where a key may be used from; saving holds its open sessions to the new list."""

    allowed_networks = SourceNetworksField(max_length=2000)

    def __init__(self, *args, request: ConsoleRequest, key: AuthKey, **kwargs) -> None:
        kwargs.setdefault("initial", {"allowed_networks": "\n".join(key.allowed_networks.split())})
        super().__init__(*args, **kwargs)
        self.request = request
        self.key = key

    def clean_allowed_networks(self) -> list[str]:
        field = self.fields["allowed_networks"]
        return _clean_networks(field, self.cleaned_data["allowed_networks"])

    def save(self) -> bool:
        """Set the key's networks; return False if it was no longer live."""
        return authkeys.set_source_networks(
            self.request, self.request.user, self.key, self.cleaned_data["allowed_networks"]
        )


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
