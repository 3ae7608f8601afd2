"""TOTP MFA of the root account and of SAM users (soracom-api.md §4.10).

Root: enableMFA, verifyMFA, getMFAStatus, revokeMFA (root only, whatever a statement says).
SAM users: enableUserMFA, verifyUserMFA (204: the contract returns no backup codes),
getUserMFAStatus, revokeUserMFA. Handlers parse, authorize through `@operation`, call one
`security.mfa` function and shape the contract's answer.
"""

from django.http import HttpRequest, HttpResponse
from ninja import Router

from accounts import signin
from accounts.models import Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from console.api import ApiError, StrictSchema, bad_request, empty, not_found
from security import failures, mfa, users
from security.api_access import caller_of, operation, sam_user_or_404, unauthenticated

router = Router(tags=["Operator"])

OP_MFA = "/operators/{v1opid:operator_id}/mfa"
USER_MFA = "/operators/{v1opid:operator_id}/users/{v1samuser:user_name}/mfa"


class CodeBody(StrictSchema):
    mfaOTPCode: str


class PasswordBody(StrictSchema):
    password: str


class RevokeTokenIssueBody(StrictSchema):
    email: str
    password: str


class RevokeTokenVerifyBody(StrictSchema):
    email: str
    password: str
    token: str
    backupCode: str


AUTH_FAILED = ApiError(401, "LKY0401", "Authentication failed.")


def _root_by_password(request: HttpRequest, email: str, password: str, api: str) -> Principal:
    """Return the root account these credentials sign in to, behind the sign-in throttles
    (a failure answers like /v1/auth and is audited like a failed sign-in)."""
    if len(password) > MAX_PASSWORD_LENGTH or len(email) > 320:
        raise bad_request("A credential is too long.")
    result = signin.sign_in(request, password=password, email=email)
    if result.principal is None or not result.principal.is_root:
        failures.record_sign_in_failure(request, api, result, email=email)
        if result.retry_after:
            raise _throttled(result.retry_after)
        raise AUTH_FAILED
    return result.principal


def _throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "LKY0429",
        f"Too many failed attempts. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def _root(request: HttpRequest) -> Principal:
    root = users.get_root(caller_of(request).operator_id)
    if root is None:
        raise not_found("Operator not found.")
    return root


def _enable(request: HttpRequest, subject: Principal, api: str) -> dict:
    try:
        return {"totpUri": mfa.enable(request, caller_of(request).principal, subject, api)}
    except mfa.MfaError as exc:
        raise bad_request(str(exc)) from None


def _verify(request: HttpRequest, subject: Principal, code: str, api: str) -> list[str]:
    try:
        return mfa.verify(request, caller_of(request).principal, subject, code, api)
    except mfa.MfaError as exc:
        raise bad_request(str(exc)) from None


# Root ---------------------------------------------------------------------------------


@router.post(OP_MFA, url_name="enableMFA")
@operation("Operator:enableMFA")
def enable_mfa(request: HttpRequest, operator_id: str) -> dict:
    """Start root's MFA enrolment: 200 {totpUri}; not active until verified."""
    return _enable(request, _root(request), "Operator:enableMFA")


@router.post(OP_MFA + "/verify", url_name="verifyMFA")
@operation("Operator:verifyMFA")
def verify_mfa(request: HttpRequest, operator_id: str, body: CodeBody) -> dict:
    """Confirm root's enrolment with one code: 200 {backupCodes} (shown this once)."""
    return {"backupCodes": _verify(request, _root(request), body.mfaOTPCode, "Operator:verifyMFA")}


@router.get(OP_MFA, url_name="getMFAStatus")
@operation("Operator:getMFAStatus")
def get_mfa_status(request: HttpRequest, operator_id: str) -> dict:
    """Return root's MFA status: ACTIVE, UNCONFIRMED or INACTIVE."""
    return {"status": mfa.status(_root(request))}


@router.delete(OP_MFA, url_name="revokeMFA")
@operation("Operator:revokeMFA")
def revoke_mfa(
    request: HttpRequest, operator_id: str, body: PasswordBody | None = None
) -> HttpResponse:
    """Remove root's MFA given its password (204); see security/mfa.revoke_root."""
    caller = caller_of(request)
    try:
        mfa.revoke_root(
            request,
            caller.principal,
            _root(request),
            body.password if body is not None else None,
            second_factor_session=caller.second_factor,
        )
    except mfa.WrongPassword as exc:
        if exc.retry_after:
            raise _throttled(exc.retry_after) from None
        raise bad_request("The password is missing or wrong.") from None
    except mfa.MfaError as exc:
        raise bad_request(str(exc)) from None
    return empty(204)


@router.post("/operators/mfa_revoke_token/issue", auth=None, url_name="issueMFARevokingToken")
@unauthenticated("Operator:issueMFARevokingToken")
def issue_mfa_revoking_token(request: HttpRequest, body: RevokeTokenIssueBody) -> HttpResponse:
    """A lost device: mail root a single-use revoking token (200, no body)."""
    api = "Operator:issueMFARevokingToken"
    root = _root_by_password(request, body.email, body.password, api)
    try:
        mfa.issue_revoke_token(request, root)
    except mfa.MfaError as exc:
        raise bad_request(str(exc)) from None
    return empty(200)


@router.post("/operators/mfa_revoke_token/verify", auth=None, url_name="verifyMFARevokingToken")
@unauthenticated("Operator:verifyMFARevokingToken")
def verify_mfa_revoking_token(request: HttpRequest, body: RevokeTokenVerifyBody) -> HttpResponse:
    """Remove root's MFA with the mailed token and one backup code (200, no body)."""
    api = "Operator:verifyMFARevokingToken"
    root = _root_by_password(request, body.email, body.password, api)
    try:
        mfa.verify_revoke_token(request, root, body.token, body.backupCode)
    except mfa.MfaError as exc:
        raise bad_request(str(exc)) from None
    return empty(200)


# SAM users ----------------------------------------------------------------------------


@router.post(USER_MFA, url_name="enableUserMFA", tags=["User"])
@operation("User:enableUserMFA")
def enable_user_mfa(request: HttpRequest, operator_id: str, user_name: str) -> dict:
    """Start a SAM user's MFA enrolment: 200 {totpUri}."""
    return _enable(request, sam_user_or_404(request, user_name), "User:enableUserMFA")


@router.post(USER_MFA + "/verify", url_name="verifyUserMFA", tags=["User"])
@operation("User:verifyUserMFA")
def verify_user_mfa(
    request: HttpRequest, operator_id: str, user_name: str, body: CodeBody
) -> HttpResponse:
    """Confirm a SAM user's enrolment with one code (204, as the contract says)."""
    _verify(request, sam_user_or_404(request, user_name), body.mfaOTPCode, "User:verifyUserMFA")
    return empty(204)


@router.get(USER_MFA, url_name="getUserMFAStatus", tags=["User"])
@operation("User:getUserMFAStatus")
def get_user_mfa_status(request: HttpRequest, operator_id: str, user_name: str) -> dict:
    """Return a SAM user's MFA status: ACTIVE, UNCONFIRMED or INACTIVE."""
    return {"status": mfa.status(sam_user_or_404(request, user_name))}


@router.delete(USER_MFA, url_name="revokeUserMFA", tags=["User"])
@operation("User:revokeUserMFA")
def revoke_user_mfa(request: HttpRequest, operator_id: str, user_name: str) -> HttpResponse:
    """Remove a SAM user's MFA (204; root or a user permitted User:revokeUserMFA)."""
    try:
        mfa.revoke(
            request,
            caller_of(request).principal,
            sam_user_or_404(request, user_name),
            "User:revokeUserMFA",
        )
    except mfa.MfaError as exc:
        raise bad_request(str(exc)) from None
    return empty(204)
