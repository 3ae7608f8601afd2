"""SAM users, their passwords and the operator under /v1/operators/{v1opid:operator_id} (§4.2-4.4).

Handlers parse, authorize through `@operation`, call one `security.users` function and
shape the contract's answer. A user name that cannot exist answers like a missing user.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from accounts import apisessions
from accounts.identifiers import is_valid_name
from accounts.models import Operator, Principal
from accounts.trustpolicy import EMPTY_POLICY, InvalidTrustPolicy
from console.api import ApiError, StrictSchema, bad_request, conflict, empty, not_found
from security import switching, users
from security.api_access import (
    USER_NOT_FOUND,
    RefreshAuth,
    caller_of,
    operation,
    sam_user_or_404,
)

router = Router(tags=["User"])

NO_PASSWORD = users.NO_PASSWORD


USER = "/operators/{v1opid:operator_id}/users/{v1samuser:user_name}"


class DescriptionBody(StrictSchema):
    # Absent means "no description" on create and "unchanged" on update; null is refused.
    description: str = None  # type: ignore[assignment]


class PasswordBody(StrictSchema):
    password: str


class PasswordChangeBody(StrictSchema):
    currentPassword: str
    newPassword: str


def _invalid(exc: ValidationError) -> ApiError:
    return bad_request(" ".join(exc.messages))


def _throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "LKY0429",
        f"Too many failed attempts. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def _change_password(
    request: HttpRequest, subject: Principal, body: PasswordChangeBody, api: str
) -> None:
    try:
        users.change_password(
            request, caller_of(request).principal, subject, body.currentPassword,
            body.newPassword, api,
        )  # fmt: skip
    except users.NoPassword:
        raise not_found(NO_PASSWORD) from None
    except users.WrongPassword as exc:
        if exc.retry_after:
            raise _throttled(exc.retry_after) from None
        raise bad_request("The current password is wrong.") from None
    except ValidationError as exc:
        raise _invalid(exc) from None


# Users ------------------------------------------------------------------------------------


MAX_PAGE = 1000


@router.get("/operators/{v1opid:operator_id}/users", url_name="listUsers")
@operation("User:listUsers")
def list_users(
    request: HttpRequest,
    operator_id: str,
    limit: int | None = None,
    last_evaluated_key: str | None = None,
) -> HttpResponse:
    """List the operator's SAM users with their AuthKeys and roles, by name.

    Without `limit` every user comes back (what clients that do not page expect); with it,
    a page, and `x-soracom-next-key` names the last user when more follow.
    """
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise bad_request(f"limit must be between 1 and {MAX_PAGE}.")
    found = users.sam_users(operator_id).order_by("user_name")
    if last_evaluated_key is not None:
        if not is_valid_name(last_evaluated_key):
            raise bad_request("last_evaluated_key is not a user name.")
        found = found.filter(user_name__gt=last_evaluated_key)
    page = list(found[: limit + 1] if limit is not None else found)
    more = limit is not None and len(page) > limit
    page = page[:limit] if more else page
    keys, roles = users.auth_key_lists(page), users.role_lists(page)
    response = JsonResponse(
        [users.user_detail(u, keys[u.pk], roles[u.pk]) for u in page], safe=False
    )
    if more:
        response["x-soracom-next-key"] = page[-1].user_name
    return response


@router.post(USER, url_name="createUser")
@operation("User:createUser")
def create_user(
    request: HttpRequest, operator_id: str, user_name: str, body: DescriptionBody | None = None
) -> HttpResponse:
    """Create a SAM user (201, no body). An existing name answers 400, as the contract says."""
    description = body.description if body is not None else None
    try:
        users.create_user(request, caller_of(request).principal, user_name, description or "")
    except ValidationError as exc:
        raise _invalid(exc) from None
    except users.UserExists as exc:
        # The contract documents 400 "Failed to create a new user." for this case; our
        # message says why.
        raise bad_request(str(exc)) from None
    return empty(201)


@router.get(USER, url_name="getUser")
@operation("User:getUser")
def get_user(request: HttpRequest, operator_id: str, user_name: str) -> dict:
    """Return one SAM user."""
    user = sam_user_or_404(request, user_name)
    keys, roles = users.auth_key_lists([user]), users.role_lists([user])
    return users.user_detail(user, keys[user.pk], roles[user.pk])


@router.put(USER, url_name="updateUser")
@operation("User:updateUser")
def update_user(
    request: HttpRequest, operator_id: str, user_name: str, body: DescriptionBody
) -> HttpResponse:
    """Change a SAM user's description (200, no body)."""
    user = sam_user_or_404(request, user_name)
    if body.description is not None:
        try:
            users.update_description(request, caller_of(request).principal, user, body.description)
        except ValidationError as exc:
            raise _invalid(exc) from None
    return empty(200)


@router.delete(USER, url_name="deleteUser")
@operation("User:deleteUser")
def delete_user(request: HttpRequest, operator_id: str, user_name: str) -> HttpResponse:
    """Delete a SAM user, ending its AuthKeys and API sessions at once (204)."""
    try:
        users.delete_user(
            request, caller_of(request).principal, sam_user_or_404(request, user_name)
        )
    except users.UserGone:
        raise not_found(USER_NOT_FOUND) from None
    return empty(204)


@router.delete(USER + "/tokens", url_name="revokeUserAuthTokens")
@operation("User:revokeUserAuthTokens")
def revoke_user_tokens(request: HttpRequest, operator_id: str, user_name: str) -> HttpResponse:
    """End every API session of a SAM user (204)."""
    user = sam_user_or_404(request, user_name)
    users.revoke_tokens(request, caller_of(request).principal, user, "User:revokeUserAuthTokens")
    return empty(204)


# User passwords ---------------------------------------------------------------------------


@router.post(USER + "/password", url_name="createUserPassword")
@operation("User:createUserPassword")
def create_user_password(
    request: HttpRequest, operator_id: str, user_name: str, body: PasswordBody
) -> HttpResponse:
    """Give a SAM user its first password (201, no body); one already set answers 409."""
    user = sam_user_or_404(request, user_name)
    try:
        users.create_password(request, caller_of(request).principal, user, body.password)
    except users.PasswordExists as exc:
        raise conflict(str(exc)) from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    return empty(201)


@router.get(USER + "/password", url_name="hasUserPassword")
@operation("User:hasUserPassword")
def has_user_password(request: HttpRequest, operator_id: str, user_name: str) -> dict:
    """Return whether the SAM user has a password."""
    return {"hasPassword": sam_user_or_404(request, user_name).has_usable_password()}


@router.put(USER + "/password", url_name="updateUserPassword")
@operation("User:updateUserPassword")
def update_user_password(
    request: HttpRequest, operator_id: str, user_name: str, body: PasswordChangeBody
) -> HttpResponse:
    """Change a SAM user's password given the current one (200, no body; throttled)."""
    _change_password(request, sam_user_or_404(request, user_name), body, "User:updateUserPassword")
    return empty(200)


@router.delete(USER + "/password", url_name="deleteUserPassword")
@operation("User:deleteUserPassword")
def delete_user_password(request: HttpRequest, operator_id: str, user_name: str) -> HttpResponse:
    """Remove a SAM user's password (204); 404 when it has none."""
    user = sam_user_or_404(request, user_name)
    try:
        users.remove_password(request, caller_of(request).principal, user)
    except users.NoPassword as exc:
        raise not_found(str(exc)) from None
    return empty(204)


# Operator ---------------------------------------------------------------------------------


def _root(request: HttpRequest) -> Principal:
    root = users.get_root(caller_of(request).operator_id)
    if root is None:
        raise not_found("Operator not found.")
    return root


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/operators/{v1opid:operator_id}", url_name="getOperator", tags=["Operator"])
@operation("Operator:getOperator")
def get_operator(request: HttpRequest, operator_id: str) -> dict:
    """Return the operator (every field a string, as the contract requires)."""
    root = _root(request)
    operator = Operator.objects.get(pk=root.operator_id)
    return {
        "operatorId": operator.id,
        "rootOperatorId": operator.id,
        "email": root.email,
        "description": root.description,
        "createDate": _date(operator.created_at),
        "updateDate": _date(max(operator.created_at, root.updated_at)),
    }


@router.post(
    "/operators/{v1opid:operator_id}/password", url_name="updateOperatorPassword", tags=["Operator"]
)
@operation("Operator:updateOperatorPassword")
def update_operator_password(
    request: HttpRequest, operator_id: str, body: PasswordChangeBody
) -> HttpResponse:
    """Change the root password given the current one (200, no body; root only; throttled)."""
    _change_password(request, _root(request), body, "Operator:updateOperatorPassword")
    return empty(200)


@router.delete(
    "/operators/{v1opid:operator_id}/tokens", url_name="revokeOperatorAuthTokens", tags=["Operator"]
)
@operation("Operator:revokeOperatorAuthTokens")
def revoke_operator_tokens(request: HttpRequest, operator_id: str) -> HttpResponse:
    """End every API session of the root account, this one included (204)."""
    caller = caller_of(request)
    users.revoke_tokens(
        request, caller.principal, _root(request), "Operator:revokeOperatorAuthTokens"
    )
    return empty(204)


class GenerateTokenBody(StrictSchema):
    # The contract names it tokenTimeoutSeconds; the Go SDK sends timeout_seconds.
    tokenTimeoutSeconds: int = None  # type: ignore[assignment]
    timeout_seconds: int = None  # type: ignore[assignment]


def _token_timeout(body: GenerateTokenBody | None, switched: bool) -> int:
    given = (
        [v for v in (body.tokenTimeoutSeconds, body.timeout_seconds) if v is not None]
        if (body is not None)
        else []
    )
    if len(given) > 1:
        raise bad_request("Send tokenTimeoutSeconds or timeout_seconds, not both.")
    if switched:  # a switched session's tokens keep switch user's bounds
        low, high, default = (
            apisessions.MIN_TIMEOUT,
            apisessions.SWITCH_MAX_TIMEOUT,
            apisessions.SWITCH_DEFAULT_TIMEOUT,
        )
    else:
        low, high, default = 1, apisessions.MAX_TIMEOUT, apisessions.DEFAULT_TIMEOUT
    timeout = given[0] if given else default
    if not low <= timeout <= high:
        raise bad_request(f"tokenTimeoutSeconds must be between {low} and {high}.")
    return timeout


@router.post(
    "/operators/{v1opid:operator_id}/token",
    url_name="generateAuthToken",
    tags=["Operator"],
    auth=RefreshAuth(),
)
@operation("Operator:generateAuthToken")
def generate_auth_token(
    request: HttpRequest, operator_id: str, body: GenerateTokenBody | None = None
) -> dict:
    """Return a fresh token for the caller's apiKey (200 {token}); 400 for an expired one."""
    caller = caller_of(request)
    timeout = _token_timeout(body, caller.switched)
    return {"token": users.generate_auth_token(request, caller, timeout)}


# Trust policy and switched sessions ---------------------------------------------------------


class TrustPolicyBody(StrictSchema):
    trustPolicy: str


@router.get(USER + "/trust_policy", url_name="getUserTrustPolicy")
@operation("User:getUserTrustPolicy")
def get_user_trust_policy(request: HttpRequest, operator_id: str, user_name: str) -> dict:
    """Return the SAM user's trust policy (an empty document when it has none)."""
    return {"trustPolicy": sam_user_or_404(request, user_name).trust_policy or EMPTY_POLICY}


@router.put(USER + "/trust_policy", url_name="updateUserTrustPolicy")
@operation("User:updateUserTrustPolicy")
def update_user_trust_policy(
    request: HttpRequest, operator_id: str, user_name: str, body: TrustPolicyBody
) -> HttpResponse:
    """Replace the trust policy (204); every switched session into the user ends."""
    user = sam_user_or_404(request, user_name)
    try:
        switching.set_trust_policy(request, caller_of(request).principal, user, body.trustPolicy)
    except InvalidTrustPolicy as exc:
        raise bad_request(str(exc)) from None
    return empty(204)


@router.delete(USER + "/trust_policy", url_name="deleteUserTrustPolicy")
@operation("User:deleteUserTrustPolicy")
def delete_user_trust_policy(
    request: HttpRequest, operator_id: str, user_name: str
) -> HttpResponse:
    """Remove the trust policy (204); every switched session into the user ends."""
    user = sam_user_or_404(request, user_name)
    switching.delete_trust_policy(request, caller_of(request).principal, user)
    return empty(204)


@router.get(USER + "/switched_sessions", url_name="listUserSwitchedSessions")
@operation("User:listUserSwitchedSessions")
def list_user_switched_sessions(
    request: HttpRequest, operator_id: str, user_name: str
) -> HttpResponse:
    """Latchkey's own: the live switched sessions into the user, who from and until when."""
    user = sam_user_or_404(request, user_name)
    return JsonResponse(
        [
            {
                "sourceSrn": apisessions.srn(s.source_principal),
                "createDateTime": int(s.created_at.timestamp()),
                "expiryDateTime": int(s.expires_at.timestamp()),
            }
            for s in switching.switched_sessions(user)
        ],
        safe=False,
    )


@router.delete(USER + "/switched_sessions", url_name="revokeUserSwitchedSessions")
@operation("User:revokeUserSwitchedSessions")
def revoke_user_switched_sessions(
    request: HttpRequest, operator_id: str, user_name: str
) -> HttpResponse:
    """Latchkey's own: end every switched session into the user, console and API (204)."""
    user = sam_user_or_404(request, user_name)
    try:
        switching.end_switched_sessions(request, caller_of(request).principal, user)
    except users.UserGone:
        raise not_found(USER_NOT_FOUND) from None
    return empty(204)
