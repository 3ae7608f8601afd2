"""Root URLs: the console pages, the JSON API under /v1, health, admin."""

from django.contrib import admin
from django.urls import include, path

from console import views
from console.urls_api import api
from security import (
    views_apiref,
    views_leaks,
    views_oauth,
    views_passkeys,
    views_password_reset,
    views_signin,
)

urlpatterns = [
    path("", views_signin.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views_signin.login_view, name="login"),
    path("login/verify/", views_signin.login_verify, name="login-verify"),
    path("login/passkey/options", views_passkeys.sign_in_options, name="passkey-sign-in-options"),
    path("login/passkey", views_passkeys.sign_in, name="passkey-sign-in"),
    path("logout/", views_signin.logout_view, name="logout"),
    path("login/forgot/", views_password_reset.forgot_password, name="password-forgot"),
    path("login/reset/", views_password_reset.reset_password, name="password-reset"),
    path("security/", include("security.urls_users")),
    path("security/", include("security.urls_authkeys")),
    path("security/", include("security.urls_roles")),
    path("security/", include("security.urls_credentials")),
    path("security/", include("security.urls_audit")),
    path("v1/openapi.json", views_apiref.openapi_json, {"api": api}, name="openapi"),
    path("api/", views_apiref.api_reference, {"api": api}, name="api-reference"),
    path("api/names/", views_apiref.api_names, {"api": api}, name="api-names"),
    path("security/", include("security.urls_mfa")),
    path("security/", include("security.urls_passkeys")),
    path("v1/leaks/github", views_leaks.github, name="leaks-github"),
    path("v1/", api.urls),
    path(".well-known/jwks.json", views_signin.jwks, name="jwks"),
    path(
        ".well-known/oauth-authorization-server",
        views_oauth.metadata,
        name="oauth-authorization-server",
    ),
    path(".well-known/openid-configuration", views_oauth.metadata, name="openid-configuration"),
    path("oauth/token", views_oauth.token, name="oauth-token"),
    path("oauth/introspect", views_oauth.introspect, name="oauth-introspect"),
    path("oauth/revoke", views_oauth.revoke, name="oauth-revoke"),
    path("staff/", include("security.urls_staff")),
    path("admin/", admin.site.urls),
]

handler400 = "console.errors.bad_request"
handler404 = "console.errors.not_found"
handler500 = "console.errors.server_error"
