"""What a permission decision looks at: who calls, which API, from where, when, on what."""

from dataclasses import dataclass, field
from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Principal
from console.net import client_ip

# Session key of a console session opened with a second factor (security/views_signin.py).
SECOND_FACTOR_SESSION_KEY = "latchkey.second_factor"


def console_second_factor(request: HttpRequest) -> bool:
    """Return whether the request's console session was opened with a second factor."""
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(SECOND_FACTOR_SESSION_KEY))


@dataclass(frozen=True)
class CallContext:
    principal: Principal
    api: str  # "Tag:operationId", e.g. "User:generateUserAuthKey"
    source_ip: str
    method: str
    path_vars: dict[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=timezone.now)
    # The operator's policy version when known (the API session look-up reads it), so that
    # the policy engine needs no query of its own on the hot path; None: the engine reads it.
    policy_version: int | None = None
    # The session was opened with a second factor (condition `multiFactorAuthPresent`).
    second_factor: bool = False
    # The session's OAuth scope (accounts/permissions.parse_scope): a call outside it is
    # refused whatever the statements say; () narrows nothing (every other session).
    scope: tuple[str, ...] = ()

    @classmethod
    def from_request(
        cls,
        request: HttpRequest,
        principal: Principal,
        api: str,
        path_vars: dict[str, str],
        policy_version: int | None = None,
        second_factor: bool | None = None,
        scope: tuple[str, ...] | None = None,
    ) -> "CallContext":
        if scope is None:
            # Every decision made for an API call is narrowed by its session's scope, the
            # handlers' second checks (security/groups.py, reports.py) included.
            scope = getattr(getattr(request, "auth", None), "scope", ()) or ()
        return cls(
            principal=principal,
            api=api,
            source_ip=client_ip(request),
            method=request.method or "GET",
            path_vars={k: str(v) for k, v in path_vars.items()},
            policy_version=policy_version,
            second_factor=(
                console_second_factor(request) if second_factor is None else second_factor
            ),
            scope=scope,
        )
