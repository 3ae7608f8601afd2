"""Root URLs: the console pages, the JSON API under /v1, health, admin."""

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from console import views
from console.urls_api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("security/users/", account_views.user_list, name="users"),
    path("security/users/new", account_views.user_create, name="user-create"),
    path("security/users/<name:user_name>/", account_views.user_detail, name="user-detail"),
    path("security/users/<name:user_name>/update", account_views.user_update, name="user-update"),
    path(
        "security/users/<name:user_name>/password",
        account_views.user_password,
        name="user-password",
    ),
    path(
        "security/users/<name:user_name>/password/change",
        account_views.user_password_change,
        name="user-password-change",
    ),
    path(
        "security/users/<name:user_name>/password/delete",
        account_views.user_password_delete,
        name="user-password-delete",
    ),
    path("security/users/<name:user_name>/delete", account_views.user_delete, name="user-delete"),
    path("security/", include("security.urls_authkeys")),
    path("security/", include("accounts.urls_roles")),
    path("security/", include("security.urls_credentials")),
    path("security/", include("security.urls_audit")),
    path("v1/", api.urls),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("staff/", include("security.urls_staff")),
    path("admin/", admin.site.urls),
]

handler400 = "console.errors.bad_request"
handler404 = "console.errors.not_found"
handler500 = "console.errors.server_error"
