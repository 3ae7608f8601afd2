"""The Security page's Users tab, under /security/."""

from django.urls import path

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
]
