"""The registered routes, read from the URL configuration: every console view and every
API operation with the API name it is authorized as. The route-coverage and permission
matrix tests are built from this, so a route added later is included automatically.
"""

import inspect
import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

# Routes that are not an API operation or console action, and why.
UNAUTHORIZED_ROUTES = {
    "": "the home page only redirects: to sign-in, to the console, or to the admin",
    "healthz": "load balancers' liveness probe: no data, no database",
    "login/": "signing in establishes who the caller is",
    "login/verify/": "the second step of signing in (only in the half-signed-in state)",
    "login/passkey/options": "a WebAuthn challenge for signing in (no data)",
    "login/passkey": "signing in with a passkey establishes who the caller is",
    "logout/": "signing out ends the caller's own session and needs no permission",
    ".well-known/jwks.json": "public keys, public by design",
    ".well-known/oauth-authorization-server": "OAuth metadata (RFC 8414): public by design",
    ".well-known/openid-configuration": "the same OAuth metadata under OpenID's name",
    "oauth/token": "client credentials: the AuthKey exchange of POST /auth, OAuth's way",
    "oauth/introspect": (
        "the AuthKey in the request is the credential; OAuth:introspectToken is decided "
        "inside by accounts.policy (tests/api/test_oauth_introspect.py)"
    ),
    "oauth/revoke": (
        "the AuthKey in the request is the credential; OAuth:revokeToken is decided inside "
        "by accounts.policy (tests/api/test_oauth_introspect.py)"
    ),
    "v1/auth": "POST /auth is the credential exchange itself",
    "v1/leaks/github": "GitHub secret scanning: the ECDSA signature of the body is the credential",
    "v1/auth/password_reset_token/issue": "a forgotten password: the caller has no credential",
    "v1/auth/password_reset_token/verify": "the mailed code is the credential",
    "login/forgot/": "the console twin of password_reset_token/issue (no credential yet)",
    "login/reset/": "console twin of password_reset_token/verify (the code is the credential)",
    "v1/operators/mfa_revoke_token/issue": "checks the root password itself, like POST /auth",
    "v1/operators/mfa_revoke_token/verify": "checks the root password itself, like POST /auth",
    "v1/": "django-ninja's API index: 404 because the docs are disabled (tested)",
    "v1/openapi.json": "the API's public description, generated from the routes: no tenant data",
    "api/": "the API reference, rendered from the OpenAPI document: no tenant data",
    "api/names/": "the list of API names for permission statements: no tenant data",
    "staff/login/": "support staff sign in (throttled and audited like the console sign-in)",
    "staff/logout/": "signing out ends the caller's own session and needs no permission",
    "security/switch-user/back": (
        "switching back ends the caller's own switched session and returns to the identity "
        "that opened it (refused, signed out, if that identity's session would have ended)"
    ),
}
# Route prefixes with their own authorization: the Django admin (staff accounts only).
UNAUTHORIZED_PREFIXES = {
    "admin/": "the Django admin, for installation administrators only (has_permission by role)"
}


@dataclass(frozen=True)
class Route:
    kind: str  # "console" or "api"
    route: str  # Django route, e.g. "security/users/<name:user_name>/"
    method: str  # for API operations; "" for console views (they pick their own)
    api_name: str | None
    callback: object
    operation: object = None  # the ninja Operation for API routes

    @property
    def params(self) -> list[str]:
        return [m.group(2) for m in _PARAM.finditer(self.route)]

    def url(self, values: dict[str, str]) -> str:
        return "/" + _PARAM.sub(lambda m: values.get(m.group(2), "x"), self.route)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.method or 'VIEW'} /{self.route} [{self.api_name}]"


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _path_view(callback):
    """Return the ninja PathView behind a ninja URL callback, or None for a plain view."""
    if getattr(callback, "__module__", "") != "ninja.operation":
        return None
    return inspect.getclosurevars(callback).nonlocals.get("self")


def all_routes() -> list[Route]:
    routes: list[Route] = []
    seen: set[tuple[str, str]] = set()
    for route, pattern in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        path_view = _path_view(callback)
        if path_view is None:
            if (route, "") not in seen:
                seen.add((route, ""))
                routes.append(
                    Route("console", route, "", getattr(callback, "api_name", None), callback)
                )
            continue
        for op in path_view.operations:
            for method in op.methods:
                if (route, method) in seen:
                    continue
                seen.add((route, method))
                name = getattr(op.view_func, "api_name", None)
                routes.append(Route("api", route, method, name, op.view_func, op))
    return routes


def is_staff_page(route: Route) -> bool:
    """Support staff pages (issue 6): authorized by `support_required`, outside tenants."""
    return route.kind == "console" and getattr(route.callback, "staff_only", False) is True


def is_exempt(route: Route) -> bool:
    return (
        route.route in UNAUTHORIZED_ROUTES
        or any(route.route.startswith(p) for p in UNAUTHORIZED_PREFIXES)
        or is_staff_page(route)
    )


def authorized_routes() -> list[Route]:
    return [r for r in all_routes() if not is_exempt(r)]


def contract_path(route: Route) -> str:
    """Return an API route as soracom-api.md writes it: /operators/{operator_id}/... (no /v1)."""
    return "/" + _PARAM.sub(lambda m: "{" + m.group(2) + "}", route.route.removeprefix("v1/"))
