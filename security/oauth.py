"""OAuth 2.0 for the operator's own services: client credentials, discovery, introspection.

An AuthKey is an OAuth client: its ID the `client_id`, its secret the `client_secret`.

- `/oauth/token` (RFC 6749 §4.4) is `/v1/auth`'s AuthKey exchange
  (security/auth_exchange.py): the same throttles, last-use record, audit entry
  (`Auth:auth`, with `grant: client_credentials`) and session, whose token is the access
  token. An optional `scope` (API names or globs) narrows the session: every call needs
  both the principal's permission and the scope (accounts/policy.py). AuthKey exchanges
  never need a second factor (DESIGN.md), so the grant has no OTP to miss.
- `/oauth/introspect` (RFC 7662) and `/oauth/revoke` (RFC 7009) authenticate the calling
  AuthKey the same way (same throttles) and authorize its principal for
  `OAuth:introspectToken` / `OAuth:revokeToken`, names that statements grant. A token of
  another operator is inactive and revoking it does nothing: an answer never says whether
  a token is unknown, expired, revoked or someone else's.
- The discovery document (RFC 8414) derives every URL from LATCHKEY_ISSUER, the tokens'
  `iss`.

Errors are RFC 6749 §5.2's `{"error", "error_description"}`; every answer carries
`Cache-Control: no-store` and `Pragma: no-cache`. No answer, log line or audit entry
holds the client secret; a refused secret is never echoed.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from accounts import apisessions, policy
from accounts.context import CallContext
from accounts.models import Principal
from accounts.passwords import MAX_PASSWORD_LENGTH
from accounts.permissions import (
    InvalidScope,
    in_scope,
    known_operations,
    parse_scope,
    register_operation,
)
from accounts.tokens import ALG
from console.net import client_ip
from security import audit, auth_exchange, authkeys, failures

INTROSPECT_API = "OAuth:introspectToken"
REVOKE_API = "OAuth:revokeToken"
register_operation(INTROSPECT_API)
register_operation(REVOKE_API)

TOKEN_PATH = "/oauth/token"
INTROSPECT_PATH = "/oauth/introspect"
REVOKE_PATH = "/oauth/revoke"
JWKS_PATH = "/.well-known/jwks.json"

# What the API catalog (security/api_catalog.py) says of the names served here.
OPERATIONS: dict[str, tuple[str, str]] = {
    INTROSPECT_API: (
        "Introspect an access token of the operator (RFC 7662), authenticated with an AuthKey",
        f"POST {INTROSPECT_PATH}",
    ),
    REVOKE_API: (
        "Revoke an access token of the operator (RFC 7009), authenticated with an AuthKey",
        f"POST {REVOKE_PATH}",
    ),
}

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
GRANT = "client_credentials"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 8192
MAX_FIELDS = 16
REALM = "latchkey"


@dataclass
class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer: its code, description, status and extra headers."""

    error: str
    description: str
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def _invalid_client(description: str = "Client authentication failed.") -> OAuthError:
    # RFC 6749 §5.2: 401 with a challenge of the scheme the client used (Basic is the only
    # one a client may use here, and HTTP needs a challenge on every 401).
    challenge = f'Basic realm="{REALM}", charset="UTF-8"'
    return OAuthError("invalid_client", description, 401, {"WWW-Authenticate": challenge})


def _invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def _throttled(retry_after: int) -> OAuthError:
    return OAuthError(
        "temporarily_unavailable",
        f"Too many failed attempts. Try again in {retry_after} seconds.",
        429,
        {"Retry-After": str(retry_after)},
    )


# --- the request ---------------------------------------------------------------------------


def read_form(request: HttpRequest) -> dict[str, str]:
    """Return the form parameters of an OAuth request, or raise OAuthError(invalid_request).

    Form-encoded (RFC 6749 §3.2), in the body only (a secret in a URL lands in logs), each
    parameter at most once (§3.1), the body bounded before it is read.
    """
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise _invalid_request(f"Send the parameters as {FORM_TYPE}.")
    if request.META.get("QUERY_STRING"):
        raise _invalid_request("Send the parameters in the request body, not in the URL.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_BODY_BYTES:
        raise _invalid_request(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        text = request.read(MAX_BODY_BYTES + 1).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise _invalid_request("The request body is not a valid form.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise _invalid_request(f"The parameter {name[:40]!r} appears more than once.")
        params[name] = value
    return params


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    basic: bool  # sent with HTTP Basic (client_secret_basic)


def _basic(header: str) -> tuple[str, str]:
    """Return (client_id, client_secret) of a Basic header (RFC 6749 §2.3.1 encoding)."""
    try:
        raw = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid_client("The Basic credentials are not valid base64 of id:secret.") from None
    client_id, colon, secret = raw.partition(":")
    if not colon:
        raise _invalid_client("The Basic credentials are not valid base64 of id:secret.")
    return unquote_plus(client_id), unquote_plus(secret)


def client_of(request: HttpRequest, params: dict[str, str]) -> Client:
    """Return the client's credentials, sent one way (Basic or the body), or raise OAuthError."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if header and scheme.lower() != "basic":
        raise _invalid_client("Authenticate with HTTP Basic or client_id + client_secret.")
    if header:
        client_id, secret = _basic(value)
        if "client_secret" in params or params.get("client_id", client_id) != client_id:
            raise _invalid_request("Use one client authentication method, not two.")
        client = Client(client_id, secret, True)
    else:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if not client_id or not secret:
            raise _invalid_client("Authenticate with HTTP Basic or client_id + client_secret.")
        client = Client(client_id, secret, False)
    if len(client.client_secret) > MAX_PASSWORD_LENGTH or len(client.client_id) > 100:
        raise _invalid_client()
    return client


def _require(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise _invalid_request(f"The parameter {name} is missing.")
    return value


# --- client credentials (RFC 6749 §4.4) ------------------------------------------------------


def _narrower(
    request: HttpRequest, key_id: str, scope: tuple[str, ...]
) -> Callable[[Principal], tuple[str, ...]]:
    """Return the check of a requested scope against the verified key's principal."""

    def narrow(principal: Principal) -> tuple[str, ...]:
        if scope and not any(
            policy.may_ever_call(principal, api)
            for api in sorted(known_operations())
            if in_scope(scope, api)
        ):
            # A verified key asking for a scope it cannot use: recorded, bounded per window.
            failures.record_refusal(
                request,
                auth_exchange.AUTH_API,
                principal=principal,
                auth_key_id=key_id,
                details={"grant": GRANT, "reason": "scope"},
            )
            raise OAuthError("invalid_scope", "The scope names nothing this AuthKey may call.")
        return scope

    return narrow


def issue_token(request: HttpRequest) -> dict:
    """Answer a client-credentials token request (RFC 6749 §4.4.3), or raise OAuthError."""
    params = read_form(request)
    grant = _require(params, "grant_type")
    if grant != GRANT:
        raise OAuthError("unsupported_grant_type", f"Only {GRANT} is supported.")
    scope: tuple[str, ...] = ()
    if "scope" in params:
        try:
            scope = parse_scope(params["scope"])
        except InvalidScope as exc:
            raise OAuthError("invalid_scope", str(exc)) from None
    client = client_of(request, params)
    seconds = settings.LATCHKEY_OAUTH_TOKEN_SECONDS
    try:
        _, _, _, token = auth_exchange.exchange_authkey(
            request,
            client.client_id,
            client.client_secret,
            seconds,
            narrow=_narrower(request, client.client_id, scope),
            details={"grant": GRANT},
        )
    except auth_exchange.ExchangeFailed as failed:
        if failed.retry_after:
            raise _throttled(failed.retry_after) from None
        raise _invalid_client() from None
    answer = {"access_token": token, "token_type": "Bearer", "expires_in": seconds}
    if scope:
        answer["scope"] = " ".join(scope)
    return answer


# --- introspection (RFC 7662) and revocation (RFC 7009) --------------------------------------


def _authorized_client(request: HttpRequest, params: dict[str, str], api: str) -> Principal:
    """Return the principal of the calling AuthKey if it may call `api`, or raise OAuthError."""
    client = client_of(request, params)
    principal, key_id, retry_after = authkeys.exchange(
        request, client.client_id, client.client_secret
    )
    if principal is None:
        authkeys.record_failure(request, key_id, client.client_secret, retry_after)
        raise _throttled(retry_after) if retry_after else _invalid_client()
    ctx = CallContext(principal, api, client_ip(request), "POST", {})
    if not policy.is_allowed(ctx):
        failures.record_refusal(request, api, principal=principal, auth_key_id=key_id)
        raise OAuthError("access_denied", f"This AuthKey may not call {api}.", 403)
    request.oauth_client_key = key_id  # type: ignore[attr-defined]
    return principal


def _own_session(client: Principal, token: str) -> tuple[apisessions.ApiCaller, dict] | None:
    found = apisessions.caller_of_token(token)
    if found is None or found[0].operator_id != client.operator_id:
        return None  # another tenant's token is exactly as inactive as an unknown one
    return found


def introspect(request: HttpRequest) -> dict:
    """Answer an introspection request (RFC 7662 §2.2), or raise OAuthError."""
    params = read_form(request)
    client = _authorized_client(request, params, INTROSPECT_API)
    token = _require(params, "token")
    found = _own_session(client, token)
    if found is None:
        return {"active": False}
    caller, claims = found
    holder = caller.principal
    answer = {
        "active": True,
        "token_type": "Bearer",
        "iss": claims["iss"],
        "aud": claims.get("aud"),
        "sub": claims.get("sub"),
        "iat": claims["iat"],
        "exp": claims["exp"],
        "jti": claims["jti"],
        "operatorId": caller.operator_id,
        "username": holder.user_name if holder.is_sam else "root",
    }
    if holder.is_sam:
        answer["userName"] = holder.user_name
    if caller.auth_key_id:
        answer["client_id"] = caller.auth_key_id
    if caller.scope:
        answer["scope"] = " ".join(caller.scope)
    return answer


def revoke(request: HttpRequest) -> None:
    """End the session of a token the client may end (RFC 7009 §2.1); raise OAuthError.

    Root's keys may end any token of the operator; a SAM user's keys (allowed the name) may
    end the SAM users' tokens, never root's.
    Unknown, expired, already revoked and other tenants' tokens succeed without a change
    (RFC 7009 §2.2), so that the answer says nothing of them.
    """
    params = read_form(request)
    client = _authorized_client(request, params, REVOKE_API)
    token = _require(params, "token")
    found = _own_session(client, token)
    if found is None:
        return
    caller, _ = found
    if caller.principal.is_root and not client.is_root:
        # Root's tokens are ended by root only (no statement reaches root, SECURITY.md): a
        # SAM user's key answers as for an unknown token, saying nothing of whose it is.
        return
    with transaction.atomic():
        ended = apisessions.revoke_jti(caller.jti)
        if ended:
            audit.record(
                request,
                REVOKE_API,
                operator=client.operator_id,
                principal=client,
                auth_key_id=getattr(request, "oauth_client_key", ""),
                target=caller.principal.user_name or "root",
                details={"authKeyId": caller.auth_key_id, "sessionsEnded": ended},
            )


# --- discovery (RFC 8414) --------------------------------------------------------------------


def metadata() -> dict:
    """Return the authorization server metadata, every URL derived from the issuer."""
    issuer = settings.LATCHKEY_ISSUER
    return {
        "issuer": issuer,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "introspection_endpoint": issuer + INTROSPECT_PATH,
        "revocation_endpoint": issuer + REVOKE_PATH,
        "grant_types_supported": [GRANT],
        # No authorization endpoint, so no response type: the honest answer is none.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        # The access tokens are JWTs signed with this algorithm, keys at jwks_uri.
        "access_token_signing_alg_values_supported": [ALG],
        "id_token_signing_alg_values_supported": [ALG],
        "service_documentation": issuer + "/api/",
    }
