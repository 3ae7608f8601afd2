"""Credential-set types: their fields, and the validation of what a caller submits.

Every message names a field and a rule, never a submitted value, so that an error can be
shown, logged or returned as it is.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from cryptography import x509

from accounts.identifiers import NAME_RULE, is_valid_name
from console import secretscan
from security import keymaterial

DESCRIPTION_MAX = 1000


# --- errors -----------------------------------------------------------------------------


class CredentialError(Exception):
    """Base class: the message is safe to show (it never contains a submitted value)."""


class CredentialsInvalid(CredentialError):
    """Bad input; `errors` maps a field name ("credentials.key", "type", …) to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(f"{name}: {message}" for name, message in self.errors.items()))


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


@dataclass(frozen=True)
class CertificateFacts:
    subject: str
    expires_at: datetime


@dataclass(frozen=True)
class CleanFields:
    """A set's complete, normalised fields and the certificate facts learnt parsing them.

    Validation parses each PEM value once; sealing takes the facts from here instead of
    parsing again (keymaterial.py says why parsing is the expensive part).
    """

    values: dict[str, str]
    certificate: CertificateFacts | None = None


def _parse(spec: Field, value: str) -> object:
    """Return the parsed form of a PEM field (None for other kinds); raise KeyMaterialError."""
    if spec.kind == "pem-cert":
        return keymaterial.load_certificates(value, at_most=1)[0]
    if spec.kind == "pem-certs":
        return keymaterial.load_certificates(value)
    if spec.kind == "pem-key":
        return keymaterial.load_private_key(value)
    return None


def _check_value(spec: Field, value: object) -> tuple[str, object]:
    """Return (normalised value, parsed PEM or None), or raise ValueError (no value in it)."""
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
    if spec.kind == "json-object":
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
    return value, _parse(spec, value)


def _parsed_or_parse(name: str, values: dict[str, str], parsed: dict[str, object]) -> object:
    """Return a field's parsed PEM, parsing a value kept from the stored record (once)."""
    if name not in parsed:
        try:
            parsed[name] = _parse(TYPES["x509"].field_named(name), values[name])  # type: ignore[arg-type]
        except keymaterial.KeyMaterialError as exc:  # stored before today's bounds
            raise CredentialsInvalid({f"credentials.{name}": str(exc)}) from None
    return parsed[name]


def _x509_facts(values: dict[str, str], parsed: dict[str, object]) -> CertificateFacts:
    """Check that the key matches the certificate; return the certificate's public facts.

    The stored private key is parsed (the expensive part) only when a new certificate must
    be matched against it: a stored pair was matched when it was stored.
    """
    given = set(parsed) & {"cert", "key"}
    cert = cast(x509.Certificate, _parsed_or_parse("cert", values, parsed))
    if given:
        key = cast(keymaterial.PrivateKey, _parsed_or_parse("key", values, parsed))
        try:
            cert_key = keymaterial.certificate_public_key(cert)
        except keymaterial.KeyMaterialError as exc:
            raise CredentialsInvalid({"credentials.cert": str(exc)}) from None
        if keymaterial.public_key_der(key.public_key()) != keymaterial.public_key_der(cert_key):
            raise CredentialsInvalid(
                {"credentials.key": "does not match the certificate's public key."}
            )
    return CertificateFacts(cert.subject.rfc4514_string()[:1000], cert.not_valid_after_utc)


def validate_fields(
    kind: object, submitted: object, current: Mapping[str, str] | None = None
) -> CleanFields:
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
    values: dict[str, str] = {}
    parsed: dict[str, object] = {}
    for spec in schema.fields:
        value = submitted.get(spec.name)
        if (value is None or value == "") and current and current.get(spec.name):
            values[spec.name] = current[spec.name]
            continue
        if value is None or value == "":
            if spec.name in submitted and value is None:
                errors[f"credentials.{spec.name}"] = "must be a string."
            elif spec.required:
                errors[f"credentials.{spec.name}"] = "is required."
            continue
        try:
            values[spec.name], parsed_value = _check_value(spec, value)
        except ValueError as exc:
            errors[f"credentials.{spec.name}"] = str(exc)
            continue
        if parsed_value is not None:
            parsed[spec.name] = parsed_value
    if errors:
        raise CredentialsInvalid(errors)
    if kind == "x509":
        return CleanFields(values, _x509_facts(values, parsed))
    return CleanFields(values)


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
