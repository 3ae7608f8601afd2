"""Console forms for credential sets and groups: each maps the service's errors onto fields."""

from django import forms
from django.urls import reverse

from accounts.identifiers import NAME_RULE, name_problem
from accounts.models import Principal
from console.fields import FreeTextField
from security import credential_schemas, credential_sealing, credentials, destinations, groups
from security.models import CredentialSet, Group, GroupServiceConfig

FIELD_PREFIX = "c__"


class SecretTextarea(forms.Textarea):
    """A textarea that never renders a value: a secret is not sent back to the browser."""

    def format_value(self, value):
        return None


def _widget(spec: credential_schemas.Field) -> forms.Widget:
    attrs = {"autocomplete": "off", "spellcheck": "false"}
    if spec.multiline:
        attrs |= {"rows": 6, "class": "mono"}
        return SecretTextarea(attrs) if spec.secret else forms.Textarea(attrs)
    if spec.kind == "choice":
        return forms.Select(choices=[("", "—"), *((c, c) for c in spec.choices)])
    if spec.secret:
        return forms.PasswordInput(attrs | {"autocomplete": "new-password"}, render_value=False)
    return forms.TextInput(attrs)


def add_type_fields(form: forms.Form, kind: str, *, updating: bool) -> None:
    """Add the fields of `kind` to the form (prefixed so they cannot collide with ours)."""
    schema = credential_schemas.TYPES.get(kind)
    if schema is None:
        return
    for spec in schema.fields:
        help_text = spec.help
        if updating:
            help_text = "Leave empty to keep the current value."
        elif not spec.required:
            help_text = help_text or "Optional."
        form.fields[FIELD_PREFIX + spec.name] = forms.CharField(
            label=spec.label,
            required=False,
            strip=False,
            help_text=help_text,
            widget=_widget(spec),
        )


def type_field_names(form: forms.Form) -> list[str]:
    return [name for name in form.fields if name.startswith(FIELD_PREFIX)]


class _CredentialFormBase(forms.Form):
    retry_after: int | None = None  # set when the service refused for the write rate

    def submitted_fields(self) -> dict[str, str]:
        return {
            name.removeprefix(FIELD_PREFIX): self.cleaned_data.get(name) or ""
            for name in type_field_names(self)
        }

    def apply_errors(self, exc: credentials.CredentialError) -> None:
        if isinstance(exc, credentials.WriteRateLimited):
            self.retry_after = exc.retry_after
        if not isinstance(exc, credentials.CredentialsInvalid):
            self.add_error(None, str(exc))
            return
        for name, message in exc.errors.items():
            target = {"credentialsId": "credentials_id", "type": "type"}.get(name, name)
            target = target.replace("credentials.", FIELD_PREFIX)
            if target in self.fields:
                self.add_error(target, f"{self.fields[target].label} {message}")
            else:
                self.add_error(None, f"{name} {message}")

    @property
    def type_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in type_field_names(self)]


class CredentialCreateForm(_CredentialFormBase):
    credentials_id = FreeTextField(
        label="Credentials ID", max_length=100, help_text=NAME_RULE, secret_label="credentials ID"
    )
    description = FreeTextField(
        max_length=credential_schemas.DESCRIPTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        secret_label="description",
    )
    type = forms.ChoiceField(choices=[("", "Choose a type…"), *credential_schemas.TYPE_CHOICES])

    def __init__(self, *args, actor: Principal, kind: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.kind = kind if kind in credential_schemas.TYPES else ""
        self.fields["type"].initial = self.kind
        # Choosing a type swaps that type's fields in (htmx); without JS, see the view.
        self.fields["type"].widget.attrs.update(
            {
                "hx-get": reverse("credential-fields"),
                "hx-trigger": "change",
                "hx-target": "#credential-fields",
                "hx-swap": "innerHTML",
            }
        )
        add_type_fields(self, self.kind, updating=False)

    def clean_credentials_id(self) -> str:
        value = self.cleaned_data["credentials_id"]
        try:
            credential_schemas.validate_credentials_id(value)
        except credentials.CredentialsInvalid:
            raise forms.ValidationError(name_problem(value, "credentials ID")) from None
        if credentials.get_credential_set(self.actor.operator_id, value) is not None:
            raise forms.ValidationError(f"A credential set with the ID {value} already exists.")
        return value

    def save(self, request) -> CredentialSet | None:
        """Store the set, or put the service's errors on the form and return None."""
        try:
            return credentials.create_credential_set(
                request,
                self.actor,
                self.cleaned_data["credentials_id"],
                self.cleaned_data["type"],
                self.cleaned_data["description"],
                self.submitted_fields(),
            )
        except credentials.CredentialError as exc:
            self.apply_errors(exc)
            return None


class CredentialUpdateForm(_CredentialFormBase):
    description = FreeTextField(
        max_length=credential_schemas.DESCRIPTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        secret_label="description",
    )

    def __init__(self, *args, actor: Principal, instance: CredentialSet, **kwargs) -> None:
        kwargs.setdefault("initial", {"description": instance.description})
        super().__init__(*args, **kwargs)
        self.actor, self.instance = actor, instance
        # A set sealed under a retired master key cannot keep its values: every field
        # must be entered again to replace it (credentials.update_credential_set).
        self.unreadable = not credential_sealing.master_key_configured(instance)
        add_type_fields(self, instance.type, updating=not self.unreadable)

    def save(self, request) -> CredentialSet | None:
        fields = {k: v for k, v in self.submitted_fields().items() if v}
        try:
            return credentials.update_credential_set(
                request,
                self.actor,
                self.instance,
                description=self.cleaned_data["description"],
                fields=fields or None,
                keep_missing=True,
            )
        except credentials.CredentialError as exc:
            self.apply_errors(exc)
            return None


# --- groups -----------------------------------------------------------------------------


class CredentialSetChoice(forms.ChoiceField):
    """The sets offered are those the user may use; what is posted, the service decides.

    groups.py authorizes the use (and audits a refusal) before it looks the set up, so a
    forged choice gets the same answer and the same audit entry as any other caller.
    """

    def valid_value(self, value: str) -> bool:
        return True


class GroupForm(forms.Form):
    name = FreeTextField(
        label="Group name", max_length=100, help_text=NAME_RULE, secret_label="group name"
    )

    def __init__(self, *args, request, instance: Group | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request, self.actor, self.instance = request, request.user, instance
        # Only the sets this user may attach to a destination (Credential:useCredential);
        # a service keeps its current set as a choice so that it can stay as it is.
        usable = [
            (cs.credentials_id, f"{cs.credentials_id} ({cs.type})")
            for cs in groups.usable_sets(request, self.actor)
        ]
        self.no_usable_sets = not usable
        current = {}
        if instance is not None:
            del self.fields["name"]
            current = {s.service: s for s in instance.services.select_related("credential_set")}
        for service, label in GroupServiceConfig.Service.choices:
            config = current.get(service)
            choices = [("", "— none —"), *usable]
            kept = config.credential_set if config else None
            if kept is not None and kept.credentials_id not in dict(usable):
                choices.append((kept.credentials_id, f"{kept.credentials_id} ({kept.type})"))
            shown = destinations.shown(config.destination_url) if config else ""
            self.fields[f"{service}_url"] = FreeTextField(
                secret_label="URL",
                label=f"{label} destination URL",
                required=False,
                max_length=destinations.URL_MAX,
                initial=shown,
                help_text=(
                    "The stored URL held a user name or password: they are not shown, and "
                    "saving removes them. Keep credentials in a credential set."
                    if config and shown != config.destination_url
                    else ""
                ),
                widget=forms.URLInput(attrs={"placeholder": "https://"}),
            )
            self.fields[f"{service}_credentials"] = CredentialSetChoice(
                label=f"{label} credential set",
                required=False,
                choices=choices,
                initial=kept.credentials_id if kept else "",
            )

    def services(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (label, self[f"{service}_url"], self[f"{service}_credentials"])
            for service, label in GroupServiceConfig.Service.choices
        ]

    def configs(self) -> dict[str, tuple[str, str]]:
        return {
            service: (
                self.cleaned_data.get(f"{service}_url", ""),
                self.cleaned_data.get(f"{service}_credentials", ""),
            )
            for service in GroupServiceConfig.Service.values
        }

    def save(self) -> Group | None:
        request = self.request
        try:
            if self.instance is None:
                return groups.create_group(
                    request, self.actor, self.cleaned_data["name"], self.configs()
                )
            return groups.update_group(request, self.actor, self.instance, self.configs())
        except groups.GroupInvalid as exc:
            for name, message in exc.errors.items():
                self.add_error(name if name in self.fields else None, message)
            return None
