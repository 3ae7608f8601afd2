"""The Security page's Users tab, under /security/."""

from django.urls import path

from security import views_switching
from security import views_users as views

urlpatterns = [
    path("users/", views.user_list, name="users"),
    path("users/new", views.user_create, name="user-create"),
    path("users/<name:user_name>/", views.user_detail, name="user-detail"),
    path("users/<name:user_name>/update", views.user_update, name="user-update"),
    path(
        "users/<name:user_name>/password",
        views.user_password,
        name="user-password",
    ),
    path(
        "users/<name:user_name>/password/change",
        views.user_password_change,
        name="user-password-change",
    ),
    path(
        "users/<name:user_name>/password/delete",
        views.user_password_delete,
        name="user-password-delete",
    ),
    path("users/<name:user_name>/delete", views.user_delete, name="user-delete"),
    path(
        "users/<name:user_name>/trust-policy",
        views_switching.user_trust_policy,
        name="user-trust-policy",
    ),
    path(
        "users/<name:user_name>/trust-policy/update",
        views_switching.user_trust_policy_update,
        name="user-trust-policy-update",
    ),
    path(
        "users/<name:user_name>/trust-policy/delete",
        views_switching.user_trust_policy_delete,
        name="user-trust-policy-delete",
    ),
    path(
        "users/<name:user_name>/switched-sessions",
        views_switching.user_switched_sessions,
        name="user-switched-sessions",
    ),
    path(
        "users/<name:user_name>/switched-sessions/end",
        views_switching.user_switched_sessions_end,
        name="user-switched-sessions-end",
    ),
    path("switch-user/", views_switching.switch_user, name="switch-user"),
    path("switch-user/back", views_switching.switch_back, name="switch-back"),
]
