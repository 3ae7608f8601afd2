from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core import checks as django_checks

from accounts import checks, converters


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        django_checks.register(checks.signing_keys, django_checks.Tags.security)
        converters.register()


class InstallationAdminConfig(admin_apps.AdminConfig):
    """The Django admin, as installation administrators' site (security/adminsite.py)."""

    default = False  # AccountsConfig stays the `accounts` app's own configuration
    default_site = "security.adminsite.InstallationAdminSite"
