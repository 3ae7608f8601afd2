"""The OAuth endpoints (security/oauth.py): thin views that parse nothing themselves.

Plain Django views, not /v1 operations: OAuth clients send forms and read RFC 6749 §5.2
errors, not Latchkey's JSON kit. No cookie authenticates them, so CSRF does not apply.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from security import oauth

DISCOVERY_MAX_AGE = 3600


def _answer(body: dict, status: int = 200, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    # RFC 6749 §5.1, RFC 7662 §2.2: token material must not be cached anywhere.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _oauth(handler: Callable[[HttpRequest], dict | None]) -> Callable:
    def view(request: HttpRequest) -> HttpResponse:
        try:
            body = handler(request)
        except oauth.OAuthError as refused:
            return _answer(refused.body(), refused.status, refused.headers)
        return _answer(body if body is not None else {})

    view.__doc__ = handler.__doc__
    view.__name__ = handler.__name__
    return csrf_exempt(require_POST(view))


token = _oauth(oauth.issue_token)
introspect = _oauth(oauth.introspect)
revoke = _oauth(oauth.revoke)


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    """Serve the authorization server metadata (RFC 8414; also as openid-configuration)."""
    response = JsonResponse(oauth.metadata())
    response["Cache-Control"] = f"public, max-age={DISCOVERY_MAX_AGE}"
    return response
