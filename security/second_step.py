"""The half-signed-in state between a right password and the second factor (console only).

It lives in this browser's server-side session (the session key is rotated when it
starts), for PENDING_SECONDS, and holds only the principal's ID, the account key, the
session hash of the principal at that moment and where to go next: no password, no code.
Nothing signs the browser in but the second step: `request.user` stays anonymous, so no
page opens. A password change, "revoke all tokens" or an MFA change since the password was
checked ends it (the session hash no longer matches); so do MAX_TRIES wrong codes.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from accounts.models import Principal

SESSION_KEY = "latchkey.pending_sign_in"
PENDING_SECONDS = 300
MAX_TRIES = 5


@dataclass(frozen=True)
class Pending:
    principal: Principal
    account: str
    next: str


def begin(request: HttpRequest, principal: Principal, account: str, next_url: str) -> HttpResponse:
    """Open the half-signed-in state after a right password; redirect to the second step."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "pk": principal.pk,
        "account": account,
        "hash": principal.get_session_auth_hash(),
        "until": int(time.time()) + PENDING_SECONDS,
        "next": next_url,
        "tries": 0,
        "backend": getattr(principal, "backend", ""),
    }
    return HttpResponseRedirect(reverse("login-verify"))


def current(request: HttpRequest) -> Pending | None:
    """Return the live half-signed-in state of this browser, or None (and forget a dead one)."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict):
        return None
    principal = None
    if state.get("until", 0) > time.time():
        principal = Principal.objects.filter(pk=state.get("pk"), is_active=True).first()
    if principal is None or not constant_time_compare(
        principal.get_session_auth_hash(), state.get("hash", "")
    ):
        drop(request)
        return None
    backend = state.get("backend", "")
    if backend not in settings.AUTHENTICATION_BACKENDS:
        drop(request)
        return None
    principal.backend = backend  # the backend that checked the password, for login()
    return Pending(principal, state["account"], state.get("next", ""))


def count_failure(request: HttpRequest) -> bool:
    """Count one wrong code; return whether the state lives on (False: it was dropped)."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict):
        return False
    state["tries"] = state.get("tries", 0) + 1
    if state["tries"] >= MAX_TRIES:
        drop(request)
        return False
    request.session[SESSION_KEY] = state
    return True


def drop(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def credentials(principal: Principal) -> dict:
    """Return the sign-in credentials naming this principal (for the failure audit)."""
    if principal.is_root:
        return {"email": principal.email}
    return {"operator_id": principal.operator_id, "user_name": principal.user_name}
