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

Writing and sealing (CloudTrail's model: entries are written freely, sealed afterwards).
An entry is written inside the caller's transaction, so a failed audit write rolls back the
change it records (fail closed, ASVS 16.5.3). On PostgreSQL it takes no lock for that: it
is inserted unsealed (`seq` NULL), carrying a content MAC (the same keyed hash over the
entry with seq 0 and no predecessor), and right after the transaction commits a short,
separate sealing transaction (seal()) gives every committed unsealed entry of the chain its
place: it locks the chain head with SKIP LOCKED (a writer that finds it busy leaves its
entry to the sealer holding it, who looks again after it commits), checks each entry's
content MAC (a row inserted behind the application's back is never sealed, and
verify_chain names it), numbers the entries, links and hashes them, and moves the head.
Checkpoints and verify_chain seal first, waiting for the lock, so that what they cover is
sealed. The trigger on PostgreSQL lets exactly one UPDATE through per entry: from unsealed
to sealed, changing nothing but the seal columns. A unique (chain, seq) constraint makes a
fork impossible to commit. SQLite serializes writers already (IMMEDIATE transactions):
there, and for prune entries, an entry is sealed as it is written, under the head.
"""

import functools
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import apisessions
from accounts.models import Operator, Principal
from console import hotsql, secretscan
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


def _calling_key(request: HttpRequest | None, principal: Principal | None) -> str:
    """Return the AuthKey ID of the API session through which `principal` acts, or "".

    An action done with a session opened by an AuthKey is the key's, whichever service
    records it: auditors ask which key did what (the key may leak, its holder not).
    """
    caller = getattr(request, "auth", None)
    key_id = getattr(caller, "auth_key_id", "") or ""
    if not key_id or principal is None or getattr(caller, "principal", None) is None:
        return ""
    return key_id if caller.principal.pk == principal.pk else ""


def _switched_from(request: HttpRequest | None) -> str:
    """Return the source SRN of the switched session making `request`, or ""."""
    if request is None:
        return ""
    caller = getattr(request, "auth", None)
    if caller is not None:
        return getattr(caller, "switched_from", "") or ""
    session = getattr(request, "session", None)
    data = session.get(apisessions.SWITCH_SESSION_KEY) if session is not None else None
    return str(data.get("from", "")) if isinstance(data, dict) else ""


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(entry: Any, *, unsealed: bool = False) -> bytes:
    """Return the bytes that an entry's hash covers (every recorded field and prev_hash).

    `unsealed`: the bytes of its content MAC, before it has a place in the chain (seq 0,
    which no sealed entry has, and no predecessor).
    """
    return json.dumps(
        {
            "v": CANONICAL_VERSION,
            "chain": entry.chain,
            "seq": 0 if unsealed else entry.seq,
            "prev": "" if unsealed else entry.prev_hash,
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


def content_mac(entry: Any, pepper: str | None = None) -> str:
    """Return the keyed hash an unsealed entry carries (its content, no place in the chain)."""
    key = auditkeys.chain_key(pepper or settings.LATCHKEY_PEPPER)
    return hmac.new(key, canonical(entry, unsealed=True), "sha256").hexdigest()


def content_matches(entry: Any) -> bool:
    """Return whether an unsealed entry's content MAC is right under the key it names."""
    pepper = _pepper_named(entry.key_fp) if entry.key_fp else None
    return pepper is not None and hmac.compare_digest(entry.entry_hash, content_mac(entry, pepper))


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
    seal_now: bool = False,
    actor: tuple[str, str] | None = None,
) -> AuditEntry:
    """Append one entry to its operator's chain and return it (raises if it cannot).

    On PostgreSQL the entry is sealed after the commit (seal()); `seal_now` seals it as it
    is written instead, under the chain head's lock (retention pruning). `actor` names an
    actor of another operator, (kind, SRN), for the one event recorded in a chain the actor
    does not belong to: a switch user into this operator.
    """
    if not auth_key_id and actor is None:
        auth_key_id = _calling_key(request, principal)
    actor_kind, actor_name = actor or actor_of(principal, auth_key_id)
    switched_from = _switched_from(request) if actor is None else ""
    if switched_from:
        # Done in a switched session: the trail names who really acted (docs/sessions.md).
        details = {**(details or {}), "switchedFrom": switched_from}
    operator_id = operator.pk if isinstance(operator, Operator) else (operator or None)
    own = actor is None and principal is not None and principal.is_sam
    entry = AuditEntry(
        operator_id=operator_id,
        actor_kind=actor_kind,
        actor=_storable(actor_name, 320),
        user_name=principal.user_name if own else "",
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
    pepper = settings.LATCHKEY_PEPPER
    entry.key_fp = auditkeys.fingerprint(pepper)
    if not seal_now and connections[using].vendor == "postgresql":
        # Written freely: no chain head, no lock; sealed right after the commit (seal()).
        entry.seq = None
        entry.prev_hash = ""
        entry.at = timezone.now()
        entry.entry_hash = content_mac(entry, pepper)
        entry.save(force_insert=True, using=using)
        _seal_after_commit(entry.chain, using, entry)
        return entry
    # No savepoint when nested: the entry and the change it records stand or fall together,
    # and nobody catches an audit failure to carry on (fail closed).
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


# Sealing (PostgreSQL) ------------------------------------------------------------------

SEAL_BATCH = 500
SEAL_PASSES = 4
log = logging.getLogger("latchkey.audit")


def record_action(
    request: HttpRequest | None,
    actor: Principal,
    action: str,
    target: str,
    details: dict | None = None,
) -> AuditEntry:
    """Record an allowed action of `actor` (through the request's AuthKey session, if any)
    on `target` in the actor's operator's chain."""
    return record(
        request, action, operator=actor.operator_id, principal=actor, target=target, details=details
    )


def _seal_after_commit(chain: str, using: str, entry: AuditEntry) -> None:
    """Seal the chain once the surrounding transaction commits (once per chain and commit).

    The entry objects are given their seal too, so that a caller holding one sees it.
    """
    connection = connections[using]
    for _sids, func, _robust in connection.run_on_commit:
        if getattr(func, "latchkey_seal", None) == chain:
            func.args[2].append(entry)
            return
    callback = functools.partial(_seal_quietly, chain, using, [entry])
    callback.latchkey_seal = chain  # type: ignore[attr-defined]
    transaction.on_commit(callback, using=using)


def _seal_quietly(chain: str, using: str, track: list[AuditEntry]) -> None:
    # The entry is committed: a failed seal loses nothing (the next seal of the chain, a
    # checkpoint or verify_audit seals it), so it must not turn a done change into an error.
    try:
        seal(chain, using=using, track=track)
    except Exception:
        log.exception("audit: sealing chain %r failed; the next seal will do it", chain)


def seal(
    chain: str,
    *,
    durable: bool = False,
    using: str = DEFAULT_DB_ALIAS,
    track: list[AuditEntry] | None = None,
) -> int:
    """Seal the chain's committed unsealed entries, oldest first; return how many.

    Its own short transaction, after the writer's has committed: it waits for the chain
    head (only other seals hold it, each for a few statements), so that when it returns
    the caller's entry is sealed, by this seal or by the one before it. `durable`
    (checkpoints): commit to disk, and with it every earlier seal committed asynchronously,
    so that no position a checkpoint names can be lost in a crash.
    """
    if connections[using].vendor != "postgresql":
        return 0  # sealed as written
    total = 0
    for _ in range(SEAL_PASSES):
        sealed = _seal_batch(chain, durable, using, {e.pk: e for e in track or []})
        total += sealed
        if sealed < SEAL_BATCH:
            break
    return total


def seal_all(using: str = DEFAULT_DB_ALIAS) -> int:
    """Seal every chain that has unsealed entries; return how many entries were sealed."""
    if connections[using].vendor != "postgresql":
        return 0
    pending = (
        AuditEntry.objects.using(using)
        .filter(seq__isnull=True)
        .values_list("chain", flat=True)
        .distinct()
    )
    chains = sorted(set(pending))
    if not chains:  # still one durable commit, for the asynchronous seals before it
        first = AuditChainHead.objects.using(using).order_by("chain").first()
        chains = [first.chain] if first is not None else []
    return sum(seal(chain, durable=True, using=using) for chain in chains)


_HEADS = AuditChainHead._meta.db_table
_ENTRIES = AuditEntry._meta.db_table
_LOCK_HEAD = f"SELECT seq, last_hash{{}} FROM {_HEADS} WHERE chain = %s FOR UPDATE"  # noqa: S608
# The seal is derived data: after a crash that loses it, the entries are still there,
# unsealed, and the next seal numbers them. So its commit need not wait for the disk.
_ASYNC = ", set_config('synchronous_commit', 'off', true)"
_NEW_HEAD = (
    f"INSERT INTO {_HEADS} (chain, seq, last_hash, pruned_through_seq, pruned_through_hash) "  # noqa: S608
    "VALUES (%s, 0, '', 0, '') ON CONFLICT (chain) DO NOTHING"
)
_MOVE_HEAD = f"UPDATE {_HEADS} SET seq = %s, last_hash = %s WHERE chain = %s"  # noqa: S608


_COLUMNS = (
    "id, chain, at, operator_id, actor_kind, actor, user_name, auth_key_id, action, target, "
    "outcome, source_ip, user_agent, request_id, request_path, details, entry_hash, key_fp"
)
_PENDING = (
    f"SELECT {_COLUMNS} FROM {_ENTRIES} WHERE chain = %s AND seq IS NULL ORDER BY id LIMIT %s"  # noqa: S608
)


class _Unsealed:
    """An unsealed entry as the sealer reads it (a raw row: no model instance to build)."""

    seq: int | None = None
    prev_hash = ""

    def __init__(self, row: tuple) -> None:
        (
            self.pk,
            self.chain,
            at,
            self.operator_id,
            self.actor_kind,
            self.actor,
            self.user_name,
            self.auth_key_id,
            self.action,
            self.target,
            self.outcome,
            self.source_ip,
            self.user_agent,
            self.request_id,
            self.request_path,
            details,
            self.entry_hash,
            self.key_fp,
        ) = row
        self.at = hotsql.aware(at)
        self.details = json.loads(details) if isinstance(details, str) else details


def _seal_batch(chain: str, durable: bool, using: str, track: dict) -> int:
    """Seal up to SEAL_BATCH entries in one short transaction; return how many."""
    connection = connections[using]
    # Nested in a caller's transaction (tests, the failure summaries) its commit is the
    # caller's, which must stay durable.
    lock = _LOCK_HEAD.format("" if durable or connection.in_atomic_block else _ASYNC)

    def rows(sql: str, params: list) -> list[tuple]:
        if using == DEFAULT_DB_ALIAS:
            return hotsql.rows(sql, params)  # prepared on the persistent connection
        cursor.execute(sql, params)
        return cursor.fetchall()

    with transaction.atomic(using=using), connection.cursor() as cursor:
        head = rows(lock, [chain])
        if not head:
            cursor.execute(_NEW_HEAD, [chain])
            head = rows(lock, [chain])
        seq, last_hash = head[0][0], head[0][1]
        # Read after the lock: in READ COMMITTED this statement sees every seal before ours.
        pending = [_Unsealed(row) for row in rows(_PENDING, [chain, SEAL_BATCH])]
        if not pending:
            if durable:  # a write, so that this commit flushes the asynchronous seals
                cursor.execute(_MOVE_HEAD, [seq, last_hash, chain])
            return 0
        pepper = settings.LATCHKEY_PEPPER
        key_fp = auditkeys.fingerprint(pepper)
        rows: list = []
        for entry in pending:
            if not content_matches(entry):
                # Not written by the application, or edited since: never sealed into the
                # chain; verify_chain reports it.
                log.error("audit: entry id=%s of chain %r fails its content MAC", entry.pk, chain)
                continue
            seq += 1
            entry.seq, entry.prev_hash, entry.key_fp = seq, last_hash, key_fp
            entry.entry_hash = entry_digest(entry, pepper)
            last_hash = entry.entry_hash
            rows.extend([entry.pk, entry.seq, entry.prev_hash, entry.entry_hash, key_fp])
            if (mine := track.get(entry.pk)) is not None:
                mine.seq, mine.prev_hash = entry.seq, entry.prev_hash
                mine.entry_hash, mine.key_fp = entry.entry_hash, key_fp
        if rows:
            values = ", ".join(["(%s::bigint, %s::bigint, %s, %s, %s)"] * (len(rows) // 5))
            cursor.execute(
                f"WITH v (id, seq, prev, hash, fp) AS (VALUES {values}), "  # noqa: S608
                f"s AS (UPDATE {_ENTRIES} e SET seq = v.seq, prev_hash = v.prev, "
                "entry_hash = v.hash, key_fp = v.fp FROM v WHERE e.id = v.id "
                f"AND e.seq IS NULL RETURNING 1) {_MOVE_HEAD}",
                [*rows, seq, last_hash, chain],
            )
        return len(pending)


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
            seal_now=True,
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
    """Return (entries checked, first break or None) for one chain.

    Seals what is committed and unsealed first, then checks the sealed chain; an unsealed
    entry left behind (committed since, or refused by the sealer) must carry a valid
    content MAC, or it was not written by the application.
    """
    seal(chain)
    head = AuditChainHead.objects.filter(pk=chain).first()
    expected_seq = (head.pruned_through_seq if head else 0) + 1
    prev_hash = head.pruned_through_hash if head else ""
    checked = 0
    keys = _KeyOrder()
    entries = AuditEntry.objects.filter(chain=chain, seq__isnull=False).order_by("seq", "id")
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
    for entry in AuditEntry.objects.filter(chain=chain, seq__isnull=True).order_by("id"):
        if not content_matches(entry):
            return checked, ChainBreak(
                chain,
                "it is not sealed and its content does not match its content MAC: it was "
                "not written by the application, or was edited before it was sealed",
                entry,
            )
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
