"""Authorization of the JSON API under /v1: who calls (TokenAuth) and `@operation`.

Every operation is declared with `@operation("Tag:operationId")` under its router
decorator; that one call authorizes the caller before any work, exactly as the console's
`console_action` (security/access.py) does, and records a refusal in the audit trail.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest

from accounts import policy
from accounts.apisessions import ApiCaller, Companion, authenticate_request, is_expired_session
from accounts.context import CallContext
from accounts.identifiers import is_valid_name
from accounts.models import Principal
from accounts.permissions import register_operation
from console.api import ApiError, not_found
from security import failures, read_audit, users


class TokenAuth:
    """X-Soracom-API-Key + X-Soracom-Token, or Authorization: Bearer <token>."""

    # Marks the operations that need a token in the OpenAPI document; security/api_openapi.py
    # replaces it with the real pair of schemes (both headers, or Bearer).
    openapi_security_schema = {"type": "http", "scheme": "bearer"}

    def __call__(self, request: HttpRequest) -> ApiCaller | None:
        return authenticate_request(request, _companion_of(request))


# Routes whose handler's read travels with the session lookup (one round trip, not two):
# url_name -> (scalar subquery, its parameters from the path variables).
_COMPANIONS: dict[str, tuple[str, Callable[[dict], list]]] = {}


def companion_read(url_name: str, sql: str, params: Callable[[dict], list]) -> None:
    """Declare the read a route's handler makes (PostgreSQL: sent with the session lookup).

    The handler takes it with `companion(request)` after `@operation` has authorized the
    caller, and makes the read itself when there is none (SQLite, LATCHKEY_PREPARED_LOOKUP
    off).
    """
    _COMPANIONS[url_name] = (sql, params)


def _companion_of(request: HttpRequest) -> Companion | None:
    match = getattr(request, "resolver_match", None)
    found = _COMPANIONS.get(match.url_name) if match is not None else None
    if found is None or connection.vendor != "postgresql" or not settings.LATCHKEY_PREPARED_LOOKUP:
        return None
    try:
        params = found[1](match.kwargs)
    except (KeyError, TypeError, ValueError):
        return None
    return Companion(found[0], params)


def companion(request: HttpRequest) -> str | None:
    """Return the companion read's value for this request (after authorization), or None."""
    return getattr(request, "companion", None)


class RefreshAuth(TokenAuth):
    """TokenAuth for Operator:generateAuthToken: a genuine but expired token answers 400.

    The contract documents 400 for "token already expired" on this one operation; the
    token is still refused (nothing is issued for it), only the status differs.
    """

    def __call__(self, request: HttpRequest) -> ApiCaller | None:
        caller = authenticate_request(request)
        if caller is None and is_expired_session(request):
            raise ApiError(400, "LKY0400", "The token has expired; authenticate again.")
        return caller


USER_NOT_FOUND = "SAM User not found."


def caller_of(request: HttpRequest) -> ApiCaller:
    return request.auth  # type: ignore[attr-defined]


def sam_user_or_404(request: HttpRequest, user_name: str) -> Principal:
    """Return the caller's operator's SAM user of that name, or answer 404 (any tenant)."""
    user = None
    if is_valid_name(user_name):
        user = users.get_sam_user(caller_of(request).operator_id, user_name)
    if user is None:
        raise not_found(USER_NOT_FOUND)
    return user


def unauthenticated(api_name: str) -> Callable:
    """Name an operation that takes no token (`/auth`): no authorization, the name only.

    The name is kept apart from `api_name` (which says "authorized as"), so that route
    walks keep treating the handler as the exempt credential exchange it is.
    """
    register_operation(api_name)

    def decorator(handler: Callable) -> Callable:
        handler.public_api_name = api_name  # type: ignore[attr-defined]
        return handler

    return decorator


def operation(api_name: str) -> Callable:
    """Authorize the caller for `api_name` (path variables in context) before the handler.

    An `operator_id` path variable of another operator answers 404, exactly like a missing
    object, after the permission check, so that the answer reveals nothing of other tenants;
    the attempt is recorded as denied in the caller's own chain.
    """

    register_operation(api_name)

    def decorator(handler: Callable) -> Callable:
        @wraps(handler)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            caller = caller_of(request)
            path_vars = {k: v for k, v in kwargs.items() if isinstance(v, str)}
            ctx = CallContext.from_request(
                request,
                caller.principal,
                api_name,
                path_vars,
                caller.policy_version,
                second_factor=caller.second_factor,
                scope=caller.scope,
            )
            other_operator = path_vars.get("operator_id", caller.operator_id)
            # A call on another operator's path is recorded in the caller's own chain, never
            # the target's (that would tell the target's log readers nothing useful and the
            # caller that the object exists); the entry is the same whether or not that
            # operator exists, so the caller's own log is no oracle either.
            probe = {"crossTenant": True} if other_operator != caller.operator_id else None
            if not policy.is_allowed(ctx):
                failures.record_refusal(
                    request,
                    api_name,
                    principal=caller.principal,
                    auth_key_id=caller.auth_key_id,
                    target=other_operator if probe else path_vars.get("user_name", ""),
                    details=probe,
                )
                raise ApiError(403, "LKY0403", f"You do not have permission for {api_name}.")
            if probe:
                failures.record_refusal(
                    request,
                    api_name,
                    principal=caller.principal,
                    auth_key_id=caller.auth_key_id,
                    target=other_operator,
                    details=probe,
                )
                raise not_found()
            result = handler(request, *args, **kwargs)
            if request.method == "GET" and getattr(result, "status_code", 200) < 400:
                read_audit.record_read(
                    request,
                    api_name,
                    caller.principal,
                    auth_key_id=caller.auth_key_id,
                    target=path_vars.get("user_name", ""),
                    version=caller.policy_version,
                )
            return result

        wrapped.api_name = api_name  # type: ignore[attr-defined]
        return wrapped

    return decorator
