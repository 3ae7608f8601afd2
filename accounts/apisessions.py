"""API sessions: create one per `/auth` exchange, authenticate each API call, end them.

The token is a JWT bound to a server-side session row (its `jti`). Every call checks the
row, so logout, key revocation and user deletion take effect on the next request, in
every worker, with or without Redis (ASVS 7.4.1).

Which events end which sessions is docs/sessions.md. A session records how it was opened
(password or AuthKey) and the principal's epochs as they were read together with the
credential it checked. Ending sessions marks their rows revoked (the record, and what
the audit entry counts) and bumps an epoch (the guarantee): an exchange that checked the
old password, or read the old epoch, before the change committed but inserts its row
after it, opens a session that is already dead.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.db import models, transaction
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
    opened_by: str = ApiSession.OpenedBy.PASSWORD
    # Opened with a second factor (the condition variable multiFactorAuthPresent).
    second_factor: bool = False


def _now() -> datetime:
    return timezone.now()


def srn(principal: Principal) -> str:
    if principal.is_root:
        return f"srn:soracom:{principal.operator_id}::Operator:{principal.operator_id}"
    return f"srn:soracom:{principal.operator_id}::User:{principal.user_name}"


class PrincipalGone(Exception):
    """The principal was deleted while its session was being opened."""


def create_session(
    principal: Principal,
    *,
    timeout: int,
    auth_key_id: str = "",
    source_ip: str = "",
    held: bool = False,
    second_factor: bool = False,
) -> tuple[str, str]:
    """Open an API session and return (apiKey, token).

    `principal` must be the object the credential was checked against (its epochs were
    read with its password hash or its key): the session is bound to those epochs.
    `held`: the caller's transaction holds the principal already (rowlocks.hold).
    """
    if not held and not rowlocks.hold(principal.pk):
        raise PrincipalGone()
    now = _now()
    api_key = f"api-{uuid.uuid4()}"
    jti = secrets.token_hex(16)
    expires = now + timedelta(seconds=timeout)
    by_password = not auth_key_id
    ApiSession.objects.create(
        api_key=api_key,
        jti=jti,
        principal=principal,
        operator_id=principal.operator_id,
        auth_key_id=auth_key_id,
        opened_by=ApiSession.OpenedBy.PASSWORD if by_password else ApiSession.OpenedBy.AUTHKEY,
        session_epoch=principal.session_epoch,
        password_epoch=principal.password_epoch if by_password else None,
        expires_at=expires,
        source_ip=source_ip,
        second_factor=second_factor and by_password,
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
SELECT s.api_key, s.expires_at, s.revoked_at, s.auth_key_id, s.opened_by, s.second_factor,
       p.id, p.kind, p.user_name, p.email, p.is_active, p.operator_id, o.policy_version,
       (s.auth_key_id = '' OR EXISTS (
           SELECT 1 FROM security_authkey k WHERE k.key_id = s.auth_key_id AND k.slot IS NOT NULL
       )) AS key_live,
       (s.session_epoch = p.session_epoch
        AND (s.opened_by <> 'password' OR s.password_epoch = p.password_epoch)) AS epochs_live
       {companion}
FROM accounts_apisession s
JOIN accounts_principal p ON p.id = s.principal_id
JOIN accounts_operator o ON o.id = p.operator_id
WHERE s.jti = %s
"""


@dataclass(frozen=True)
class Companion:
    """A read the handler of a route will make, sent in the session lookup's round trip.

    `sql` is a scalar subquery (one text value; PostgreSQL only) and `params` its values.
    The session is checked and the caller authorized exactly as without it; the value is
    only handed to the handler afterwards (request.companion), or thrown away.
    """

    sql: str
    params: list


_STATEMENTS: dict[str, str] = {}


def _lookup_sql(companion: Companion | None) -> str:
    sql = companion.sql if companion is not None else ""
    if sql not in _STATEMENTS:
        _STATEMENTS[sql] = _LOOKUP.format(companion=f", ({sql}) AS companion" if sql else "")
    return _STATEMENTS[sql]


def _session_row(jti: str, companion: Companion | None = None) -> tuple | None:
    """Return the session row of a jti: one indexed, prepared query on every API call."""
    params = [*companion.params, jti] if companion is not None else [jti]
    found = hotsql.rows(_lookup_sql(companion), params)
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


def authenticate_request(
    request: HttpRequest, companion: Companion | None = None
) -> ApiCaller | None:
    """Return the caller of a live session from the request's headers, or None.

    With a companion read (PostgreSQL), its value is left on request.companion when the
    session is live, for the handler to use once the caller is authorized.
    """
    creds = _credentials(request)
    if creds is None:
        return None
    token, api_key = creds
    now = _now()
    try:
        claims = tokens.verify(token, int(now.timestamp()))
    except tokens.InvalidToken:
        return None
    row = _session_row(claims["jti"], companion)
    if row is None:
        return None
    extra = row[15:]
    row = row[:15]
    (
        session_key,
        expires_at,
        revoked_at,
        auth_key_id,
        opened_by,
        second_factor,
        pid,
        kind,
        user_name,
        email,
        is_active,
        operator_id,
        policy_version,
        key_live,
        epochs_live,
    ) = row
    # A session made from an AuthKey lives only as long as the key, and every session only
    # as long as the epochs it was opened under: both end it here even if the revocation
    # raced with the exchange that opened it.
    if revoked_at is not None or not is_active or not key_live or not epochs_live:
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
    if extra:
        request.companion = extra[0]  # type: ignore[attr-defined]
    return ApiCaller(
        principal,
        operator_id,
        session_key,
        claims["jti"],
        auth_key_id,
        policy_version,
        opened_by,
        bool(second_factor),
    )


def revoke(api_key: str) -> int:
    """End one session; return how many were ended."""
    return ApiSession.objects.filter(api_key=api_key, revoked_at__isnull=True).update(
        revoked_at=_now()
    )


def revoke_for_principal(principal: Principal) -> int:
    """End every session of a principal, console and API, whatever opened it.

    Return how many API sessions were ended (console sessions are not counted: they end
    because the epoch is part of their session hash, Principal.get_session_auth_hash).
    """
    with transaction.atomic():
        _bump(principal, "session_epoch")
        return ApiSession.objects.filter(principal=principal, revoked_at__isnull=True).update(
            revoked_at=_now()
        )


def end_all_sessions_but_this(request: HttpRequest | None, principal: Principal) -> int:
    """End every session of the principal, console and API, except the one making the change.

    For second-factor changes (enabling, verifying, revoking MFA): DESIGN.md ends all of
    the user's sessions. The calling session stays when it is the principal's own: an API
    session is carried over to the new epoch, a console session re-signed. Return how many
    API sessions were ended.
    """
    caller = getattr(request, "auth", None) if request is not None else None
    keep = ""
    if isinstance(caller, ApiCaller) and caller.principal.pk == principal.pk:
        keep = caller.api_key
    with transaction.atomic():
        epoch = _bump(principal, "session_epoch")
        mine = ApiSession.objects.filter(principal=principal)
        ended = mine.filter(revoked_at__isnull=True).exclude(api_key=keep).update(revoked_at=_now())
        if keep:
            mine.filter(api_key=keep).update(session_epoch=epoch)
    if request is not None and not isinstance(caller, ApiCaller) and hasattr(request, "session"):
        if getattr(request, "user", None) == principal:
            update_session_auth_hash(request, principal)
    return ended


def end_password_sessions(request: HttpRequest | None, principal: Principal) -> int:
    """End the sessions opened with the principal's password, except the one making the change.

    Call after its password was set, changed or removed. Ends its console sessions (their
    hash covers the password) and its API sessions opened with a password; AuthKey
    sessions live on, so that rotating a password never breaks a program. The session of
    `request`, when it is the principal's own (a console session, or an API session opened
    with the password), stays, as Django's update_session_auth_hash keeps it.
    Return how many API sessions were ended.
    """
    caller = getattr(request, "auth", None) if request is not None else None
    keep = ""
    if isinstance(caller, ApiCaller) and caller.principal.pk == principal.pk:
        keep = caller.api_key
    with transaction.atomic():
        epoch = _bump(principal, "password_epoch")
        mine = ApiSession.objects.filter(principal=principal)
        ended = (
            mine.filter(opened_by=ApiSession.OpenedBy.PASSWORD, revoked_at__isnull=True)
            .exclude(api_key=keep)
            .update(revoked_at=_now())
        )
        if keep:
            mine.filter(api_key=keep, opened_by=ApiSession.OpenedBy.PASSWORD).update(
                password_epoch=epoch
            )
    if request is not None and not isinstance(caller, ApiCaller) and hasattr(request, "session"):
        # A console request by the principal itself: re-sign its session under the new
        # password (a no-op for any other signed-in principal, except a new session key).
        if getattr(request, "user", None) == principal:
            update_session_auth_hash(request, principal)
    return ended


def _bump(principal: Principal, field: str) -> int:
    """Add one to an epoch of the principal in the database; return the new value.

    Also sets it on `principal`, so that a console session re-signed from that object
    (update_session_auth_hash) carries the new value.
    """
    Principal.objects.filter(pk=principal.pk).update(**{field: models.F(field) + 1})
    value = Principal.objects.filter(pk=principal.pk).values_list(field, flat=True).get()
    setattr(principal, field, value)
    return value


def revoke_for_auth_key(auth_key_id: str) -> int:
    return ApiSession.objects.filter(auth_key_id=auth_key_id, revoked_at__isnull=True).update(
        revoked_at=_now()
    )
