"""The JSON API under /v1 (Soracom's account-security contract): shared machinery.

Every operation is declared with `@operation("Tag:operationId")` under its router
decorator; that one call authorizes the caller before any work, exactly as the console's
`console_action` does. Errors are flat `{"code", "message"}` bodies with application/json.
"""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import PathView
from ninja.parser import Parser
from pydantic import ConfigDict

from accounts import policy
from accounts.apisessions import ApiCaller, authenticate_request
from accounts.context import CallContext
from accounts.identifiers import is_valid_name
from accounts.permissions import register_operation
from console import strictjson
from security import audit
from security.models import AuditEntry

log = logging.getLogger("latchkey.api")


class ApiError(Exception):
    """An API failure with its status, code and message (never a secret)."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "LKY0400", message)


def not_found(message: str = "Not found.") -> ApiError:
    return ApiError(404, "LKY0404", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "LKY0409", message)


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


class StrictSchema(Schema):
    """Request bodies: exact types, no nulls for typed fields, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict:
        body = request.body
        if not body:
            return {}
        try:
            data = strictjson.loads(body)
        except strictjson.DuplicateKey as exc:
            raise ApiError(400, "LKY0400", f"Duplicate field in the body: {exc}.") from None
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "LKY0400", "The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "LKY0400", "The body must be a JSON object.")
        if not _clean_text(data):
            raise ApiError(
                400, "LKY0400", "The body holds a NUL character or an unpaired surrogate."
            )
        return data


def _clean_text(value: Any) -> bool:
    """Return False if any key or string holds NUL or a lone surrogate (neither can be stored).

    JSON allows both as escapes (\\u0000, \\ud800); PostgreSQL text refuses NUL and UTF-8
    cannot encode a lone surrogate, so they are refused here rather than failing later.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


class TokenAuth:
    """X-Soracom-API-Key + X-Soracom-Token, or Authorization: Bearer <token>."""

    def __call__(self, request: HttpRequest) -> ApiCaller | None:
        return authenticate_request(request)


def _method_not_allowed(self: PathView) -> HttpResponse:
    """Answer a method a path does not serve as a JSON error, like every other API error.

    django-ninja's own answer is a text/html "Method not allowed", which breaks clients
    that parse every 4xx body as {"code", "message"} (soracom-api.md §2).
    """
    response = error_response(405, "LKY0405", "Method not allowed.")
    response["Allow"] = ", ".join(sorted({m for op in self.operations for m in op.methods}))
    return response


PathView._not_allowed = _method_not_allowed  # type: ignore[method-assign]

api = NinjaAPI(
    title="Latchkey API",
    version="1",
    urls_namespace="api",
    parser=StrictJsonParser(),
    auth=TokenAuth(),
    docs_url=None,
    openapi_url=None,
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = error_response(exc.status, exc.code, exc.message)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(401, "LKY0401", "Authentication failed.")


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"Unknown field: {where}."
    if kind == "missing":
        return f"Missing field: {where}."
    # Never echo the input: it may be a secret.
    message = error.get("msg", "invalid value").split(",")[0]
    return f"Invalid {where or 'value'}: {message}."


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(400, "LKY0400", " ".join(_describe(e) for e in exc.errors[:5]))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, f"LKY0{exc.status_code}", str(exc))


@api.exception_handler(Http404)
def _missing(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(404, "LKY0404", "Not found.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled API error on %s %s", request.method, request.path)
    return error_response(500, "LKY0500", "Internal error.")


USER_NOT_FOUND = "SAM User not found."


def sam_user_or_404(request: HttpRequest, user_name: str):
    """Return the caller's operator's SAM user of that name, or answer 404 (any tenant)."""
    from accounts import users

    user = None
    if is_valid_name(user_name):
        user = users.get_sam_user(caller_of(request).operator_id, user_name)
    if user is None:
        raise not_found(USER_NOT_FOUND)
    return user


def caller_of(request: HttpRequest) -> ApiCaller:
    return request.auth  # type: ignore[attr-defined]


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
                request, caller.principal, api_name, path_vars, caller.policy_version
            )
            other_operator = path_vars.get("operator_id", caller.operator_id)
            # A call on another operator's path is recorded in the caller's own chain, never
            # the target's (that would tell the target's log readers nothing useful and the
            # caller that the object exists); the entry is the same whether or not that
            # operator exists, so the caller's own log is no oracle either.
            probe = {"crossTenant": True} if other_operator != caller.operator_id else None
            if not policy.is_allowed(ctx):
                audit.record(
                    request,
                    api_name,
                    operator=caller.operator_id,
                    principal=caller.principal,
                    auth_key_id=caller.auth_key_id,
                    outcome=AuditEntry.Outcome.DENIED,
                    target=other_operator if probe else path_vars.get("user_name", ""),
                    details=probe,
                )
                raise ApiError(403, "LKY0403", f"You do not have permission for {api_name}.")
            if probe:
                audit.record(
                    request,
                    api_name,
                    operator=caller.operator_id,
                    principal=caller.principal,
                    auth_key_id=caller.auth_key_id,
                    outcome=AuditEntry.Outcome.DENIED,
                    target=other_operator,
                    details=probe,
                )
                raise not_found()
            return handler(request, *args, **kwargs)

        wrapped.api_name = api_name  # type: ignore[attr-defined]
        return wrapped

    return decorator


def empty(status: int) -> HttpResponse:
    """Return a bodiless success (the contract's "—" responses)."""
    return HttpResponse(status=status)
