"""Console request type and the one decorator that authorizes every console action."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from accounts import policy
from accounts.context import CallContext
from accounts.models import Principal
from accounts.permissions import register_operation
from security import audit
from security.models import AuditEntry


class ConsoleRequest(HttpRequest):
    user: Principal
    htmx: HtmxDetails


View = Callable[..., HttpResponse]


def console_action(api: str) -> Callable[[View], View]:
    """Require a signed-in tenant principal allowed to call `api` (path kwargs as variables)."""
    register_operation(api)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: ConsoleRequest, *args: object, **kwargs: object) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.operator_id is None:
                return render(request, "console/forbidden.html", {"api": api}, status=403)
            ctx = CallContext.from_request(request, user, api, kwargs)
            if not policy.is_allowed(ctx):
                audit.record(
                    request,
                    api,
                    operator=user.operator_id,
                    principal=user,
                    outcome=AuditEntry.Outcome.DENIED,
                    target=str(kwargs.get("user_name", "")),
                )
                template = (
                    "console/forbidden_dialog.html" if request.htmx else ("console/forbidden.html")
                )
                return render(request, template, {"api": api}, status=403)
            return view(request, *args, **kwargs)

        wrapped.api_name = api  # type: ignore[attr-defined]
        return wrapped

    return decorator


def signed_in(view: View) -> View:
    """Require a signed-in tenant principal, for pages that call no API of their own."""

    @wraps(view)
    def wrapped(request: ConsoleRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated or request.user.operator_id is None:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapped.api_name = None  # type: ignore[attr-defined]
    return wrapped


def sam_user_or_404(request: ConsoleRequest, user_name: str) -> Principal:
    """Return the signed-in operator's SAM user of that name, or 404 (whatever the tenant)."""
    from accounts import users

    user = users.get_sam_user(request.user.operator_id, user_name)
    if user is None:
        raise Http404("No such user.")
    return user
