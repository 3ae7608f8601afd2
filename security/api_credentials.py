"""JSON API: credential sets (soracom-api.md §4.8). Secrets go in, never out.

`credentials` is always `{}` in responses; `lastUsedDateTime` is 0 until the platform first
uses the set (the contract marks the field required and clients reject null).
"""

from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Router

from console.api import ApiError, StrictSchema, bad_request, empty, not_found
from security import credentials
from security.api_access import caller_of, operation
from security.models import CredentialSet

router = Router()


class CredentialsBody(StrictSchema):
    type: str
    description: str = ""
    credentials: dict[str, Any]


class CredentialsUpdateBody(StrictSchema):
    type: str | None = None
    description: str | None = None
    credentials: dict[str, Any] | None = None


def credentials_model(cs: CredentialSet) -> dict[str, Any]:
    """Return the contract's CredentialsModel: identity and times, never a secret."""
    return {
        "credentialsId": cs.credentials_id,
        "type": cs.type,
        "description": cs.description,
        "credentials": {},
        "createDateTime": credentials.epoch_seconds(cs.created_at),
        "updateDateTime": credentials.epoch_seconds(cs.updated_at),
        "lastUsedDateTime": credentials.epoch_seconds(cs.last_used_at),
    }


def _api_error(exc: credentials.CredentialError) -> ApiError:
    """Bad input is 400; gone meanwhile 404; too many writes 429; duplicate, quota, in use 409."""
    if isinstance(exc, credentials.CredentialsInvalid):
        return bad_request(str(exc))
    if isinstance(exc, credentials.CredentialGone):
        return not_found(str(exc))
    if isinstance(exc, credentials.WriteRateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        return ApiError(429, "LKY0429", str(exc), headers=headers)
    return ApiError(409, "LKY0409", str(exc))


def _existing(request: HttpRequest, credentials_id: str) -> CredentialSet:
    cs = credentials.get_credential_set(caller_of(request).operator_id, credentials_id)
    if cs is None:
        raise not_found("No such credential set.")
    return cs


@router.get("/credentials")
@operation("Credential:listCredentials")
def list_credentials(request: HttpRequest) -> JsonResponse:
    sets = credentials.credential_sets(caller_of(request).operator_id)
    return JsonResponse([credentials_model(cs) for cs in sets], safe=False)


@router.post("/credentials/{v1name:credentials_id}")
@operation("Credential:createCredential")
def create_credential(
    request: HttpRequest, credentials_id: str, payload: CredentialsBody
) -> JsonResponse:
    caller = caller_of(request)
    try:
        cs = credentials.create_credential_set(
            request,
            caller.principal,
            credentials_id,
            payload.type,
            payload.description,
            payload.credentials,
            auth_key_id=caller.auth_key_id,
        )
    except credentials.CredentialError as exc:
        raise _api_error(exc) from None
    return JsonResponse(credentials_model(cs), status=201)


@router.put("/credentials/{v1name:credentials_id}")
@operation("Credential:updateCredential")
def update_credential(
    request: HttpRequest, credentials_id: str, payload: CredentialsUpdateBody
) -> JsonResponse:
    caller = caller_of(request)
    cs = _existing(request, credentials_id)
    for name in payload.model_fields_set:
        if getattr(payload, name) is None:
            raise bad_request(f"Invalid {name}: null is not allowed.")
    try:
        # Given `credentials` replace the stored ones whole (PUT); left out, they are kept.
        cs = credentials.update_credential_set(
            request,
            caller.principal,
            cs,
            kind=payload.type,
            description=payload.description,
            fields=payload.credentials,
            keep_missing=False,
            auth_key_id=caller.auth_key_id,
        )
    except credentials.CredentialError as exc:
        raise _api_error(exc) from None
    return JsonResponse(credentials_model(cs))


@router.delete("/credentials/{v1name:credentials_id}")
@operation("Credential:deleteCredential")
def delete_credential(request: HttpRequest, credentials_id: str):
    caller = caller_of(request)
    cs = _existing(request, credentials_id)
    try:
        credentials.delete_credential_set(
            request, caller.principal, cs, auth_key_id=caller.auth_key_id
        )
    except credentials.CredentialError as exc:
        raise _api_error(exc) from None
    return empty(204)
