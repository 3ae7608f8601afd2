"""Console URLs for credential sets and groups, included from console/urls.py under security/."""

from django.urls import path

from security import views_credentials as views
from security import views_groups

urlpatterns = [
    path("credentials/", views.credential_list, name="credentials"),
    path("credentials/new", views.credential_create, name="credential-create"),
    path("credentials/fields", views.credential_fields, name="credential-fields"),
    path(
        "credentials/<name:credentials_id>/update",
        views.credential_update,
        name="credential-update",
    ),
    path(
        "credentials/<name:credentials_id>/delete",
        views.credential_delete,
        name="credential-delete",
    ),
    path("groups/", views_groups.group_list, name="groups"),
    path("groups/new", views_groups.group_create, name="group-create"),
    path("groups/<name:group_name>/update", views_groups.group_update, name="group-update"),
    path("groups/<name:group_name>/delete", views_groups.group_delete, name="group-delete"),
]
