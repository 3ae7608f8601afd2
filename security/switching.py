"""Switch user and trust policies: the one deliberate, narrow exception to tenancy.

A SAM user's trust policy (accounts/trustpolicy.py) names the root accounts and SAM users,
of any operator, that may open a session *as that user* without its password
(Auth:switchUser). The switched session holds exactly the target's permissions in the
target's operator and nothing of the source's: it is a session of the target principal,
so every tenancy rule applies to it as to the target's own. It cannot switch again, it
lives only while its source could still call (accounts/apisessions.py `_LOOKUP`) and while
the target's trust policy is unchanged, and both operators' audit trails record it with
both identities. Nothing here reveals whether another operator or user exists: a refusal
reads "Switch user not allowed." whatever the reason.
"""

from typing import NoReturn

from django.contrib import auth
from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from accounts import apisessions, rowlocks, trustpolicy
from accounts.apisessions import ApiCaller, srn
from accounts.conditions import Facts
from accounts.identifiers import is_valid_name
from accounts.models import ApiSession, Principal, TrustedPrincipal
from console.net import client_ip
from security import audit, failures
from security.users import UserGone

NOT_ALLOWED = "Switch user not allowed."


class SwitchNotAllowed(Exception):
    def __init__(self) -> None:
        super().__init__(NOT_ALLOWED)


def validate(text: str) -> trustpolicy.TrustPolicy:
    """Return the parsed trust policy, or raise accounts.trustpolicy.InvalidTrustPolicy."""
    return trustpolicy.parse(text, refuse_secrets=True)


def _store(user: Principal, text: str, srns: list[str]) -> int:
    """Save the document and its index, end the switched sessions; return how many ended."""
    if not rowlocks.hold(user.pk):  # deleted meanwhile: a missing user, not a 500
        raise UserGone(user.user_name)
    user.trust_policy = text
    user.save(update_fields=["trust_policy", "updated_at"])
    TrustedPrincipal.objects.filter(target=user).delete()
    TrustedPrincipal.objects.bulk_create(TrustedPrincipal(target=user, srn=s) for s in srns)
    # Any change ends every switched session into the user: a session opened under the old
    # policy must not outlive it, whichever statement changed.
    return apisessions.end_switched_sessions(user)


@transaction.atomic
def set_trust_policy(
    request: HttpRequest | None, actor: Principal, user: Principal, text: str
) -> None:
    document = validate(text)
    ended = _store(user, text, document.allowed_srns())
    details = {
        "statements": len(document.statements),
        "trusted": document.allowed_srns()[:50],
        "switchedSessionsEnded": ended,
    }
    # Trusting oneself into another user is a way to take that user's permissions (as
    # AWS's UpdateAssumeRolePolicy is): flagged like a self-escalation of permissions.
    if srn(actor) in document.allowed_srns() and actor.pk != user.pk:
        details["selfEscalation"] = True
    audit.record_action(request, actor, "User:updateUserTrustPolicy", user.user_name, details)


@transaction.atomic
def delete_trust_policy(request: HttpRequest | None, actor: Principal, user: Principal) -> None:
    ended = _store(user, "", [])
    audit.record_action(
        request,
        actor,
        "User:deleteUserTrustPolicy",
        user.user_name,
        {"switchedSessionsEnded": ended},
    )


@transaction.atomic
def end_switched_sessions(request: HttpRequest | None, actor: Principal, user: Principal) -> int:
    """End every switched session into `user`, console and API; return how many."""
    if not rowlocks.hold(user.pk):
        raise UserGone(user.user_name)
    ended = apisessions.end_switched_sessions(user)
    audit.record_action(
        request, actor, "User:revokeUserSwitchedSessions", user.user_name, {"sessions": ended}
    )
    return ended


def trusted_by(user: Principal) -> list[str]:
    """Return the SRNs the user's trust policy allows, as stored."""
    found = TrustedPrincipal.objects.filter(target=user).order_by("srn")
    return list(found.values_list("srn", flat=True))


def switched_sessions(user: Principal) -> list[ApiSession]:
    """Return the live switched sessions into `user` (who from, since when, until when)."""
    return list(apisessions.live_switched_sessions(user))


def targets_of(source: Principal) -> list[Principal]:
    """Return the SAM users whose trust policy allows `source` (the console's menu)."""
    found = (
        Principal.objects.filter(kind=Principal.Kind.SAM, is_active=True, trusted__srn=srn(source))
        .exclude(pk=source.pk)
        .order_by("operator_id", "user_name")
    )
    return list(found[:100])


def _refused(
    request: HttpRequest,
    source: Principal,
    source_session: ApiCaller | None,
    operator_id: object,
    user_name: object,
) -> NoReturn:
    """Record a refused switch in the source's own chain only, then raise SwitchNotAllowed.

    Never in the named operator's chain: a stranger could otherwise write into any
    operator's trail, and the caller learn from its own trail nothing either way.
    """
    failures.record_refusal(
        request,
        "Auth:switchUser",
        principal=source,
        auth_key_id=source_session.auth_key_id if source_session else "",
        target=f"{operator_id}/{user_name}",
        details={"switchUser": "refused"},
    )
    raise SwitchNotAllowed()


def _target(operator_id: str, user_name: str) -> Principal | None:
    if not (isinstance(operator_id, str) and isinstance(user_name, str)):
        return None
    if not is_valid_name(user_name) or not operator_id.startswith("OP"):
        return None
    return (
        Principal.objects.filter(
            operator_id=operator_id, user_name=user_name, kind=Principal.Kind.SAM, is_active=True
        )
        .only("id", "operator_id", "user_name", "session_epoch", "trust_epoch", "trust_policy")
        .first()
    )


def switch(
    request: HttpRequest,
    source: Principal,
    operator_id: str,
    user_name: str,
    timeout: int,
    *,
    source_session: ApiCaller | None = None,
    source_password_epoch: int | None = None,
) -> tuple[Principal, str, str]:
    """Open a session as the target user for `source`; return (target, apiKey, token).

    Raises SwitchNotAllowed, the same for every reason (no such operator or user, a policy
    that does not name the source, a deny, a switched source).
    """
    if source_session is not None and source_session.switched:
        _refused(request, source, source_session, operator_id, user_name)  # no chains
    if not (source.is_root or source.is_sam) or not source.operator_id:
        _refused(request, source, source_session, operator_id, user_name)
    facts = Facts(
        now=apisessions._now(),
        source_ip=client_ip(request),
        method="POST",
        sam_user_name=source.user_name if source.is_sam else None,
    )
    # The session and both audit entries commit together, or none of them does.
    with transaction.atomic():
        target = _target(operator_id, user_name)
        allowed = (
            target is not None
            and target.pk != source.pk
            and trustpolicy.trusts(target.trust_policy, srn(source), facts)
        )
        if allowed:
            try:
                api_key, token = apisessions.create_switched_session(
                    target,
                    source,
                    timeout=timeout,
                    source_session=source_session,
                    source_password_epoch=source_password_epoch,
                    source_ip=client_ip(request),
                )
            except apisessions.PrincipalGone:
                allowed = False
        if allowed:
            _record_switch(request, source, source_session, target, timeout)
            return target, api_key, token
    _refused(request, source, source_session, operator_id, user_name)


def _record_switch(
    request: HttpRequest,
    source: Principal,
    source_session: ApiCaller | None,
    target: Principal,
    timeout: int,
) -> None:
    details = {"from": srn(source), "to": srn(target), "timeoutSeconds": timeout}
    # The source's chain: who switched where, under the source's own identity.
    audit.record(
        request,
        "Auth:switchUser",
        operator=source.operator_id,
        principal=source,
        auth_key_id=source_session.auth_key_id if source_session else "",
        target=srn(target),
        details=details,
    )
    # The target's chain: the source named by its SRN, never as one of this operator.
    audit.record(
        request,
        "Auth:switchUser",
        operator=target.operator_id,
        actor=("switch", srn(source)),
        target=target.user_name,
        details=details,
    )


# The console: a browser session that switched ------------------------------------------------

# What a switched console session keeps in its (server-side) session: the switched API
# session's jti (its liveness is the API's rule, one check per request), the source's
# identity and its session hash at the switch (switching back needs no password, and is
# refused when the source's own session would have ended meanwhile), and both SRNs.
SESSION_KEY = apisessions.SWITCH_SESSION_KEY


def _backend(principal: Principal) -> str:
    return "accounts.backends." + ("RootBackend" if principal.is_root else "SamUserBackend")


def console_switched(request: HttpRequest) -> dict | None:
    data = getattr(request, "session", {}).get(SESSION_KEY)
    return data if isinstance(data, dict) else None


def console_switch(request: HttpRequest, operator_id: str, user_name: str) -> Principal:
    """Switch the browser's session to the target user; return it (SwitchNotAllowed if not)."""
    source = request.user
    if console_switched(request) is not None:  # no chains, in the console either
        _refused(request, source, None, operator_id, user_name)
    source_hash = source.get_session_auth_hash()
    target, _api_key, token = switch(
        request, source, operator_id, user_name, apisessions.SWITCH_DEFAULT_TIMEOUT,
        source_password_epoch=source.password_epoch,
    )  # fmt: skip
    jti = apisessions.jti_of(token)
    auth.login(request, target, backend=_backend(target))
    request.session[SESSION_KEY] = {
        "jti": jti,
        "source": source.pk,
        "sourceHash": source_hash,
        "from": srn(source),
        "to": srn(target),
    }
    return target


def console_switch_back(request: HttpRequest) -> bool:
    """End the switched session and restore its source; False when the source is gone."""
    data = console_switched(request)
    if data is None:
        return False
    apisessions.revoke_jti(data.get("jti", ""))
    source = Principal.objects.filter(pk=data.get("source"), is_active=True).first()
    same = source is not None and constant_time_compare(
        source.get_session_auth_hash(), data.get("sourceHash", "")
    )
    if not same:
        auth.logout(request)
        return False
    auth.login(request, source, backend=_backend(source))
    return True


def check_console_switch(request: HttpRequest) -> None:
    """Sign out a switched console session whose switched API session has ended."""
    data = console_switched(request)
    if data is not None and not apisessions.is_live(data.get("jti", "")):
        auth.logout(request)
