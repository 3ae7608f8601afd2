"""Password rules beyond Django's validators."""

from django.core.exceptions import ValidationError

# Long passwords are a denial-of-service vector for the hasher (OWASP: long password DoS).
MAX_PASSWORD_LENGTH = 256


class MaximumLengthValidator:
    def validate(self, password: str, user: object = None) -> None:
        if len(password) > MAX_PASSWORD_LENGTH:
            raise ValidationError(
                f"This password is too long (at most {MAX_PASSWORD_LENGTH} characters).",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password must contain at most {MAX_PASSWORD_LENGTH} characters."
