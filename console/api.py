"""The JSON API kit under /v1 (Soracom's account-security contract): errors, strict bodies.

`JsonApi` is a NinjaAPI whose every error is a flat `{"code", "message"}` body with
application/json and whose request bodies are parsed strictly (StrictJsonParser,
StrictSchema). Who may call an operation is not decided here: security/api_access.py
(`@operation`, TokenAuth) does that, and console/urls_api.py puts the two together.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from pydantic import ConfigDict

from console import strictjson

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


def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = error_response(exc.status, exc.code, exc.message)
    for name, value in exc.headers.items():
        response[name] = value
    return response


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


def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(400, "LKY0400", " ".join(_describe(e) for e in exc.errors[:5]))


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, f"LKY0{exc.status_code}", str(exc))


def _missing(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(404, "LKY0404", "Not found.")


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled API error on %s %s", request.method, request.path)
    return error_response(500, "LKY0500", "Internal error.")


_HANDLERS: tuple[tuple[type[Exception], Callable[..., HttpResponse]], ...] = (
    (ApiError, _api_error),
    (AuthenticationError, _unauthenticated),
    (ValidationError, _invalid),
    (HttpError, _http_error),
    (Http404, _missing),
    (Exception, _unexpected),
)


class JsonApi(NinjaAPI):
    """A NinjaAPI that parses bodies strictly and answers every error as `{"code", "message"}`.

    The project builds its one instance (console/urls_api.py) with its own `auth=`; the
    kit knows nothing of who may call what. No schema or docs pages are served by
    django-ninja; `operation_id` (view function -> its OpenAPI operationId, or None for
    django-ninja's default) lets the project name operations in `get_openapi_schema()`.
    """

    def __init__(
        self, *, operation_id: Callable[[Callable], str | None] | None = None, **kwargs: Any
    ) -> None:
        self._operation_id = operation_id
        kwargs.setdefault("parser", StrictJsonParser())
        kwargs.setdefault("docs_url", None)
        kwargs.setdefault("openapi_url", None)
        super().__init__(**kwargs)
        for exception, handler in _HANDLERS:
            self.add_exception_handler(exception, handler)

    def get_openapi_operation_id(self, operation: Any) -> str:
        named = self._operation_id(operation.view_func) if self._operation_id else None
        return named or super().get_openapi_operation_id(operation)


def empty(status: int) -> HttpResponse:
    """Return a bodiless success (the contract's "—" responses)."""
    return HttpResponse(status=status)
