"""The audit trail: one function records every security-relevant event.

Callers pass names and IDs, never secrets; `details` must not hold a secret either.
"""

from django.http import HttpRequest

from accounts.models import Operator, Principal
from console.net import client_ip
from security.models import AuditEntry


def actor_of(principal: Principal | None, auth_key_id: str = "") -> tuple[str, str]:
    """Return (actor_kind, actor) for the audit trail."""
    if auth_key_id:
        return "authkey", auth_key_id
    if principal is None:
        return "anonymous", ""
    if principal.is_root:
        return "root", principal.email
    return principal.kind, principal.user_name


def record(
    request: HttpRequest | None,
    action: str,
    *,
    operator: Operator | str | None,
    outcome: str = AuditEntry.Outcome.ALLOWED,
    target: str = "",
    principal: Principal | None = None,
    auth_key_id: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Write one audit entry and return it."""
    actor_kind, actor = actor_of(principal, auth_key_id)
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    entry = AuditEntry(
        operator_id=operator_id,
        actor_kind=actor_kind,
        actor=actor,
        action=action,
        target=target[:400],
        outcome=outcome,
        details=details or {},
    )
    if request is not None:
        entry.source_ip = client_ip(request)
        entry.user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
        entry.request_id = getattr(request, "request_id", "")
        entry.request_path = request.path[:300]
    entry.save()
    return entry
