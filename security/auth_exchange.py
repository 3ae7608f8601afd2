"""Opening an API session from a checked credential: `/v1/auth` and OAuth's `/oauth/token`.

Both endpoints exchange an AuthKey through `exchange_authkey`, so that one key has one set
of throttles (security/authkeys.exchange: per address, per key and address, per key), one
last-use record, one kind of audit entry (`Auth:auth`) and one session semantics
(accounts/apisessions.py): a failure at either counts at both, and revoking the key ends
the sessions opened at either.
"""

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest

from accounts import apisessions
from accounts.models import Principal
from console.net import client_ip
from security import audit, authkeys

AUTH_API = "Auth:auth"


class ExchangeFailed(Exception):
    """The credential was refused; `retry_after` > 0 when a throttle refused it."""

    def __init__(self, retry_after: int = 0) -> None:
        super().__init__("Authentication failed.")
        self.retry_after = retry_after


def succeed(
    request: HttpRequest,
    principal: Principal,
    timeout: int,
    key_id: str,
    second_factor: bool = False,
    *,
    scope: tuple[str, ...] = (),
    details: dict | None = None,
) -> tuple[str, str]:
    """Open the API session and record it; return (apiKey, token). Call inside a transaction."""
    if key_id:
        # The holder first, then its key, as everywhere (accounts/rowlocks.py); shared
        # locks both: exchanges run side by side, a delete or a revoke takes turns.
        if not authkeys.hold_live(principal.pk, key_id):
            raise apisessions.PrincipalGone()
    api_key, token = apisessions.create_session(
        principal,
        timeout=timeout,
        auth_key_id=key_id,
        source_ip=client_ip(request),
        held=bool(key_id),
        second_factor=second_factor,
        scope=scope,
    )
    details = dict(details or {})
    if second_factor:
        details["secondFactor"] = "totp"
    if scope:
        details["scope"] = " ".join(scope)
    audit.record(
        request,
        AUTH_API,
        operator=principal.operator_id,
        principal=principal,
        auth_key_id=key_id,
        target=principal.user_name or "root",
        details=details or None,
    )
    return api_key, token


def exchange_authkey(
    request: HttpRequest,
    key_id: object,
    secret: object,
    timeout: int,
    *,
    narrow: Callable[[Principal], tuple[str, ...]] | None = None,
    details: dict | None = None,
) -> tuple[Principal, str, str, str]:
    """Return (holder, key ID, apiKey, token) for an AuthKey ID + secret, or raise ExchangeFailed.

    `narrow(holder)` returns the session's scope once the key is verified (and may raise to
    refuse it: nothing is opened then). The checks and the last-use update take no lock
    past their own statement; the session and its audit entry then commit in one
    transaction that holds the key (shared) against a concurrent revoke: the revoke either
    ends this session too or makes the exchange fail (security/authkeys.hold_live).
    """
    principal, checked_id, retry_after = authkeys.exchange(request, key_id, secret)
    if principal is None:
        authkeys.record_failure(request, checked_id, secret, retry_after)
        raise ExchangeFailed(retry_after)
    scope = narrow(principal) if narrow is not None else ()
    try:
        with transaction.atomic():
            api_key, token = succeed(
                request, principal, timeout, checked_id, scope=scope, details=details
            )
    except apisessions.PrincipalGone:  # revoked or deleted since the check
        raise ExchangeFailed() from None
    return principal, checked_id, api_key, token
