"""Password sign-in for the console, the token exchange and installation staff, behind the
failure throttles.

Three buckets per attempt (documented in the README):
- per source address, across accounts (spraying);
- per account and source address (guessing from one place);
- per account from anywhere, skipped for a browser that signed in to this account
  before (a device cookie), so that a distributed attack cannot lock the owner out.

Installation staff (support staff at /staff/login/, administrators at /admin/login/) get
the same three buckets, each sign-in page its own set, keyed apart from the tenants'.

This module only checks: the audit entry of a failure is written by its caller
(security/failures.py `record_sign_in_failure`), of a success when the session opens.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from accounts import throttle
from accounts.identifiers import OPERATOR_ID_RE
from accounts.models import Operator, Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from console.net import client_ip, throttle_source


@dataclass(frozen=True)
class SignInResult:
    principal: Principal | None
    retry_after: int = 0
    throttled_by: str = ""  # the key of the full bucket that refused the attempt
    # The password was right and the second factor is still to come (the console's step).
    pending: bool = False
    # The password was right but the second factor was missing or wrong (counted as a
    # failure, like a wrong password).
    second_factor_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.principal is not None


def account_key(*, email: str | None = None, operator_id: str = "", user_name: str = "") -> str:
    if email is not None:
        return f"root:{email.strip().lower()}"
    return f"sam:{operator_id.strip()}:{user_name}"


def operator_of_account(*, email: str | None = None, operator_id: str = "") -> str | None:
    """Return the operator a failed sign-in aimed at, for its audit trail (None if none)."""
    if email is not None:
        root = Principal.objects.filter(kind=Principal.Kind.ROOT, handle=account_key(email=email))
        return root.values_list("operator_id", flat=True).first()
    if OPERATOR_ID_RE.match(operator_id.strip()):
        return Operator.objects.filter(pk=operator_id.strip()).values_list("pk", flat=True).first()
    return None


def staff_account_key(role: str, handle: str) -> str:
    return f"staff-{role}:{handle}"


def _handle(account: str) -> str:
    """Return the principal handle an account key names (the staff key adds its role)."""
    if account.startswith("staff-"):
        return account.partition(":")[2]
    return account


def device_token(account: str) -> str:
    """Return what a device cookie must hold for an account now (the cookie is signed).

    It is bound to the account's password and session epochs: a password change, a reset
    or "revoke all tokens" also ends the throttle exemption that a browser earned before,
    so that someone who once knew the password keeps no unthrottled guessing of the new one
    (docs/sessions.md). An unknown account's token matches no cookie ever set.
    """
    epochs = (
        Principal.objects.filter(handle=_handle(account))
        .values_list("password_epoch", "session_epoch")
        .first()
    )
    state = "{}.{}".format(*epochs) if epochs else "-"
    key = salted_hmac("latchkey.signin.device", f"{account}|{state}", algorithm="sha256")
    return key.hexdigest()[:32]


def _buckets(
    account: str, ip: str, trusted_device: bool, surface: str = ""
) -> list[throttle.Bucket]:
    buckets = [
        throttle.Bucket(f"{surface}ip|{ip}", settings.LATCHKEY_THROTTLE_PER_IP),
        throttle.Bucket(f"acct-ip|{account}|{ip}", settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP),
    ]
    if not trusted_device:
        buckets.append(throttle.Bucket(f"acct|{account}", settings.LATCHKEY_THROTTLE_PER_ACCOUNT))
    return buckets


# What a second-factor check answers for a principal whose password was right.
PASSED, FAILED, PENDING = "passed", "failed", "pending"
SecondFactor = Callable[[Principal], str]


def _attempt(
    request: HttpRequest,
    buckets: list[throttle.Bucket],
    password: str,
    credentials: dict,
    second_factor: SecondFactor | None = None,
) -> SignInResult:
    # Counted before the password is checked, so that attempts made at once cannot pass a
    # full bucket together (accounts/throttle.py reserve); a right password gives it back.
    wait, full, slots = throttle.reserve(buckets)
    if wait:
        return SignInResult(None, retry_after=wait, throttled_by=full)
    principal = None
    if len(password) <= MAX_PASSWORD_LENGTH:
        principal = authenticate(request, password=password, **credentials)
    if principal is None:
        return SignInResult(None)
    verdict = second_factor(principal) if second_factor is not None else PASSED
    if verdict == FAILED:
        return SignInResult(None, second_factor_failed=True)
    throttle.refund(slots)
    if verdict == PENDING:
        # Not cleared: the second step counts its attempts in the same buckets.
        return SignInResult(principal, pending=True)
    throttle.clear(buckets[1])
    return SignInResult(principal)


def second_step(
    request: HttpRequest, account: str, check: Callable[[], bool], trusted_device: bool = False
) -> SignInResult:
    """Run the second step of a sign-in whose password was right, behind the same buckets.

    `check` verifies the code (or backup code, or passkey); a failure counts like a wrong
    password. Returns no principal: the caller knows whom it is signing in.
    """
    buckets = _buckets(account, throttle_source(client_ip(request)), trusted_device)
    wait, full, slots = throttle.reserve(buckets)  # counted before the code is checked, as above
    if wait:
        return SignInResult(None, retry_after=wait, throttled_by=full)
    if not check():
        return SignInResult(None, second_factor_failed=True)
    throttle.refund(slots)
    throttle.clear(buckets[1])
    return SignInResult(None)


def sign_in(
    request: HttpRequest,
    *,
    password: str,
    email: str | None = None,
    operator_id: str = "",
    user_name: str = "",
    trusted_device: bool = False,
    second_factor: SecondFactor | None = None,
) -> SignInResult:
    """Return the principal for these credentials, or why not (None, or a retry delay).

    `second_factor`, when given, decides for a principal whose password was right: passed,
    failed (counted like a wrong password) or pending (the console's second step).
    """
    account = account_key(email=email, operator_id=operator_id, user_name=user_name)
    buckets = _buckets(account, throttle_source(client_ip(request)), trusted_device)
    if email is not None:
        return _attempt(request, buckets, password, {"email": email}, second_factor)
    return _attempt(
        request,
        buckets,
        password,
        {"operator_id": operator_id, "user_name": user_name},
        second_factor,
    )


def sign_in_staff(
    request: HttpRequest, *, role: str, handle: str, password: str, trusted_device: bool = False
) -> SignInResult:
    """Return the staff account of that role for these credentials, or why not."""
    account = staff_account_key(role, handle)
    source = throttle_source(client_ip(request))
    buckets = _buckets(account, source, trusted_device, surface=f"staff-{role}|")
    return _attempt(request, buckets, password, {"staff_handle": handle, "staff_role": role})
