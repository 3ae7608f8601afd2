"""Console forms for AuthKeys: each validates its input and owns the action it performs."""

import re
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from console.fields import FreeTextField
from security import authkeys
from security.access import ConsoleRequest
from security.models import AuthKey

EXPIRY_CHOICES = [
    ("", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In 365 days"),
    ("date", "On a date"),
]


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


class ExpiryMixin(forms.Form):
    """An optional expiry: a number of days or a date (UTC end of that day)."""

    expiry = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, required=False, initial="")
    expiry_date = forms.DateField(
        label="Expiry date (UTC)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Used when “On a date” is chosen: the key stops at the start of that day.",
    )

    def expires_at(self) -> datetime | None:
        """Return the chosen expiry as an aware datetime, or None for never."""
        choice = self.cleaned_data.get("expiry") or ""
        if choice == "date":
            day = self.cleaned_data.get("expiry_date")
            return datetime.combine(day, time.min, tzinfo=UTC) if day else None
        if choice:
            return timezone.now().replace(microsecond=0) + timedelta(days=int(choice))
        return None

    def clean(self) -> dict:
        data = super().clean()
        if data.get("expiry") == "date" and not data.get("expiry_date"):
            self.add_error("expiry_date", "Choose the expiry date.")
        return data


class GenerateAuthKeyForm(ExpiryMixin):
    """The generate dialog: an optional description that tells this key from the other,
    optional allowed source networks and an optional expiry."""

    field_order = ["description", "allowed_networks", "expiry", "expiry_date"]

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


ROLL_DELAYS = [
    ("0", "Now"),
    ("3600", "In 1 hour"),
    ("86400", "In 24 hours"),
    ("604800", "In 7 days"),
]


class RollAuthKeyForm(ExpiryMixin):
    """Roll a key: when the old one is revoked, and the replacement's optional expiry."""

    delay = forms.TypedChoiceField(
        label="Revoke the old key",
        choices=ROLL_DELAYS,
        coerce=int,
        initial="86400",
        help_text="Both keys work until then: deploy the new one first.",
    )

    def delay_timedelta(self) -> timedelta:
        return timedelta(seconds=self.cleaned_data["delay"])


class MaxLifetimeForm(forms.Form):
    """Root's setting: the longest lifetime of a new AuthKey (empty: no limit)."""

    max_lifetime_days = forms.IntegerField(
        label="Longest lifetime of new AuthKeys (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Empty for no limit. New keys must then expire within this many days.",
    )
