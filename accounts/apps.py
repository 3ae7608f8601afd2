from django.apps import AppConfig
from django.core import checks as django_checks

from accounts import checks


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        django_checks.register(checks.signing_keys, django_checks.Tags.security)
