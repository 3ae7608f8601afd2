"""Security notifications: a mail to the operator's root address when something it must know
happens to the account (a root AuthKey generated, the root password changed or reset, a key
revoked by installation staff, a console sign-in from a new browser, MFA enabled or removed).

- **No secret in a mail.** Callers pass identifiers (an AuthKey ID, a user name, an
  address), never a secret; every value is passed through the secret detector
  (console/secretscan.py) anyway and cut short, and only the facts an event names are used.
- **After commit, after the response** (console/mail.py): a notification reports a change
  that happened, so it is queued with `transaction.on_commit` (a rolled-back action mails
  nothing) and sent once the response is out (a slow mail server delays no one).
- **Never breaks the action.** A failed send is logged without the message or the address,
  and recorded in the operator's audit trail as a failed `Mail:send`; a sent one as allowed.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Operator, Principal
from console import mail, secretscan
from security import audit
from security.models import AuditEntry

MAIL_ACTION = "Mail:send"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Event:
    subject: str
    summary: str
    facts: tuple[str, ...]  # the facts this event shows, in order (labels below)


EVENTS: dict[str, Event] = {
    "rootAuthKeyGenerated": Event(
        "A root AuthKey was generated",
        "A new AuthKey was generated for the root account. Programs holding it can call every "
        "operation of the account.",
        ("authKeyId", "sourceIp"),
    ),
    "rootPasswordChanged": Event(
        "The root password was changed",
        "The root account's password was changed. Every session opened with the old password "
        "has ended.",
        ("sourceIp",),
    ),
    "rootPasswordReset": Event(
        "The root password was reset",
        "The root account's password was reset with a code sent to this address. Every "
        "session opened with the old password has ended.",
        ("sourceIp",),
    ),
    "authKeyRevokedByStaff": Event(
        "An AuthKey was revoked by support staff",
        "Installation support staff revoked one of your AuthKeys, usually because it was "
        "reported leaked. Programs using it must switch to a new key.",
        ("authKeyId", "holder", "reason"),
    ),
    "authKeyLeaked": Event(
        "An AuthKey was found in public code",
        "A secret-scanning service found the secret of one of your AuthKeys in public code "
        "and reported it to Latchkey. The key is revoked: programs using it must switch to "
        "a new key, and the place it was found should be cleaned up.",
        ("authKeyId", "holder", "foundAt", "status"),
    ),
    "newBrowserSignIn": Event(
        "Console sign-in from a new browser",
        "The root account signed in to the console from a browser that had not signed in "
        "to it before.",
        ("sourceIp", "userAgent"),
    ),
    "mfaEnabled": Event(
        "Multi-factor authentication was enabled",
        "Multi-factor authentication was turned on for an account of this operator.",
        ("account", "sourceIp"),
    ),
    "mfaRemoved": Event(
        "Multi-factor authentication was removed",
        "Multi-factor authentication was turned off for an account of this operator: its "
        "password alone signs it in again.",
        ("account", "sourceIp"),
    ),
}

_LABELS = {
    "authKeyId": "AuthKey ID",
    "sourceIp": "From address",
    "holder": "Held by",
    "reason": "Reason given",
    "userAgent": "Browser",
    "account": "Account",
    "foundAt": "Found at",
    "status": "Status",
}


class UnknownEvent(ValueError):
    pass


def _clean(value: object) -> str:
    """Return a fact as one short line with any secret-shaped text taken out."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return secretscan.redact(text)[:200]


def _root_email(operator_id: str) -> str:
    root = Principal.objects.filter(operator_id=operator_id, kind=Principal.Kind.ROOT)
    return root.values_list("email", flat=True).first() or ""


def message(operator_id: str, event: str, facts: dict[str, object]) -> EmailMessage | None:
    """Return the notification mail for event, or None when the operator has no root address."""
    spec = EVENTS[event]
    to = _root_email(operator_id)
    if not to:
        return None
    shown = [(_LABELS[name], _clean(facts[name])) for name in spec.facts if facts.get(name)]
    body = render_to_string(
        "security/mail/notification.txt",
        {
            "summary": spec.summary,
            "facts": shown,
            "operator_id": operator_id,
            "at": timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC"),
        },
    )
    return EmailMessage(f"Latchkey: {spec.subject}", body, settings.DEFAULT_FROM_EMAIL, [to])


def record_sent(operator_id: str, what: str, sent: bool) -> None:
    """Record a mail attempt in the operator's audit trail (never the address or the body)."""
    with transaction.atomic():
        audit.record(
            None,
            MAIL_ACTION,
            operator=operator_id,
            outcome=AuditEntry.Outcome.ALLOWED if sent else AuditEntry.Outcome.FAILED,
            target="root",
            details={"mail": what, "sent": sent},
        )


def notify(operator: Operator | str, event: str, **facts: object) -> None:
    """Queue the event's mail to the root address, sent after commit and after the response."""
    if event not in EVENTS:
        raise UnknownEvent(event)
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    unknown = set(facts) - set(EVENTS[event].facts)
    if unknown:
        raise UnknownEvent(f"{event} takes no fact {sorted(unknown)}")

    def build_and_send() -> None:
        built = message(operator_id, event, facts)
        if built is not None:
            record_sent(operator_id, event, mail.send(built))

    # The root address is read when the mail is built (after commit), so that a change of
    # address in the same transaction is honoured.
    transaction.on_commit(lambda: mail.after_response(f"notify {event}", build_and_send))


# One function per event, for the call sites (the facts each takes are in EVENTS).


def root_authkey_generated(operator: Operator | str, auth_key_id: str, source_ip: str) -> None:
    notify(operator, "rootAuthKeyGenerated", authKeyId=auth_key_id, sourceIp=source_ip)


def root_password_changed(operator: Operator | str, source_ip: str) -> None:
    notify(operator, "rootPasswordChanged", sourceIp=source_ip)


def root_password_reset(operator: Operator | str, source_ip: str) -> None:
    notify(operator, "rootPasswordReset", sourceIp=source_ip)


def authkey_revoked_by_staff(
    operator: Operator | str, auth_key_id: str, holder: str, reason: str
) -> None:
    notify(operator, "authKeyRevokedByStaff", authKeyId=auth_key_id, holder=holder, reason=reason)


def authkey_leaked(
    operator: Operator | str, auth_key_id: str, holder: str, found_at: str, revoked_now: bool
) -> None:
    status = "revoked now" if revoked_now else "already revoked"
    notify(
        operator,
        "authKeyLeaked",
        authKeyId=auth_key_id,
        holder=holder,
        foundAt=found_at,
        status=status,
    )


def new_browser_sign_in(operator: Operator | str, source_ip: str, user_agent: str) -> None:
    notify(operator, "newBrowserSignIn", sourceIp=source_ip, userAgent=user_agent)


def mfa_enabled(principal: Principal, source_ip: str = "") -> None:
    """Call when a principal's second factor becomes active (root or SAM user)."""
    notify(principal.operator_id, "mfaEnabled", account=_account(principal), sourceIp=source_ip)


def mfa_removed(principal: Principal, source_ip: str = "") -> None:
    """Call when a principal's second factor is revoked (root or SAM user)."""
    notify(principal.operator_id, "mfaRemoved", account=_account(principal), sourceIp=source_ip)


def _account(principal: Principal) -> str:
    return "root" if principal.is_root else f"SAM user {principal.user_name}"
