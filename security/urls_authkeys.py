"""Console URLs for AuthKeys (included from console/urls.py under security/)."""

from django.urls import path

from security import views_authkeys as views

urlpatterns = [
    path("authkeys/", views.authkey_list, name="authkeys"),
    path("authkeys/new", views.authkey_new, name="authkey-new"),
    path("authkeys/generate", views.authkey_generate, name="authkey-generate"),
    path("authkeys/<keyid:auth_key_id>/revoke", views.authkey_revoke, name="authkey-revoke"),
    path("authkeys/<keyid:auth_key_id>/sources", views.authkey_sources, name="authkey-sources"),
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
]
