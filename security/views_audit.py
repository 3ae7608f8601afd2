"""The Audit log tab (filter, page, export) and the Credential report tab (page and CSV)."""

import json

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from accounts.context import CallContext
from console import secretscan
from console.fields import FreeTextField
from console.htmx import navigate
from security import audit, auditlog, checkpoints, reports, roles
from security.access import ConsoleRequest, console_action, denials
from security.models import AuditEntry

ENTRIES_PER_PAGE = 50
API = "AuditLog:getApiAuditLogs"
CHECKPOINT_API = checkpoints.API


class AuditFilterForm(forms.Form):
    # A search box is still a place a secret gets pasted: refused, never echoed back.
    q = FreeTextField(
        secret_label="search",
        required=False,
        max_length=auditlog.MAX_SEARCH_LENGTH,
        label="Search",
        help_text="Part of an actor, action, target or AuthKey ID.",
    )
    kind = forms.ChoiceField(
        required=False,
        label="Events",
        choices=[("", "All events"), *((k, v[0]) for k, v in auditlog.KINDS.items())],
    )
    actor = FreeTextField(
        secret_label="search",
        required=False,
        max_length=320,
        help_text="Root email, SAM user name, AuthKey ID or staff member.",
    )
    action = FreeTextField(
        secret_label="search",
        required=False,
        max_length=100,
        help_text="An API name (User:createUser), a prefix (User:*) or a path (/v1/auth).",
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *AuditEntry.Outcome.choices]
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        data = super().clean()
        for name in ("q", "actor", "action"):
            if any(ord(c) < 32 for c in data.get(name) or ""):
                self.add_error(name, "Control characters are not allowed here.")
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def to_filter(self) -> auditlog.AuditFilter:
        """Return the filter of the valid fields (an invalid field filters nothing)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return auditlog.AuditFilter(
            actor=(data.get("actor") or "").strip() if "actor" not in self.errors else "",
            action=(data.get("action") or "").strip() if "action" not in self.errors else "",
            outcome=data.get("outcome") or "",
            text=(data.get("q") or "").strip() if "q" not in self.errors else "",
            kind=data.get("kind") or "",
            since=data.get("since") if "since" not in self.errors else None,
            until=data.get("until") if "until" not in self.errors else None,
        )


def _filtered(request: ConsoleRequest) -> tuple[AuditFilterForm, auditlog.AuditFilter]:
    form = AuditFilterForm(request.GET)
    form.is_valid()
    return form, form.to_filter()


def _query(request: ConsoleRequest) -> str:
    """Return the filter as a query string for links (export, pages), secrets taken out."""
    params = request.GET.copy()
    params.pop("page", None)
    for name in params:
        params.setlist(name, [secretscan.redact(v) for v in params.getlist(name)])
    return params.urlencode()


@require_GET
@console_action(API)
def audit_log(request: ConsoleRequest) -> HttpResponse:
    form, flt = _filtered(request)
    qs = auditlog.entries(request.user.operator_id, flt)
    page = Paginator(qs, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [auditlog.display(e) for e in page.object_list]
    template = "security/audit.html"
    if request.htmx and request.htmx.target == "audit-list":
        template += "#audit-list"
    context = {
        "tab": "audit",
        "form": form,
        "page": page,
        "rows": rows,
        "query": _query(request),
        "filtered": not flt.is_empty(),
        "kinds": [(k, v[0]) for k, v in auditlog.KINDS.items()],
        "kind": flt.kind,
        "known_actions": auditlog.known_actions(request.user.operator),
        "may_checkpoint": policy.is_allowed(
            CallContext.from_request(request, request.user, CHECKPOINT_API, {})
        ),
        "denied": denials(request, settings="audit-settings"),
    }
    return render(request, template, context, status=400 if form.errors else 200)


@require_GET
@console_action(CHECKPOINT_API)
def audit_checkpoint(request: ConsoleRequest) -> HttpResponse:
    """Download a signed checkpoint of this operator's chain (docs/audit.md)."""
    checkpoint = checkpoints.for_chain(request.user.operator_id)
    response = HttpResponse(
        json.dumps(checkpoint, indent=2, sort_keys=True) + "\n", content_type="application/json"
    )
    seq = checkpoint["chains"][0]["seq"]
    name = f"audit-checkpoint-{request.user.operator_id}-seq{seq}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@console_action(API)
def audit_export(request: ConsoleRequest) -> HttpResponse:
    _, flt = _filtered(request)
    audit.seal(request.user.operator_id)  # so that every exported row carries its seq and hash
    qs = auditlog.entries(request.user.operator_id, flt)
    response = StreamingHttpResponse(auditlog.export_csv(qs), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    name = f"audit-{request.user.operator_id}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# The credential report ---------------------------------------------------------------


@require_GET
@console_action(reports.REPORT_API)
def credential_report(request: ConsoleRequest) -> HttpResponse:
    rows = reports.report_for(request, request.user)
    if request.GET.get("format") == "csv":
        return _report_csv(request, rows)
    context = {
        "tab": "reports",
        "rows": rows,
        "columns": reports.CSV_COLUMNS,
        "stale_days": reports.stale_days(),
        "stale_count": sum(1 for r in rows for k in r.keys if k.stale),
        "generated_at": timezone.now(),
        "auditor_role": roles.get_role(request.user.operator_id, reports.AUDITOR_ROLE_ID),
        "auditor_role_id": reports.AUDITOR_ROLE_ID,
        "denied": denials(request, auditor_role="auditor-role-create"),
    }
    return render(request, "security/reports_credentials.html", context)


@require_GET
@console_action(reports.REPORT_API)
def credential_report_csv(request: ConsoleRequest) -> HttpResponse:
    return _report_csv(request, reports.report_for(request, request.user))


def _report_csv(request: ConsoleRequest, rows: list) -> HttpResponse:
    response = HttpResponse("".join(reports.report_csv(rows)), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    name = f"credential-report-{request.user.operator_id}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# The auditor role template -----------------------------------------------------------


@require_POST
@console_action("Role:createRole")
def auditor_role_create(request: ConsoleRequest) -> HttpResponse:
    """Create the built-in read-only auditor role (unless a role of that ID exists)."""
    if roles.get_role(request.user.operator_id, reports.AUDITOR_ROLE_ID) is None:
        try:
            roles.create_role(
                request,
                request.user,
                reports.AUDITOR_ROLE_ID,
                reports.auditor_permission_json(),
                reports.AUDITOR_ROLE_DESCRIPTION,
            )
        except roles.RoleExists:
            pass  # created meanwhile by another request: the existing role stays as it is
    target = reverse("role-detail", args=[reports.AUDITOR_ROLE_ID])
    return navigate(request, target, message=f"Role {reports.AUDITOR_ROLE_ID} is ready.")
