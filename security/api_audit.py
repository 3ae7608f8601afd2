"""JSON API: the audit log (soracom-api.md §4.9, GET /audit_logs/api)."""

from django.http import HttpRequest, JsonResponse
from ninja import Router

from console.api import bad_request
from security import auditlog, checkpoints
from security.api_access import caller_of, operation

router = Router(tags=["AuditLog"])

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def _int_param(request: HttpRequest, name: str, low: int, high: int) -> int | None:
    values = request.GET.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_request(f"{name} was given more than once.")
    raw = values[0]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16:
        raise bad_request(f"{name} must be a whole number between {low} and {high}.")
    value = int(raw)
    if not low <= value <= high:
        raise bad_request(f"{name} must be a whole number between {low} and {high}.")
    return value


def _str_param(request: HttpRequest, name: str, limit: int) -> str:
    values = request.GET.getlist(name)
    if len(values) > 1:
        raise bad_request(f"{name} was given more than once.")
    value = values[0] if values else ""
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise bad_request(f"{name} is not valid.")
    return value


@router.get("/audit_logs/api", url_name="audit-logs-api")
@operation("AuditLog:getApiAuditLogs")
def get_api_audit_logs(request: HttpRequest) -> JsonResponse:
    """List the caller's operator's audit entries, newest first, one page at a time."""
    caller = caller_of(request)
    top = auditlog.MAX_EPOCH_MS
    from_ms = _int_param(request, "from_epoch_ms", 0, top)
    to_ms = _int_param(request, "to_epoch_ms", 0, top)
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise bad_request("from_epoch_ms must not be after to_epoch_ms.")
    limit = _int_param(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    key = _str_param(request, "last_evaluated_key", 20)
    before_ms = None
    if key:
        if not key.isascii() or not key.isdigit() or int(key) > top:
            raise bad_request("last_evaluated_key is not a key this API returned.")
        before_ms = int(key)
    entries, next_key = auditlog.api_page(
        caller.operator_id,
        api_kind=_str_param(request, "api_kind", 200),
        from_ms=from_ms,
        to_ms=to_ms,
        limit=limit,
        before_ms=before_ms,
    )
    response = JsonResponse([auditlog.api_item(e) for e in entries], safe=False)
    if next_key is not None:
        response["x-soracom-next-key"] = str(next_key)
    return response


@router.get("/audit_logs/checkpoint", url_name="audit-checkpoint")
@operation(checkpoints.API)
def get_audit_checkpoint(request: HttpRequest) -> JsonResponse:
    """Return a signed checkpoint of the caller's operator's audit chain (docs/audit.md)."""
    return JsonResponse(checkpoints.for_chain(caller_of(request).operator_id))
