"""The AuthKeys tab (the root account's own keys) and a SAM user's Authentication tab.

Both list live keys, generate (the secret is rendered once, in the dialog's response, and
nowhere else) and revoke, through security/authkeys.py. Every action also works as a
full page without JavaScript.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Principal
from console.htmx import announce, close_dialog, render_dialog
from security import api_examples, authkeys
from security.access import ConsoleRequest, WriteControls, console_action
from security.forms_authkeys import (
    GenerateAuthKeyForm,
    MaxLifetimeForm,
    RevokeAuthKeyForm,
    RollAuthKeyForm,
    SourceNetworksForm,
)
from security.models import AuthKey

LIST_TEMPLATE = "security/partials/authkey_list.html"
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class KeyScope:
    """Whose keys a page manages, and where its actions live."""

    holder: Principal
    label: str  # how the page names the holder
    list_url: str
    generate_url: str
    new_url: str  # the generate dialog (its form posts to generate_url)
    generate_route: str
    revoke_route: str
    path_vars: dict
    sources_route: str = ""
    prefix: str = ""  # of the lifecycle routes: "" (root's) or "user-"

    def revoke_url(self, key_id: str) -> str:
        return reverse(self.revoke_route, kwargs={**self.path_vars, "auth_key_id": key_id})

    def sources_url(self, key_id: str) -> str:
        return reverse(self.sources_route, kwargs={**self.path_vars, "auth_key_id": key_id})

    def route(self, action: str) -> str:
        return f"{self.prefix}authkey-{action}"

    def url(self, action: str, key_id: str) -> str:
        return reverse(self.route(action), kwargs={**self.path_vars, "auth_key_id": key_id})


def _root_scope(request: ConsoleRequest) -> KeyScope:
    # The operator's root, found as the API finds it (never "whoever is signed in").
    root = authkeys.find_holder(request.user.operator_id)
    if root is None:
        raise Http404("No root account.")
    return KeyScope(
        holder=root,
        label=f"the root account ({root.email})",
        list_url=reverse("authkeys"),
        generate_url=reverse("authkey-generate"),
        new_url=reverse("authkey-new"),
        generate_route="authkey-generate",
        revoke_route="authkey-revoke",
        sources_route="authkey-sources",
        path_vars={},
    )


def _user_scope(request: ConsoleRequest, user_name: str) -> KeyScope:
    user = authkeys.find_holder(request.user.operator_id, user_name)
    if user is None:
        raise Http404("No such user.")
    return KeyScope(
        holder=user,
        label=user.user_name,
        list_url=reverse("user-authentication", args=[user.user_name]),
        generate_url=reverse("user-authkey-generate", args=[user.user_name]),
        new_url=reverse("user-authkey-new", args=[user.user_name]),
        generate_route="user-authkey-generate",
        revoke_route="user-authkey-revoke",
        sources_route="user-authkey-sources",
        path_vars={"user_name": user.user_name},
        prefix="user-",
    )


def _list_context(request: ConsoleRequest, scope: KeyScope) -> dict:
    now = timezone.now()
    keys = list(authkeys.live_keys(scope.holder))
    controls = WriteControls(request)
    for key in keys:
        key.stale = authkeys.is_stale(key, now)
        key.used_just_now = key.last_used_at is not None and now - key.last_used_at < MINUTE
        refused = controls.reason(scope.revoke_route, **scope.path_vars, auth_key_id=key.key_id)
        key.revoke_url = "" if refused else scope.revoke_url(key.key_id)
        key.revoke_denied = refused
        refused = controls.reason(scope.sources_route, **scope.path_vars, auth_key_id=key.key_id)
        key.sources_url = "" if refused else scope.sources_url(key.key_id)
        key.networks = key.allowed_networks.split()
        key.expiring_soon = authkeys.expires_soon(key, now)
        key.actions = {}
        for action in ("deactivate", "activate", "roll", "cancel-roll"):
            route = scope.route(action)
            if not controls.reason(route, **scope.path_vars, auth_key_id=key.key_id):
                key.actions[action.replace("-", "_")] = scope.url(action, key.key_id)
        if len(keys) >= authkeys.MAX_LIVE_KEYS:
            key.roll_blocked = authkeys.ROLL_LIMIT_MESSAGE
    blocked = ""
    if len(keys) >= authkeys.MAX_LIVE_KEYS:
        blocked = "Two AuthKeys is the limit: revoke one to generate a new one."
    else:
        blocked = controls.reason(scope.generate_route, **scope.path_vars)
    lifetime = authkeys.max_lifetime_days(scope.holder.operator_id)
    lifetime_form = None
    if scope.holder.is_root and not controls.reason("authkey-lifetime"):
        lifetime_form = MaxLifetimeForm(initial={"max_lifetime_days": lifetime})
    return {
        "max_lifetime_days": lifetime,
        "lifetime_form": lifetime_form,
        "scope": scope,
        "keys": keys,
        "revoked": authkeys.recently_revoked(scope.holder),
        "limit": authkeys.MAX_LIVE_KEYS,
        "generate_blocked": blocked,
        "stale_days": settings.LATCHKEY_STALE_KEY_DAYS,
    }


def _list(request: ConsoleRequest, scope: KeyScope, page: str, extra: dict) -> HttpResponse:
    context = _list_context(request, scope)
    if request.htmx and request.htmx.target == "authkey-list":
        return render(request, LIST_TEMPLATE, context)
    return render(request, page, {**context, **extra})


def _generate_dialog(request: ConsoleRequest, scope: KeyScope, form, status: int = 200):
    return render_dialog(
        request,
        "security/partials/authkey_generate_dialog.html",
        {"scope": scope, "form": form},
        status=status,
    )


def _new(request: ConsoleRequest, scope: KeyScope) -> HttpResponse:
    """The generate dialog: its form (a description) posts to the generate action."""
    if authkeys.live_keys(scope.holder).count() >= authkeys.MAX_LIVE_KEYS:
        return render_dialog(
            request,
            "security/partials/authkey_limit_dialog.html",
            {"scope": scope, "message": str(authkeys.AuthKeyLimitReached())},
            status=409,
        )
    return _generate_dialog(request, scope, GenerateAuthKeyForm())


def _generate(request: ConsoleRequest, scope: KeyScope) -> HttpResponse:
    # A POST without a description (an older page, a script) generates an unlabelled key.
    form = GenerateAuthKeyForm(request.POST)
    if not form.is_valid():
        return _generate_dialog(request, scope, form, status=400)
    description = form.cleaned_data["description"]
    try:
        key, secret = authkeys.generate(
            request,
            request.user,
            scope.holder,
            description=description,
            allowed_networks=form.cleaned_data["allowed_networks"],
            expires_at=form.expires_at(),
        )
    except ValidationError as exc:  # the expiry (e.g. longer than the account allows)
        form.add_error("expiry", exc)
        return _generate_dialog(request, scope, form, status=400)
    except authkeys.HolderGone:
        raise Http404("No such user.") from None
    except (authkeys.AuthKeyLimitReached, authkeys.GenerateRateLimited) as exc:
        limited = isinstance(exc, authkeys.GenerateRateLimited)
        response = render_dialog(
            request,
            "security/partials/authkey_limit_dialog.html",
            {"scope": scope, "message": str(exc)},
            status=429 if limited else 409,
        )
        if limited:
            response["Retry-After"] = str(exc.retry_after)
        return response
    return _secret_dialog(request, scope, key, secret, f"AuthKey {key.key_id} generated")


def _secret_dialog(request: ConsoleRequest, scope: KeyScope, key, secret: str, what: str):
    # The secret goes into this one response and nowhere else: no session, message,
    # cache or log. The dialog offers copy buttons and a CSV built in the browser.
    response = render_dialog(
        request,
        "security/partials/authkey_secret_dialog.html",
        {
            "scope": scope,
            "key": key,
            "secret": secret,
            "calls": api_examples.for_holder(request, scope.holder),
        },
    )
    return announce(request, response, f"{what} for {scope.label}.")


def _live_or_404(scope: KeyScope, auth_key_id: str) -> AuthKey:
    key = authkeys.get_live_key(scope.holder, auth_key_id)
    if key is None:
        raise Http404("No such AuthKey.")
    return key


def _set_active(
    request: ConsoleRequest, scope: KeyScope, auth_key_id: str, active: bool
) -> HttpResponse:
    """Deactivate or reactivate (a POST from the key's row), as the API's PUT does."""
    key = _live_or_404(scope, auth_key_id)
    if not authkeys.set_active(request, request.user, key, active):
        raise Http404("No such AuthKey.")
    state = "reactivated" if active else "deactivated: its sessions have ended"
    message = f"AuthKey {key.key_id} {state}."
    return close_dialog(request, scope.list_url, "authkeysChanged", message=message)


def _roll_dialog(request, scope: KeyScope, key: AuthKey, form, status: int = 200):
    return render_dialog(
        request,
        "security/partials/authkey_roll_dialog.html",
        {"scope": scope, "key": key, "form": form, "roll_url": scope.url("roll", key.key_id)},
        status=status,
    )


def _roll(request: ConsoleRequest, scope: KeyScope, auth_key_id: str) -> HttpResponse:
    key = _live_or_404(scope, auth_key_id)
    if request.method != "POST":
        return _roll_dialog(request, scope, key, RollAuthKeyForm())
    form = RollAuthKeyForm(request.POST)
    if not form.is_valid():
        return _roll_dialog(request, scope, key, form, status=400)
    try:
        new, secret = authkeys.roll(
            request,
            request.user,
            key,
            delay=form.delay_timedelta(),
            expires_at=form.expires_at(),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _roll_dialog(request, scope, key, form, status=400)
    except (authkeys.AuthKeyLimitReached, authkeys.LifecycleConflict) as exc:
        form.add_error(None, str(exc))
        return _roll_dialog(request, scope, key, form, status=409)
    except authkeys.GenerateRateLimited as exc:
        form.add_error(None, str(exc))
        response = _roll_dialog(request, scope, key, form, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except authkeys.HolderGone:
        raise Http404("No such user.") from None
    return _secret_dialog(
        request, scope, new, secret, f"AuthKey {key.key_id} rolled to {new.key_id}"
    )


def _cancel_roll(request: ConsoleRequest, scope: KeyScope, auth_key_id: str) -> HttpResponse:
    key = _live_or_404(scope, auth_key_id)
    if authkeys.cancel_roll(request, request.user, key):
        message = f"The scheduled revocation of {key.key_id} is cancelled."
    else:
        message = f"No revocation of {key.key_id} was scheduled."
    return close_dialog(request, scope.list_url, "authkeysChanged", message=message)


def _revoke(request: ConsoleRequest, scope: KeyScope, auth_key_id: str) -> HttpResponse:
    key: AuthKey | None = authkeys.get_live_key(scope.holder, auth_key_id)
    if key is None:
        raise Http404("No such AuthKey.")
    data = request.POST if request.method == "POST" else None  # an empty POST confirms
    form = RevokeAuthKeyForm(data, request=request, key=key)
    if request.method == "POST" and form.is_valid():
        if not form.revoke():
            raise Http404("No such AuthKey.")
        message = f"AuthKey {key.key_id} revoked."
        return close_dialog(request, scope.list_url, "authkeysChanged", message=message)
    return render_dialog(
        request,
        "security/partials/authkey_revoke_dialog.html",
        {"scope": scope, "key": key, "form": form, "revoke_url": scope.revoke_url(key.key_id)},
        status=400 if form.errors else 200,
    )


def _sources(request: ConsoleRequest, scope: KeyScope, auth_key_id: str) -> HttpResponse:
    key: AuthKey | None = authkeys.get_live_key(scope.holder, auth_key_id)
    if key is None:
        raise Http404("No such AuthKey.")
    data = request.POST if request.method == "POST" else None
    form = SourceNetworksForm(data, request=request, key=key)
    if request.method == "POST" and form.is_valid():
        if not form.save():
            raise Http404("No such AuthKey.")
        networks = key.allowed_networks.split()
        where = ", ".join(networks) if networks else "anywhere"
        message = f"AuthKey {key.key_id} now works from {where}."
        return close_dialog(request, scope.list_url, "authkeysChanged", message=message)
    return render_dialog(
        request,
        "security/partials/authkey_sources_dialog.html",
        {"scope": scope, "key": key, "form": form, "sources_url": scope.sources_url(key.key_id)},
        status=400 if form.errors else 200,
    )


@require_GET
@console_action("Operator:listOperatorAuthKeys")
def authkey_list(request: ConsoleRequest) -> HttpResponse:
    return _list(request, _root_scope(request), "security/authkeys.html", {"tab": "authkeys"})


@require_GET
@console_action("Operator:generateOperatorAuthKey")
def authkey_new(request: ConsoleRequest) -> HttpResponse:
    return _new(request, _root_scope(request))


@require_POST
@console_action("Operator:generateOperatorAuthKey")
def authkey_generate(request: ConsoleRequest) -> HttpResponse:
    return _generate(request, _root_scope(request))


@require_http_methods(["GET", "POST"])
@console_action("Operator:deleteOperatorAuthKey")
def authkey_revoke(request: ConsoleRequest, auth_key_id: str) -> HttpResponse:
    return _revoke(request, _root_scope(request), auth_key_id)


@require_GET
@console_action("User:listUserAuthKeys")
def user_authentication(request: ConsoleRequest, user_name: str) -> HttpResponse:
    scope = _user_scope(request, user_name)
    extra = {"tab": "users", "section": "authentication", "subject": scope.holder}
    return _list(request, scope, "security/user_authentication.html", extra)


@require_GET
@console_action("User:generateUserAuthKey")
def user_authkey_new(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _new(request, _user_scope(request, user_name))


@require_POST
@console_action("User:generateUserAuthKey")
def user_authkey_generate(request: ConsoleRequest, user_name: str) -> HttpResponse:
    return _generate(request, _user_scope(request, user_name))


@require_http_methods(["GET", "POST"])
@console_action("User:deleteUserAuthKey")
def user_authkey_revoke(request: ConsoleRequest, user_name: str, auth_key_id: str) -> HttpResponse:
    return _revoke(request, _user_scope(request, user_name), auth_key_id)


@require_http_methods(["GET", "POST"])
@console_action("Operator:updateOperatorAuthKeySourceNetworks")
def authkey_sources(request: ConsoleRequest, auth_key_id: str) -> HttpResponse:
    """Edit where a root AuthKey may be used from."""
    return _sources(request, _root_scope(request), auth_key_id)


@require_http_methods(["GET", "POST"])
@console_action("User:updateUserAuthKeySourceNetworks")
def user_authkey_sources(request: ConsoleRequest, user_name: str, auth_key_id: str) -> HttpResponse:
    """Edit where a SAM user's AuthKey may be used from."""
    return _sources(request, _user_scope(request, user_name), auth_key_id)


@require_POST
@console_action("Operator:deactivateOperatorAuthKey", method="PUT")
def authkey_deactivate(request: ConsoleRequest, auth_key_id: str) -> HttpResponse:
    return _set_active(request, _root_scope(request), auth_key_id, False)


@require_POST
@console_action("Operator:activateOperatorAuthKey", method="PUT")
def authkey_activate(request: ConsoleRequest, auth_key_id: str) -> HttpResponse:
    return _set_active(request, _root_scope(request), auth_key_id, True)


@require_http_methods(["GET", "POST"])
@console_action("Operator:rollOperatorAuthKey", method="POST")
def authkey_roll(request: ConsoleRequest, auth_key_id: str) -> HttpResponse:
    return _roll(request, _root_scope(request), auth_key_id)


@require_POST
@console_action("Operator:cancelOperatorAuthKeyRoll", method="DELETE")
def authkey_cancel_roll(request: ConsoleRequest, auth_key_id: str) -> HttpResponse:
    return _cancel_roll(request, _root_scope(request), auth_key_id)


@require_POST
@console_action(authkeys.MAX_LIFETIME_API, method="PUT")
def authkey_lifetime(request: ConsoleRequest) -> HttpResponse:
    """Set the longest lifetime of new AuthKeys (root's setting; empty: no limit)."""
    scope = _root_scope(request)
    form = MaxLifetimeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["max_lifetime_days"]))
        return redirect(scope.list_url)
    days = form.cleaned_data["max_lifetime_days"]
    authkeys.set_max_lifetime(request, request.user, scope.holder.operator_id, days)
    limit = f"at most {days} days" if days else "no limit"
    messages.success(request, f"New AuthKeys: {limit}.")
    return redirect(scope.list_url)


@require_POST
@console_action("User:deactivateUserAuthKey", method="PUT")
def user_authkey_deactivate(request: ConsoleRequest, user_name: str, auth_key_id: str):
    return _set_active(request, _user_scope(request, user_name), auth_key_id, False)


@require_POST
@console_action("User:activateUserAuthKey", method="PUT")
def user_authkey_activate(request: ConsoleRequest, user_name: str, auth_key_id: str):
    return _set_active(request, _user_scope(request, user_name), auth_key_id, True)


@require_http_methods(["GET", "POST"])
@console_action("User:rollUserAuthKey", method="POST")
def user_authkey_roll(request: ConsoleRequest, user_name: str, auth_key_id: str):
    return _roll(request, _user_scope(request, user_name), auth_key_id)


@require_POST
@console_action("User:cancelUserAuthKeyRoll", method="DELETE")
def user_authkey_cancel_roll(request: ConsoleRequest, user_name: str, auth_key_id: str):
    return _cancel_roll(request, _user_scope(request, user_name), auth_key_id)
