"""POST /v1/auth and /v1/auth/logout: exchange credentials for an apiKey + token."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router

from accounts import apisessions, signin
from accounts.models import Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from console.api import ApiError, StrictSchema, empty
from security import audit, auth_exchange, failures, mfa, password_reset, switching
from security.api_access import caller_of, operation, unauthenticated

router = Router(tags=["Auth"])

AUTH_FAILED = ApiError(401, "LKY0401", "Authentication failed.")


class AuthRequest(StrictSchema):
    email: str | None = None
    password: str | None = None
    authKeyId: str | None = None
    authKey: str | None = None
    operatorId: str | None = None
    userName: str | None = None
    mfaOTPCode: str | None = None
    tokenTimeoutSeconds: int = apisessions.DEFAULT_TIMEOUT


def _timeout(value: int) -> int:
    if not 1 <= value <= apisessions.MAX_TIMEOUT:
        raise ApiError(
            400, "LKY0400", f"tokenTimeoutSeconds must be between 1 and {apisessions.MAX_TIMEOUT}."
        )
    return value


def _throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "LKY0429",
        f"Too many failed attempts. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


class _CodeCheck:
    """The second factor of a password exchange: `mfaOTPCode`, needed once MFA is active.

    A missing or wrong code fails like a wrong password (same 401, same throttle count);
    an accepted code is spent (security/mfa.py), so a replay fails.
    """

    def __init__(self, code: str | None) -> None:
        self.code = code
        self.used = False

    def __call__(self, principal: Principal) -> str:
        if not mfa.is_active(principal):
            return signin.PASSED
        if mfa.accept_code(principal, self.code):
            self.used = True
            return signin.PASSED
        return signin.FAILED


def _succeed(
    request: HttpRequest,
    principal: Principal,
    timeout: int,
    key_id: str,
    second_factor: bool = False,
) -> dict:
    """Open the API session and record it; call inside the caller's transaction."""
    api_key, token = auth_exchange.succeed(request, principal, timeout, key_id, second_factor)
    return _response(principal, api_key, token)


def _response(principal: Principal, api_key: str, token: str) -> dict:
    response = {"apiKey": api_key, "operatorId": principal.operator_id, "token": token}
    if principal.is_sam:
        response["userName"] = principal.user_name
    return response


@router.post("/auth", auth=None, url_name="auth")
@unauthenticated("Auth:auth")
def auth(request: HttpRequest, body: AuthRequest) -> dict:
    """Exchange an AuthKey, a root password or a SAM user password for apiKey + token."""
    timeout = _timeout(body.tokenTimeoutSeconds)
    code_check = _CodeCheck(body.mfaOTPCode)
    for field in (body.password, body.authKey):
        if field is not None and len(field) > MAX_PASSWORD_LENGTH:
            raise ApiError(400, "LKY0400", "A credential is too long.")
    if body.authKeyId is not None or body.authKey is not None:
        if any(v is not None for v in (body.email, body.password, body.operatorId, body.userName)):
            raise ApiError(400, "LKY0400", "Send authKeyId + authKey alone, without a password.")
        # One exchange for /v1/auth and /oauth/token (security/auth_exchange.py).
        try:
            principal, _, api_key, token = auth_exchange.exchange_authkey(
                request, body.authKeyId, body.authKey, timeout
            )
        except auth_exchange.ExchangeFailed as failed:
            raise _throttled(failed.retry_after) if failed.retry_after else AUTH_FAILED from None
        return _response(principal, api_key, token)
    elif body.email is not None and body.password is not None and body.userName is None:
        result = signin.sign_in(
            request, password=body.password, email=body.email, second_factor=code_check
        )
        if not result.ok:
            failures.record_sign_in_failure(request, "Auth:auth", result, email=body.email)
        principal, key_id, retry_after = result.principal, "", result.retry_after
    elif None not in (body.operatorId, body.userName, body.password) and body.email is None:
        creds = {"operator_id": body.operatorId, "user_name": body.userName}
        result = signin.sign_in(request, password=body.password, second_factor=code_check, **creds)
        if not result.ok:
            failures.record_sign_in_failure(request, "Auth:auth", result, **creds)
        principal, key_id, retry_after = result.principal, "", result.retry_after
    else:
        raise ApiError(
            400,
            "LKY0400",
            "Send authKeyId + authKey, email + password, or operatorId + userName + password.",
        )
    if principal is None:
        raise _throttled(retry_after) if retry_after else AUTH_FAILED
    # The session and its audit entry commit together, or neither does.
    try:
        with transaction.atomic():
            return _succeed(request, principal, timeout, key_id, code_check.used)
    except apisessions.PrincipalGone:  # deleted since its password was checked
        raise AUTH_FAILED from None


@router.post("/auth/logout", url_name="logout")
@operation("Auth:logout")
def logout(request: HttpRequest) -> HttpResponse:
    """End the API session that made this call."""
    caller = caller_of(request)
    apisessions.revoke(caller.api_key)
    audit.record(
        request,
        "Auth:logout",
        operator=caller.operator_id,
        principal=caller.principal,
        auth_key_id=caller.auth_key_id,
    )
    return empty(204)


class SwitchUserRequest(StrictSchema):
    operatorId: str
    userName: str
    tokenTimeoutSeconds: int = apisessions.SWITCH_DEFAULT_TIMEOUT


@router.post("/auth/switch_user", url_name="switchUser")
@operation("Auth:switchUser")
def switch_user(request: HttpRequest, body: SwitchUserRequest) -> dict:
    """Open a session as a SAM user whose trust policy names the caller (200 AuthResponse)."""
    timeout = body.tokenTimeoutSeconds
    if not apisessions.MIN_TIMEOUT <= timeout <= apisessions.SWITCH_MAX_TIMEOUT:
        raise ApiError(
            400,
            "LKY0400",
            f"tokenTimeoutSeconds must be between {apisessions.MIN_TIMEOUT} and "
            f"{apisessions.SWITCH_MAX_TIMEOUT}.",
        )
    caller = caller_of(request)
    try:
        target, api_key, token = switching.switch(
            request, caller.principal, body.operatorId, body.userName, timeout,
            source_session=caller,
        )  # fmt: skip
    except switching.SwitchNotAllowed:
        raise ApiError(400, "LKY0400", switching.NOT_ALLOWED) from None
    return {
        "apiKey": api_key,
        "operatorId": target.operator_id,
        "token": token,
        "userName": target.user_name,
    }


class PasswordResetIssueRequest(StrictSchema):
    email: str


class PasswordResetVerifyRequest(StrictSchema):
    token: str
    password: str


@router.post("/auth/password_reset_token/issue", auth=None, url_name="issuePasswordResetToken")
@unauthenticated(password_reset.ISSUE_API)
def issue_password_reset_token(request: HttpRequest, body: PasswordResetIssueRequest):
    """Mail a reset code to a root address; 200 whether or not the address has an account."""
    try:
        password_reset.issue(request, body.email)
    except password_reset.BadEmail as exc:
        raise ApiError(400, "LKY0400", str(exc)) from None
    except password_reset.ResetThrottled as exc:
        raise _throttled(exc.retry_after) from None
    return empty(200)


@router.post("/auth/password_reset_token/verify", auth=None, url_name="verifyPasswordResetToken")
@unauthenticated(password_reset.VERIFY_API)
def verify_password_reset_token(request: HttpRequest, body: PasswordResetVerifyRequest):
    """Set a new root password with a mailed code (400 bad code, 404 expired code)."""
    try:
        password_reset.verify(request, body.token, body.password)
    except password_reset.ResetThrottled as exc:
        raise _throttled(exc.retry_after) from None
    except password_reset.BadToken:
        raise ApiError(400, "LKY0400", "The reset token is not valid.") from None
    except password_reset.ExpiredToken:
        raise ApiError(404, "LKY0404", "The reset token has expired.") from None
    except ValidationError as exc:
        raise ApiError(400, "LKY0400", " ".join(exc.messages)) from None
    return empty(200)
