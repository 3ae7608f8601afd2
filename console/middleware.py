"""Cross-cutting middleware: request IDs, the API body cap, no caching of authenticated pages."""

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

Handler = Callable[[HttpRequest], HttpResponse]


class RequestIdMiddleware:
    """Give every request an ID (for the audit trail) and echo it in X-Request-Id."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = secrets.token_hex(8)
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class ApiBodyLimitMiddleware:
    """Refuse JSON API bodies over LATCHKEY_MAX_BODY_BYTES with 413 before any parsing."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.limit = settings.LATCHKEY_MAX_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/v1/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0:
                return JsonResponse(
                    {"code": "LKY0400", "message": "Invalid Content-Length."}, status=400
                )
            if length > self.limit:
                return JsonResponse(
                    {"code": "LKY0413", "message": f"Request body over {self.limit} bytes."},
                    status=413,
                )
        return self.get_response(request)


class NoStoreMiddleware:
    """Forbid caching of every page and API answer: they may carry a secret shown once."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path_info.startswith(("/static/", "/.well-known/")):
            response["Cache-Control"] = "no-store"
        return response
