"""The audit trail: one function records every security-relevant event, in a hash chain.

Callers pass names and IDs, never secrets; `details` must not hold a secret either.

Tamper evidence. Every entry belongs to a chain: its operator's, or the installation's
("") for events without an operator. Entries of a chain are numbered from 1 (`seq`) and
each carries `entry_hash` = HMAC-SHA256 over its canonical serialization, which includes
the previous entry's hash. Editing, deleting or reordering an entry therefore breaks the
chain from that entry on, and `manage.py verify_audit` names it. The HMAC key is derived
from the server-side pepper, which is not in the database: someone who can write to the
database but does not hold the application's secrets cannot forge a consistent chain.
Each entry names the key that sealed it (`key_fp`, security/auditkeys.py) and verifies
only under that key; once a newer key has sealed an entry of a chain, a retired one may
seal entries only during a short roll-out window. A chain cannot prove its own end: signed
checkpoints (security/checkpoints.py) held outside the database do that.

Concurrency. Writers of one chain are serialized by the chain's head row
(`AuditChainHead`), locked with SELECT ... FOR UPDATE on PostgreSQL until the surrounding
transaction commits; SQLite serializes writers already (IMMEDIATE transactions). A unique
(chain, seq) constraint backs this up: a fork cannot be committed even if a lock were
skipped. The entry is written inside the caller's transaction, so a failed audit write
rolls back the change it records (fail closed, ASVS 16.5.3).
"""

import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Operator, Principal
from console import secretscan
from console.net import client_ip
from security import auditkeys
from security.models import AuditChainHead, AuditEntry

INSTALLATION_CHAIN = ""
CANONICAL_VERSION = 1

# Characters a database or a terminal must not receive raw: NUL (PostgreSQL refuses it in
# text) and lone surrogates (not encodable as UTF-8). Other control characters are stored
# as given and escaped where they are shown (security/auditlog.py).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


# Bearer material written where it does not belong (a user agent, the user name of a failed
# sign-in, a path) is redacted before it is stored, by the one detector (console/secretscan.py).
REDACTED = secretscan.REDACTED[secretscan.AUTHKEY_SECRET]


def _storable(value: str, limit: int) -> str:
    text = _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(value))
    return secretscan.redact(text)[:limit]


def _clean_details(value: Any, depth: int = 0) -> Any:
    """Return details reduced to JSON types that round-trip exactly (no floats)."""
    if depth > 4:
        return "…"
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return {
            _storable(k, 100): _clean_details(v, depth + 1) for k, v in list(value.items())[:50]
        }
    if isinstance(value, list | tuple):
        return [_clean_details(v, depth + 1) for v in list(value)[:50]]
    return _storable(str(value), 1000)


def actor_of(principal: Principal | None, auth_key_id: str = "") -> tuple[str, str]:
    """Return (actor_kind, actor) for the audit trail."""
    if auth_key_id:
        return "authkey", auth_key_id
    if principal is None:
        return "anonymous", ""
    if principal.is_root:
        return "root", principal.email
    if principal.kind == Principal.Kind.STAFF:
        return "staff", principal.handle
    return principal.kind, principal.user_name


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(entry: Any) -> bytes:
    """Return the bytes that an entry's hash covers (every recorded field and prev_hash)."""
    return json.dumps(
        {
            "v": CANONICAL_VERSION,
            "chain": entry.chain,
            "seq": entry.seq,
            "prev": entry.prev_hash,
            "at": _iso(entry.at),
            "operator": entry.operator_id or "",
            "actor_kind": entry.actor_kind,
            "actor": entry.actor,
            "user_name": entry.user_name,
            "auth_key_id": entry.auth_key_id,
            "action": entry.action,
            "target": entry.target,
            "outcome": entry.outcome,
            "source_ip": entry.source_ip,
            "user_agent": entry.user_agent,
            "request_id": entry.request_id,
            "request_path": entry.request_path,
            "details": entry.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def entry_digest(entry: Any, pepper: str | None = None) -> str:
    """Return the chained hash an entry must carry (under the current pepper by default)."""
    key = auditkeys.chain_key(pepper or settings.LATCHKEY_PEPPER)
    return hmac.new(key, canonical(entry), "sha256").hexdigest()


def peppers() -> list[str]:
    """Return the configured peppers, newest first (the current one, then the fallbacks)."""
    return [settings.LATCHKEY_PEPPER, *getattr(settings, "LATCHKEY_PEPPER_FALLBACKS", [])]


def _pepper_named(key_fp: str) -> str | None:
    """Return the configured pepper whose chain key has this fingerprint, or None."""
    for pepper in peppers():
        if hmac.compare_digest(auditkeys.fingerprint(pepper), key_fp):
            return pepper
    return None


def digest_matches(entry: AuditEntry) -> bool:
    """Return whether the entry's hash is right under the key it names, and only that key.

    Entries written before key fingerprints were recorded (`key_fp` empty) verify under
    any configured pepper, as they always did; verify_chain treats them as sealed by the
    oldest key, so that nobody can append such entries after fingerprinted ones.
    """
    if entry.key_fp:
        pepper = _pepper_named(entry.key_fp)
        return pepper is not None and hmac.compare_digest(
            entry.entry_hash, entry_digest(entry, pepper)
        )
    found = False
    for pepper in peppers():  # no early exit: the same work whichever pepper matches
        found |= hmac.compare_digest(entry.entry_hash, entry_digest(entry, pepper))
    return found


def _locked_head(chain: str, using: str = DEFAULT_DB_ALIAS) -> AuditChainHead:
    """Return the chain's head row, locked until the surrounding transaction ends."""
    heads = AuditChainHead.objects.using(using)
    head = heads.select_for_update().filter(pk=chain).first()
    if head is not None:
        return head
    try:
        with transaction.atomic(using=using):
            return heads.create(chain=chain)
    except IntegrityError:  # another writer created it first; wait for its lock
        return heads.select_for_update().get(pk=chain)


def record(
    request: HttpRequest | None,
    action: str,
    *,
    operator: Operator | str | None,
    outcome: str = AuditEntry.Outcome.ALLOWED,
    target: str = "",
    principal: Principal | None = None,
    auth_key_id: str = "",
    details: dict | None = None,
    source_ip: str | None = None,
    user_agent: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> AuditEntry:
    """Append one entry to its operator's chain and return it (raises if it cannot)."""
    actor_kind, actor = actor_of(principal, auth_key_id)
    operator_id = operator.pk if isinstance(operator, Operator) else (operator or None)
    entry = AuditEntry(
        operator_id=operator_id,
        actor_kind=actor_kind,
        actor=_storable(actor, 320),
        user_name=principal.user_name if principal is not None and principal.is_sam else "",
        auth_key_id=_storable(auth_key_id, 64),
        action=_storable(action, 100),
        target=_storable(target, 400),
        outcome=outcome,
        details=_clean_details(details or {}),
        chain=operator_id or INSTALLATION_CHAIN,
    )
    if request is not None:
        entry.source_ip = client_ip(request)
        entry.user_agent = _storable(request.META.get("HTTP_USER_AGENT", ""), 300)
        entry.request_id = _storable(getattr(request, "request_id", ""), 32)
        entry.request_path = _storable(request.path, 300)
    if source_ip is not None:
        entry.source_ip = _storable(source_ip, 45)
    if user_agent is not None:
        entry.user_agent = _storable(user_agent, 300)
    # No savepoint when nested: the entry and the change it records stand or fall together,
    # and nobody catches an audit failure to carry on (fail closed).
    pepper = settings.LATCHKEY_PEPPER
    entry.key_fp = auditkeys.fingerprint(pepper)
    with transaction.atomic(using=using, savepoint=False):
        head = _locked_head(entry.chain, using)
        entry.seq = head.seq + 1
        entry.prev_hash = head.last_hash
        # Taken under the lock, so that time never runs backwards along a chain.
        entry.at = timezone.now()
        entry.entry_hash = entry_digest(entry, pepper)
        entry.save(force_insert=True, using=using)
        AuditChainHead.objects.using(using).filter(pk=entry.chain).update(
            seq=entry.seq, last_hash=entry.entry_hash
        )
    return entry


# Retention (manage.py prune_audit) ---------------------------------------------------------

PRUNE_ACTION = "Audit:pruneAuditLog"
# On PostgreSQL the append-only trigger lets a DELETE through only when the statement runs
# as this role (current_user), and the application's role must not be a member of it:
# then no setting an application connection can make disarms the guard. prune_audit
# connects through LATCHKEY_AUDIT_PRUNE_DATABASE_URL as a member and switches to it.
PRUNE_ROLE = "latchkey_audit_pruner"
PRUNE_DATABASE = "audit_prune"


def prune_role_sql() -> list[str]:
    """Return the SQL that creates the pruning role and its grants (run as the tables' owner)."""
    entries, heads = AuditEntry._meta.db_table, AuditChainHead._meta.db_table
    return [
        f"CREATE ROLE {PRUNE_ROLE} NOLOGIN",
        f"GRANT SELECT, INSERT, DELETE ON {entries} TO {PRUNE_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE ON {heads} TO {PRUNE_ROLE}",
        f"GRANT USAGE ON SEQUENCE {entries}_id_seq TO {PRUNE_ROLE}",
    ]


def prune_database() -> str:
    """Return the connection alias prune_audit uses (its own role when configured)."""
    return PRUNE_DATABASE if PRUNE_DATABASE in connections.settings else DEFAULT_DB_ALIAS


def prune_chain(chain: str, before: datetime, using: str = DEFAULT_DB_ALIAS) -> int:
    """Remove the chain's oldest entries written before `before`, as one whole prefix.

    The head records where the kept suffix starts (seq and hash of the last removed entry)
    and a new entry in the same chain records the prune with the same values, so that
    verify_audit can tell a prune from a deletion, and a checkpoint whose entry was pruned
    from a truncation. Return how many entries were removed. On PostgreSQL every statement
    runs as PRUNE_ROLE; a connection that cannot switch to it fails here, changing nothing.
    """
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL ROLE {PRUNE_ROLE}")
        head = _locked_head(chain, using)
        last = (
            AuditEntry.objects.using(using)
            .filter(chain=chain, at__lt=before, seq__gt=head.pruned_through_seq)
            .order_by("-seq")
            .first()
        )
        if last is None:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {AuditEntry._meta.db_table} WHERE chain = %s AND seq <= %s",  # noqa: S608 (a model's table name)
                [chain, last.seq],
            )
            removed = cursor.rowcount
        AuditChainHead.objects.using(using).filter(pk=chain).update(
            pruned_through_seq=last.seq, pruned_through_hash=last.entry_hash
        )
        record(
            None,
            PRUNE_ACTION,
            operator=chain or None,
            target=chain,
            details={
                "throughSeq": last.seq,
                "throughHash": last.entry_hash,
                "removed": removed,
                "before": before.isoformat(timespec="seconds"),
            },
            using=using,
        )
    return removed


# Verification (manage.py verify_audit) --------------------------------------------------


class ChainBreak:
    """The first place where a chain stops verifying, and why."""

    def __init__(self, chain: str, reason: str, entry: AuditEntry | None = None) -> None:
        self.chain, self.reason, self.entry = chain, reason, entry

    def __str__(self) -> str:
        where = f"chain {self.chain or '(installation)'}"
        if self.entry is not None:
            e = self.entry
            where += f": entry id={e.pk} seq={e.seq} at={_iso(e.at)} action={e.action!r}"
        return f"{where}: {self.reason}"


def chains() -> list[str]:
    """Return every chain that has a head or an entry, installation chain first."""
    names = set(AuditChainHead.objects.values_list("chain", flat=True))
    names |= set(AuditEntry.objects.values_list("chain", flat=True).distinct())
    return sorted(names)


# After a pepper rotation, app servers not yet restarted keep sealing with the retired
# key for a while (a rolling restart). That is accepted for this long after the first
# entry of the chain sealed with the newer key; later, an entry sealed with a retired key
# is what someone holding a leaked retired pepper would append, and verification fails.
KEY_ROLLOUT = timedelta(minutes=15)
# App servers' clocks may differ this much; an entry claiming an earlier time than that
# before the newest entry ahead of it is backdated (a way to sneak into the roll-out window).
CLOCK_SKEW = timedelta(seconds=60)


class _KeyOrder:
    """Follow which key sealed each entry of a chain, oldest entry first."""

    def __init__(self) -> None:
        configured = peppers()
        self.ranks: dict[str, int] = {"": len(configured)}  # entries older than fingerprints
        for rank, pepper in enumerate(configured):
            self.ranks.setdefault(auditkeys.fingerprint(pepper), rank)
        self.newest: int | None = None
        self.newest_since: datetime | None = None
        self.latest_at: datetime | None = None

    def unknown(self, entry: AuditEntry) -> str:
        if entry.key_fp in self.ranks:
            return ""
        return (
            f"it is sealed with the key {entry.key_fp!r}, which is neither LATCHKEY_PEPPER "
            "nor one of LATCHKEY_PEPPER_FALLBACKS"
        )

    def out_of_order(self, entry: AuditEntry) -> str:
        rank = self.ranks[entry.key_fp]
        problem = ""
        if self.newest is None or rank < self.newest:
            self.newest, self.newest_since = rank, entry.at
        elif rank > self.newest and self.newest_since is not None:
            late = entry.at - self.newest_since > KEY_ROLLOUT
            backdated = self.latest_at is not None and entry.at < self.latest_at - CLOCK_SKEW
            if late or backdated:
                key = entry.key_fp or "(no key recorded)"
                problem = (
                    f"it is sealed with the retired key {key} although entries sealed with a "
                    f"newer key precede it (since {_iso(self.newest_since)})"
                )
        self.latest_at = entry.at if self.latest_at is None else max(self.latest_at, entry.at)
        return problem


def verify_chain(chain: str) -> tuple[int, ChainBreak | None]:
    """Return (entries checked, first break or None) for one chain."""
    head = AuditChainHead.objects.filter(pk=chain).first()
    expected_seq = (head.pruned_through_seq if head else 0) + 1
    prev_hash = head.pruned_through_hash if head else ""
    checked = 0
    keys = _KeyOrder()
    entries = AuditEntry.objects.filter(chain=chain).order_by("seq", "id")
    for entry in entries.iterator(chunk_size=2000):
        if entry.seq > expected_seq:
            missing = f"seq {expected_seq}" + (
                f"..{entry.seq - 1}" if entry.seq - 1 > expected_seq else ""
            )
            return checked, ChainBreak(chain, f"entries before it are missing ({missing})", entry)
        if entry.seq < expected_seq:
            return checked, ChainBreak(chain, "duplicate or reordered sequence number", entry)
        if problem := keys.unknown(entry):
            return checked, ChainBreak(chain, problem, entry)
        if not digest_matches(entry):
            return checked, ChainBreak(chain, "its contents do not match its hash", entry)
        if not hmac.compare_digest(entry.prev_hash, prev_hash):
            return checked, ChainBreak(chain, "it does not link to the entry before it", entry)
        if problem := keys.out_of_order(entry):
            return checked, ChainBreak(chain, problem, entry)
        prev_hash = entry.entry_hash
        expected_seq += 1
        checked += 1
    if head is not None and head.pruned_through_seq and not _prune_recorded(chain, head):
        return checked, ChainBreak(
            chain,
            f"entries up to seq {head.pruned_through_seq} are gone, but no prune entry "
            "in the chain records removing them",
        )
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev_hash):
        return checked, ChainBreak(
            chain,
            f"the newest entries are missing (the chain head is at seq {head.seq}, "
            f"the last entry found is seq {expected_seq - 1})",
        )
    return checked, None


def _prune_recorded(chain: str, head: AuditChainHead) -> bool:
    """Return whether a (hash-protected) prune entry vouches for the head's prune anchor."""
    for entry in AuditEntry.objects.filter(chain=chain, action=PRUNE_ACTION).order_by("-seq"):
        details = entry.details if isinstance(entry.details, dict) else {}
        if details.get("throughSeq") == head.pruned_through_seq and hmac.compare_digest(
            str(details.get("throughHash", "")), head.pruned_through_hash
        ):
            return True
    return False
