"""API sessions: create one per `/auth` exchange, authenticate each API call, revoke.

The token is a JWT bound to a server-side session row (its `jti`). Every call checks the
row, so logout, key revocation and user deletion take effect on the next request, in
every worker, with or without Redis (ASVS 7.4.1).
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts import rowlocks, tokens
from accounts.models import ApiSession, Principal
from console import hotsql

DEFAULT_TIMEOUT = 86400
MAX_TIMEOUT = 172800
MIN_TIMEOUT = 180


@dataclass(frozen=True)
class ApiCaller:
    """Who is calling the API, as established from a live session."""

    principal: Principal
    operator_id: str
    api_key: str
    jti: str
    auth_key_id: str
    policy_version: int


def _now() -> datetime:
    return timezone.now()


def srn(principal: Principal) -> str:
    if principal.is_root:
        return f"srn:soracom:{principal.operator_id}::Operator:{principal.operator_id}"
    return f"srn:soracom:{principal.operator_id}::User:{principal.user_name}"


class PrincipalGone(Exception):
    """The principal was deleted while its session was being opened."""


def create_session(
    principal: Principal, *, timeout: int, auth_key_id: str = "", source_ip: str = ""
) -> tuple[str, str]:
    """Open an API session and return (apiKey, token); call inside a transaction.

    The principal's row is held until commit (accounts/rowlocks.py): a concurrent delete
    either ends this session or makes this raise PrincipalGone.
    """
    if not rowlocks.hold(principal.pk):
        raise PrincipalGone()
    now = _now()
    api_key = f"api-{uuid.uuid4()}"
    jti = secrets.token_hex(16)
    expires = now + timedelta(seconds=timeout)
    ApiSession.objects.create(
        api_key=api_key,
        jti=jti,
        principal=principal,
        operator_id=principal.operator_id,
        auth_key_id=auth_key_id,
        expires_at=expires,
        source_ip=source_ip,
    )
    claims = {
        "iss": settings.LATCHKEY_ISSUER,
        "aud": settings.LATCHKEY_AUDIENCE,
        "sub": srn(principal),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
        "operator": {"operatorId": principal.operator_id},
    }
    if principal.is_sam:
        claims["userName"] = principal.user_name
    return api_key, tokens.sign(claims)


_LOOKUP = """
SELECT s.api_key, s.expires_at, s.revoked_at, s.auth_key_id,
       p.id, p.kind, p.user_name, p.email, p.is_active, p.operator_id, o.policy_version,
       (s.auth_key_id = '' OR EXISTS (
           SELECT 1 FROM security_authkey k WHERE k.key_id = s.auth_key_id AND k.slot IS NOT NULL
       )) AS key_live
FROM accounts_apisession s
JOIN accounts_principal p ON p.id = s.principal_id
JOIN accounts_operator o ON o.id = p.operator_id
WHERE s.jti = %s
"""


def _session_row(jti: str) -> tuple | None:
    """Return the session row of a jti: one indexed, prepared query on every API call."""
    found = hotsql.rows(_LOOKUP, [jti])
    return found[0] if found else None


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    token = request.META.get("HTTP_X_SORACOM_TOKEN", "")
    api_key = request.META.get("HTTP_X_SORACOM_API_KEY", "")
    if not token:
        auth = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value:
            token = value.strip()
    return (token, api_key) if token else None


def authenticate_request(request: HttpRequest) -> ApiCaller | None:
    """Return the caller of a live session from the request's headers, or None."""
    creds = _credentials(request)
    if creds is None:
        return None
    token, api_key = creds
    now = _now()
    try:
        claims = tokens.verify(token, int(now.timestamp()))
    except tokens.InvalidToken:
        return None
    row = _session_row(claims["jti"])
    if row is None:
        return None
    (
        session_key,
        expires_at,
        revoked_at,
        auth_key_id,
        pid,
        kind,
        user_name,
        email,
        is_active,
        operator_id,
        policy_version,
        key_live,
    ) = row
    # A session made from an AuthKey lives only as long as the key: revoking the key ends
    # it here even if the revocation raced with the exchange that opened it.
    if revoked_at is not None or not is_active or not key_live:
        return None
    if hotsql.aware(expires_at) <= now:
        return None
    # The token is bound to its apiKey: when the client sends one, it must match.
    if api_key and not tokens.same(api_key, session_key):
        return None
    principal = Principal.partial(
        id=pid,
        kind=kind,
        user_name=user_name,
        email=email,
        is_active=is_active,
        operator_id=operator_id,
    )
    return ApiCaller(
        principal, operator_id, session_key, claims["jti"], auth_key_id, policy_version
    )


def revoke(api_key: str) -> int:
    """End one session; return how many were ended."""
    return ApiSession.objects.filter(api_key=api_key, revoked_at__isnull=True).update(
        revoked_at=_now()
    )


def revoke_for_principal(principal: Principal) -> int:
    return ApiSession.objects.filter(principal=principal, revoked_at__isnull=True).update(
        revoked_at=_now()
    )


def revoke_for_auth_key(auth_key_id: str) -> int:
    return ApiSession.objects.filter(auth_key_id=auth_key_id, revoked_at__isnull=True).update(
        revoked_at=_now()
    )
