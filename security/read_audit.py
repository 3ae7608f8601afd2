"""Recording successful reads: the operator's setting, off by default (a write per read).

Soracom's audit log and CloudTrail's read events record reads; most operators do not want a
write per GET. The setting lives on the operator row; changing it bumps the operator's
policy version, which every API call already reads with its session, so each process asks
the database at most once per version (`records_reads`) and never serves a stale answer.
"""

from django.db import transaction
from django.http import HttpRequest

from accounts import policy
from accounts.models import Operator, Principal
from security import audit

SETTINGS_API = "AuditLog:updateAuditSettings"
_MAX_CACHED = 4096
_cache: dict[tuple[str, int], bool] = {}


def records_reads(operator_id: str, version: int | None = None) -> bool:
    """Return whether the operator records successful reads (at its policy `version`)."""
    if version is None:
        version = policy.current_version(operator_id)
    key = (operator_id, version)
    found = _cache.get(key)
    if found is None:
        found = bool(
            Operator.objects.filter(pk=operator_id).values_list("record_reads", flat=True).first()
        )
        if len(_cache) >= _MAX_CACHED:
            _cache.clear()
        _cache[key] = found
    return found


@transaction.atomic
def set_records_reads(request: HttpRequest | None, actor: Principal, enabled: bool) -> bool:
    """Switch read recording for the actor's operator; return whether it changed."""
    changed = (
        Operator.objects.filter(pk=actor.operator_id)
        .exclude(record_reads=enabled)
        .update(record_reads=enabled)
    )
    if changed:
        Operator(pk=actor.operator_id).bump_policy_version()
        audit.record(
            request,
            SETTINGS_API,
            operator=actor.operator_id,
            principal=actor,
            target="recordReads",
            details={"recordReads": enabled},
        )
    return bool(changed)


def record_read(
    request: HttpRequest,
    api_name: str,
    principal: Principal,
    *,
    auth_key_id: str = "",
    target: str = "",
    version: int | None = None,
) -> None:
    """Record a successful read when the principal's operator asks for it."""
    operator_id = principal.operator_id
    if operator_id and records_reads(operator_id, version):
        audit.record(
            request,
            api_name,
            operator=operator_id,
            principal=principal,
            auth_key_id=auth_key_id,
            target=target,
            details={"read": True},
        )
