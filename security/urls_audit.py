"""Console URLs for the audit trail, the credential report and support access."""

from django.urls import path

from security import views_audit, views_audit_settings, views_support

urlpatterns: list = [
    path("audit/", views_audit.audit_log, name="audit-log"),
    path("audit/export.csv", views_audit.audit_export, name="audit-export"),
    path("audit/checkpoint.json", views_audit.audit_checkpoint, name="audit-checkpoint"),
    path("reports/credentials/", views_audit.credential_report, name="credential-report"),
    path(
        "reports/credentials.csv", views_audit.credential_report_csv, name="credential-report-csv"
    ),
    path("reports/auditor-role", views_audit.auditor_role_create, name="auditor-role-create"),
    path("support/", views_support.support_access, name="support-access"),
    path("support/grant", views_support.support_grant, name="support-grant"),
    path("support/withdraw", views_support.support_withdraw, name="support-withdraw"),
    path("audit/settings", views_audit_settings.audit_settings, name="audit-settings"),
]
