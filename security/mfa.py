"""TOTP second factor and backup codes: the service functions the console and the API call.

The wire contract is Soracom's (soracom-api.md §4.10): enable returns a `totpUri`, MFA is
not active until one code verifies it, verify returns single-use backup codes (root) and
revoke removes it. What is stored:

- the TOTP secret (160 random bits, RFC 6238 SHA-1, 6 digits, 30 s) sealed like a credential
  set's secrets (security/crypto.py: a fresh data key, AES-256-GCM, associated data naming
  the principal's row), so a stolen database holds no secret;
- backup codes as keyed hashes (HMAC-SHA256 with the installation's pepper), each usable
  once (a conditional UPDATE marks it used);
- the time step of the last code accepted: a code is accepted only for a later step, with one
  conditional UPDATE, so a code (or an older one) is never accepted twice, even by two
  concurrent sign-ins.

Enabling, verifying and revoking end the principal's other sessions (DESIGN.md: MFA changes
end all of the user's sessions); the session making the change stays.
"""

import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import timedelta

import pyotp
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import apisessions, rowlocks, signin
from accounts.models import Principal
from console.net import client_ip
from security import audit, crypto, notifications
from security.models import AuditEntry, BackupCode, Passkey, TotpDevice

ISSUER = "Latchkey"
DIGITS = 6
PERIOD = 30
# Codes of the step before and after the current one are accepted too (clock drift).
DRIFT_STEPS = 1
BACKUP_CODES = 10
# 12 characters of 31 (no 0/o, 1/l/i): about 59 bits each, shown as xxxx-xxxx-xxxx.
BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
BACKUP_LENGTH = 12
_CODE_RE = re.compile(r"^[0-9]{6}\Z", re.ASCII)
_BACKUP_RE = re.compile(rf"^[{BACKUP_ALPHABET}]{{{BACKUP_LENGTH}}}\Z", re.ASCII)
_PURPOSE = b"latchkey.mfa.backup-code"

INACTIVE = "INACTIVE"


class MfaError(Exception):
    """A refused MFA change; the message is safe to show (it never holds a secret)."""


class AlreadyActive(MfaError):
    def __init__(self) -> None:
        super().__init__("MFA is already active. Revoke it before enabling it again.")


class NotEnabled(MfaError):
    def __init__(self, message: str = "MFA is not enabled.") -> None:
        super().__init__(message)


class WrongCode(MfaError):
    def __init__(self) -> None:
        super().__init__("The code is not valid. Enter the current code from your app.")


# --- secrets at rest -------------------------------------------------------------------


def _aad(principal: Principal) -> bytes:
    return json.dumps(
        ["latchkey-totp", 1, principal.operator_id or "", principal.pk], separators=(",", ":")
    ).encode()


def _seal_into(device: TotpDevice, principal: Principal, secret: str) -> None:
    sealed = crypto.seal(secret.encode(), _aad(principal))
    device.ciphertext = sealed.ciphertext
    device.wrapped_key = sealed.wrapped_key
    device.master_key_id = sealed.master_key_id


def _secret_of(device: TotpDevice, principal: Principal) -> str | None:
    """Return the device's secret, or None when it does not open (fails closed)."""
    sealed = crypto.Sealed(
        bytes(device.ciphertext), bytes(device.wrapped_key), device.master_key_id
    )
    try:
        return crypto.open_sealed(sealed, _aad(principal)).decode()
    except (crypto.DecryptionError, crypto.MasterKeyError, UnicodeDecodeError):
        return None


def _backup_hash(principal: Principal, code: str) -> str:
    key = hmac.new(settings.LATCHKEY_PEPPER.encode(), _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, f"{principal.pk}|{code}".encode(), hashlib.sha256).hexdigest()


def normalize_backup_code(text: str) -> str:
    return "".join(c for c in text.lower() if c not in " -")


def _new_backup_code() -> str:
    raw = "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


# --- reading ---------------------------------------------------------------------------


def device_of(principal: Principal) -> TotpDevice | None:
    return TotpDevice.objects.filter(principal_id=principal.pk).first()


def status(principal: Principal) -> str:
    """Return ACTIVE, UNCONFIRMED or INACTIVE (Soracom's getMFAStatus values)."""
    device = device_of(principal)
    return device.status if device is not None else INACTIVE


def is_active(principal: Principal) -> bool:
    return TotpDevice.objects.filter(
        principal_id=principal.pk, status=TotpDevice.Status.ACTIVE
    ).exists()


def active_ids(principal_ids) -> set[int]:
    """Return which of these principals have MFA active (one query, for lists and reports)."""
    return set(
        TotpDevice.objects.filter(
            principal_id__in=list(principal_ids), status=TotpDevice.Status.ACTIVE
        ).values_list("principal_id", flat=True)
    )


def backup_codes_left(principal: Principal) -> int:
    return BackupCode.objects.filter(principal_id=principal.pk, used_at__isnull=True).count()


def label(principal: Principal) -> str:
    if principal.is_root:
        return f"{principal.operator_id}:{principal.email}"
    return f"{principal.operator_id}:{principal.user_name}"


def totp_uri(principal: Principal, secret: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=label(principal), issuer_name=ISSUER
    )


def pending_secret(principal: Principal) -> str | None:
    """Return the secret of an UNCONFIRMED device (for the enrolment page), else None."""
    device = device_of(principal)
    if device is None or device.status != TotpDevice.Status.UNCONFIRMED:
        return None
    return _secret_of(device, principal)


# --- codes -----------------------------------------------------------------------------


def clock() -> float:
    """Return the time TOTP codes are checked at (UNIX seconds; tests move it)."""
    return time.time()


def _matching_step(secret: str, code: str) -> int | None:
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = int(clock()) // PERIOD
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit), in constant time.
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def accept_code(
    principal: Principal, code: object, *, state: str = TotpDevice.Status.ACTIVE
) -> bool:
    """Return whether `code` is a valid, unused TOTP code of the principal's device.

    Accepting it records its time step, so the same code (or an older one) never works
    again; two concurrent uses of one code: only one UPDATE matches.
    """
    if not isinstance(code, str) or not _CODE_RE.match(code):
        return False
    device = TotpDevice.objects.filter(principal_id=principal.pk, status=state).first()
    if device is None:
        return False
    secret = _secret_of(device, principal)
    if secret is None:
        return False
    step = _matching_step(secret, code)
    if step is None:
        return False
    return bool(TotpDevice.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step))


def use_backup_code(request: HttpRequest | None, principal: Principal, code: object) -> bool:
    """Spend one backup code; return whether it was valid and unused (audited when spent)."""
    if not isinstance(code, str):
        return False
    normalized = normalize_backup_code(code)
    if not _BACKUP_RE.match(normalized) or not is_active(principal):
        return False
    with transaction.atomic():
        spent = BackupCode.objects.filter(
            principal_id=principal.pk,
            code_hash=_backup_hash(principal, normalized),
            used_at__isnull=True,
        ).update(used_at=timezone.now())
        if spent:
            audit.record(
                request,
                "Console:useBackupCode",
                operator=principal.operator_id,
                principal=principal,
                target=principal.user_name or "root",
                details={"backupCodesLeft": backup_codes_left(principal)},
            )
    return bool(spent)


def looks_like_totp_code(text: str) -> bool:
    return bool(_CODE_RE.match(text))


# --- changes ---------------------------------------------------------------------------


def _target(subject: Principal) -> str:
    return subject.user_name or "root"


@transaction.atomic
def enable(request: HttpRequest | None, actor: Principal, subject: Principal, api: str) -> str:
    """Start enrolment: a fresh secret, UNCONFIRMED; return its otpauth:// URI.

    AlreadyActive when MFA is active (revoke first). Enabling again before verifying
    replaces the secret.
    """
    if not rowlocks.hold(subject.pk):
        raise NotEnabled("The user no longer exists.")
    device = TotpDevice.objects.select_for_update().filter(principal_id=subject.pk).first()
    if device is not None and device.status == TotpDevice.Status.ACTIVE:
        raise AlreadyActive()
    secret = pyotp.random_base32(length=32)
    if device is None:
        device = TotpDevice(principal=subject)
    device.status = TotpDevice.Status.UNCONFIRMED
    device.last_step = 0
    device.created_at = timezone.now()
    _seal_into(device, subject, secret)
    device.save()
    audit.record(request, api, operator=actor.operator_id, principal=actor, target=_target(subject))
    return totp_uri(subject, secret)


def verify(
    request: HttpRequest | None, actor: Principal, subject: Principal, code: object, api: str
) -> list[str]:
    """Confirm enrolment with one code: MFA becomes ACTIVE; return fresh backup codes.

    NotEnabled when there is nothing to confirm, WrongCode (audited) for a wrong code.
    """
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(principal_id=subject.pk).first()
        if device is None or device.status != TotpDevice.Status.UNCONFIRMED:
            raise NotEnabled("There is no MFA enrolment to verify. Enable MFA first.")
        accepted = accept_code(subject, code, state=TotpDevice.Status.UNCONFIRMED)
        if accepted:
            TotpDevice.objects.filter(pk=device.pk).update(
                status=TotpDevice.Status.ACTIVE, activated_at=timezone.now()
            )
            codes = _replace_backup_codes(subject)
            ended = apisessions.end_all_sessions_but_this(request, subject)
            audit.record(
                request,
                api,
                operator=actor.operator_id,
                principal=actor,
                target=_target(subject),
                details={"backupCodes": len(codes), "sessionsEnded": ended},
            )
            notifications.mfa_enabled(subject, client_ip(request) if request else "")
            return codes
    # Outside the transaction that found the code wrong: the failure entry commits.
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        outcome=AuditEntry.Outcome.FAILED,
        target=_target(subject),
        details={"reason": "wrong code"},
    )
    raise WrongCode()


def _replace_backup_codes(subject: Principal) -> list[str]:
    BackupCode.objects.filter(principal_id=subject.pk).delete()
    codes: list[str] = []
    while len(codes) < BACKUP_CODES:
        code = _new_backup_code()
        if code not in codes:
            codes.append(code)
    BackupCode.objects.bulk_create(
        BackupCode(principal=subject, code_hash=_backup_hash(subject, normalize_backup_code(c)))
        for c in codes
    )
    return codes


@transaction.atomic
def revoke(request: HttpRequest | None, actor: Principal, subject: Principal, api: str) -> None:
    """Remove the principal's TOTP device and backup codes (NotEnabled when it has none)."""
    if not rowlocks.hold(subject.pk):
        raise NotEnabled()
    deleted, _ = TotpDevice.objects.filter(principal_id=subject.pk).delete()
    if not deleted:
        raise NotEnabled()
    BackupCode.objects.filter(principal_id=subject.pk).delete()
    ended = apisessions.end_all_sessions_but_this(request, subject)
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        target=_target(subject),
        details={"sessionsEnded": ended},
    )
    notifications.mfa_removed(subject, client_ip(request) if request else "")


class WrongPassword(MfaError):
    """The password did not match (retry_after > 0: throttled, not even checked)."""

    def __init__(self, retry_after: int = 0) -> None:
        super().__init__("The password is wrong.")
        self.retry_after = retry_after


def revoke_root(
    request: HttpRequest,
    actor: Principal,
    root: Principal,
    password: str | None,
    *,
    second_factor_session: bool,
) -> None:
    """Remove root's MFA: with its password (checked behind the sign-in throttles), or,
    without one, only from a session that was itself opened with the second factor.

    Soracom's contract sends `{password}`; the published Python client (an older spec)
    sends no body at all, which is accepted only from such a session, so a session opened
    with an AuthKey or a password alone can never remove the second factor.
    """
    api = "Operator:revokeMFA"
    if password is None and not second_factor_session:
        raise WrongPassword()
    if password is not None:
        result = signin.sign_in(request, password=password, email=root.email)
        if result.principal is None or result.principal.pk != root.pk:
            audit.record(
                request,
                api,
                operator=actor.operator_id,
                principal=actor,
                outcome=AuditEntry.Outcome.FAILED,
                target="root",
                details={"throttled": bool(result.retry_after), "reason": "wrong password"},
            )
            raise WrongPassword(result.retry_after)
    revoke(request, actor, root, api)


def has_passkeys(principal: Principal) -> bool:
    return Passkey.objects.filter(principal_id=principal.pk).exists()


def has_second_factor(principal: Principal) -> bool:
    """Return whether a password sign-in of this principal needs a second step (TOTP active,
    or a passkey registered)."""
    return is_active(principal) or has_passkeys(principal)


def secret_from_uri(uri: str) -> str:
    """Return the base32 secret of an otpauth:// URI (for the enrolment page's text)."""
    return pyotp.parse_uri(uri).secret


@transaction.atomic
def set_sam_console_requirement(
    request: HttpRequest | None, actor: Principal, required: bool
) -> None:
    """Root's setting: SAM users sign in to the console only with a second factor."""
    from accounts.models import Operator

    Operator.objects.filter(pk=actor.operator_id).update(require_sam_console_mfa=required)
    audit.record(
        request,
        "Operator:updateMFARequirement",
        operator=actor.operator_id,
        principal=actor,
        target="samConsoleSignIn",
        details={"required": required},
    )


# Revoking token (a lost device) --------------------------------------------------------

REVOKE_TOKEN_SECONDS = 1800


class BadRevokeToken(MfaError):
    def __init__(self) -> None:
        super().__init__("The token or the backup code is not valid, or the token expired.")


def _token_hash(token: str) -> str:
    key = hmac.new(settings.LATCHKEY_PEPPER.encode(), b"latchkey.mfa.revoke-token", hashlib.sha256)
    return hmac.new(key.digest(), token.encode(), hashlib.sha256).hexdigest()


def issue_revoke_token(request: HttpRequest | None, root: Principal) -> None:
    """Mail root a single-use token (REVOKE_TOKEN_SECONDS) that, with a backup code, removes
    its MFA (NotEnabled when MFA is not active). Only the keyed hash is stored."""
    from django.core.mail import send_mail

    from security.models import MfaRevokeToken

    if not is_active(root):
        raise NotEnabled()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        MfaRevokeToken.objects.create(
            principal=root,
            token_hash=_token_hash(token),
            expires_at=timezone.now() + timedelta(seconds=REVOKE_TOKEN_SECONDS),
        )
        audit.record(
            request,
            "Operator:issueMFARevokingToken",
            operator=root.operator_id,
            principal=root,
            target="root",
        )
    minutes = REVOKE_TOKEN_SECONDS // 60
    send_mail(
        "Latchkey: token to remove MFA",
        f"Someone who knows the root password of {root.operator_id} asked to remove its MFA "
        f"(a lost authenticator).\n\nToken (valid {minutes} minutes, once):\n\n{token}\n\n"
        "Send it with the password and one backup code to "
        "POST /v1/operators/mfa_revoke_token/verify. If this was not you, change the root "
        "password now.\n",
        None,
        [root.email],
    )


def verify_revoke_token(
    request: HttpRequest | None, root: Principal, token: str, backup_code: str
) -> None:
    """Remove root's MFA given a live revoking token and one unused backup code (both spent);
    BadRevokeToken (audited) otherwise."""
    from security.models import MfaRevokeToken

    with transaction.atomic():
        spent = 0
        if isinstance(token, str) and 0 < len(token) <= 128:
            spent = MfaRevokeToken.objects.filter(
                principal=root,
                token_hash=_token_hash(token),
                used_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).update(used_at=timezone.now())
        if spent and use_backup_code(request, root, backup_code):
            revoke(request, root, root, "Operator:verifyMFARevokingToken")
            return
        transaction.set_rollback(True)  # nothing spent when either part is wrong
    audit.record(
        request,
        "Operator:verifyMFARevokingToken",
        operator=root.operator_id,
        principal=root,
        outcome=AuditEntry.Outcome.FAILED,
        target="root",
    )
    raise BadRevokeToken()


# Master-key rotation (manage.py rotate_master_key) ------------------------------------


def master_key_usage() -> dict[str, int]:
    """Return {master key ID: TOTP devices whose data key it wraps}."""
    from django.db.models import Count

    rows = TotpDevice.objects.values_list("master_key_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def rewrap_devices() -> tuple[int, list[int]]:
    """Re-wrap every TOTP device's data key under the newest master key (each in its own
    transaction, audited); return (re-wrapped, IDs of rows that did not authenticate)."""
    newest = crypto.newest_master_key().key_id
    done, failed = 0, []
    for pk in TotpDevice.objects.exclude(master_key_id=newest).values_list("pk", flat=True):
        with transaction.atomic():
            device = (
                TotpDevice.objects.select_for_update()
                .select_related("principal")
                .filter(pk=pk)
                .exclude(master_key_id=newest)
                .first()
            )
            if device is None:
                continue
            sealed = crypto.Sealed(
                bytes(device.ciphertext), bytes(device.wrapped_key), device.master_key_id
            )
            try:
                fresh = crypto.rewrap(sealed, _aad(device.principal))
            except (crypto.DecryptionError, crypto.MasterKeyError):
                failed.append(pk)
                continue
            TotpDevice.objects.filter(pk=pk).update(
                wrapped_key=fresh.wrapped_key, master_key_id=fresh.master_key_id
            )
            audit.record(
                None,
                "Installation:rewrapTotpSecret",
                operator=None,
                details={"totpDevice": pk, "from": device.master_key_id, "to": newest},
            )
            done += 1
    return done, failed
