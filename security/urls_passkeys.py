"""Passkeys in the console, under /security/ (registration, removal)."""

from django.urls import path

from security import views_passkeys as views

urlpatterns = [
    path("account/passkeys/options", views.account_passkey_options, name="account-passkey-options"),
    path(
        "account/passkeys/register",
        views.account_passkey_register,
        name="account-passkey-register",
    ),
    path(
        "account/passkeys/<int:passkey_id>/delete",
        views.account_passkey_delete,
        name="account-passkey-delete",
    ),
    path(
        "users/<name:user_name>/passkeys/options",
        views.user_passkey_options,
        name="user-passkey-options",
    ),
    path(
        "users/<name:user_name>/passkeys/register",
        views.user_passkey_register,
        name="user-passkey-register",
    ),
    path(
        "users/<name:user_name>/passkeys/<int:passkey_id>/delete",
        views.user_passkey_delete,
        name="user-passkey-delete",
    ),
]
