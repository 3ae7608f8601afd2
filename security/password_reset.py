"""Password reset by mail for root accounts: the service the API and the console page call.

Threats and answers:
- **Who has an account?** `issue` answers the same for every well-formed address and does
  the same work before answering: it counts the attempt in the throttles and queues a job
  to run after the response (console/mail.py). Only that job looks the address up, makes a
  code and mails it, so neither the answer nor its timing says whether the address exists.
- **A stolen database.** A code is 256 random bits and is stored only as its HMAC-SHA256
  under the server-side pepper: the database alone cannot produce a working code.
- **Replay and a leaked old mail.** A code works once and for LATCHKEY_PASSWORD_RESET_SECONDS
  (30 minutes); a newer code and a successful reset retire every other code of the account.
  A concurrent second use loses the conditional UPDATE that claims the code.
- **The code in the wrong place.** The code is in the mail only: not in a URL (the mail
  links to a form where it is typed), not in the audit trail, a log or a session.
- **What a reset ends.** The password's sessions, console and API (docs/sessions.md); AuthKey
  sessions live on and MFA is not touched.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts import apisessions, throttle
from accounts.models import Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from accounts.signin import account_key
from console import mail
from console.net import client_ip, throttle_source
from security import audit, notifications, users
from security.models import AuditEntry, PasswordResetToken

ISSUE_API = "Auth:issuePasswordResetToken"
VERIFY_API = "Auth:verifyPasswordResetToken"
MAX_TOKEN_LENGTH = 100


class BadEmail(ValueError):
    pass


class ResetThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class BadToken(ValueError):
    """Unknown, used or retired: one answer for all three."""


class ExpiredToken(ValueError):
    pass


def _now() -> datetime:
    return timezone.now()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return salted_hmac(
        "latchkey.password_reset", token, secret=settings.LATCHKEY_PEPPER, algorithm="sha256"
    ).hexdigest()


@dataclass(frozen=True)
class _Origin:
    """What the audit entry and the mail say about the request, taken before the response."""

    source_ip: str
    user_agent: str
    reset_url: str


def _issue_buckets(request: HttpRequest, email: str) -> list[throttle.Bucket]:
    source = throttle_source(client_ip(request))
    return [
        throttle.Bucket(f"reset-ip|{source}", settings.LATCHKEY_PASSWORD_RESET_PER_IP),
        throttle.Bucket(
            f"reset|{account_key(email=email)}", settings.LATCHKEY_PASSWORD_RESET_PER_ACCOUNT
        ),
    ]


def _verify_bucket(request: HttpRequest) -> throttle.Bucket:
    source = throttle_source(client_ip(request))
    return throttle.Bucket(f"reset-verify|{source}", settings.LATCHKEY_PASSWORD_RESET_PER_IP)


def issue(request: HttpRequest, email: str) -> None:
    """Accept a reset request for an address; mail a code after the response if it is a root's.

    Raise BadEmail for a malformed address and ResetThrottled past the limits; otherwise
    return the same way, after the same work, whether or not the address has an account.
    """
    email = email.strip() if isinstance(email, str) else ""
    try:
        if len(email) > 254:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise BadEmail("Enter a valid e-mail address.") from None
    buckets = _issue_buckets(request, email)
    wait = throttle.retry_after(buckets)
    if wait:
        raise ResetThrottled(wait)
    # Every request counts, not only failures: each one may send a mail.
    throttle.record_failure(buckets)
    origin = _Origin(
        client_ip(request),
        request.META.get("HTTP_USER_AGENT", ""),
        request.build_absolute_uri(reverse("password-reset")),
    )
    mail.after_response("password reset", lambda: _mail_code(email, origin))


def _mail_code(email: str, origin: _Origin) -> None:
    """Make a code for the root of that address and mail it (nothing for any other address)."""
    root = Principal.objects.filter(
        kind=Principal.Kind.ROOT, handle=account_key(email=email), is_active=True
    ).first()
    if root is None:
        return
    token = new_token()
    now = _now()
    expires = now + timedelta(seconds=settings.LATCHKEY_PASSWORD_RESET_SECONDS)
    with transaction.atomic():
        # A new code retires the older ones: only the latest mail works.
        PasswordResetToken.objects.filter(principal=root, used_at__isnull=True).update(used_at=now)
        PasswordResetToken.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
        PasswordResetToken.objects.create(
            principal=root, token_hash=hash_token(token), created_at=now, expires_at=expires
        )
        audit.record(
            None,
            ISSUE_API,
            operator=root.operator_id,
            target="root",
            source_ip=origin.source_ip,
            user_agent=origin.user_agent,
            details={"expiresInSeconds": settings.LATCHKEY_PASSWORD_RESET_SECONDS},
        )
    body = render_to_string(
        "security/mail/password_reset.txt",
        {
            "operator_id": root.operator_id,
            "source_ip": origin.source_ip,
            "reset_url": origin.reset_url,
            "token": token,
            "expires": expires.strftime("%Y-%m-%d %H:%M UTC"),
        },
    )
    message = EmailMessage(
        "Latchkey: reset your root password", body, settings.DEFAULT_FROM_EMAIL, [root.email]
    )
    notifications.record_sent(root.operator_id, "passwordResetToken", mail.send(message))


def _fail(request: HttpRequest, row: PasswordResetToken | None, reason: str) -> None:
    throttle.record_failure([_verify_bucket(request)])
    if row is not None:  # an unknown code names no operator: the throttle is its record
        audit.record(
            request,
            VERIFY_API,
            operator=row.principal.operator_id,
            outcome=AuditEntry.Outcome.FAILED,
            target="root",
            details={"reason": reason},
        )


def verify(request: HttpRequest, token: str, password: str) -> Principal:
    """Set a new root password with a mailed code; return the account.

    Raise ResetThrottled, BadToken (unknown, used or retired), ExpiredToken, or
    ValidationError for a password the validators refuse (the code then stays usable).
    """
    wait = throttle.retry_after([_verify_bucket(request)])
    if wait:
        raise ResetThrottled(wait)
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        _fail(request, None, "malformed")
        raise BadToken()
    row = (
        PasswordResetToken.objects.select_related("principal")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if row is None or row.used_at is not None or not row.principal.is_active:
        reason = "unknown" if row is None else "used" if row.used_at else "inactive"
        _fail(request, row, reason)
        raise BadToken()
    now = _now()
    if row.expires_at <= now:
        _fail(request, row, "expired")
        raise ExpiredToken()
    root = row.principal
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"A password is at most {MAX_PASSWORD_LENGTH} characters.")
    users.validate_new_password(password, root)
    with transaction.atomic():
        # The claim is the guarantee of single use: of two concurrent uses, one updates the
        # row and the other finds it used.
        claimed = PasswordResetToken.objects.filter(
            pk=row.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            raise BadToken()
        PasswordResetToken.objects.filter(principal=root, used_at__isnull=True).update(used_at=now)
        root.set_password(password)
        root.save(update_fields=["password", "password_changed_at", "updated_at"])
        ended = apisessions.end_password_sessions(None, root)
        audit.record(
            request,
            VERIFY_API,
            operator=root.operator_id,
            principal=root,
            target="root",
            details={"sessionsEnded": ended},
        )
        notifications.root_password_reset(root.operator_id, client_ip(request))
    return root
