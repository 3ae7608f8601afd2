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
from console import hotsql, net

DEFAULT_TIMEOUT = 86400
MAX_TIMEOUT = 172800
MIN_TIMEOUT = 180
# Auth:switchUser (soracom-api.md §4.1): default 3600, between 180 and 3600 seconds.
SWITCH_DEFAULT_TIMEOUT = 3600
SWITCH_MAX_TIMEOUT = 3600


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
    # The session's row id and expiry, for refreshing its token (Operator:generateAuthToken).
    session_id: int = 0
    expires_at: datetime | None = None
    # A switched session's source, as its SRN ("" for every other session).
    switched_from: str = ""
    # Opened with a second factor (the condition variable multiFactorAuthPresent).
    second_factor: bool = False
    # The OAuth scope that narrows the session (API names or globs); () narrows nothing.
    scope: tuple[str, ...] = ()

    @property
    def switched(self) -> bool:
        return self.opened_by == ApiSession.OpenedBy.SWITCH_USER


def _now() -> datetime:
    return timezone.now()


def srn(principal: Principal) -> str:
    return _srn_of(principal.kind, principal.user_name, principal.operator_id)


# Where a switched console session keeps what it switched from (security/switching.py).
SWITCH_SESSION_KEY = "latchkey_switch"


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
    scope: tuple[str, ...] = (),
) -> tuple[str, str]:
    """Open an API session and return (apiKey, token).

    `principal` must be the object the credential was checked against (its epochs were
    read with its password hash or its key): the session is bound to those epochs.
    `held`: the caller's transaction holds the principal already (rowlocks.hold).
    `scope`: API names or globs (permissions.parse_scope) that every call of the session
    must also match; () for no narrowing.
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
        scope=" ".join(scope),
    )
    return api_key, _token(principal, jti, now, expires)


def _token(principal: Principal, jti: str, now: datetime, expires: datetime) -> str:
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
    return tokens.sign(claims)


def refresh_token(caller: "ApiCaller", timeout: int) -> str:
    """Return a fresh token of the caller's session (same apiKey, same session row).

    The session's expiry moves to the new token's when that is later, so that both the
    token in hand and the new one stay good until their own `exp`; revoking the session
    ends both. A switched session's tokens are bounded as switch user bounds them.
    """
    now = _now()
    expires = now + timedelta(seconds=timeout)
    ApiSession.objects.filter(pk=caller.session_id, expires_at__lt=expires).update(
        expires_at=expires
    )
    return _token(caller.principal, caller.jti, now, expires)


def create_switched_session(
    target: Principal,
    source: Principal,
    *,
    timeout: int,
    source_session: "ApiCaller | None" = None,
    source_password_epoch: int | None = None,
    source_ip: str = "",
) -> tuple[str, str]:
    """Open a session as `target` switched from `source`; return (apiKey, token).

    `target` must have been read with its trust policy (its trust epoch is recorded) and
    `source` with the credential that made the call (its epochs are recorded: the switched
    session lives only while the source's own session could). `source_session` is the API
    session that called switch user; a console switch passes the password epoch of the
    console session instead.
    """
    if not rowlocks.hold(target.pk):
        raise PrincipalGone()
    now = _now()
    api_key = f"api-{uuid.uuid4()}"
    jti = secrets.token_hex(16)
    expires = now + timedelta(seconds=timeout)
    if source_session is not None:
        row = ApiSession.objects.filter(pk=source_session.session_id).values_list(
            "password_epoch", "session_epoch"
        )
        found = row.first()
        if found is None:
            raise PrincipalGone()
        source_password_epoch, source_epoch = found
    else:
        source_epoch = source.session_epoch
    ApiSession.objects.create(
        api_key=api_key,
        jti=jti,
        principal=target,
        operator_id=target.operator_id,
        opened_by=ApiSession.OpenedBy.SWITCH_USER,
        session_epoch=target.session_epoch,
        expires_at=expires,
        source_ip=source_ip,
        source_principal=source,
        source_session_id=source_session.session_id if source_session else None,
        source_session_epoch=source_epoch,
        source_password_epoch=source_password_epoch,
        trust_epoch=target.trust_epoch,
        # A scope only ever narrows: the switched session keeps its source session's.
        scope=" ".join(source_session.scope) if source_session is not None else "",
    )
    return api_key, _token(target, jti, now, expires)


def end_switched_sessions(target: Principal) -> int:
    """End every switched session into `target` (console and API); return how many.

    The trust epoch is the guarantee (a switch that read the old policy but commits after
    this opens a dead session); the rows marked revoked are the record.
    """
    with transaction.atomic():
        _bump(target, "trust_epoch")
        return ApiSession.objects.filter(
            principal=target, opened_by=ApiSession.OpenedBy.SWITCH_USER, revoked_at__isnull=True
        ).update(revoked_at=_now())


def live_switched_sessions(target: Principal):
    """Return the switched sessions into `target` that are still live, newest first."""
    return (
        ApiSession.objects.filter(
            principal=target,
            opened_by=ApiSession.OpenedBy.SWITCH_USER,
            revoked_at__isnull=True,
            expires_at__gt=_now(),
            trust_epoch=target.trust_epoch,
        )
        .select_related("source_principal")
        .order_by("-created_at")
    )


# A switched session (opened_by 'switch_user') also needs its source alive: the source
# principal active with the epochs recorded, the source API session (if any) not revoked
# and not made from a revoked key, and the target's trust epoch unchanged. The LEFT JOINs
# find nothing for every other session. `key_networks`: the allowed source networks of the
# key the session (or, switched, its source session) was opened with, read live from the
# key's row in this same round trip, so that editing them applies to open sessions at once.
# `key_deadline`: when that same key stops (deactivated, expired, a roll's revocation): a
# session switched from a key's session ends with the key, as the key's own sessions do.
_LOOKUP = """
SELECT s.api_key, s.expires_at, s.revoked_at, s.auth_key_id, s.opened_by, s.second_factor,
       p.id, p.kind, p.user_name, p.email, p.is_active, p.operator_id, o.policy_version,
       (s.auth_key_id = '' OR EXISTS (
           SELECT 1 FROM security_authkey k WHERE k.key_id = s.auth_key_id AND k.slot IS NOT NULL
       )) AS key_live,
       (s.session_epoch = p.session_epoch
        AND (s.opened_by <> 'password' OR s.password_epoch = p.password_epoch)
        AND (s.opened_by <> 'switch_user' OR (
            s.trust_epoch = p.trust_epoch AND sp.is_active
            AND s.source_session_epoch = sp.session_epoch
            AND (s.source_password_epoch IS NULL OR s.source_password_epoch = sp.password_epoch)
            AND (s.source_session_id IS NULL OR (ss.revoked_at IS NULL AND (
                ss.auth_key_id = '' OR EXISTS (
                    SELECT 1 FROM security_authkey k2
                    WHERE k2.key_id = ss.auth_key_id AND k2.slot IS NOT NULL))))
        ))) AS epochs_live,
       s.id, sp.kind, sp.user_name, sp.operator_id,
       (SELECT k3.allowed_networks FROM security_authkey k3
        WHERE k3.key_id = COALESCE(NULLIF(s.auth_key_id, ''), ss.auth_key_id)
          AND k3.slot IS NOT NULL) AS key_networks,
       (SELECT CASE WHEN k4.deactivated_at IS NOT NULL THEN k4.deactivated_at
                    WHEN k4.expires_at IS NULL THEN k4.revoke_at
                    WHEN k4.revoke_at IS NULL OR k4.expires_at < k4.revoke_at THEN k4.expires_at
                    ELSE k4.revoke_at END
        FROM security_authkey k4
        WHERE k4.key_id = COALESCE(NULLIF(s.auth_key_id, ''), ss.auth_key_id)
       ) AS key_deadline,
       s.scope
       {companion}
FROM accounts_apisession s
JOIN accounts_principal p ON p.id = s.principal_id
JOIN accounts_operator o ON o.id = p.operator_id
LEFT JOIN accounts_principal sp ON sp.id = s.source_principal_id
LEFT JOIN accounts_apisession ss ON ss.id = s.source_session_id
WHERE s.jti = %s
"""


# The columns of _LOOKUP, in order (a companion read may follow them).
LOOKUP_FIELDS = (
    "session_key",
    "expires_at",
    "revoked_at",
    "auth_key_id",
    "opened_by",
    "second_factor",
    "pid",
    "kind",
    "user_name",
    "email",
    "is_active",
    "operator_id",
    "policy_version",
    "key_live",
    "epochs_live",
    "session_id",
    "source_kind",
    "source_user_name",
    "source_operator_id",
    "key_networks",
    "key_deadline",
    "scope",
)


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
    found = _live_caller(token, api_key, companion, net.client_ip(request))
    if found is None:
        return None
    caller, extra = found
    if extra:
        request.companion = extra[0]  # type: ignore[attr-defined]
    return caller


def caller_of_token(token: object) -> tuple[ApiCaller, dict] | None:
    """Return the caller of a token's live session and the token's claims, or None.

    The API's own rule (signature, issuer, audience, times, the session row, the key, the
    epochs), for RFC 7662 introspection and RFC 7009 revocation: None for anything that
    would not authenticate a call now, whatever the reason. A key's source networks are not
    checked: the introspecting service, not the token's holder, is the one calling here.
    """
    if not isinstance(token, str) or not token:
        return None
    found = _live_caller(token, "", None, None, with_claims=True)
    if found is None:
        return None
    caller, claims = found
    return caller, claims


def _live_caller(
    token: str,
    api_key: str,
    companion: Companion | None,
    source_ip: str | None,
    with_claims: bool = False,
):
    now = _now()
    try:
        claims = tokens.verify(token, int(now.timestamp()))
    except tokens.InvalidToken:
        return None
    row = _session_row(claims["jti"], companion)
    if row is None:
        return None
    extra = row[len(LOOKUP_FIELDS) :]
    row = row[: len(LOOKUP_FIELDS)]
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
        session_id,
        source_kind,
        source_user_name,
        source_operator_id,
        key_networks,
        key_deadline,
        scope,
    ) = row
    # A session made from an AuthKey lives only as long as the key, and every session only
    # as long as the epochs it was opened under: both end it here even if the revocation
    # raced with the exchange that opened it.
    if revoked_at is not None or not is_active or not key_live or not epochs_live:
        return None
    expires_at = hotsql.aware(expires_at)
    if expires_at <= now:
        return None
    # The key's own end (deactivated, expired, or a roll's revocation) ends its sessions from
    # that exact second, before the cron or the next exchange tombstones it
    # (security/authkeys.py): read in the same row, no extra query.
    if key_deadline is not None and hotsql.aware(key_deadline) <= now:
        return None
    # The token is bound to its apiKey: when the client sends one, it must match.
    if api_key and not tokens.same(api_key, session_key):
        return None
    # A key limited to some networks works only from them, on every call of its sessions
    # (the same trusted-proxy rule as the throttles: console/net.client_ip).
    if key_networks and source_ip is not None and not net.source_allowed(source_ip, key_networks):
        return None
    principal = Principal.partial(
        id=pid,
        kind=kind,
        user_name=user_name,
        email=email,
        is_active=is_active,
        operator_id=operator_id,
    )
    caller = ApiCaller(
        principal,
        operator_id,
        session_key,
        claims["jti"],
        auth_key_id,
        policy_version,
        opened_by,
        session_id=session_id,
        expires_at=expires_at,
        switched_from=(
            _srn_of(source_kind, source_user_name, source_operator_id) if source_kind else ""
        ),
        second_factor=bool(second_factor),
        scope=tuple(scope.split()) if scope else (),
    )
    return caller, (claims if with_claims else extra)


def _srn_of(kind: str, user_name: str, operator_id: str) -> str:
    if kind == Principal.Kind.ROOT:
        return f"srn:soracom:{operator_id}::Operator:{operator_id}"
    return f"srn:soracom:{operator_id}::User:{user_name}"


def is_expired_session(request: HttpRequest) -> bool:
    """Return whether the request carries a genuine token whose only fault is its age.

    Operator:generateAuthToken answers such a call 400 ("the token has expired"), as the
    contract documents, where every other operation answers 401. Nothing is issued for it.
    """
    creds = _credentials(request)
    if creds is None:
        return False
    token, api_key = creds
    try:
        claims = tokens.verify_ignoring_time(token)
    except tokens.InvalidToken:
        return False
    if claims["exp"] > int(_now().timestamp()):
        return False
    row = _session_row(claims["jti"])
    if row is None or row[2] is not None:  # gone or revoked: a plain authentication failure
        return False
    return not api_key or tokens.same(api_key, row[0])


def revoke(api_key: str) -> int:
    """End one session; return how many were ended."""
    return ApiSession.objects.filter(api_key=api_key, revoked_at__isnull=True).update(
        revoked_at=_now()
    )


def revoke_jti(jti: str) -> int:
    """End the session of a jti (a switched console session's); return how many ended."""
    return ApiSession.objects.filter(jti=jti, revoked_at__isnull=True).update(revoked_at=_now())


def jti_of(token: str) -> str:
    """Return the jti of a token we just signed."""
    return tokens.verify_ignoring_time(token)["jti"]


def is_live(jti: str) -> bool:
    """Return whether the session of a jti would authenticate a call now (the API's rule)."""
    row = _session_row(jti) if jti else None
    if row is None:
        return False
    found = dict(zip(LOOKUP_FIELDS, row, strict=False))
    if found["revoked_at"] is not None or not found["is_active"]:
        return False
    if not found["key_live"] or not found["epochs_live"]:
        return False
    now = _now()
    deadline = found["key_deadline"]
    if deadline is not None and hotsql.aware(deadline) <= now:
        return False
    return hotsql.aware(found["expires_at"]) > now


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
