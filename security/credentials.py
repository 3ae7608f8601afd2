"""Credential sets: per-type schemas, validation, sealed storage and the per-operator quota.

The console and the JSON API both call these functions. Secrets travel in one direction
only: in through `create_credential_set` / `update_credential_set`, sealed at once, and out
only through `use_credential_set` (for the platform acting on a device's behalf). Nothing
here logs, audits or returns a secret value; error messages name fields, never values.
"""

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.identifiers import NAME_RULE, is_valid_name
from accounts.models import Operator, Principal
from console import secretscan
from security import audit, crypto
from security.models import CredentialSet, GroupServiceConfig

log = logging.getLogger("latchkey.credentials")

DESCRIPTION_MAX = 1000
EXPIRY_WARNING = timedelta(days=30)
MIN_RSA_BITS = 2048


# --- errors -----------------------------------------------------------------------------


class CredentialError(Exception):
    """Base class: the message is safe to show (it never contains a submitted value)."""


class CredentialsInvalid(CredentialError):
    """Bad input; `errors` maps a field name ("credentials.key", "type", …) to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(f"{name}: {message}" for name, message in self.errors.items()))


class CredentialExists(CredentialError):
    pass


class QuotaExceeded(CredentialError):
    pass


class CredentialInUse(CredentialError):
    def __init__(self, credentials_id: str, group_names: list[str]):
        self.group_names = group_names
        super().__init__(
            f"The credential set {credentials_id} is used by "
            f"{'the group' if len(group_names) == 1 else 'the groups'} "
            f"{', '.join(group_names)}. Remove it from their service configurations first."
        )


class CredentialUnavailable(CredentialError):
    """The stored record cannot be opened (tampered, moved, or its master key is missing)."""


# --- schemas ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    secret: bool = True
    required: bool = True
    max_length: int = 1024
    min_length: int = 1
    multiline: bool = False
    kind: str = "text"  # text, psk, pem-cert, pem-certs, pem-key, json-object, url, arn, choice
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class CredentialType:
    name: str
    label: str
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _id(name: str, label: str, max_length: int = 256) -> Field:
    return Field(name, label, secret=False, max_length=max_length)


def _secret(name: str, label: str, max_length: int = 1024) -> Field:
    return Field(name, label, max_length=max_length)


_PEM_KEY = Field(
    "key",
    "Private key (PEM)",
    max_length=16384,
    multiline=True,
    kind="pem-key",
    help="The private key that matches the certificate, PEM-encoded and unencrypted.",
)

TYPES: dict[str, CredentialType] = {
    t.name: t
    for t in (
        CredentialType("api-token-credentials", "API token", (_secret("token", "Token", 4096),)),
        CredentialType(
            "aws-credentials",
            "AWS access key",
            (
                _id("accessKeyId", "Access key ID", 128),
                _secret("secretAccessKey", "Secret access key", 256),
            ),
        ),
        CredentialType(
            "aws-iam-role-credentials",
            "AWS IAM role",
            (
                Field("roleArn", "Role ARN", secret=False, max_length=2048, kind="arn"),
                Field("externalId", "External ID", max_length=1224, min_length=2),
            ),
        ),
        CredentialType(
            "azure-credentials",
            "Azure shared access key",
            (_secret("key", "Key"), _id("policyName", "Policy name")),
        ),
        CredentialType(
            "azureIoT-credentials",
            "Azure IoT Hub",
            (
                _secret("sharedAccessKey", "Shared access key"),
                _id("sharedAccessKeyName", "Shared access key name"),
            ),
        ),
        CredentialType(
            "esrij-credentials",
            "Esri Japan",
            (Field("refererUrl", "Referer URL", secret=False, max_length=2048, kind="url"),),
        ),
        CredentialType(
            "google-service-account-json",
            "Google service account (JSON)",
            (
                Field(
                    "credentials",
                    "Service account key (JSON)",
                    max_length=16384,
                    multiline=True,
                    kind="json-object",
                    help="The JSON key file downloaded from Google Cloud, as is.",
                ),
            ),
        ),
        CredentialType(
            "googleIoT-credentials",
            "Google Cloud IoT Core",
            (
                Field(
                    "algorithm",
                    "Algorithm",
                    secret=False,
                    kind="choice",
                    choices=("RS256", "ES256"),
                    max_length=5,
                ),
                _id("deviceId", "Device ID"),
                Field(
                    "privateKey",
                    "Private key (PEM)",
                    max_length=16384,
                    multiline=True,
                    kind="pem-key",
                ),
                _id("projectId", "Project ID"),
                _id("region", "Region", 64),
                _id("registryId", "Registry ID"),
            ),
        ),
        CredentialType(
            "infoteria-platio-credentials",
            "Platio",
            (_secret("secretToken", "Secret token"), _id("tokenId", "Token ID")),
        ),
        CredentialType(
            "kii-thingif-credentials",
            "Kii Thing Interaction Framework",
            (
                _id("app_id", "App ID"),
                _secret("app_key", "App key"),
                _id("client_id", "Client ID"),
                _secret("client_secret", "Client secret"),
            ),
        ),
        CredentialType(
            "landlog-credentials",
            "LANDLOG",
            (_id("client_id", "Client ID"), _secret("client_secret", "Client secret")),
        ),
        CredentialType(
            "mmcloud-credentials",
            "MMCloud",
            (
                _secret("commandcode", "Command code"),
                _id("customerid", "Customer ID"),
                _id("machineid", "Machine ID"),
                _id("machineidtype", "Machine ID type"),
            ),
        ),
        CredentialType(
            "motionboard-credentials",
            "MotionBoard",
            (_secret("authkey", "Auth key"), _id("template", "Template"), _id("tenant", "Tenant")),
        ),
        CredentialType(
            "optim-cloud-IoT-OS-credentials",
            "OPTiM Cloud IoT OS",
            (_id("client_id", "Client ID"), _secret("client_secret", "Client secret")),
        ),
        CredentialType(
            "private-key-pem",
            "Private key (PEM)",
            (
                Field(
                    "privateKey",
                    "Private key (PEM)",
                    max_length=16384,
                    multiline=True,
                    kind="pem-key",
                ),
            ),
        ),
        CredentialType(
            "psk",
            "Pre-shared key",
            (
                Field(
                    "key",
                    "Pre-shared key",
                    min_length=8,
                    max_length=512,
                    kind="psk",
                    help="8 to 512 characters.",
                ),
            ),
        ),
        CredentialType(
            "pubnub-credentials",
            "PubNub",
            (_id("pubKey", "Publish key"), _secret("subKey", "Subscribe key")),
        ),
        CredentialType(
            "sensorcorpus-credentials",
            "SensorCorpus",
            (_secret("session_code", "Session code"),),
        ),
        CredentialType(
            "username-password-credentials",
            "User name and password",
            (_id("username", "User name"), _secret("password", "Password")),
        ),
        CredentialType(
            "x509",
            "X.509 certificate",
            (
                Field(
                    "cert",
                    "Certificate (PEM)",
                    secret=False,
                    max_length=16384,
                    multiline=True,
                    kind="pem-cert",
                ),
                _PEM_KEY,
                Field(
                    "ca",
                    "CA certificates (PEM, optional)",
                    secret=False,
                    required=False,
                    max_length=32768,
                    multiline=True,
                    kind="pem-certs",
                ),
            ),
        ),
    )
}

TYPE_CHOICES = sorted((t.name, f"{t.name} ({t.label})") for t in TYPES.values())


# --- validation -------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SINGLE_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"^https?://[^\s/?#]+(?:[/?#]\S*)?\Z", re.IGNORECASE | re.ASCII)
_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}\Z", re.ASCII)


def _load_certs(value: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise ValueError("is not a PEM certificate.") from None
    return certs


def _load_key(value: str):
    try:
        key = serialization.load_pem_private_key(value.encode(), password=None)
    except TypeError:
        raise ValueError("is an encrypted private key; give it unencrypted.") from None
    except ValueError:
        raise ValueError("is not a PEM private key.") from None
    except Exception:  # cryptography may raise UnsupportedAlgorithm for exotic keys
        raise ValueError("is not a supported PEM private key.") from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(f"is an RSA key shorter than {MIN_RSA_BITS} bits.")
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise ValueError("is not an RSA, EC or EdDSA private key.")
    return key


def _public_bytes(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_value(spec: Field, value: object) -> str:
    """Return the normalised value of one field, or raise ValueError (message without value)."""
    if not isinstance(value, str):
        raise ValueError("must be a string.")
    if spec.multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > spec.max_length:
        raise ValueError(f"is too long (at most {spec.max_length} characters).")
    if "\x00" in value:
        raise ValueError("contains a NUL character.")
    if (_CONTROL if spec.multiline else _SINGLE_LINE_CONTROL).search(value):
        raise ValueError("contains control characters.")
    if not spec.secret and not spec.multiline and value != value.strip():
        raise ValueError("has leading or trailing spaces.")
    if len(value) < spec.min_length:
        raise ValueError(f"is too short (at least {spec.min_length} characters).")
    if spec.kind in ("pem-cert", "pem-certs"):
        certs = _load_certs(value)
        if spec.kind == "pem-cert" and len(certs) != 1:
            raise ValueError("must hold exactly one certificate.")
    elif spec.kind == "pem-key":
        _load_key(value)
    elif spec.kind == "json-object":
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError("is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise ValueError("must be a JSON object.")
    elif spec.kind == "url" and not _URL.match(value):
        raise ValueError("must be an http or https URL.")
    elif spec.kind == "arn" and not _ARN.match(value):
        raise ValueError("must be an IAM role ARN (arn:aws:iam::123456789012:role/name).")
    elif spec.kind == "choice" and value not in spec.choices:
        raise ValueError(f"must be one of {', '.join(spec.choices)}.")
    return value


@dataclass(frozen=True)
class CertificateFacts:
    subject: str
    expires_at: datetime


def _x509_facts(fields: dict[str, str]) -> CertificateFacts:
    """Check that the key matches the certificate; return the certificate's public facts."""
    cert = _load_certs(fields["cert"])[0]
    key = _load_key(fields["key"])
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        raise CredentialsInvalid(
            {"credentials.key": "does not match the certificate's public key."}
        )
    return CertificateFacts(cert.subject.rfc4514_string()[:1000], cert.not_valid_after_utc)


def validate_fields(
    kind: object, submitted: object, current: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the complete, normalised fields of a `kind` set, or raise CredentialsInvalid.

    `current` (an update that keeps the type) supplies any field that is left out or empty,
    so that a secret never has to be re-entered to change something else.
    """
    if not isinstance(kind, str) or kind not in TYPES:
        raise CredentialsInvalid({"type": "is not a known credential set type."})
    if not isinstance(submitted, dict):
        raise CredentialsInvalid({"credentials": "must be a JSON object."})
    schema = TYPES[kind]
    errors: dict[str, str] = {}
    for name in submitted:
        if schema.field_named(name) is None:
            shown = (
                name
                if is_valid_name(name) and not secretscan.contains_secret(name)
                else "(an unknown field)"
            )
            errors[f"credentials.{shown}"] = f"is not a field of the {kind} type."
    result: dict[str, str] = {}
    for spec in schema.fields:
        value = submitted.get(spec.name)
        if (value is None or value == "") and current and current.get(spec.name):
            result[spec.name] = current[spec.name]
            continue
        if value is None or value == "":
            if spec.name in submitted and value is None:
                errors[f"credentials.{spec.name}"] = "must be a string."
            elif spec.required:
                errors[f"credentials.{spec.name}"] = "is required."
            continue
        try:
            result[spec.name] = _check_value(spec, value)
        except ValueError as exc:
            errors[f"credentials.{spec.name}"] = str(exc)
    if errors:
        raise CredentialsInvalid(errors)
    if kind == "x509":
        _x509_facts(result)  # raises on a key that does not match
    return result


def validate_description(description: object) -> str:
    if not isinstance(description, str):
        raise CredentialsInvalid({"description": "must be a string."})
    if len(description) > DESCRIPTION_MAX:
        raise CredentialsInvalid({"description": f"is too long (at most {DESCRIPTION_MAX})."})
    if _CONTROL.search(description):
        raise CredentialsInvalid({"description": "contains control characters."})
    kind = secretscan.first_kind(description)
    if kind is not None:
        raise CredentialsInvalid({"description": secretscan.fragment(kind)})
    return description.replace("\r\n", "\n")


def validate_credentials_id(credentials_id: object) -> str:
    if not is_valid_name(credentials_id):
        raise CredentialsInvalid({"credentialsId": f"must be {NAME_RULE}"})
    kind = secretscan.first_kind(credentials_id)
    if kind is not None:
        raise CredentialsInvalid({"credentialsId": secretscan.fragment(kind)})
    return credentials_id  # type: ignore[return-value]


# --- sealing ----------------------------------------------------------------------------


def _aad(operator_id: str, credentials_id: str, kind: str) -> bytes:
    return crypto.record_aad(operator_id, credentials_id, kind)


def _seal_into(cs: CredentialSet, fields: dict[str, str]) -> None:
    plaintext = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    sealed = crypto.seal(plaintext, _aad(cs.operator_id, cs.credentials_id, cs.type))
    cs.ciphertext, cs.wrapped_key, cs.master_key_id = (
        sealed.ciphertext,
        sealed.wrapped_key,
        sealed.master_key_id,
    )
    if cs.type == "x509":
        facts = _x509_facts(fields)
        cs.cert_subject, cs.cert_expires_at = facts.subject, facts.expires_at
    else:
        cs.cert_subject, cs.cert_expires_at = "", None


def _open(cs: CredentialSet) -> dict[str, str]:
    sealed = crypto.Sealed(bytes(cs.ciphertext), bytes(cs.wrapped_key), cs.master_key_id)
    try:
        plaintext = crypto.open_sealed(sealed, _aad(cs.operator_id, cs.credentials_id, cs.type))
        return json.loads(plaintext)
    except (crypto.DecryptionError, crypto.MasterKeyError, ValueError) as exc:
        # Internal detail for the installation's logs; the caller sees a generic error.
        log.error(
            "credential set %s/%s (row %s, master key %s) cannot be opened: %s",
            cs.operator_id,
            cs.credentials_id,
            cs.pk,
            cs.master_key_id,
            exc.__class__.__name__,
        )
        raise CredentialUnavailable(
            "This credential set cannot be read. Register its secrets again."
        ) from None


# --- queries ----------------------------------------------------------------------------


SORTS = {
    "id": ("credentials_id",),
    "-id": ("-credentials_id",),
    "updated": ("updated_at", "credentials_id"),
    "-updated": ("-updated_at", "credentials_id"),
}


def credential_sets(operator: Operator | str, sort: str = "id") -> QuerySet[CredentialSet]:
    """Return the operator's credential sets (nothing of another operator), sorted."""
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    return (
        CredentialSet.objects.filter(operator_id=operator_id)
        .defer("ciphertext", "wrapped_key")
        .order_by(*SORTS.get(sort, SORTS["id"]))
    )


def get_credential_set(operator: Operator | str, credentials_id: str) -> CredentialSet | None:
    """Return the operator's set with that ID, or None (another operator's never matches)."""
    if not is_valid_name(credentials_id):
        return None
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    return CredentialSet.objects.filter(
        operator_id=operator_id, credentials_id=credentials_id
    ).first()


def groups_using(cs: CredentialSet) -> list[str]:
    return sorted(
        set(
            GroupServiceConfig.objects.filter(credential_set=cs).values_list(
                "group__name", flat=True
            )
        )
    )


def count_for(operator: Operator | str) -> int:
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    return CredentialSet.objects.filter(operator_id=operator_id).count()


def expiry_state(cs: CredentialSet, now: datetime | None = None) -> str:
    """Return "expired", "expiring" (within 30 days), "ok" or "" (not a certificate)."""
    if cs.cert_expires_at is None:
        return ""
    now = now or timezone.now()
    if cs.cert_expires_at <= now:
        return "expired"
    if cs.cert_expires_at - now <= EXPIRY_WARNING:
        return "expiring"
    return "ok"


def quota_message(quota: int) -> str:
    return (
        f"This operator already holds {quota} credential sets, its limit. Delete one that is "
        "no longer used, or ask the administrator of this Latchkey installation to raise the "
        "operator's quota (manage.py setquota OPERATOR --credentials N, or the admin site)."
    )


def groups_by_set(operator: Operator | str) -> dict[int, list[str]]:
    """Return {credential set row ID: names of the groups whose services use it}."""
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    rows = (
        GroupServiceConfig.objects.filter(
            group__operator_id=operator_id, credential_set__isnull=False
        )
        .values_list("credential_set_id", "group__name")
        .distinct()
        .order_by("group__name")
    )
    result: dict[int, list[str]] = {}
    for set_pk, name in rows:
        names = result.setdefault(set_pk, [])
        if name not in names:
            names.append(name)
    return result


# --- commands ---------------------------------------------------------------------------


def _audit(
    request: HttpRequest | None, actor: Principal, api: str, cs_id: str, kind: str, **extra
) -> None:
    audit.record(
        request,
        api,
        operator=actor.operator_id,
        principal=actor,
        auth_key_id=extra.pop("auth_key_id", ""),
        target=cs_id,
        details={"type": kind, **extra},
    )


def create_credential_set(
    request: HttpRequest | None,
    actor: Principal,
    credentials_id: object,
    kind: object,
    description: object,
    fields: object,
    *,
    auth_key_id: str = "",
) -> CredentialSet:
    """Validate, seal and store a new set within the operator's quota; return it."""
    operator_id = actor.operator_id
    errors: dict[str, str] = {}
    for check, args in (
        (validate_credentials_id, (credentials_id,)),
        (validate_description, (description,)),
        (validate_fields, (kind, fields)),
    ):
        try:
            check(*args)
        except CredentialsInvalid as exc:
            errors.update(exc.errors)
    if errors:
        raise CredentialsInvalid(errors)
    clean = validate_fields(kind, fields)
    cs = CredentialSet(
        operator_id=operator_id,
        credentials_id=credentials_id,
        type=kind,
        description=validate_description(description),
    )
    _seal_into(cs, clean)  # CPU work outside the locked section
    try:
        with transaction.atomic():
            # The operator row lock serialises creates of one operator on PostgreSQL; on
            # SQLite the IMMEDIATE transaction has already taken the database write lock.
            operator = Operator.objects.select_for_update().get(pk=operator_id)
            if count_for(operator_id) >= operator.credential_quota:
                raise QuotaExceeded(quota_message(operator.credential_quota))
            with transaction.atomic():
                cs.save(force_insert=True)
            _audit(
                request,
                actor,
                "Credential:createCredential",
                cs.credentials_id,
                cs.type,
                auth_key_id=auth_key_id,
            )
    except IntegrityError:
        raise CredentialExists(
            f"A credential set with the ID {credentials_id} already exists."
        ) from None
    return cs


def update_credential_set(
    request: HttpRequest | None,
    actor: Principal,
    cs: CredentialSet,
    *,
    kind: object = None,
    description: object = None,
    fields: object = None,
    keep_missing: bool = True,
    auth_key_id: str = "",
) -> CredentialSet:
    """Change description and/or fields; empty fields keep their value when the type stays."""
    new_kind = cs.type if kind is None else kind
    errors: dict[str, str] = {}
    new_description = cs.description
    if description is not None:
        try:
            new_description = validate_description(description)
        except CredentialsInvalid as exc:
            errors.update(exc.errors)
    clean: dict[str, str] | None = None
    if fields is not None or new_kind != cs.type:
        same_type = new_kind == cs.type
        current = _open(cs) if (same_type and keep_missing) else None
        try:
            clean = validate_fields(new_kind, fields if fields is not None else {}, current)
        except CredentialsInvalid as exc:
            errors.update(exc.errors)
    if errors:
        raise CredentialsInvalid(errors)
    with transaction.atomic():
        locked = CredentialSet.objects.select_for_update().get(pk=cs.pk)
        locked.description = new_description
        if clean is not None:
            locked.type = new_kind  # type: ignore[assignment]
            _seal_into(locked, clean)
        locked.updated_at = timezone.now()
        locked.save()
        _audit(
            request,
            actor,
            "Credential:updateCredential",
            locked.credentials_id,
            locked.type,
            auth_key_id=auth_key_id,
            secretsChanged=clean is not None,
        )
    return locked


def delete_credential_set(
    request: HttpRequest | None, actor: Principal, cs: CredentialSet, *, auth_key_id: str = ""
) -> None:
    """Delete the set, unless a group's service configuration uses it (CredentialInUse)."""
    with transaction.atomic():
        locked = CredentialSet.objects.select_for_update().filter(pk=cs.pk).first()
        if locked is None:
            return
        users = groups_using(locked)
        if users:
            raise CredentialInUse(locked.credentials_id, users)
        locked.delete()
        _audit(
            request,
            actor,
            "Credential:deleteCredential",
            cs.credentials_id,
            cs.type,
            auth_key_id=auth_key_id,
        )


def use_credential_set(operator: Operator | str, credentials_id: str) -> dict[str, str]:
    """Return the decrypted fields for the platform's own use and record the use time.

    Only server-side integrations call this; no console view or API handler does.
    """
    cs = get_credential_set(operator, credentials_id)
    if cs is None:
        raise CredentialUnavailable("No such credential set.")
    fields = _open(cs)
    now = timezone.now()
    CredentialSet.objects.filter(pk=cs.pk).update(last_used_at=now)
    return fields


def epoch_seconds(value: datetime | None) -> int:
    """Return UNIX seconds for the API (0 for "never"; the contract forbids null)."""
    if value is None:
        return 0
    return int(value.astimezone(UTC).timestamp())


# --- master key rotation ----------------------------------------------------------------


def master_key_usage() -> dict[str, int]:
    """Return {master key ID: number of credential sets whose data key it wraps}."""
    rows = CredentialSet.objects.values_list("master_key_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def rewrap_record(pk: int) -> bool:
    """Re-wrap one record's data key under the newest master key, in its own transaction.

    Return False when there was nothing to do (already on the newest key, or deleted).
    Raise CredentialUnavailable when the record does not authenticate.
    """
    newest = crypto.newest_master_key().key_id
    with transaction.atomic():
        cs = (
            CredentialSet.objects.select_for_update()
            .filter(pk=pk)
            .exclude(master_key_id=newest)
            .first()
        )
        if cs is None:
            return False
        sealed = crypto.Sealed(bytes(cs.ciphertext), bytes(cs.wrapped_key), cs.master_key_id)
        try:
            fresh = crypto.rewrap(sealed, _aad(cs.operator_id, cs.credentials_id, cs.type))
        except (crypto.DecryptionError, crypto.MasterKeyError) as exc:
            log.error(
                "credential set %s/%s (row %s) cannot be re-wrapped: %s",
                cs.operator_id,
                cs.credentials_id,
                cs.pk,
                exc.__class__.__name__,
            )
            raise CredentialUnavailable(f"row {cs.pk} does not authenticate") from None
        # update(): the record's content and updated_at do not change, only its wrapping.
        CredentialSet.objects.filter(pk=pk).update(
            wrapped_key=fresh.wrapped_key, master_key_id=fresh.master_key_id
        )
    return True
