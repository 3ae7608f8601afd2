"""Reading the audit trail: filters, pages, safe display and CSV export.

The console's Audit log tab and `GET /v1/audit_logs/api` both read through here, always
scoped to one operator. Entries hold what callers sent (user names, user agents) verbatim;
everything that leaves this module for a person or a spreadsheet is made inert first:
control characters become visible escapes (one event stays one line, no terminal escape
sequences), and CSV cells that a spreadsheet would run as a formula are defused.
"""

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from accounts.models import Operator
from security import api_openapi
from security.models import AuditEntry

# C0 and C1 controls, DEL, and the bidirectional overrides/isolates that can make text
# read differently from what it is (CVE-2021-42574, "Trojan Source").
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def printable(text: str) -> str:
    """Return text with every control or bidi character replaced by a visible escape."""

    def escape(match: re.Match) -> str:
        char = match.group()
        if char in _NAMED:
            return _NAMED[char]
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _INVISIBLE.sub(escape, text)


# The quick filters: events an auditor asks about together, whoever did them and through
# which door (console, API, support staff). Revocations are of AuthKeys and of API tokens.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "revocations": (
        "Revocations",
        (
            "Support:revokeAuthKey",
            "User:deleteUserAuthKey",
            "Operator:deleteOperatorAuthKey",
            "User:deactivateUserAuthKey",
            "Operator:deactivateOperatorAuthKey",
            "User:rollUserAuthKey",
            "Operator:rollOperatorAuthKey",
            "User:revokeUserAuthTokens",
            "Operator:revokeOperatorAuthTokens",
        ),
    ),
    "sign-ins": ("Sign-ins", ("Console:signIn", "Auth:auth")),
}
# The search is a substring match over a few short columns: its cost is linear in the
# operator's entries and in this many characters, never more.
MAX_SEARCH_LENGTH = 100


@dataclass(frozen=True)
class AuditFilter:
    """What the reader asked for; empty fields match everything."""

    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: date | None = None  # inclusive, UTC days
    until: date | None = None  # inclusive, UTC days
    text: str = ""  # free text: actor, action, target or an AuthKey ID, anywhere in them
    kind: str = ""  # a key of KINDS

    def is_empty(self) -> bool:
        return not (
            self.actor
            or self.action
            or self.outcome
            or self.since
            or self.until
            or self.text
            or self.kind
        )


def _text_q(text: str) -> Q:
    """Match text anywhere in the actor, the acting user, action, target or an AuthKey ID.

    The AuthKey IDs are the one that authenticated the call and the one the event was
    about (generate, revoke, look-up: `details.authKeyId`).
    """
    text = text[:MAX_SEARCH_LENGTH]
    return (
        Q(actor__icontains=text)
        | Q(user_name__icontains=text)
        | Q(action__icontains=text)
        | Q(target__icontains=text)
        | Q(auth_key_id__icontains=text)
        | Q(details__authKeyId__icontains=text)
    )


def _action_q(action: str) -> Q:
    """Match an API name exactly, a glob ending in `*` (`User:*`), or a path prefix (`/v1/auth`)."""
    if action.startswith("/"):
        return Q(request_path__startswith=action)
    if action.endswith("*"):
        return Q(action__startswith=action.rstrip("*"))
    return Q(action=action)  # API names are case-sensitive (and this can use the index)


def entries(operator: Operator | str, flt: AuditFilter | None = None) -> QuerySet[AuditEntry]:
    """Return the operator's entries matching the filter, newest first."""
    operator_id = operator.pk if isinstance(operator, Operator) else operator
    qs = AuditEntry.objects.filter(operator_id=operator_id)
    flt = flt or AuditFilter()
    if flt.actor:
        qs = qs.filter(
            Q(actor__icontains=flt.actor)
            | Q(user_name__icontains=flt.actor)
            | Q(auth_key_id__iexact=flt.actor)
        )
    if flt.action:
        qs = qs.filter(_action_q(flt.action))
    if flt.text:
        qs = qs.filter(_text_q(flt.text))
    if flt.kind in KINDS:
        qs = qs.filter(action__in=KINDS[flt.kind][1])
    if flt.outcome:
        qs = qs.filter(outcome=flt.outcome)
    if flt.since:
        qs = qs.filter(at__gte=datetime.combine(flt.since, time.min, tzinfo=UTC))
    if flt.until and flt.until < date.max:
        # The end of the last day is the start of the next; 9999-12-31 has no next day in
        # Python's calendar, and nothing can be later than it, so it bounds nothing.
        qs = qs.filter(at__lt=datetime.combine(flt.until + timedelta(days=1), time.min, tzinfo=UTC))
    return qs.order_by("-at", "-id")


def known_actions(operator: Operator) -> list[str]:
    """Return the API names that appear in the operator's log (for the filter's suggestions)."""
    return sorted(
        AuditEntry.objects.filter(operator=operator).values_list("action", flat=True).distinct()
    )


@dataclass(frozen=True)
class Row:
    """One entry as a person sees it: every free-text field made printable."""

    entry: AuditEntry
    actor: str
    target: str
    user_agent: str
    actor_local: str  # the actor split before an "@": the line may break there, not mid-word
    actor_domain: str
    details: str
    reason: str
    key_ref: str  # the AuthKey an event was about (generate, revoke), if any
    extra: str  # the other details, as compact JSON
    self_escalation: bool  # a principal changed its own permissions (SECURITY.md D5)


_SHOWN_APART = ("reason", "authKeyId", "selfEscalation")


def display(entry: AuditEntry) -> Row:
    details = entry.details if isinstance(entry.details, dict) else {}
    extra = {k: v for k, v in details.items() if k not in _SHOWN_APART}
    actor = printable(entry.actor)
    local, at, domain = actor.partition("@")
    return Row(
        entry=entry,
        actor=actor,
        actor_local=local,
        actor_domain=at + domain,
        target=printable(entry.target),
        user_agent=printable(entry.user_agent),
        details=printable(json.dumps(details, ensure_ascii=False, sort_keys=True))
        if details
        else "",
        reason=printable(str(details.get("reason", ""))),
        key_ref=printable(str(details.get("authKeyId", ""))),
        extra=printable(json.dumps(extra, ensure_ascii=False, sort_keys=True)) if extra else "",
        self_escalation=details.get("selfEscalation") is True,
    )


# CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = [
    "time_utc",
    "operator_id",
    "actor_kind",
    "actor",
    "user_name",
    "auth_key_id",
    "action",
    "target",
    "outcome",
    "source_ip",
    "user_agent",
    "request_id",
    "request_path",
    "details",
    "seq",
    "entry_hash",
]

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by
# spreadsheet programs; a leading apostrophe makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """Return a value as an inert CSV cell: printable, and never a formula."""
    text = printable(str(value))
    if text.startswith(_FORMULA_START) or text.startswith(("\\t", "\\r", "\\n")):
        return "'" + text
    return text


def iso_utc(at: datetime | None) -> str:
    """Return the one time format of every CSV export: ISO 8601 in UTC, milliseconds, `Z`.

    Milliseconds, as the API's `requestedTimeEpochMs`, so that a row and an API item of the
    same entry name the same instant.
    """
    if at is None:
        return ""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def csv_row(entry: AuditEntry) -> list[str]:
    values = [
        iso_utc(entry.at),
        entry.operator_id or "",
        entry.actor_kind,
        entry.actor,
        entry.user_name,
        entry.auth_key_id,
        entry.action,
        entry.target,
        entry.outcome,
        entry.source_ip,
        entry.user_agent,
        entry.request_id,
        entry.request_path,
        json.dumps(entry.details, ensure_ascii=False, sort_keys=True) if entry.details else "",
        "" if entry.seq is None else entry.seq,  # unsealed (PostgreSQL, just committed)
        entry.entry_hash,
    ]
    return [csv_cell(v) for v in values]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[str]], header: list[str]) -> Iterator[str]:
    """Yield CSV text line by line (for a streaming response)."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def export_csv(qs: QuerySet[AuditEntry]) -> Iterator[str]:
    return csv_lines((csv_row(e) for e in qs.iterator(chunk_size=1000)), CSV_COLUMNS)


# The JSON API (soracom-api.md §4.9) --------------------------------------------------


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def epoch_ms(at: datetime) -> int:
    """Return whole milliseconds since the epoch (exact: no float rounding)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


def api_user_name(entry: AuditEntry) -> str | None:
    """Return Soracom's userName: "" for root, the SAM user, or None when nobody signed in."""
    if entry.actor_kind == "root":
        return ""
    if entry.actor_kind == "staff":
        return f"support:{entry.actor}"
    if entry.actor_kind == "authkey" or entry.user_name:
        return entry.user_name
    if entry.actor_kind == "sam":
        return entry.actor
    return None


def api_kind(entry: AuditEntry) -> str:
    """Return Soracom's apiKind: the operation's path template, or for an action without an
    API operation (a console-only one) the path the request used."""
    return api_openapi.api_kinds().get(entry.action) or entry.request_path or entry.action


def _api_kind_q(kind: str) -> Q:
    """Match `api_kind` as the contract means it (a path kind) and as Latchkey's names."""
    if not kind.startswith("/"):
        return _action_q(kind)
    names = [name for name, path in api_openapi.api_kinds().items() if path == kind]
    return _action_q(kind) | Q(action__in=names)


def api_item(entry: AuditEntry) -> dict:
    """Return an entry as an APIAuditLogEntry (plus Latchkey's own fields), without nulls."""
    item = {
        "apiKind": api_kind(entry),
        "apiName": entry.action,
        "operatorId": entry.operator_id or "",
        "remoteIpAddress": entry.source_ip,
        "requestPath": entry.request_path,
        "requestedTimeEpochMs": epoch_ms(entry.at),
        "actorKind": entry.actor_kind,
        "actor": entry.actor,
        "target": entry.target,
        "outcome": entry.outcome,
        "userAgent": entry.user_agent,
        "requestId": entry.request_id,
    }
    user_name = api_user_name(entry)
    if user_name is not None:
        item["userName"] = user_name
    if entry.auth_key_id:
        item["authKeyId"] = entry.auth_key_id
    reason = entry.details.get("reason") if isinstance(entry.details, dict) else None
    if isinstance(reason, str) and reason:
        item["reason"] = reason
    return item


def api_page(
    operator_id: str,
    *,
    api_kind: str = "",
    from_ms: int | None = None,
    to_ms: int | None = None,
    limit: int = 100,
    before_ms: int | None = None,
) -> tuple[list[AuditEntry], int | None]:
    """Return (entries newest first, next key) for one API page.

    The key is the requestedTimeEpochMs of the page's last entry, as in Soracom's
    contract; the next page holds entries strictly older than it. So that entries
    sharing that millisecond are not skipped, a page never ends inside a millisecond:
    it ends before the group (or, if the whole page is one millisecond, takes the group).
    """
    qs = AuditEntry.objects.filter(operator_id=operator_id)
    if api_kind:
        qs = qs.filter(_api_kind_q(api_kind))
    if from_ms is not None:
        qs = qs.filter(at__gte=_from_ms(from_ms))
    if to_ms is not None:
        qs = qs.filter(at__lt=_from_ms(to_ms + 1))
    if before_ms is not None:
        qs = qs.filter(at__lt=_from_ms(before_ms))
    qs = qs.order_by("-at", "-id")
    page = list(qs[: limit + 1])
    if len(page) <= limit:
        return page, None
    page = page[:limit]
    last_ms = epoch_ms(page[-1].at)
    if epoch_ms(qs[limit].at) == last_ms:
        kept = [e for e in page if epoch_ms(e.at) != last_ms]
        if kept:
            page = kept
        else:
            page = list(qs.filter(at__gte=_from_ms(last_ms), at__lt=_from_ms(last_ms + 1)))
            if not qs.filter(at__lt=_from_ms(last_ms)).exists():
                return page, None
    return page, epoch_ms(page[-1].at)


def _from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=max(0, min(ms, MAX_EPOCH_MS)))
