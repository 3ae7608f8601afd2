"""The audit log's settings page: whether successful reads are recorded (security/read_audit.py)."""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import Operator
from security import read_audit
from security.access import ConsoleRequest, console_action


class AuditSettingsForm(forms.Form):
    record_reads = forms.BooleanField(
        label="Record successful reads",
        required=False,
        help_text="Every successful GET (API and console) gets an audit entry, as Soracom's "
        "audit log and CloudTrail's read events do. It costs a write per read.",
    )


@require_http_methods(["GET", "POST"])
@console_action(read_audit.SETTINGS_API, method="PUT")
def audit_settings(request: ConsoleRequest) -> HttpResponse:
    """Show and change what the audit log records for this account."""
    current = Operator.objects.get(pk=request.user.operator_id).record_reads
    form = AuditSettingsForm(request.POST or None, initial={"record_reads": current})
    if request.method == "POST" and form.is_valid():
        enabled = form.cleaned_data["record_reads"]
        if read_audit.set_records_reads(request, request.user, enabled):
            state = "recorded" if enabled else "no longer recorded"
            messages.success(request, f"Successful reads are {state}.")
        return redirect("audit-settings")
    return render(request, "security/audit_settings.html", {"form": form, "tab": "audit"})
