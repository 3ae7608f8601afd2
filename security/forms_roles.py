"""Console forms for roles, attachments, inline and default permissions, and the simulator."""

import ipaddress
import json
from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.identifiers import NAME_RULE, is_valid_name, name_problem
from accounts.models import Principal, Role
from accounts.permissions import (
    EMPTY_DOCUMENT,
    MAX_DOCUMENT_LENGTH,
    Review,
    known_operations,
    review,
)
from console.fields import FreeTextField
from security import roles, users

# The ready statement for "manage your own password and AuthKeys only" (issue 4, item 7).
SELF_SERVICE_STATEMENT = {
    "effect": "allow",
    "api": [
        "User:getUser",
        "User:hasUserPassword",
        "User:createUserPassword",
        "User:updateUserPassword",
        "User:deleteUserPassword",
        "User:listUserAuthKeys",
        "User:generateUserAuthKey",
        "User:getUserAuthKey",
        "User:deleteUserAuthKey",
    ],
    "condition": "pathVariable('user_name') == samUserName",
}


def pretty(text: str) -> str:
    """Return a stored document indented for the editor (as stored when it is not JSON)."""
    if not text:
        return json.dumps({"statements": []}, indent=2)
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


class PermissionField(FreeTextField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Permission (JSON)")
        kwargs.setdefault("max_length", MAX_DOCUMENT_LENGTH)
        kwargs.setdefault(
            "widget",
            forms.Textarea(
                attrs={"rows": 12, "spellcheck": "false", "class": "mono", "data-json-editor": ""}
            ),
        )
        # The review refuses a secret naming its statement; the field never echoes one.
        super().__init__(strip=False, refuse=False, secret_label="permission", **kwargs)


class PermissionForm(forms.Form):
    """A permission document: validated statement by statement (`self.review`)."""

    permission = PermissionField()

    review: Review | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stored = None if self.is_bound else self.initial.get("permission")
        if stored:
            # A stored document naming no operation (a typo saved earlier, by the API too)
            # shows its warnings whenever its page is opened, not only right after saving.
            found = review(stored)
            if found.has_warnings:
                self.review = found

    @property
    def api_names(self) -> list[str]:
        """Return every known API name, for the editor's suggestions."""
        return sorted(known_operations())

    def clean_permission(self) -> str:
        text = self.cleaned_data["permission"]
        self.review = review(text)
        if self.review.error is not None:
            raise ValidationError(str(self.review.error))
        return text


class RoleForm(PermissionForm):
    description = FreeTextField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        secret_label="description",
    )
    field_order = ["description", "permission"]

    def clean_description(self) -> str:
        description = self.cleaned_data["description"]
        users.validate_description(description)
        return description


class RoleCreateForm(RoleForm):
    role_id = FreeTextField(
        label="Role ID", max_length=100, help_text=NAME_RULE, secret_label="role ID"
    )
    field_order = ["role_id", "description", "permission"]

    def __init__(self, *args, actor: Principal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_role_id(self) -> str:
        role_id = self.cleaned_data["role_id"]
        if not is_valid_name(role_id):
            raise ValidationError(name_problem(role_id, "role ID"))
        if roles.get_role(self.actor.operator_id, role_id) is not None:
            raise ValidationError(f"A role named {role_id} already exists.")
        return role_id

    def save(self, request) -> Role | None:
        try:
            return roles.create_role(
                request,
                self.actor,
                self.cleaned_data["role_id"],
                self.cleaned_data["permission"],
                self.cleaned_data["description"],
            )
        except roles.RoleExists as exc:  # lost a race with another request
            self.add_error("role_id", str(exc))
            return None


class AttachForm(forms.Form):
    role = forms.ModelChoiceField(queryset=Role.objects.none(), to_field_name="role_id")

    def __init__(self, *args, subject: Principal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subject = subject
        self.fields["role"].queryset = (
            roles.roles_of(subject.operator_id)
            .exclude(attachments__principal=subject)
            .order_by("role_id")
        )


def _operation_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(known_operations())]


class SimulatorForm(forms.Form):
    """What the simulator asks: an operation, how and from where it is called, and when."""

    api = forms.ChoiceField(label="API operation", choices=_operation_choices)
    method = forms.ChoiceField(
        label="HTTP method",
        choices=[(m, m) for m in ("GET", "POST", "PUT", "DELETE")],
        initial="GET",
    )
    source_ip = forms.CharField(label="Source IP", max_length=45, initial="192.0.2.10")
    at = forms.DateTimeField(
        label="Time (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text="Empty: now.",
    )
    second_factor = forms.BooleanField(
        label="Signed in with a second factor",
        required=False,
        help_text="The condition variable multiFactorAuthPresent: a console sign-in or a "
        "password exchange with a TOTP code, backup code or passkey (never an AuthKey).",
    )
    path_vars = forms.CharField(
        label="Path variables",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="One name=value per line, e.g. user_name=alice",
    )

    def clean_source_ip(self) -> str:
        value = self.cleaned_data["source_ip"].strip()
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValidationError("Enter an IPv4 or IPv6 address.") from None
        return value

    def clean_at(self):
        moment = self.cleaned_data.get("at")
        if moment is None:
            return timezone.now()
        # The form's time is UTC whatever the server's time zone.
        return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment.astimezone(UTC)

    def clean_path_vars(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["path_vars"].splitlines(), 1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise ValidationError(f"Line {number}: write name=value.")
            found[name.strip()] = value.strip()
        return found


__all__ = [
    "EMPTY_DOCUMENT",
    "SELF_SERVICE_STATEMENT",
    "AttachForm",
    "PermissionForm",
    "RoleCreateForm",
    "RoleForm",
    "SimulatorForm",
    "pretty",
]
