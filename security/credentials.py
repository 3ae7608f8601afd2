"""Credential sets: queries and the commands that create, update, delete and use them.

The console and the JSON API both call these functions. Secrets travel in one direction
only: in through `create_credential_set` / `update_credential_set`, sealed at once, and out
only through `use_credential_set` (for the platform acting on a device's behalf). Nothing
here logs, audits or returns a secret value; error messages name fields, never values.
Types and validation live in credential_schemas.py, sealing in credential_sealing.py,
master-key rotation in credential_rotation.py.
"""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.identifiers import is_valid_name
from accounts.models import Operator, Principal
from security import audit, credential_rate
from security.credential_rate import WriteRateLimited as WriteRateLimited
from security.credential_schemas import (
    TYPES,
    CleanFields,
    CredentialError,
    CredentialsInvalid,
    validate_credentials_id,
    validate_description,
    validate_fields,
)
from security.credential_sealing import CredentialUnavailable, open_fields, seal_into
from security.models import CredentialSet, GroupServiceConfig

EXPIRY_WARNING = timedelta(days=30)
UNREADABLE_UPDATE = (
    "This credential set cannot be read any more, so fields left empty cannot keep their "
    "values. Enter every field of its type to replace it."
)


# --- errors -----------------------------------------------------------------------------


class CredentialExists(CredentialError):
    pass


class QuotaExceeded(CredentialError):
    pass


class CredentialGone(CredentialError):
    """The set was deleted by another request while this one was changing it."""


class CredentialInUse(CredentialError):
    def __init__(self, credentials_id: str, group_names: list[str]):
        self.group_names = group_names
        super().__init__(
            f"The credential set {credentials_id} is used by "
            f"{'the group' if len(group_names) == 1 else 'the groups'} "
            f"{', '.join(group_names)}. Remove it from their service configurations first."
        )


# --- queries ----------------------------------------------------------------------------


SORTS = {
    "id": ("credentials_id",),
    "-id": ("-credentials_id",),
    "updated": ("updated_at", "credentials_id"),
    "-updated": ("-updated_at", "credentials_id"),
}


def credential_sets(
    operator: Operator | str, sort: str = "id", text: str = ""
) -> QuerySet[CredentialSet]:
    """Return the operator's credential sets (nothing of another operator), sorted.

    With text, only the sets whose ID, type or description holds it.
    """
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    found = CredentialSet.objects.filter(operator_id=operator_id)
    if text:
        found = found.filter(
            Q(credentials_id__icontains=text)
            | Q(type__icontains=text)
            | Q(description__icontains=text)
        )
    return found.defer("ciphertext", "wrapped_key").order_by(*SORTS.get(sort, SORTS["id"]))


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


def _shown_id(credentials_id: object) -> str:
    return credentials_id if is_valid_name(credentials_id) else ""  # type: ignore[return-value]


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
    """Validate, seal and store a new set within the operator's quota; return it.

    Raise WriteRateLimited past LATCHKEY_CREDENTIAL_WRITES_PER_HOUR (before any parsing),
    CredentialsInvalid, CredentialExists or QuotaExceeded.
    """
    api = "Credential:createCredential"
    credential_rate.count_attempt(request, actor, api, _shown_id(credentials_id), auth_key_id)
    operator_id = actor.operator_id
    errors: dict[str, str] = {}
    clean_description = clean = None
    try:
        validate_credentials_id(credentials_id)
    except CredentialsInvalid as exc:
        errors.update(exc.errors)
    try:
        clean_description = validate_description(description)
    except CredentialsInvalid as exc:
        errors.update(exc.errors)
    try:
        clean = validate_fields(kind, fields)  # parses each PEM value once, for good
    except CredentialsInvalid as exc:
        errors.update(exc.errors)
    if errors or clean is None or clean_description is None:
        raise CredentialsInvalid(errors)
    cs = CredentialSet(
        operator_id=operator_id,
        credentials_id=credentials_id,
        type=kind,
        description=clean_description,
    )
    seal_into(cs, clean)  # CPU work outside the locked section
    try:
        with transaction.atomic():
            # The operator row lock serialises creates of one operator on PostgreSQL; on
            # SQLite the IMMEDIATE transaction has already taken the database write lock.
            # NO KEY UPDATE: it must not block the key-share locks that inserting rows that
            # refer to the operator takes (an audit entry written meanwhile by another
            # request holds its chain head while it waits for one: a deadlock otherwise).
            operator = Operator.objects.select_for_update(no_key=True).get(pk=operator_id)
            if count_for(operator_id) >= operator.credential_quota:
                raise QuotaExceeded(quota_message(operator.credential_quota))
            with transaction.atomic():
                cs.save(force_insert=True)
            _audit(request, actor, api, cs.credentials_id, cs.type, auth_key_id=auth_key_id)
    except IntegrityError:
        raise CredentialExists(
            f"A credential set with the ID {credentials_id} already exists."
        ) from None
    return cs


def _current_fields(cs: CredentialSet, kind: str, submitted: object) -> dict[str, str] | None:
    """Return the stored fields that an update keeping the type may fall back on.

    Nothing is opened when the submission gives every field of the type. A record that
    cannot be opened (its master key retired, or damaged) may be overwritten whole: then
    every required field must be given, and optional ones left out are dropped.
    """
    schema = TYPES.get(kind)
    given = submitted if isinstance(submitted, dict) else {}
    if schema is None or all(given.get(f.name) for f in schema.fields):
        return None
    try:
        return open_fields(cs)
    except CredentialUnavailable:
        if all(given.get(f.name) for f in schema.fields if f.required):
            return None
        raise CredentialUnavailable(UNREADABLE_UPDATE) from None


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
    api = "Credential:updateCredential"
    credential_rate.count_attempt(request, actor, api, cs.credentials_id, auth_key_id)
    new_kind = cs.type if kind is None else kind
    errors: dict[str, str] = {}
    new_description = cs.description
    if description is not None:
        try:
            new_description = validate_description(description)
        except CredentialsInvalid as exc:
            errors.update(exc.errors)
    clean: CleanFields | None = None
    if fields is not None or new_kind != cs.type:
        submitted = fields if fields is not None else {}
        current = None
        if new_kind == cs.type and keep_missing:
            current = _current_fields(cs, cs.type, submitted)
        try:
            clean = validate_fields(new_kind, submitted, current)
        except CredentialsInvalid as exc:
            errors.update(exc.errors)
    if errors:
        raise CredentialsInvalid(errors)
    with transaction.atomic():
        locked = CredentialSet.objects.select_for_update().filter(pk=cs.pk).first()
        if locked is None:  # deleted since it was looked up: answered like a missing set
            raise CredentialGone("No such credential set.")
        locked.description = new_description
        if clean is not None:
            locked.type = new_kind  # type: ignore[assignment]
            seal_into(locked, clean)
        locked.updated_at = timezone.now()
        locked.save()
        _audit(
            request,
            actor,
            api,
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
    api = "Credential:deleteCredential"
    credential_rate.count_attempt(request, actor, api, cs.credentials_id, auth_key_id)
    with transaction.atomic():
        locked = CredentialSet.objects.select_for_update().filter(pk=cs.pk).first()
        if locked is None:
            return
        users = groups_using(locked)
        if users:
            raise CredentialInUse(locked.credentials_id, users)
        locked.delete()
        _audit(request, actor, api, cs.credentials_id, cs.type, auth_key_id=auth_key_id)


def use_credential_set(operator: Operator | str, credentials_id: str) -> dict[str, str]:
    """Return the decrypted fields for the platform's own use and record the use time.

    Only server-side integrations call this; no console view or API handler does.
    """
    cs = get_credential_set(operator, credentials_id)
    if cs is None:
        raise CredentialUnavailable("No such credential set.")
    fields = open_fields(cs)
    now = timezone.now()
    CredentialSet.objects.filter(pk=cs.pk).update(last_used_at=now)
    return fields


def epoch_seconds(value: datetime | None) -> int:
    """Return UNIX seconds for the API (0 for "never"; the contract forbids null)."""
    if value is None:
        return 0
    return int(value.astimezone(UTC).timestamp())
