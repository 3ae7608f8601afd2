"""Cross-cutting middleware: request IDs, JSON errors under /v1, the API body cap, no caching
of authenticated pages."""

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from console import errors, net

Handler = Callable[[HttpRequest], HttpResponse]


class ProxyHeadersMiddleware:
    """Drop X-Forwarded-Proto unless the peer is one of the proxy networks.

    Django's SECURE_PROXY_SSL_HEADER (BEHIND_TLS_PROXY) believes the header from whoever
    sends it: a client that reaches the app server around the proxy could claim https
    (and, with it, request.is_secure() for CSRF's referer check and secure cookies). Only
    the proxies the deployment names (console/net.py) may say how the client connected.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not net.from_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


class RequestIdMiddleware:
    """Give every request an ID (for the audit trail) and echo it in X-Request-Id."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = secrets.token_hex(8)
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


API_ERROR_MESSAGES = {
    400: "Bad request.",
    401: "Authentication failed.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal error.",
}


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


class ApiJsonErrorsMiddleware:
    """Under /v1, answer every error as a flat JSON `{"code", "message"}`, in every mode.

    Clients parse every 4xx body as JSON (soracom-api.md §2). Outside DEBUG the error
    handlers do it (console/errors.py); with DEBUG on, Django answers an unknown path with
    its HTML technical 404 page, which also lists every route, and an exception raised
    outside a handler with the HTML traceback page (handler404/500 are not used in DEBUG).
    Whatever produced an error response that is not JSON, it is replaced here (status and
    headers kept; the body says only what the status says): django-ninja's text 405 for a
    method a path does not serve among them, so that no library internal is patched. The
    console's pages are not touched.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path_info.startswith("/v1/")
            or _is_json(response)
            or getattr(response, "streaming", False)
        ):
            return response
        status = response.status_code
        message = API_ERROR_MESSAGES.get(status, "Internal error." if status >= 500 else "Error.")
        replacement = JsonResponse({"code": f"LKY0{status}", "message": message}, status=status)
        for name, value in response.items():
            if name.lower() not in ("content-type", "content-length"):
                replacement[name] = value
        if status == 405 and "Allow" in response:
            # django-ninja answers a method a path does not serve with a text 405 whose
            # Allow header lists the methods in no fixed order: keep it, sorted.
            methods = {m.strip() for m in response["Allow"].split(",") if m.strip()}
            replacement["Allow"] = ", ".join(sorted(methods))
        return replacement


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


class HtmxNotFoundMiddleware:
    """A view raising Http404 for a console htmx request answers a "Not found" dialog.

    Without it, in development (DEBUG), Django's technical 404 page would land wherever the
    request aimed (inside a list or a dialog) with its own styles; production's handler404
    (console.errors.not_found) gives the same dialog. The key or user was typically removed
    in another tab. A 404 a view renders itself (a dialog naming what is missing) is kept.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and errors.wants_dialog(request):
            return errors.not_found_dialog(request)
        return None
