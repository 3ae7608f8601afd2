"""Console URLs for the audit trail, the credential report and support access."""

from django.urls import path

from security import views_audit

urlpatterns: list = [
    path("audit/", views_audit.audit_log, name="audit-log"),
    path("audit/export.csv", views_audit.audit_export, name="audit-export"),
]
