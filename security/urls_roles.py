"""Console URLs of roles and permissions, included under security/ from console/urls.py."""

from django.urls import path

from security import views_roles as views

urlpatterns = [
    path("roles/", views.role_list, name="roles"),
    path("roles/new", views.role_create, name="role-create"),
    path("roles/<name:role_id>/", views.role_detail, name="role-detail"),
    path("roles/<name:role_id>/update", views.role_update, name="role-update"),
    path("roles/<name:role_id>/users", views.role_users, name="role-users"),
    path("roles/<name:role_id>/delete", views.role_delete, name="role-delete"),
    path("default-permissions/", views.default_permissions, name="default-permissions"),
    path(
        "default-permissions/update",
        views.default_permissions_update,
        name="default-permissions-update",
    ),
    path(
        "default-permissions/delete",
        views.default_permissions_delete,
        name="default-permissions-delete",
    ),
    path("users/<name:user_name>/permissions", views.user_permissions, name="user-permissions"),
    path(
        "users/<name:user_name>/permissions/update",
        views.user_permission_update,
        name="user-permission-update",
    ),
    path(
        "users/<name:user_name>/permissions/delete",
        views.user_permission_delete,
        name="user-permission-delete",
    ),
    path(
        "users/<name:user_name>/permissions/effective",
        views.user_effective,
        name="user-effective",
    ),
    path("users/<name:user_name>/permissions/simulate", views.user_simulate, name="user-simulate"),
    path("users/<name:user_name>/roles", views.user_roles, name="user-roles"),
    path("users/<name:user_name>/roles/attach", views.role_attach, name="role-attach"),
    path(
        "users/<name:user_name>/roles/<name:role_id>/detach",
        views.role_detach,
        name="role-detach",
    ),
]
