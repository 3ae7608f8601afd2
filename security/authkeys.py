"""AuthKeys: generation, hashing, verification, the token exchange, revocation, the limit.

Formats (soracom-api.md §3, SECURITY.md T3/E5):
- ID: `keyId-` + 32 lowercase alphanumerics (public; shown in lists and the audit trail).
- Secret: `secret-` + 64 base62 characters: 58 from the CSPRNG (about 345 bits) and a
  6-character tail that encodes a CRC32 of everything before it, GitHub-style, so that a
  scanner can recognise a real secret and a mistyped one is refused before any database
  look-up. The checksum is no defence against an attacker (anyone can compute a CRC);
  the entropy is.

Storage: HMAC-SHA256 over "<key ID>:<secret>" under a key derived from the server-side
pepper and a purpose string. The pepper is not in the database, so a stolen database
holds nothing to test guesses against; the key ID in the message binds each hash to its
row. Comparison is constant-time. The secret exists in memory only while it is shown
once (generate) or checked (exchange); it is never logged, stored, cached or audited.

The limit: at most two live keys per principal, enforced by the database through a
unique (principal, slot) constraint with slot in {1, 2}; a revoked key frees its slot and
stays as a tombstone.
"""

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import apisessions, rowlocks, throttle
from accounts.identifiers import KEY_ID_RE, is_valid_name, refuse_secret
from accounts.models import Operator, Principal
from console import hotsql, net, secretscan
from console.net import client_ip, throttle_source
from security import audit, failures, notifications
from security.models import AuditEntry, AuthKey

KEY_ID_PREFIX = "keyId-"
# The secret's format belongs to console/secretscan.py, the one detector of leaked secrets.
SECRET_PREFIX = secretscan.AUTHKEY_SECRET_PREFIX
KEY_ID_LENGTH = 32
SECRET_LENGTH = secretscan.AUTHKEY_SECRET_LENGTH
CHECKSUM_LENGTH = secretscan.CHECKSUM_LENGTH
MAX_LIVE_KEYS = 2
SLOTS = (1, 2)
LIMIT_MESSAGE = "This principal already holds two AuthKeys: revoke one to generate a new one."

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE62 = secretscan.BASE62
SECRET_RE = re.compile(rf"^{SECRET_PREFIX}[A-Za-z0-9]{{{SECRET_LENGTH}}}\Z", re.ASCII)
_PURPOSE = b"latchkey.security.authkeys.secret-hash.v1"


class AuthKeyLimitReached(Exception):
    """The principal already holds MAX_LIVE_KEYS live keys."""

    def __init__(self) -> None:
        super().__init__(LIMIT_MESSAGE)


class GenerateRateLimited(Exception):
    """The holder generated LATCHKEY_AUTHKEY_GENERATES_PER_HOUR keys in the last hour."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many AuthKeys generated for this principal in the last hour. "
            f"Try again in {retry_after} seconds."
        )
        self.retry_after = retry_after


class HolderGone(Exception):
    """The holder was deleted by a concurrent request: answer as for a missing user."""


class NotAKeyHolder(Exception):
    """Only a tenant's root account and SAM users hold AuthKeys."""


def _now() -> datetime:
    return timezone.now()


# --- formats ---------------------------------------------------------------------------


def _checksum(body: str) -> str:
    return secretscan.authkey_checksum(body)


def new_key_id() -> str:
    return KEY_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def new_secret() -> str:
    body = SECRET_PREFIX + "".join(
        secrets.choice(BASE62) for _ in range(SECRET_LENGTH - CHECKSUM_LENGTH)
    )
    return body + _checksum(body)


def looks_like_key_id(value: object) -> bool:
    return isinstance(value, str) and KEY_ID_RE.match(value) is not None


def looks_like_secret(value: object) -> bool:
    """Return whether value has the secret's shape and checksum (no database involved)."""
    return secretscan.is_authkey_secret(value)


# --- hashing ---------------------------------------------------------------------------


def _peppers() -> list[str]:
    """Return the current pepper, then the retired ones that still verify (rotation)."""
    return [settings.LATCHKEY_PEPPER, *settings.LATCHKEY_PEPPER_FALLBACKS]


@lru_cache(maxsize=8)
def _hash_key(pepper: str) -> bytes:
    return hmac.new(pepper.encode(), _PURPOSE, hashlib.sha256).digest()


def hash_secret(key_id: str, secret: str, pepper: str | None = None) -> str:
    """Return the keyed hash (hex) stored for this key's secret (current pepper by default)."""
    message = f"{key_id}:{secret}".encode()
    key = _hash_key(pepper if pepper is not None else settings.LATCHKEY_PEPPER)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _matching_pepper(key_id: str, secret: str, stored: str) -> int | None:
    """Return the index of the pepper that produced `stored`, or None (every one is tried)."""
    found = None
    for index, pepper in enumerate(_peppers()):
        if hmac.compare_digest(hash_secret(key_id, secret, pepper), stored) and found is None:
            found = index
    return found


_LOOKUP_PURPOSE = b"latchkey.security.authkeys.secret-lookup.v1"


@lru_cache(maxsize=8)
def _lookup_key(pepper: str) -> bytes:
    return hmac.new(pepper.encode(), _LOOKUP_PURPOSE, hashlib.sha256).digest()


def lookup_hash(secret: str, pepper: str | None = None) -> str:
    """Return the keyed hash (hex) that finds a key by its secret alone (leak intake).

    `secret_hash` binds the secret to its key ID, so a secret reported without its ID
    could not be found by it: this second, indexed hash over the secret alone (under
    another key derived from the pepper) can. It proves nothing on its own: a match is
    confirmed with verify_secret.
    """
    key = _lookup_key(pepper if pepper is not None else settings.LATCHKEY_PEPPER)
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def lookup_hashes(secret: str) -> list[str]:
    """Return the secret's lookup hash under every pepper that still verifies."""
    return [lookup_hash(secret, pepper) for pepper in _peppers()]


def verify_secret(key: AuthKey, secret: str) -> bool:
    return _matching_pepper(key.key_id, secret, key.secret_hash) is not None


# A hash no secret produces in practice: unknown IDs are compared against it so that they
# cost the same work as known ones.
_UNKNOWN_HASH = "0" * 64


# --- queries ---------------------------------------------------------------------------


def _record(
    request: HttpRequest | None,
    api: str,
    actor: Principal | None,
    via_key: str,
    operator_id: str,
    target: str,
    details: dict,
    outcome: str = AuditEntry.Outcome.ALLOWED,
) -> None:
    """Record a write of AuthKeys by `actor` (through the AuthKey `via_key`, if any)."""
    audit.record(
        request,
        api,
        operator=operator_id,
        principal=actor,
        auth_key_id=via_key,
        outcome=outcome,
        target=target,
        details=details,
    )


def _record_refused(
    request: HttpRequest | None,
    api: str,
    holder: Principal,
    actor: Principal | None,
    via_key: str,
    **details: object,
) -> None:
    """Record a refused generate or roll of `holder`'s keys (the limit, the hourly rate)."""
    _record(
        request,
        api,
        actor,
        via_key,
        holder.operator_id,
        holder_name(holder),
        details,
        outcome=AuditEntry.Outcome.FAILED,
    )


def holder_name(principal: Principal) -> str:
    return "root" if principal.is_root else principal.user_name


def live_keys(principal: Principal) -> QuerySet[AuthKey]:
    """Return the principal's live keys, oldest first."""
    return AuthKey.objects.filter(principal=principal, slot__isnull=False).order_by(
        "created_at", "id"
    )


RECENTLY_REVOKED = 5


def recently_revoked(principal: Principal) -> list[AuthKey]:
    """Return the principal's most recently revoked keys (tombstones), newest first."""
    revoked = AuthKey.objects.filter(principal=principal, slot__isnull=True)
    return list(revoked.order_by("-revoked_at", "-id")[:RECENTLY_REVOKED])


def operator_of(key_id: str) -> str | None:
    """Return the operator that owns (or owned) an AuthKey ID, for its audit trail."""
    if not looks_like_key_id(key_id):
        return None
    return AuthKey.objects.filter(key_id=key_id).values_list("operator_id", flat=True).first()


def find_holder(operator_id: str, user_name: str | None = None) -> Principal | None:
    """Return the operator's root (no user_name) or its SAM user of that name, or None."""
    if user_name is None:
        return Principal.objects.filter(operator_id=operator_id, kind=Principal.Kind.ROOT).first()
    if not isinstance(user_name, str) or not is_valid_name(user_name):
        return None
    return Principal.objects.filter(
        operator_id=operator_id, kind=Principal.Kind.SAM, user_name=user_name
    ).first()


_ROOT_KEYS = """
SELECT k.key_id, k.created_at, k.last_used_at, k.description, k.allowed_networks,
       k.deactivated_at IS NOT NULL, k.expires_at, k.revoke_at
FROM security_authkey k
JOIN accounts_principal p ON p.id = k.principal_id
WHERE k.operator_id = %s AND p.kind = 'root' AND k.slot IS NOT NULL
ORDER BY k.created_at, k.id
"""


# The same read as one text value, for the session lookup's round trip (PostgreSQL;
# security/api_access.companion_read):
# [[key_id, created epoch s, last used epoch s|null, description, allowed networks, inactive,
#   expiry epoch s|null, scheduled revocation epoch s|null]].
ROOT_KEYS_JSON = """
SELECT coalesce(json_agg(json_build_array(
           k.key_id,
           floor(extract(epoch FROM k.created_at))::bigint,
           floor(extract(epoch FROM k.last_used_at))::bigint,
           k.description,
           k.allowed_networks,
           k.deactivated_at IS NOT NULL,
           floor(extract(epoch FROM k.expires_at))::bigint,
           floor(extract(epoch FROM k.revoke_at))::bigint
       ) ORDER BY k.created_at, k.id), '[]')::text
FROM security_authkey k
JOIN accounts_principal rp ON rp.id = k.principal_id
WHERE k.operator_id = %s AND rp.kind = 'root' AND k.slot IS NOT NULL
"""


def root_key_responses(operator_id: str, prefetched: str | None = None) -> list[dict]:
    """Return the root account's live keys as AuthKeyResponses: one prepared query.

    `prefetched`: the ROOT_KEYS_JSON value read with the session lookup, if there is one.
    """
    if prefetched is not None:
        responses = []
        for key_id, created, used, description, networks, inactive, expiry, revoke in json.loads(
            prefetched
        ):
            response = {"authKeyId": key_id, "createDateTime": created}
            if used is not None:
                response["lastUsedDateTime"] = used
            if description:
                response["description"] = description  # Latchkey's own, only when set
            if networks:
                response["allowedSourceNetworks"] = net.source_networks(networks)
            response["status"] = "inactive" if inactive else "active"
            if expiry is not None:
                response["expiryDateTime"] = expiry
            if revoke is not None:
                response["revokeDateTime"] = revoke
            responses.append(response)
        return responses
    return [
        _key_response(
            key_id,
            hotsql.aware(created),
            hotsql.aware(used),
            description,
            networks,
            inactive=bool(inactive),
            expires_at=hotsql.aware(expiry),
            revoke_at=hotsql.aware(revoke),
        )
        for key_id, created, used, description, networks, inactive, expiry, revoke in hotsql.rows(
            _ROOT_KEYS, [operator_id]
        )
    ]


def get_live_key(principal: Principal, key_id: str) -> AuthKey | None:
    """Return the principal's live key with that ID, or None (other holders never match)."""
    if not looks_like_key_id(key_id):
        return None
    return live_keys(principal).filter(key_id=key_id).first()


def is_stale(key: AuthKey, now: datetime | None = None) -> bool:
    """Return whether the key has gone unused (or never used) for LATCHKEY_STALE_KEY_DAYS."""
    now = now or _now()
    since = key.last_used_at or key.created_at
    return now - since >= timedelta(days=settings.LATCHKEY_STALE_KEY_DAYS)


def _generate_api(holder: Principal) -> str:
    return "Operator:generateOperatorAuthKey" if holder.is_root else "User:generateUserAuthKey"


def _delete_api_for(key: AuthKey) -> str:
    holder = key.principal
    if holder is not None and holder.is_root:
        return "Operator:deleteOperatorAuthKey"
    return "User:deleteUserAuthKey"


# --- generate --------------------------------------------------------------------------


MAX_DESCRIPTION_LENGTH = 100


def validate_description(description: str) -> str:
    """Return an AuthKey's description trimmed, or raise ValidationError (never echoing it).

    One line of at most MAX_DESCRIPTION_LENGTH characters, no control characters, and never
    a secret: it is shown in lists, reports and the audit log.
    """
    if not isinstance(description, str):
        raise ValidationError("The description must be a string.")
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(
            f"The description is too long (at most {MAX_DESCRIPTION_LENGTH} characters)."
        )
    if any(
        ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in description
    ):
        raise ValidationError("The description contains control characters.")
    refuse_secret(description, "description")
    return description


def generate(
    request: HttpRequest | None,
    actor: Principal,
    holder: Principal,
    *,
    via_key: str = "",
    description: str = "",
    allowed_networks: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[AuthKey, str]:
    """Create a live key for holder; return it with its secret (shown once, never stored).

    Raise AuthKeyLimitReached when holder already has two live keys: the unique
    (principal, slot) constraint decides, so concurrent requests cannot exceed it. Raise
    GenerateRateLimited past LATCHKEY_AUTHKEY_GENERATES_PER_HOUR for the holder. Raise
    ValidationError for a description that validate_description refuses, allowed source
    networks that validate_source_networks refuses, or an expiry that validate_expiry
    refuses (nothing written).
    """
    if holder.kind not in (Principal.Kind.ROOT, Principal.Kind.SAM) or not holder.operator_id:
        raise NotAKeyHolder("Only a root account or a SAM user holds AuthKeys.")
    description = validate_description(description)
    networks = validate_source_networks(allowed_networks or [])
    expires_at = validate_expiry(holder.operator_id, expires_at)
    api = _generate_api(holder)
    _check_generate_rate(request, actor, holder, api, via_key)
    try:
        with transaction.atomic():
            key, secret = _insert(holder, description, networks, expires_at)
            details = {"authKeyId": key.key_id}
            if description:
                details["description"] = description
            if networks:
                details["allowedSourceNetworks"] = net.source_networks(networks)
            if expires_at is not None:
                details["expiryDateTime"] = int(expires_at.timestamp())
            _record(request, api, actor, via_key, holder.operator_id, key.holder, details)
            if holder.is_root:  # mailed after commit: a rolled-back key is never announced
                source = client_ip(request) if request is not None else ""
                notifications.root_authkey_generated(holder.operator_id, key.key_id, source)
    except AuthKeyLimitReached:
        _record_refused(request, api, holder, actor, via_key, reason="limit", limit=MAX_LIVE_KEYS)
        raise
    return key, secret


def _check_generate_rate(
    request: HttpRequest | None, actor: Principal, holder: Principal, api: str, via_key: str
) -> None:
    # Generate/revoke churn mints credentials and tombstones without end (SECURITY.md I5);
    # the rows themselves are the counter, so no other state is needed.
    limit = settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR
    since = _now() - timedelta(hours=1)
    recent = list(
        AuthKey.objects.filter(principal=holder, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return
    retry_after = max(1, int((recent[-1] - since).total_seconds()) + 1)
    _record_refused(request, api, holder, actor, via_key, reason="rate", perHour=limit)
    raise GenerateRateLimited(retry_after)


@transaction.atomic
def _insert(
    holder: Principal,
    description: str = "",
    networks: str = "",
    expires_at: datetime | None = None,
) -> tuple[AuthKey, str]:
    # The holder's row first (accounts/rowlocks.py): a delete of the holder either waits
    # for this key and revokes it, or has happened and this answers HolderGone. The lock
    # also serializes generates for one holder on PostgreSQL (the unique slot constraint is
    # the guarantee; the lock only spares concurrent requests a failed insert).
    if not rowlocks.claim(holder.pk):
        raise HolderGone()
    for _ in range(MAX_LIVE_KEYS + 1):
        taken = set(live_keys(holder).values_list("slot", flat=True))
        free = [slot for slot in SLOTS if slot not in taken]
        if not free:
            raise AuthKeyLimitReached()
        key_id, secret = new_key_id(), new_secret()
        key = AuthKey(
            key_id=key_id,
            principal=holder,
            operator_id=holder.operator_id,
            holder=holder_name(holder),
            secret_hash=hash_secret(key_id, secret),
            secret_lookup=lookup_hash(secret),
            slot=free[0],
            description=description,
            allowed_networks=networks,
            expires_at=expires_at,
        )
        try:
            with transaction.atomic():
                key.save(force_insert=True)
        except IntegrityError:
            continue  # another request took that slot (or, in theory, that ID): look again
        return key, secret
    raise AuthKeyLimitReached()


# --- source limits ---------------------------------------------------------------------


def validate_source_networks(values: object) -> str:
    """Return allowed source networks as stored (normalized), or raise ValidationError."""
    try:
        return net.parse_source_networks(values)
    except net.SourceNetworksError as exc:
        raise ValidationError(str(exc)) from None


def _update_networks_api(key: AuthKey) -> str:
    holder = key.principal
    if holder is not None and holder.is_root:
        return "Operator:updateOperatorAuthKeySourceNetworks"
    return "User:updateUserAuthKeySourceNetworks"


def set_source_networks(
    request: HttpRequest | None,
    actor: Principal,
    key: AuthKey,
    allowed_networks: object,
    *,
    via_key: str = "",
) -> bool:
    """Replace a live key's allowed source networks ([] = anywhere); False if not live.

    Raise ValidationError (nothing written) for a list validate_source_networks refuses.
    The key's sessions read the key's networks on every call (the session lookup joins the
    key's row, accounts/apisessions.py), so sessions already open from it are held to the
    new list from their next call: a session from an address now outside fails then.
    """
    networks = validate_source_networks(allowed_networks)
    with transaction.atomic():
        updated = AuthKey.objects.filter(pk=key.pk, slot__isnull=False).update(
            allowed_networks=networks
        )
        if not updated:
            return False
        _record(
            request,
            _update_networks_api(key),
            actor,
            via_key,
            key.operator_id,
            key.holder,
            {
                "authKeyId": key.key_id,
                "allowedSourceNetworks": net.source_networks(networks),
                "before": net.source_networks(key.allowed_networks),
            },
        )
    key.allowed_networks = networks
    return True


# --- revoke ----------------------------------------------------------------------------


def _who(actor: Principal | None, via_key: str) -> str:
    kind, name = audit.actor_of(actor, via_key)
    return f"{kind}:{name}" if name else kind


@transaction.atomic
def revoke(
    request: HttpRequest | None,
    actor: Principal | None,
    key: AuthKey,
    *,
    reason: str = "",
    via_key: str = "",
    api: str = "",
    by: tuple[str, str] | None = None,
    details: dict | None = None,
    at: datetime | None = None,
) -> bool:
    """Revoke a live key and end every API session made from it; False if it was not live.

    `actor` may be the holder, its operator's root, a SAM user with the permission, or a
    member of the support staff (who then names the `api`, e.g. a support operation).
    `by`: (kind, name) of an actor that is not a principal (leak intake: ("leak", "github"));
    `details`: more facts for the audit entry (never a secret). A lapse (expiry, a roll's
    revocation) passes the time it lapsed as `at`, so that the tombstone says the same
    whichever way it fired.
    """
    now = at or _now()
    reason = reason.strip()[:400]
    # A reason is shown on the Authentication tab, to auditors and to staff: never a secret.
    secretscan.refuse(reason, "reason")
    if by is not None:
        who = f"{by[0]}:{by[1]}" if by[1] else by[0]
    else:
        who = _who(actor, via_key)
    revoked = AuthKey.objects.filter(pk=key.pk, slot__isnull=False).update(
        slot=None, revoked_at=now, revoked_by=who[:400], revoke_reason=reason
    )
    if not revoked:
        return False
    # The row update above holds the key's row lock until commit; an exchange racing with
    # it either finished its session first (ended here) or sees the key revoked.
    sessions = apisessions.revoke_for_auth_key(key.key_id)
    audit.record(
        request,
        api or _delete_api_for(key),
        operator=key.operator_id,
        principal=actor,
        auth_key_id=via_key,
        target=key.holder,
        details={
            **(details or {}),
            "authKeyId": key.key_id,
            "reason": reason,
            "sessionsEnded": sessions,
        },
        actor=by,  # a leak report or a lapse: not a principal of the tenant
    )
    key.refresh_from_db()
    return True


# --- lifecycle: deactivate, expiry, roll (docs/authkeys.md) ------------------------------

EXPIRING_SOON = timedelta(days=14)
MAX_EXPIRY = timedelta(days=3650)
MAX_ROLL_DELAY = timedelta(days=7)
ROLL_LIMIT_MESSAGE = (
    "Both AuthKey slots are in use: rolling needs a free slot for the replacement. "
    "Revoke the other key first (or wait for its scheduled revocation)."
)
LAPSED_BY = ("lifecycle", "")  # the audit actor and the tombstone's revoked_by


class RollNeedsFreeSlot(AuthKeyLimitReached):
    """A roll's replacement needs the holder's second slot, and both are in use."""

    def __init__(self) -> None:
        Exception.__init__(self, ROLL_LIMIT_MESSAGE)


class LifecycleConflict(Exception):
    """The key's state does not allow the action (e.g. rolling an inactive key)."""


def max_lifetime_days(operator_id: str) -> int | None:
    """Return the operator's longest allowed lifetime of a new AuthKey, in days, or None."""
    return (
        Operator.objects.filter(pk=operator_id)
        .values_list("authkey_max_lifetime_days", flat=True)
        .first()
    )


def validate_expiry(operator_id: str, expires_at: datetime | None) -> datetime | None:
    """Return a new key's expiry (whole seconds), or raise ValidationError (nothing written).

    In the future, at most MAX_EXPIRY away, and within the operator's longest allowed
    lifetime when root has set one (then a key without an expiry is refused too).
    """
    now = _now()
    limit = max_lifetime_days(operator_id)
    if expires_at is None:
        if limit is not None:
            raise ValidationError(
                f"This account allows AuthKeys of at most {limit} days: choose an expiry."
            )
        return None
    expires_at = expires_at.replace(microsecond=0)
    if expires_at <= now:
        raise ValidationError("The expiry must be in the future.")
    if expires_at > now + MAX_EXPIRY:
        raise ValidationError("The expiry must be within ten years.")
    if limit is not None and expires_at > now + timedelta(days=limit):
        raise ValidationError(
            f"This account allows AuthKeys of at most {limit} days: choose an earlier expiry."
        )
    return expires_at


def expires_soon(key: AuthKey, now: datetime | None = None) -> bool:
    """Return whether the key lapses (expiry or scheduled revocation) within 14 days."""
    deadline = key.deadline
    return deadline is not None and deadline - (now or _now()) <= EXPIRING_SOON


def _lifecycle_api(key: AuthKey, action: str) -> str:
    holder = key.principal
    if holder is not None and holder.is_root:
        return {
            "deactivate": "Operator:deactivateOperatorAuthKey",
            "activate": "Operator:activateOperatorAuthKey",
            "roll": "Operator:rollOperatorAuthKey",
            "cancel": "Operator:cancelOperatorAuthKeyRoll",
        }[action]
    return {
        "deactivate": "User:deactivateUserAuthKey",
        "activate": "User:activateUserAuthKey",
        "roll": "User:rollUserAuthKey",
        "cancel": "User:cancelUserAuthKeyRoll",
    }[action]


def _lock_live(key: AuthKey) -> AuthKey | None:
    # FOR UPDATE conflicts with an exchange's FOR KEY SHARE (hold_live): an exchange that
    # holds the key finishes first and its session is ended here, or it comes second and
    # sees the change.
    return AuthKey.objects.select_for_update().filter(pk=key.pk, slot__isnull=False).first()


@transaction.atomic
def set_active(
    request: HttpRequest | None,
    actor: Principal,
    key: AuthKey,
    active: bool,
    *,
    via_key: str = "",
) -> bool:
    """Deactivate (ending its sessions) or reactivate a live key; False if it is not live.

    Deactivating an inactive key, or activating an active one, changes nothing and writes
    no audit entry. A deactivated key keeps its slot: it still counts toward the two.
    """
    locked = _lock_live(key)
    if locked is None:
        return False
    if (locked.deactivated_at is None) == active:
        key.refresh_from_db()
        return True
    locked.deactivated_at = None if active else _now()
    locked.save(update_fields=["deactivated_at"])
    details: dict = {"authKeyId": key.key_id}
    if not active:
        details["sessionsEnded"] = apisessions.revoke_for_auth_key(key.key_id)
    _record(
        request,
        _lifecycle_api(key, "activate" if active else "deactivate"),
        actor,
        via_key,
        key.operator_id,
        key.holder,
        details,
    )
    key.refresh_from_db()
    return True


def lapse(key_id: str, now: datetime | None = None, request: HttpRequest | None = None) -> bool:
    """Tombstone a live key past its expiry or scheduled revocation; True if this call did.

    Exactly once whoever calls it (an exchange, a session's key, the cron): the row lock
    and the conditional update in revoke() let one caller win. The tombstone's time is the
    deadline itself, so it reads the same whichever way it fired.
    """
    now = now or _now()
    with transaction.atomic():
        key = (
            AuthKey.objects.select_for_update(of=("self",))
            .select_related("principal")
            .filter(key_id=key_id, slot__isnull=False)
            .first()
        )
        if key is None or key.deadline is None or key.deadline > now:
            return False
        rolled = key.revoke_at is not None and key.revoke_at == key.deadline
        return revoke(
            request,
            None,
            key,
            reason="rolled" if rolled else "expired",
            at=key.deadline,
            by=LAPSED_BY,
        )


def lapse_due(now: datetime | None = None) -> int:
    """Tombstone every live key past its expiry or scheduled revocation; return how many."""
    now = now or _now()
    due = AuthKey.objects.filter(slot__isnull=False).filter(
        models.Q(expires_at__lte=now) | models.Q(revoke_at__lte=now)
    )
    return sum(lapse(key_id, now) for key_id in list(due.values_list("key_id", flat=True)))


def roll(
    request: HttpRequest | None,
    actor: Principal,
    key: AuthKey,
    *,
    delay: timedelta,
    via_key: str = "",
    expires_at: datetime | None = None,
) -> tuple[AuthKey, str]:
    """Generate the replacement of a live key and schedule the old one's revocation.

    Return the new key and its secret (shown once). Both keys work until `delay` has
    passed (0: the old key is revoked now). Raise RollNeedsFreeSlot when both slots are in
    use, LifecycleConflict for an inactive or already-rolled key, ValidationError for a
    delay or expiry out of range, HolderGone, GenerateRateLimited.
    """
    if not timedelta(0) <= delay <= MAX_ROLL_DELAY:
        raise ValidationError("The delay must be between 0 seconds and 7 days.")
    holder = key.principal
    if holder is None:
        raise HolderGone()
    expires_at = validate_expiry(holder.operator_id, expires_at)
    api = _lifecycle_api(key, "roll")
    _check_generate_rate(request, actor, holder, api, via_key)
    try:
        with transaction.atomic():
            # The holder first, then the key (accounts/rowlocks.py), as _insert does.
            if not rowlocks.claim(holder.pk):
                raise HolderGone()
            old = _lock_live(key)
            if old is None:
                raise LifecycleConflict("The AuthKey is no longer live.")
            if old.deactivated_at is not None:
                raise LifecycleConflict("Activate the AuthKey before rolling it.")
            if old.deadline is not None and old.deadline <= _now():
                raise LifecycleConflict("The AuthKey has expired: generate a new one.")
            if old.revoke_at is not None:
                raise LifecycleConflict(
                    "This AuthKey is already being rolled: cancel its scheduled revocation first."
                )
            try:
                new, secret = _insert(holder, old.description, old.allowed_networks, expires_at)
            except AuthKeyLimitReached:
                raise RollNeedsFreeSlot() from None
            now = _now()
            revoke_at = now + delay
            AuthKey.objects.filter(pk=old.pk).update(revoke_at=revoke_at, rolled_to=new.key_id)
            _record(
                request,
                api,
                actor,
                via_key,
                holder.operator_id,
                key.holder,
                {
                    "authKeyId": old.key_id,
                    "newAuthKeyId": new.key_id,
                    "revokeDateTime": int(revoke_at.timestamp()),
                },
            )
            if not delay:
                lapse(old.key_id, revoke_at, request)
            if holder.is_root:
                source = client_ip(request) if request is not None else ""
                notifications.root_authkey_generated(holder.operator_id, new.key_id, source)
    except RollNeedsFreeSlot:
        _record_refused(
            request,
            api,
            holder,
            actor,
            via_key,
            authKeyId=key.key_id,
            reason="limit",
            limit=MAX_LIVE_KEYS,
        )
        raise
    key.refresh_from_db()
    return new, secret


@transaction.atomic
def cancel_roll(
    request: HttpRequest | None, actor: Principal, key: AuthKey, *, via_key: str = ""
) -> bool:
    """Cancel a live key's scheduled revocation; False if none is scheduled (or it is due).

    A schedule already due is applied instead (the key is tombstoned, reason "rolled").
    """
    locked = _lock_live(key)
    if locked is None or locked.revoke_at is None:
        return False
    now = _now()
    if locked.revoke_at <= now:
        lapse(key.key_id, now, request)
        return False
    AuthKey.objects.filter(pk=key.pk).update(revoke_at=None, rolled_to="")
    _record(
        request,
        _lifecycle_api(key, "cancel"),
        actor,
        via_key,
        key.operator_id,
        key.holder,
        {"authKeyId": key.key_id, "revokeDateTime": int(locked.revoke_at.timestamp())},
    )
    key.refresh_from_db()
    return True


MAX_LIFETIME_API = "Operator:updateAuthKeyLifetimePolicy"


@transaction.atomic
def set_max_lifetime(
    request: HttpRequest | None, actor: Principal, operator_id: str, days: int | None
) -> bool:
    """Set the operator's longest lifetime of new AuthKeys (None: no limit); False if unchanged.

    Existing keys keep their expiry: the setting decides what a generate or a roll accepts.
    """
    if days is not None and not 1 <= days <= MAX_EXPIRY.days:
        raise ValidationError(f"The longest lifetime must be 1 to {MAX_EXPIRY.days} days.")
    operator = Operator.objects.select_for_update().filter(pk=operator_id).first()
    changed = operator is not None and operator.authkey_max_lifetime_days != days
    if changed:
        Operator.objects.filter(pk=operator_id).update(authkey_max_lifetime_days=days)
        audit.record(
            request,
            MAX_LIFETIME_API,
            operator=operator_id,
            principal=actor,
            details={"maxLifetimeDays": days},
        )
    return bool(changed)


def revoke_all(
    holder: Principal,
    *,
    request: HttpRequest | None = None,
    actor: Principal | None = None,
    reason: str = "The holder was deleted.",
    via_key: str = "",
) -> int:
    """Revoke every live key of holder (e.g. before deleting a user); return how many."""
    count = 0
    with transaction.atomic():
        # Lock every key first, then write the audit entries: an exchange locks its key and
        # then the audit chain, so taking a key lock while holding the chain could deadlock.
        for key in list(live_keys(holder).select_for_update()):
            count += revoke(request, actor, key, reason=reason, via_key=via_key)
    return count


def _key_response(
    key_id: str,
    created_at: datetime,
    last_used_at: datetime | None,
    description: str = "",
    networks: str = "",
    *,
    inactive: bool = False,
    expires_at: datetime | None = None,
    revoke_at: datetime | None = None,
) -> dict:
    """Return the contract's AuthKeyResponse: epoch seconds, lastUsedDateTime only if used.

    Latchkey's own, additive fields (Soracom clients ignore unknown keys and refuse nulls:
    soracom-api.md §9): `status` always, `description`, `expiryDateTime` and
    `revokeDateTime` (a roll's scheduled revocation) only when set.
    """
    response = {"authKeyId": key_id, "createDateTime": int(created_at.timestamp())}
    if last_used_at is not None:
        response["lastUsedDateTime"] = int(last_used_at.timestamp())
    if description:
        response["description"] = description
    if networks:  # Latchkey's own, only when the key is limited
        response["allowedSourceNetworks"] = net.source_networks(networks)
    response["status"] = "inactive" if inactive else "active"
    if expires_at is not None:
        response["expiryDateTime"] = int(expires_at.timestamp())
    if revoke_at is not None:
        response["revokeDateTime"] = int(revoke_at.timestamp())
    return response


def as_response(key: AuthKey) -> dict:
    return _key_response(
        key.key_id,
        key.created_at,
        key.last_used_at,
        key.description,
        key.allowed_networks,
        inactive=key.deactivated_at is not None,
        expires_at=key.expires_at,
        revoke_at=key.revoke_at,
    )


# --- the token exchange ----------------------------------------------------------------


def _buckets(key_id: str, ip: str) -> tuple[list[throttle.Bucket], throttle.Bucket]:
    """Return (buckets that refuse before any check, the per-key bucket from anywhere)."""
    before = [
        throttle.Bucket(f"authkey-ip|{ip}", settings.LATCHKEY_THROTTLE_PER_IP),
        throttle.Bucket(
            f"authkey-key-ip|{key_id}|{ip}", settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP
        ),
    ]
    anywhere = throttle.Bucket(f"authkey-key|{key_id}", settings.LATCHKEY_THROTTLE_PER_ACCOUNT)
    return before, anywhere


_LIVE_KEY = """
SELECT k.id, k.secret_hash, k.last_used_at, k.last_used_ip, k.allowed_networks,
       k.secret_lookup, k.deactivated_at, k.expires_at, k.revoke_at,
       p.id, p.kind, p.user_name, p.email, p.is_active, p.operator_id, p.session_epoch
FROM security_authkey k
JOIN accounts_principal p ON p.id = k.principal_id
WHERE k.key_id = %s AND k.slot IS NOT NULL
"""


def _live_key_and_holder(key_id: str) -> tuple[AuthKey | None, Principal | None]:
    """Return a live key (ID and hash only) and its holder: one prepared query."""
    found = hotsql.rows(_LIVE_KEY, [key_id])
    if not found:
        return None, None
    (pk, secret_hash, used_at, used_ip, networks, lookup, deactivated, expires, revoke_at,
     pid, kind, user_name, email, active, operator_id, epoch) = found[0]  # fmt: skip
    key = AuthKey(
        id=pk,
        key_id=key_id,
        secret_hash=secret_hash,
        last_used_at=hotsql.aware(used_at),
        last_used_ip=used_ip or "",
        allowed_networks=networks or "",
        secret_lookup=lookup or "",
        deactivated_at=hotsql.aware(deactivated),
        expires_at=hotsql.aware(expires),
        revoke_at=hotsql.aware(revoke_at),
    )
    key._state.adding = False
    holder = Principal.partial(
        id=pid,
        kind=kind,
        user_name=user_name,
        email=email,
        is_active=bool(active),
        operator_id=operator_id,
        session_epoch=epoch,  # the session opened from this key is bound to it
    )
    return key, holder


def record_failure(request: HttpRequest, key_id: str, secret: object, retry_after: int) -> None:
    """Record a failed exchange in the key's operator's chain, or only count it.

    A throttled attempt, and a malformed one (a secret whose checksum is wrong, refused
    before any look-up: it costs the caller nothing), must not cost the tenant an audit
    entry per request either: security/failures.py counts them per bucket and window.
    """
    if getattr(request, _RECORDED, False):
        return  # the exchange recorded its refusal itself (a source outside the key's list)
    throttled_by = ""
    if retry_after:
        before, anywhere = _buckets(key_id, throttle_source(client_ip(request)))
        throttled_by = throttle.blocking([*before, anywhere])[1]
    failures.record_failure(
        request,
        "Auth:auth",
        operator=operator_of(key_id) if key_id else None,
        target=key_id,  # "" unless well-formed; never the secret
        auth_key_id=key_id,
        throttled_by=throttled_by,
        malformed=not (key_id and looks_like_secret(secret)),
    )


def exchange(
    request: HttpRequest, auth_key_id: object, auth_key: object
) -> tuple[Principal | None, str, int]:
    """Return (principal, key ID, retry-after seconds) for an AuthKey ID + secret.

    Failure is (None, the ID if well-formed else "", seconds to wait or 0). Throttles:
    per source address, per key and source address (both refuse before any check), and
    per key from anywhere: once that one is full, wrong secrets get 429 while the right
    secret still works, so that strangers who know a key's ID cannot lock its owner out.

    Call it outside a transaction, then open the API session in one that starts with
    hold_live(): nothing here holds a lock past its own statement. The last use (time and
    source address) is written by one short statement of its own, and only when it changes
    what is shown: a new second (lastUsedDateTime is in seconds) or another address.
    """
    key_id = auth_key_id if looks_like_key_id(auth_key_id) else ""
    if not key_id or not looks_like_secret(auth_key):
        return None, key_id, 0  # a typo or garbage: refused without any database work
    assert isinstance(auth_key, str)
    ip = client_ip(request)
    before, anywhere = _buckets(key_id, throttle_source(ip))
    wait, counted = throttle.check(before)
    if wait:
        return None, key_id, wait
    key, principal = _live_key_and_holder(key_id)
    match = _matching_pepper(key_id, auth_key, key.secret_hash if key else _UNKNOWN_HASH)
    now = _now()
    if key is not None and key.deadline is not None and key.deadline <= now:
        # Expired or rolled: tombstoned now if the cron has not yet, and refused from the
        # exact second (hold_live checks it again under the lock).
        lapse(key_id, now)
        key = None
    # A deactivated key answers exactly like a wrong secret: an unauthenticated caller
    # learns nothing about the key from it (docs/authkeys.md).
    if (
        match is not None
        and key is not None
        and key.deactivated_at is None
        and principal is not None
        and principal.is_active
        and principal.operator_id
    ):
        if not net.source_allowed(ip, key.allowed_networks):
            _refuse_source(request, key_id, ip, principal.operator_id, before)
            return None, key_id, 0
        if match or not key.secret_lookup:
            # Verified by a retired pepper, or made before lookup hashes (leak intake):
            # store both hashes under the current pepper.
            AuthKey.objects.filter(pk=key.pk, slot__isnull=False).update(
                secret_hash=hash_secret(key_id, auth_key), secret_lookup=lookup_hash(auth_key)
            )
        _note_use(key, now, ip[:45])
        if counted[1]:  # the owner succeeded from this place: forget its failures there
            throttle.clear(before[1])
        return principal, key_id, 0
    everything = [*before, anywhere]
    wait = throttle.retry_after([anywhere])
    throttle.record_failure(everything)
    return None, key_id, wait


# Set on a request whose refused exchange is already in the audit trail (record_failure).
_RECORDED = "_latchkey_exchange_recorded"


def _refuse_source(
    request: HttpRequest,
    key_id: str,
    ip: str,
    operator_id: str,
    before: list[throttle.Bucket],
) -> None:
    """Refuse a right secret sent from outside its key's networks: audit it, count it.

    It counts as a failure in the per-address buckets (a leaked secret tried from outside
    cannot write to the tenant's chain at request rate), not in the key's bucket from
    anywhere (strangers cannot lock the owner out). The last use is not updated.
    """
    throttle.record_failure(before)
    failures.record_failure(
        request,
        "Auth:auth",
        operator=operator_id,
        target=key_id,
        auth_key_id=key_id,
        extra={"reason": "source", "sourceIp": ip[:45]},
    )
    setattr(request, _RECORDED, True)


_NOTE_USE = """
UPDATE security_authkey SET last_used_at = %s, last_used_ip = %s
WHERE id = %s AND slot IS NOT NULL
  AND (last_used_at IS NULL OR last_used_at < %s OR (last_used_ip <> %s AND last_used_at <= %s))
"""


def _note_use(key: AuthKey, now: datetime, ip: str) -> None:
    """Record the key's last use if it changes what is shown; never move it backwards.

    Exact to the second and to the address: skipped only when the stored use is in this
    second already and from this address. Its own statement (autocommit outside a
    transaction), so the key's row is locked only while it runs.
    """
    second = now.replace(microsecond=0)
    used = key.last_used_at
    if used is not None and second <= used <= now and key.last_used_ip == ip:
        return
    with connection.cursor() as cursor:
        cursor.execute(_NOTE_USE, [now, ip, key.pk, second, ip, now])


# One statement, the holder's row locked first (FROM order), then the key's, as everywhere
# (accounts/rowlocks.py).
_HOLD_LIVE = """
SELECT 1 FROM accounts_principal p JOIN security_authkey k ON k.principal_id = p.id
WHERE p.id = %s AND k.key_id = %s AND k.slot IS NOT NULL AND k.deactivated_at IS NULL
  AND (k.expires_at IS NULL OR k.expires_at > %s) AND (k.revoke_at IS NULL OR k.revoke_at > %s)
FOR KEY SHARE OF p, k
"""


def hold_live(holder_id: int, key_id: str) -> bool:
    """Hold the holder and its live key until commit; False if either is gone or revoked.

    The key must also be active and before its deadline (expiry, a roll's revocation) at
    this moment: checked under the lock, so that no session opens past the deadline even if
    the exchange's first read came before it.

    FOR KEY SHARE on both: exchanges of one key hold them side by side, and the last-use
    update (which changes no key column) passes; deleting the holder, and revoking the key
    (it clears `slot`, a column of a unique constraint), wait for them, and they for it. An
    exchange that comes second sees the key revoked; a revoke or delete that comes second
    ends the session the exchange opened.
    """
    now = _now()
    if connection.vendor != "postgresql":
        return (
            AuthKey.objects.filter(
                key_id=key_id, slot__isnull=False, principal_id=holder_id, deactivated_at=None
            )
            .exclude(expires_at__lte=now)
            .exclude(revoke_at__lte=now)
            .exists()
        )
    with connection.cursor() as cursor:
        cursor.execute(_HOLD_LIVE, [holder_id, key_id, now, now])
        return cursor.fetchone() is not None
