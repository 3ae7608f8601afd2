"""Passkeys (WebAuthn) for root and SAM users: register several (a name each), list, remove,
and use one as the second factor or alone for console sign-in. The `webauthn` library
checks every ceremony; this module keeps the one-time challenges and the stored keys.

The relying party ID is the request's host name (an IP address is not a valid RP ID;
http://localhost is a secure context, which the browser tests use). A challenge lives in
the browser's server-side session for CHALLENGE_SECONDS, for one purpose, and is spent by
the first verification that reads it. Only public keys are stored.
"""

import hashlib
import json
import secrets
import time

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import Principal
from security import audit
from security.models import Passkey

RP_NAME = "Latchkey"
SESSION_KEY = "latchkey.webauthn"
CHALLENGE_SECONDS = 300
MAX_PASSKEYS = 10
MAX_NAME = 100
MAX_CREDENTIAL_JSON = 16_384


class PasskeyError(Exception):
    """A refused passkey ceremony or change; the message is safe to show."""


def rp_id(request: HttpRequest) -> str:
    """Return the relying party ID: the host name the browser used, without the port."""
    return split_domain_port(request.get_host())[0]


def origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _id_hash(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


def _remember(request: HttpRequest, purpose: str, challenge: bytes, principal_pk=None) -> None:
    request.session[SESSION_KEY] = {
        "purpose": purpose,
        "challenge": bytes_to_base64url(challenge),
        "until": int(time.time()) + CHALLENGE_SECONDS,
        "pk": principal_pk,
    }


def _spend(request: HttpRequest, purpose: str) -> dict:
    state = request.session.pop(SESSION_KEY, None)
    if not isinstance(state, dict) or state.get("purpose") != purpose:
        raise PasskeyError("Start again: the passkey request expired.")
    if state.get("until", 0) <= time.time():
        raise PasskeyError("Start again: the passkey request expired.")
    return state


def _parse(credential: str) -> dict:
    if not isinstance(credential, str) or len(credential) > MAX_CREDENTIAL_JSON:
        raise PasskeyError("The passkey answer is not valid.")
    try:
        value = json.loads(credential)
    except ValueError:
        raise PasskeyError("The passkey answer is not valid.") from None
    if not isinstance(value, dict):
        raise PasskeyError("The passkey answer is not valid.")
    return value


def _user_handle(principal: Principal) -> bytes:
    """A stable random handle per principal (not its name: the authenticator stores it)."""
    found = Passkey.objects.filter(principal=principal).values_list("user_handle", flat=True)
    first = found.first()
    return base64url_to_bytes(first) if first else secrets.token_bytes(32)


def passkeys_of(principal: Principal):
    return Passkey.objects.filter(principal_id=principal.pk).order_by("created_at", "id")


# Registration -------------------------------------------------------------------------


def registration_options(request: HttpRequest, principal: Principal) -> str:
    """Return the creation options (JSON) for a new passkey of `principal` (the caller)."""
    handle = _user_handle(principal)
    name = (
        principal.email if principal.is_root else f"{principal.user_name}@{principal.operator_id}"
    )
    options = generate_registration_options(
        rp_id=rp_id(request),
        rp_name=RP_NAME,
        user_id=handle,
        user_name=name,
        user_display_name=name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(p.credential_id)) for p in passkeys_of(principal)
        ],
    )
    _remember(request, "register", options.challenge, principal.pk)
    request.session["latchkey.webauthn.handle"] = bytes_to_base64url(handle)
    return options_to_json(options)


def validate_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise PasskeyError(f"Name the passkey (1-{MAX_NAME} characters, no control characters).")
    return name


def register(
    request: HttpRequest, principal: Principal, name: str, credential: str, api: str
) -> Passkey:
    """Verify the browser's answer to the creation options and store the new passkey."""
    name = validate_name(name)
    state = _spend(request, "register")
    handle = request.session.pop("latchkey.webauthn.handle", "")
    if state.get("pk") != principal.pk or not handle:
        raise PasskeyError("Start again: the passkey request expired.")
    try:
        verified = verify_registration_response(
            credential=_parse(credential),
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
            require_user_verification=True,
        )
    except WebAuthnException:
        raise PasskeyError("The passkey could not be verified. Try again.") from None
    with transaction.atomic():
        if passkeys_of(principal).count() >= MAX_PASSKEYS:
            raise PasskeyError(f"At most {MAX_PASSKEYS} passkeys: remove one first.")
        try:
            with transaction.atomic():
                passkey = Passkey.objects.create(
                    principal=principal,
                    name=name,
                    credential_id=verified.credential_id,
                    credential_id_hash=_id_hash(verified.credential_id),
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    user_handle=handle,
                )
        except IntegrityError:
            raise PasskeyError("This passkey is registered already.") from None
        audit.record(
            request,
            api,
            operator=principal.operator_id,
            principal=principal,
            target=principal.user_name or "root",
            details={"passkey": name},
        )
    return passkey


@transaction.atomic
def remove(request: HttpRequest, actor: Principal, passkey: Passkey, api: str) -> None:
    subject = passkey.principal
    name = passkey.name
    passkey.delete()
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        target=subject.user_name or "root",
        details={"passkey": name},
    )


# Sign-in ------------------------------------------------------------------------------


def authentication_options(request: HttpRequest, principal: Principal | None) -> str:
    """Return request options (JSON): for a known principal (second step), its passkeys;
    with none (passkey-only sign-in), any discoverable passkey of this site."""
    allow = []
    if principal is not None:
        allow = [
            PublicKeyCredentialDescriptor(id=bytes(p.credential_id)) for p in passkeys_of(principal)
        ]
    options = generate_authentication_options(
        rp_id=rp_id(request),
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _remember(request, "signin", options.challenge, principal.pk if principal else None)
    return options_to_json(options)


def authenticate(request: HttpRequest, credential: str) -> Passkey:
    """Verify the browser's assertion; return the passkey it proved (sign count updated)."""
    state = _spend(request, "signin")
    answer = _parse(credential)
    raw_id = answer.get("rawId") or answer.get("id")
    try:
        credential_id = base64url_to_bytes(raw_id) if isinstance(raw_id, str) else b""
    except ValueError:
        credential_id = b""
    passkey = (
        Passkey.objects.select_related("principal", "principal__operator")
        .filter(credential_id_hash=_id_hash(credential_id))
        .first()
    )
    if passkey is None or not passkey.principal.is_active:
        raise PasskeyError("This passkey is not registered here.")
    if state.get("pk") is not None and state["pk"] != passkey.principal_id:
        raise PasskeyError("This passkey belongs to another account.")
    try:
        verified = verify_authentication_response(
            credential=answer,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException:
        raise PasskeyError("The passkey could not be verified.") from None
    Passkey.objects.filter(pk=passkey.pk).update(
        sign_count=verified.new_sign_count, last_used_at=timezone.now()
    )
    return passkey
