"""Console URLs for AuthKeys (included from console/urls.py under security/)."""

from django.urls import path

from security import views_authkeys as views

urlpatterns = [
    path("authkeys/", views.authkey_list, name="authkeys"),
    path("authkeys/new", views.authkey_new, name="authkey-new"),
    path("authkeys/generate", views.authkey_generate, name="authkey-generate"),
    path("authkeys/<keyid:auth_key_id>/revoke", views.authkey_revoke, name="authkey-revoke"),
    path("authkeys/<keyid:auth_key_id>/sources", views.authkey_sources, name="authkey-sources"),
    path("authkeys/lifetime", views.authkey_lifetime, name="authkey-lifetime"),
    path(
        "authkeys/<keyid:auth_key_id>/deactivate",
        views.authkey_deactivate,
        name="authkey-deactivate",
    ),
    path("authkeys/<keyid:auth_key_id>/activate", views.authkey_activate, name="authkey-activate"),
    path("authkeys/<keyid:auth_key_id>/roll", views.authkey_roll, name="authkey-roll"),
    path(
        "authkeys/<keyid:auth_key_id>/cancel-roll",
        views.authkey_cancel_roll,
        name="authkey-cancel-roll",
    ),
    path(
        "users/<name:user_name>/authentication",
        views.user_authentication,
        name="user-authentication",
    ),
    path("users/<name:user_name>/authkeys/new", views.user_authkey_new, name="user-authkey-new"),
    path(
        "users/<name:user_name>/authkeys/generate",
        views.user_authkey_generate,
        name="user-authkey-generate",
    ),
    path(
        "users/<name:user_name>/authkeys/<keyid:auth_key_id>/revoke",
        views.user_authkey_revoke,
        name="user-authkey-revoke",
    ),
    path(
        "users/<name:user_name>/authkeys/<keyid:auth_key_id>/sources",
        views.user_authkey_sources,
        name="user-authkey-sources",
    ),
    *[
        path(
            f"users/<name:user_name>/authkeys/<keyid:auth_key_id>/{action}",
            getattr(views, f"user_authkey_{action.replace('-', '_')}"),
            name=f"user-authkey-{action}",
        )
        for action in ("deactivate", "activate", "roll", "cancel-roll")
    ],
]
