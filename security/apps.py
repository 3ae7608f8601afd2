from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from security import credential_checks  # noqa: F401  (registers the deploy checks)
