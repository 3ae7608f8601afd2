from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deploy checks, and connects the staff sign-in/out and staff-account
        # audit receivers.
        from security import credential_checks, staff  # noqa: F401
