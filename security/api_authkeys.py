"""JSON API: operator and SAM user AuthKeys (soracom-api.md §4.2 and §4.5).

Status codes copy the contract, inconsistencies included: the operator's generate answers
201 and a user's generate 200. Another operator's IDs answer exactly like missing ones.
"""

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from accounts.models import Principal
from console.api import (
    ApiError,
    StrictJsonParser,
    StrictSchema,
    bad_request,
    conflict,
    empty,
    not_found,
)
from security import authkeys
from security.api_access import caller_of, companion, companion_read, operation

router = Router(tags=["AuthKeys"])

OPERATOR_KEYS = "/operators/{v1opid:operator_id}/auth_keys"
USER_KEYS = "/operators/{v1opid:operator_id}/users/{v1samuser:user_name}/auth_keys"
KEY_NOT_FOUND = "AuthKey not found."
USER_NOT_FOUND = "SAM User not found."


def _body(request: HttpRequest) -> dict:
    """Return the optional JSON body of a generate or roll (Latchkey's own fields).

    Soracom clients send no body (soracom-api.md §10.11).
    The body is read here, after authorization, so that a refused caller learns nothing
    from its body's faults; a body that is not JSON is ignored as it always was, and other
    fields are never applied.
    """
    if not request.body or not request.content_type == "application/json":
        return {}
    data = StrictJsonParser().parse_body(request)
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.")
    return data


def _generate_fields(data: dict) -> tuple[str, list]:
    """Return the optional `description` and `allowedSourceNetworks` of a generate's body."""
    description = data.get("description", "")
    if not isinstance(description, str):
        raise bad_request("The description must be a string.")
    networks = data.get("allowedSourceNetworks", [])
    if not isinstance(networks, list):
        raise bad_request("allowedSourceNetworks must be a list of CIDRs.")
    return description, networks


def _seconds(data: dict, field: str, maximum: int) -> int | None:
    value = data.get(field)
    if field not in data:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise bad_request(f"{field} must be an integer from 0 to {maximum}.")
    return value


def _expiry(data: dict) -> datetime | None:
    """Return `expiryDateTime` (UNIX time in seconds, as the contract's other times) or None."""
    seconds = _seconds(data, "expiryDateTime", 253_402_300_799)  # 9999-12-31
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _root(operator_id: str) -> Principal:
    root = authkeys.find_holder(operator_id)
    if root is None:
        raise not_found()
    return root


def _user(operator_id: str, user_name: str) -> Principal:
    user = authkeys.find_holder(operator_id, user_name)
    if user is None:
        raise not_found(USER_NOT_FOUND)
    return user


def _generate(request: HttpRequest, holder: Principal, status: int) -> HttpResponse:
    caller = caller_of(request)
    data = _body(request)
    (description, networks), expires_at = _generate_fields(data), _expiry(data)
    try:
        key, secret = authkeys.generate(
            request,
            caller.principal,
            holder,
            via_key=caller.auth_key_id,
            description=description,
            allowed_networks=networks,
            expires_at=expires_at,
        )
    except ValidationError as exc:
        raise bad_request(" ".join(exc.messages)) from None
    except authkeys.AuthKeyLimitReached as exc:
        raise conflict(str(exc)) from None
    except authkeys.HolderGone:
        raise not_found(USER_NOT_FOUND if holder.is_sam else "Not found.") from None
    except authkeys.GenerateRateLimited as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        raise ApiError(429, "LKY0429", str(exc), headers=headers) from None
    return JsonResponse({"authKeyId": key.key_id, "authKey": secret}, status=status)


def _revoke(request: HttpRequest, holder: Principal, auth_key_id: str) -> HttpResponse:
    caller = caller_of(request)
    key = authkeys.get_live_key(holder, auth_key_id)
    if key is None or not authkeys.revoke(
        request, caller.principal, key, via_key=caller.auth_key_id
    ):
        raise not_found(KEY_NOT_FOUND)
    return empty(204)


class SourceNetworksRequest(StrictSchema):
    allowedSourceNetworks: list[str]


def _set_networks(
    request: HttpRequest, holder: Principal, auth_key_id: str, body: SourceNetworksRequest
) -> dict:
    caller = caller_of(request)
    key = authkeys.get_live_key(holder, auth_key_id)
    if key is None:
        raise not_found(KEY_NOT_FOUND)
    try:
        done = authkeys.set_source_networks(
            request, caller.principal, key, body.allowedSourceNetworks, via_key=caller.auth_key_id
        )
    except ValidationError as exc:
        raise bad_request(" ".join(exc.messages)) from None
    if not done:  # revoked since it was read
        raise not_found(KEY_NOT_FOUND)
    return authkeys.as_response(key)


def _live(holder: Principal, auth_key_id: str) -> authkeys.AuthKey:
    key = authkeys.get_live_key(holder, auth_key_id)
    if key is None:
        raise not_found(KEY_NOT_FOUND)
    return key


def _set_active(
    request: HttpRequest, holder: Principal, auth_key_id: str, active: bool
) -> HttpResponse:
    caller = caller_of(request)
    key = _live(holder, auth_key_id)
    if not authkeys.set_active(request, caller.principal, key, active, via_key=caller.auth_key_id):
        raise not_found(KEY_NOT_FOUND)
    return JsonResponse(authkeys.as_response(key))


def _roll(request: HttpRequest, holder: Principal, auth_key_id: str) -> HttpResponse:
    caller = caller_of(request)
    key = _live(holder, auth_key_id)
    data = _body(request)
    delay = _seconds(data, "revokeAfterSeconds", int(authkeys.MAX_ROLL_DELAY.total_seconds()))
    if delay is None:
        raise bad_request("Missing field: revokeAfterSeconds.")
    try:
        new, secret = authkeys.roll(
            request,
            caller.principal,
            key,
            delay=timedelta(seconds=delay),
            via_key=caller.auth_key_id,
            expires_at=_expiry(data),
        )
    except ValidationError as exc:
        raise bad_request(" ".join(exc.messages)) from None
    except (authkeys.AuthKeyLimitReached, authkeys.LifecycleConflict) as exc:
        raise conflict(str(exc)) from None
    except authkeys.HolderGone:
        raise not_found(USER_NOT_FOUND if holder.is_sam else "Not found.") from None
    except authkeys.GenerateRateLimited as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        raise ApiError(429, "LKY0429", str(exc), headers=headers) from None
    answer = {"authKeyId": new.key_id, "authKey": secret, "rolledAuthKey": key.key_id}
    if key.is_live and key.revoke_at is not None:
        answer["revokeDateTime"] = int(key.revoke_at.timestamp())
    return JsonResponse(answer, status=201)


def _cancel_roll(request: HttpRequest, holder: Principal, auth_key_id: str) -> HttpResponse:
    caller = caller_of(request)
    key = _live(holder, auth_key_id)
    if not authkeys.cancel_roll(request, caller.principal, key, via_key=caller.auth_key_id):
        raise conflict("No revocation is scheduled for this AuthKey.")
    return JsonResponse(authkeys.as_response(key))


@router.get(OPERATOR_KEYS, url_name="listOperatorAuthKeys")
@operation("Operator:listOperatorAuthKeys")
def list_operator_auth_keys(request: HttpRequest, operator_id: str) -> list[dict]:
    """Return the root account's live AuthKeys (read with the session lookup on PostgreSQL)."""
    return authkeys.root_key_responses(operator_id, companion(request))


companion_read("listOperatorAuthKeys", authkeys.ROOT_KEYS_JSON, lambda path: [path["operator_id"]])


@router.post(OPERATOR_KEYS, url_name="generateOperatorAuthKey")
@operation("Operator:generateOperatorAuthKey")
def generate_operator_auth_key(request: HttpRequest, operator_id: str) -> HttpResponse:
    """Generate a root AuthKey: 201 with its ID and its secret, shown this once.

    An optional JSON body `{"description": "...", "allowedSourceNetworks": ["CIDR", ...]}`
    labels the key and limits where it works from (Latchkey's own fields).
    """
    return _generate(request, _root(operator_id), 201)


@router.delete(OPERATOR_KEYS + "/{v1keyid:auth_key_id}", url_name="deleteOperatorAuthKey")
@operation("Operator:deleteOperatorAuthKey")
def delete_operator_auth_key(
    request: HttpRequest, operator_id: str, auth_key_id: str
) -> HttpResponse:
    """Revoke a root AuthKey and every API session made from it."""
    return _revoke(request, _root(operator_id), auth_key_id)


@router.put(
    OPERATOR_KEYS + "/{v1keyid:auth_key_id}/source_networks",
    url_name="updateOperatorAuthKeySourceNetworks",
)
@operation("Operator:updateOperatorAuthKeySourceNetworks")
def update_operator_auth_key_source_networks(
    request: HttpRequest, operator_id: str, auth_key_id: str, body: SourceNetworksRequest
) -> dict:
    """Set where a root AuthKey may be used from (CIDRs; an empty list: anywhere).

    Open sessions of the key are held to the new list from their next call.
    """
    return _set_networks(request, _root(operator_id), auth_key_id, body)


@router.get(USER_KEYS, url_name="listUserAuthKeys")
@operation("User:listUserAuthKeys")
def list_user_auth_keys(request: HttpRequest, operator_id: str, user_name: str) -> list[dict]:
    """Return a SAM user's live AuthKeys."""
    return [authkeys.as_response(k) for k in authkeys.live_keys(_user(operator_id, user_name))]


@router.post(USER_KEYS, url_name="generateUserAuthKey")
@operation("User:generateUserAuthKey")
def generate_user_auth_key(request: HttpRequest, operator_id: str, user_name: str) -> HttpResponse:
    """Generate a SAM user's AuthKey: 200 (not 201, per the contract) with ID and secret.

    An optional JSON body `{"description": "...", "allowedSourceNetworks": ["CIDR", ...]}`
    labels the key and limits where it works from (Latchkey's own fields).
    """
    return _generate(request, _user(operator_id, user_name), 200)


@router.get(USER_KEYS + "/{v1keyid:auth_key_id}", url_name="getUserAuthKey")
@operation("User:getUserAuthKey")
def get_user_auth_key(
    request: HttpRequest, operator_id: str, user_name: str, auth_key_id: str
) -> dict:
    """Return one live AuthKey of a SAM user."""
    key = authkeys.get_live_key(_user(operator_id, user_name), auth_key_id)
    if key is None:
        raise not_found(KEY_NOT_FOUND)
    return authkeys.as_response(key)


@router.delete(USER_KEYS + "/{v1keyid:auth_key_id}", url_name="deleteUserAuthKey")
@operation("User:deleteUserAuthKey")
def delete_user_auth_key(
    request: HttpRequest, operator_id: str, user_name: str, auth_key_id: str
) -> HttpResponse:
    """Revoke a SAM user's AuthKey and every API session made from it."""
    return _revoke(request, _user(operator_id, user_name), auth_key_id)


@router.put(
    USER_KEYS + "/{v1keyid:auth_key_id}/source_networks",
    url_name="updateUserAuthKeySourceNetworks",
)
@operation("User:updateUserAuthKeySourceNetworks")
def update_user_auth_key_source_networks(
    request: HttpRequest,
    operator_id: str,
    user_name: str,
    auth_key_id: str,
    body: SourceNetworksRequest,
) -> dict:
    """Set where a SAM user's AuthKey may be used from (CIDRs; an empty list: anywhere).

    Open sessions of the key are held to the new list from their next call.
    """
    return _set_networks(request, _user(operator_id, user_name), auth_key_id, body)


# Latchkey's own lifecycle operations (docs/authkeys.md), additive to the contract.


@router.put(
    OPERATOR_KEYS + "/{v1keyid:auth_key_id}/deactivate", url_name="deactivateOperatorAuthKey"
)
@operation("Operator:deactivateOperatorAuthKey")
def deactivate_operator_auth_key(
    request: HttpRequest, operator_id: str, auth_key_id: str
) -> HttpResponse:
    """Deactivate a root AuthKey: no exchange, its sessions end; it keeps its slot."""
    return _set_active(request, _root(operator_id), auth_key_id, False)


@router.put(OPERATOR_KEYS + "/{v1keyid:auth_key_id}/activate", url_name="activateOperatorAuthKey")
@operation("Operator:activateOperatorAuthKey")
def activate_operator_auth_key(
    request: HttpRequest, operator_id: str, auth_key_id: str
) -> HttpResponse:
    """Reactivate a deactivated root AuthKey (its old sessions stay ended)."""
    return _set_active(request, _root(operator_id), auth_key_id, True)


@router.post(OPERATOR_KEYS + "/{v1keyid:auth_key_id}/roll", url_name="rollOperatorAuthKey")
@operation("Operator:rollOperatorAuthKey")
def roll_operator_auth_key(
    request: HttpRequest, operator_id: str, auth_key_id: str
) -> HttpResponse:
    """Generate a root AuthKey's replacement (201, its secret this once) and schedule the
    old key's revocation after `revokeAfterSeconds` (0 to 604800)."""
    return _roll(request, _root(operator_id), auth_key_id)


@router.delete(OPERATOR_KEYS + "/{v1keyid:auth_key_id}/roll", url_name="cancelOperatorAuthKeyRoll")
@operation("Operator:cancelOperatorAuthKeyRoll")
def cancel_operator_auth_key_roll(
    request: HttpRequest, operator_id: str, auth_key_id: str
) -> HttpResponse:
    """Cancel a root AuthKey's scheduled revocation (409 if none is scheduled)."""
    return _cancel_roll(request, _root(operator_id), auth_key_id)


@router.put(USER_KEYS + "/{v1keyid:auth_key_id}/deactivate", url_name="deactivateUserAuthKey")
@operation("User:deactivateUserAuthKey")
def deactivate_user_auth_key(
    request: HttpRequest, operator_id: str, user_name: str, auth_key_id: str
) -> HttpResponse:
    """Deactivate a SAM user's AuthKey: no exchange, its sessions end; it keeps its slot."""
    return _set_active(request, _user(operator_id, user_name), auth_key_id, False)


@router.put(USER_KEYS + "/{v1keyid:auth_key_id}/activate", url_name="activateUserAuthKey")
@operation("User:activateUserAuthKey")
def activate_user_auth_key(
    request: HttpRequest, operator_id: str, user_name: str, auth_key_id: str
) -> HttpResponse:
    """Reactivate a SAM user's deactivated AuthKey (its old sessions stay ended)."""
    return _set_active(request, _user(operator_id, user_name), auth_key_id, True)


@router.post(USER_KEYS + "/{v1keyid:auth_key_id}/roll", url_name="rollUserAuthKey")
@operation("User:rollUserAuthKey")
def roll_user_auth_key(
    request: HttpRequest, operator_id: str, user_name: str, auth_key_id: str
) -> HttpResponse:
    """Generate a SAM user's AuthKey replacement (201, its secret this once) and schedule
    the old key's revocation after `revokeAfterSeconds` (0 to 604800)."""
    return _roll(request, _user(operator_id, user_name), auth_key_id)


@router.delete(USER_KEYS + "/{v1keyid:auth_key_id}/roll", url_name="cancelUserAuthKeyRoll")
@operation("User:cancelUserAuthKeyRoll")
def cancel_user_auth_key_roll(
    request: HttpRequest, operator_id: str, user_name: str, auth_key_id: str
) -> HttpResponse:
    """Cancel a SAM user's AuthKey's scheduled revocation (409 if none is scheduled)."""
    return _cancel_roll(request, _user(operator_id, user_name), auth_key_id)
