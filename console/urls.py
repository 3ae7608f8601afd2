"""Root URLs: the console pages, the JSON API under /v1, health, admin."""

from django.contrib import admin
from django.urls import include, path

from console import views
from console.urls_api import api
from security import views_users

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("security/users/", views_users.user_list, name="users"),
    path("security/users/new", views_users.user_create, name="user-create"),
    path("security/users/<name:user_name>/", views_users.user_detail, name="user-detail"),
    path("security/users/<name:user_name>/update", views_users.user_update, name="user-update"),
    path(
        "security/users/<name:user_name>/password",
        views_users.user_password,
        name="user-password",
    ),
    path(
        "security/users/<name:user_name>/password/change",
        views_users.user_password_change,
        name="user-password-change",
    ),
    path(
        "security/users/<name:user_name>/password/delete",
        views_users.user_password_delete,
        name="user-password-delete",
    ),
    path("security/users/<name:user_name>/delete", views_users.user_delete, name="user-delete"),
    path("security/", include("security.urls_authkeys")),
    path("security/", include("security.urls_roles")),
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
