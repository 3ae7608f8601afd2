"""Console forms of the Users tab: each validates its input and owns the action it performs."""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts.identifiers import NAME_RULE, is_valid_name, name_problem, validate_user_name
from accounts.models import Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from console.fields import FreeTextField
from security import users


class UserCreateForm(forms.Form):
    user_name = FreeTextField(
        label="User name", max_length=100, help_text=NAME_RULE, secret_label="user name"
    )
    description = FreeTextField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        secret_label="description",
    )

    def __init__(self, *args, actor: Principal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_user_name(self) -> str:
        name = self.cleaned_data["user_name"]
        if not is_valid_name(name):
            raise ValidationError(name_problem(name, "user name"))
        validate_user_name(name)  # reserved names (the same list the API refuses)
        if users.get_sam_user(self.actor.operator, name) is not None:
            raise ValidationError(f"A user named {name} already exists.")
        return name

    def clean_description(self) -> str:
        description = self.cleaned_data["description"]
        users.validate_description(description)
        return description

    def save(self, request) -> Principal | None:
        """Create the user, or put the service's refusal on the form and return None."""
        try:
            return users.create_user(
                request,
                self.actor,
                self.cleaned_data["user_name"],
                self.cleaned_data["description"],
            )
        except users.UserExists as exc:  # lost a race with another request
            self.add_error("user_name", str(exc))
        except ValidationError as exc:  # a rule only the service knows (a reserved name)
            self.add_error("user_name", " ".join(exc.messages))
        return None


class DescriptionForm(forms.Form):
    description = FreeTextField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        secret_label="description",
    )

    def clean_description(self) -> str:
        description = self.cleaned_data["description"]
        users.validate_description(description)
        return description


class _NewPasswordForm(forms.Form):
    """A new password typed twice; the service validates it (the API's rules, not ours)."""

    new_password = forms.CharField(
        label="New password",
        widget=forms.PasswordInput,
        strip=False,
        max_length=MAX_PASSWORD_LENGTH,
    )
    confirm_password = forms.CharField(
        label="Repeat the password",
        widget=forms.PasswordInput,
        strip=False,
        max_length=MAX_PASSWORD_LENGTH,
    )

    status = 400  # what the view answers for a refusal: the API's status for it

    def __init__(self, *args, user: Principal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict:
        data = super().clean()
        new, confirm = data.get("new_password"), data.get("confirm_password")
        if new and confirm and new != confirm:
            self.add_error("confirm_password", "The two passwords differ.")
        elif new:
            try:
                password_validation.validate_password(new, self.user)
            except ValidationError as exc:
                self.add_error("new_password", exc)
        return data

    def _refuse(self, status: int, message: str, field: str | None = None) -> bool:
        self.status = status
        self.add_error(field, message)
        return False


class SetPasswordForm(_NewPasswordForm):
    """A user's first password (User:createUserPassword): refused if it has one already."""

    def save(self, request, actor: Principal) -> bool:
        """Set the password; return False with the refusal on the form (409 if one exists)."""
        try:
            users.create_password(request, actor, self.user, self.cleaned_data["new_password"])
        except users.PasswordExists as exc:
            return self._refuse(409, str(exc))
        except ValidationError as exc:
            return self._refuse(400, " ".join(exc.messages), "new_password")
        return True


class ChangePasswordForm(_NewPasswordForm):
    """Replace a password given the current one (User:updateUserPassword), throttled."""

    current_password = forms.CharField(
        label="Current password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
        max_length=MAX_PASSWORD_LENGTH,
    )
    field_order = ["current_password", "new_password", "confirm_password"]

    retry_after = 0

    def save(self, request, actor: Principal) -> bool:
        """Change the password; return False with the API's refusal on the form."""
        data = self.cleaned_data
        try:
            users.change_password(
                request, actor, self.user, data["current_password"], data["new_password"],
                "User:updateUserPassword",
            )  # fmt: skip
        except users.NoPassword as exc:
            return self._refuse(404, str(exc))
        except users.WrongPassword as exc:
            if exc.retry_after:
                self.retry_after = exc.retry_after
                message = f"Too many failed attempts. Try again in {exc.retry_after} seconds."
                return self._refuse(429, message, "current_password")
            return self._refuse(400, str(exc), "current_password")
        except ValidationError as exc:
            return self._refuse(400, " ".join(exc.messages), "new_password")
        return True
