"""Console request type and the one decorator that authorizes every console action.

A refusal is recorded in the audit trail (security/audit.py), as the API's `@operation`
(security/api_access.py) records its own.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import resolve, reverse
from django_htmx.middleware import HtmxDetails

from accounts import policy
from accounts.context import CallContext, console_second_factor
from accounts.models import Principal
from accounts.permissions import register_operation
from console.htmx import in_dialog_host
from console.net import client_ip
from security import failures, read_audit, users


class ConsoleRequest(HttpRequest):
    user: Principal
    htmx: HtmxDetails


View = Callable[..., HttpResponse]


# The HTTP method a permission condition (`httpMethod(...)`) sees for a console action: the
# method of the action's API twin, whatever the browser used (a dialog is a GET, its
# confirmation a POST). Otherwise "deny * if httpMethod('DELETE')" would stop the API and
# let the console delete. Derived from the operation's verb; `method=` names the others.
_VERB_METHODS = (
    (("list", "get", "has", "simulate"), "GET"),
    (("create", "generate", "attach", "grant"), "POST"),
    (("update",), "PUT"),
    (("delete", "detach", "revoke"), "DELETE"),
)
# API tags whose paths carry no {operator_id} (soracom-api.md §4.8, §4.9; Soracom's groups).
_UNSCOPED_TAGS = frozenset({"Credential", "AuditLog", "Group"})


def twin_method(api: str) -> str:
    """Return the HTTP method of the API operation `api` (ValueError if its verb is unknown)."""
    operation = api.partition(":")[2]
    for verbs, method in _VERB_METHODS:
        if operation.startswith(verbs):
            return method
    raise ValueError(f"{api}: name the HTTP method of its API twin (method=...)")


def decision_path_vars(api: str, operator_id: str, kwargs: dict) -> dict[str, str]:
    """Return the path variables a condition sees: the API twin's, operator_id included."""
    found = {k: str(v) for k, v in kwargs.items()}
    if api.partition(":")[0] not in _UNSCOPED_TAGS:
        found = {"operator_id": operator_id, **found}
    return found


def _refusal(request: ConsoleRequest, api: str, user: Principal, kwargs: dict) -> HttpResponse:
    failures.record_refusal(request, api, principal=user, target=str(kwargs.get("user_name", "")))
    if request.htmx:
        return in_dialog_host(
            render(request, "console/forbidden_dialog.html", {"api": api}, status=403)
        )
    return render(request, "console/forbidden.html", {"api": api}, status=403)


def _first_refused(
    request: ConsoleRequest,
    names: tuple[str, ...],
    method: str,
    kwargs: dict,
    policy_version: int | None = None,
) -> str | None:
    """Return the first of `names` the signed-in principal may not call here, or None."""
    user = request.user
    path_vars = decision_path_vars(names[0], user.operator_id, kwargs)
    for name in names:
        ctx = CallContext(
            principal=user,
            api=name,
            source_ip=client_ip(request),
            method=method,
            path_vars=path_vars,
            policy_version=policy_version,
            second_factor=console_second_factor(request),
        )
        if not policy.is_allowed(ctx):
            return name
    return None


class WriteControls:
    """Decides which write controls a page shows, with each action's own check.

    `reason(route, **path)` is '' when the signed-in principal may use the console action at
    `route` with those path variables, else why not: decided by the operations, HTTP method
    and path variables that the action's `console_action` authorizes with, so that a control
    is offered exactly when pressing it would be allowed. The operator's policy version is
    read once per page (a list's row actions cost no query per row); asking audits nothing.
    """

    def __init__(self, request: ConsoleRequest) -> None:
        self.request = request
        self._version: int | None = None

    def reason(self, route: str, **kwargs: object) -> str:
        view = resolve(reverse(route, kwargs=kwargs or None)).func
        names = getattr(view, "api_names", None)
        if names is None:
            raise ValueError(f"{route} is not a console action")
        user = self.request.user
        if user.is_sam and self._version is None:
            self._version = policy.current_version(user.operator_id)
        refused = _first_refused(self.request, names, view.decision_method, kwargs, self._version)
        return "" if refused is None else f"You do not have permission for {refused}."

    def of(self, **controls: str | tuple[str, dict]) -> dict[str, str]:
        """{control: reason} for controls named by route, or by (route, path variables)."""
        found = {}
        for control, target in controls.items():
            route, kwargs = (target, {}) if isinstance(target, str) else target
            found[control] = self.reason(route, **kwargs)
        return found


def denied(request: ConsoleRequest, route: str, **kwargs: object) -> str:
    """Why the signed-in principal may not use the action at `route` ('' if it may)."""
    return WriteControls(request).reason(route, **kwargs)


def denials(request: ConsoleRequest, **controls: str | tuple[str, dict]) -> dict[str, str]:
    """`WriteControls.of` for a page's write controls: {control: reason, or ''}."""
    return WriteControls(request).of(**controls)


def console_action(
    api: str, *, method: str | None = None, also: tuple[str, ...] = ()
) -> Callable[[View], View]:
    """Require a signed-in tenant principal allowed to call `api` (and every one of `also`).

    The decision is the API's: the twin's HTTP method and path variables (operator_id
    included). `also` names further operations whose data the action reads or whose work it
    does (a console-only page that shows what only those operations return).
    """
    names = (api, *also)
    for name in names:
        register_operation(name)
    decided_as = method or twin_method(api)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: ConsoleRequest, *args: object, **kwargs: object) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.operator_id is None:
                return render(request, "console/forbidden.html", {"api": api}, status=403)
            refused = _first_refused(request, names, decided_as, kwargs)
            if refused is not None:
                return _refusal(request, refused, user, kwargs)
            response = view(request, *args, **kwargs)
            if decided_as == "GET" and response.status_code < 400:
                target = str(kwargs.get("user_name", ""))
                read_audit.record_read(request, api, user, target=target)
            return response

        wrapped.api_name = api  # type: ignore[attr-defined]
        wrapped.api_names = names  # type: ignore[attr-defined]
        wrapped.decision_method = decided_as  # type: ignore[attr-defined]
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
    user = users.get_sam_user(request.user.operator_id, user_name)
    if user is None:
        raise Http404("No such user.")
    return user
