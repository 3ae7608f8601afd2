"""Security records: the audit trail (AuthKeys and credential sets live beside it)."""

from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One security-relevant event. Append-only: no code path updates or deletes entries."""

    class Outcome(models.TextChoices):
        ALLOWED = "allowed"
        DENIED = "denied"
        FAILED = "failed"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Null for installation-level events (e.g. a staff member signing in).
    operator = models.ForeignKey(
        "accounts.Operator",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audit_entries",
    )
    actor_kind = models.CharField(max_length=10)  # root, sam, authkey, staff, anonymous
    actor = models.CharField(max_length=320, blank=True, default="")
    action = models.CharField(max_length=100)  # the API name, e.g. "User:createUser"
    target = models.CharField(max_length=400, blank=True, default="")
    outcome = models.CharField(max_length=7, choices=Outcome.choices)
    source_ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=32, blank=True, default="")
    request_path = models.CharField(max_length=300, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["operator", "-at"])]
        ordering = ["-at", "-id"]
