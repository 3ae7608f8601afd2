"""Permission documents: the known API names, parsing and validation, API-name globs.

A document is `{"statements":[{"effect":"allow"|"deny","api":"Name"|["Name",...],
"condition":"..."}]}` and travels as a JSON string inside JSON (soracom-api.md §5). It is
validated completely before anything is saved; the first problem is reported with the
statement it is in (1-based, as people count) and, for a condition, the position.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from django.urls import get_resolver

from accounts.conditions import Condition, ConditionSyntaxError
from console import secretscan, strictjson

MAX_DOCUMENT_LENGTH = 32_768  # characters of the JSON text
MAX_STATEMENTS = 100
MAX_PATTERNS = 100  # API names or globs in one statement
MAX_PATTERN_LENGTH = 200
MAX_WILDCARDS = 8  # `*` in one API name glob
EFFECTS = ("allow", "deny")
EMPTY_DOCUMENT = '{"statements":[]}'

# The API names of the contract (soracom-api.md §5) plus Credential and AuditLog. Console
# actions and API operations register the names they use when they are decorated
# (`register_operation`), so that an operation added later is known without an edit here.
CONTRACT_OPERATIONS: frozenset[str] = frozenset(
    f"{tag}:{name}"
    for tag, names in {
        "Auth": "auth logout switchUser issuePasswordResetToken verifyPasswordResetToken",
        "Operator": (
            "listOperatorAuthKeys generateOperatorAuthKey deleteOperatorAuthKey "
            "generateAuthToken revokeOperatorAuthTokens getOperator updateOperatorPassword "
            "enableMFA getMFAStatus verifyMFA revokeMFA issueMFARevokingToken "
            "verifyMFARevokingToken"
        ),
        "User": (
            "listUsers createUser getUser updateUser deleteUser revokeUserAuthTokens "
            "createUserPassword hasUserPassword updateUserPassword deleteUserPassword "
            "listUserAuthKeys generateUserAuthKey getUserAuthKey deleteUserAuthKey "
            "getUserPermission updateUserPermission deleteUserPermission "
            "getDefaultPermissions updateDefaultPermissions deleteDefaultPermissions "
            "enableUserMFA getUserMFAStatus verifyUserMFA revokeUserMFA getUserTrustPolicy "
            "updateUserTrustPolicy deleteUserTrustPolicy"
        ),
        "Role": (
            "listRoles createRole getRole updateRole deleteRole listRoleAttachedUsers "
            "listRoleVersions listUserRoles attachRole detachRole"
        ),
        "Credential": "listCredentials createCredential updateCredential deleteCredential",
        "AuditLog": "getApiAuditLogs getNapterAuditLogs",
    }.items()
    for name in names.split()
)

# Console-only names of this module's own pages (the effective permission and simulator).
CONSOLE_OPERATIONS: frozenset[str] = frozenset(
    {"User:getEffectivePermission", "User:simulatePermission"}
)

_registered: set[str] = set()
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*:[A-Za-z][A-Za-z0-9]*$")
_PATTERN_RE = re.compile(r"^[A-Za-z0-9_*]+(:[A-Za-z0-9_*]+)?$")


def register_operation(name: str) -> None:
    """Record an API name used by a console action or API operation (at import time)."""
    if not _NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a Tag:operationId API name")
    _registered.add(name)
    known_operations.cache_clear()


@lru_cache(maxsize=1)
def known_operations() -> frozenset[str]:
    """Return every API name: the contract's plus every registered one."""
    _load_routes()
    return CONTRACT_OPERATIONS | CONSOLE_OPERATIONS | frozenset(_registered)


def _load_routes() -> None:
    # Importing the URL configuration imports every view and router, which registers them.
    get_resolver().url_patterns  # noqa: B018


def matches(pattern: str, api: str) -> bool:
    """Return whether the API name `api` matches the glob `pattern` (`*`: any run of characters).

    No regex and no backtracking (a `*` compiled to a backtracking `.*` once let one
    tenant's pattern of stars stall every worker): the first and last pieces are anchored
    at the ends, and the pieces between stars are found in order, each at its leftmost
    place after the one before. Leftmost is always right for a glob whose only wildcard is
    `*` (ending a piece earlier never hurts the pieces after it), so one pass decides, in
    time proportional to len(api) for each piece.
    """
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return pattern == api
    first, last = pieces[0], pieces[-1]
    if len(first) + len(last) > len(api) or not api.startswith(first) or not api.endswith(last):
        return False
    position, end = len(first), len(api) - len(last)
    for piece in pieces[1:-1]:
        if not piece:
            continue
        found = api.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


class InvalidPermission(ValueError):
    """A document that cannot be saved: says where (statement, position) and why."""

    def __init__(self, message: str, statement: int | None = None, position: int | None = None):
        where = f"Statement {statement}: " if statement else ""
        super().__init__(where + message)
        self.statement = statement
        self.position = position
        self.reason = message


@dataclass(frozen=True)
class Statement:
    effect: str
    patterns: tuple[str, ...]
    condition: Condition | None

    @property
    def condition_text(self) -> str:
        return self.condition.source if self.condition else ""

    @property
    def json_text(self) -> str:
        return json.dumps(self.as_json())

    def as_json(self) -> dict:
        data: dict = {
            "effect": self.effect,
            "api": self.patterns[0] if len(self.patterns) == 1 else list(self.patterns),
        }
        if self.condition:
            data["condition"] = self.condition.source
        return data


@dataclass(frozen=True)
class Document:
    statements: tuple[Statement, ...]


def parse_document(text: object, *, refuse_secrets: bool = False) -> Document:
    """Return the validated document in `text`, or raise InvalidPermission.

    `refuse_secrets` (every save, and the console's check): a condition holding an AuthKey
    secret, API key or token is refused. Stored documents are read without it, so that a
    document saved before the rule keeps deciding as it did.
    """
    statements = raw_statements(text, "permission", InvalidPermission)
    return Document(tuple(_statement(s, i, refuse_secrets) for i, s in enumerate(statements, 1)))


def raw_statements(text: object, what: str, error: type[InvalidPermission]) -> list:
    """Return the "statements" array of a statement document (a permission, a trust policy).

    The envelope every such document shares: a JSON string of bounded length, strict JSON
    (no duplicate keys, bounded nesting), one object with only "statements", an array of at
    most MAX_STATEMENTS. Each statement is the caller's to check. `error` is raised with a
    message naming `what`.
    """
    if not isinstance(text, str):
        raise error(f"The {what} must be a JSON string.")
    if len(text) > MAX_DOCUMENT_LENGTH:
        raise error(f"The {what} is longer than {MAX_DOCUMENT_LENGTH} characters.")
    try:
        data = strictjson.loads(text)
    except strictjson.DuplicateKey as exc:
        raise error(f"The field {exc} appears twice.") from None
    except RecursionError:
        raise error(f"The {what} is nested too deeply.") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise error(f"The {what} is not valid JSON{where}.") from None
    if not isinstance(data, dict):
        raise error(f'The {what} must be a JSON object with "statements".')
    unknown = sorted(set(data) - {"statements"})
    if unknown:
        raise error(f'Unknown field {unknown[0]!r} (only "statements" is allowed).')
    statements = data.get("statements")
    if not isinstance(statements, list):
        raise error('"statements" must be an array.')
    if len(statements) > MAX_STATEMENTS:
        raise error(f"{len(statements)} statements; a {what} holds at most {MAX_STATEMENTS}.")
    return statements


def _statement(raw: object, number: int, refuse_secrets: bool = False) -> Statement:
    if not isinstance(raw, dict):
        raise InvalidPermission("a statement must be a JSON object.", number)
    unknown = sorted(set(raw) - {"effect", "api", "condition"})
    if unknown:
        raise InvalidPermission(
            f"unknown field {unknown[0]!r} (use effect, api and condition).", number
        )
    effect = raw.get("effect")
    if effect not in EFFECTS:
        raise InvalidPermission('"effect" must be "allow" or "deny".', number)
    if "api" not in raw:
        raise InvalidPermission('"api" is missing.', number)
    api = raw["api"]
    patterns = [api] if isinstance(api, str) else api
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise InvalidPermission('"api" must be a string or an array of strings.', number)
    if not patterns:
        raise InvalidPermission('"api" must name at least one API.', number)
    if len(patterns) > MAX_PATTERNS:
        raise InvalidPermission(f'"api" lists more than {MAX_PATTERNS} names.', number)
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem:
            raise InvalidPermission(problem, number)
    condition = None
    if "condition" in raw:
        text = raw["condition"]
        if not isinstance(text, str):
            raise InvalidPermission('"condition" must be a string.', number)
        kind = secretscan.first_kind(text) if refuse_secrets else None
        if kind is not None:
            raise InvalidPermission(secretscan.message("condition", kind), number)
        if text.strip():
            try:
                condition = Condition.parse(text)
            except ConditionSyntaxError as exc:
                raise InvalidPermission(
                    f"condition: {exc.reason} at position {exc.position}.", number, exc.position
                ) from None
    return Statement(effect, tuple(dict.fromkeys(patterns)), condition)


def pattern_problem(pattern: str) -> str:
    """Return why an API pattern is malformed, or "" when it is well formed."""
    if not pattern:
        return "an API name is empty."
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"an API name is longer than {MAX_PATTERN_LENGTH} characters."
    if pattern.count("*") > MAX_WILDCARDS:
        return f"an API name has more than {MAX_WILDCARDS} wildcards (*)."
    if not _PATTERN_RE.match(pattern):
        if secretscan.contains_secret(pattern):  # the message quotes the pattern: not this one
            return secretscan.message("API name", secretscan.first_kind(pattern))
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        return (
            f"{shown!r} is not an API name: use Tag:operationId, with * as a wildcard "
            '(e.g. "User:*", "User:list*" or "*").'
        )
    return ""


MAX_SUGGESTIONS = 10  # per document: difflib's cost is quadratic in the name's length


def _unknown(pattern: str, known: frozenset[str], suggest: bool) -> str:
    """Return the warning for a pattern that matches no operation, with a likely meant name."""
    message = f"{pattern!r} matches no known API operation."
    if suggest and "*" not in pattern and len(pattern) <= 80:
        close = difflib.get_close_matches(pattern, sorted(known), n=1, cutoff=0.75)
        if close:
            message += f" Did you mean {close[0]!r}?"
    return message


def warnings(document: Document) -> list[tuple[int, str]]:
    """Return (statement number, message) for each pattern that matches no known API."""
    known = known_operations()
    found: list[tuple[int, str]] = []
    for number, statement in enumerate(document.statements, 1):
        for pattern in statement.patterns:
            if not any(matches(pattern, name) for name in known):
                suggest = len(found) < MAX_SUGGESTIONS
                found.append((number, _unknown(pattern, known, suggest)))
    return found


def dumps(statements: list[dict]) -> str:
    """Return a document's canonical, readable JSON text."""
    return json.dumps({"statements": statements}, indent=2)


@dataclass
class ReviewedStatement:
    """One statement as the console's editor shows it: what it says and what is wrong."""

    number: int
    effect: str = ""
    api: str = ""
    condition: str = ""
    error: str = ""
    position: int | None = None  # in the condition, when the error is in it
    warnings: list[str] | None = None

    @property
    def pointer(self) -> str:
        """Return a caret under the condition's error position, for a monospace display."""
        if self.position is None or not self.condition:
            return ""
        return " " * min(self.position, len(self.condition)) + "^"


@dataclass
class Review:
    error: InvalidPermission | None  # the first problem, as the API would report it
    top_error: str  # a problem with the document as a whole (not valid JSON, too big ...)
    statements: list[ReviewedStatement]

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def has_warnings(self) -> bool:
        return any(s.warnings for s in self.statements)


def review(text: str) -> Review:
    """Validate a document statement by statement, for an editor that marks each one."""
    try:
        parse_document(text, refuse_secrets=True)
        first = None
    except InvalidPermission as exc:
        first = exc
    rows: list[ReviewedStatement] = []
    raw_statements = None
    if first is None or first.statement is not None:
        raw_statements = json.loads(text)["statements"]
    if raw_statements is None:
        return Review(first, str(first), rows)
    known = known_operations()
    suggestions = 0
    for number, raw in enumerate(raw_statements, 1):
        row = ReviewedStatement(number)
        if isinstance(raw, dict):
            row.effect = raw.get("effect") if isinstance(raw.get("effect"), str) else ""
            api = raw.get("api")
            row.api = secretscan.redact(api if isinstance(api, str) else json.dumps(api)[:300])
            cond = raw.get("condition")
            row.condition = secretscan.redact(cond[:1000]) if isinstance(cond, str) else ""
        try:
            statement = _statement(raw, number, refuse_secrets=True)
        except InvalidPermission as exc:
            row.error, row.position = exc.reason, exc.position
        else:
            row.warnings = []
            for p in statement.patterns:
                if not any(matches(p, name) for name in known):
                    row.warnings.append(_unknown(p, known, suggestions < MAX_SUGGESTIONS))
                    suggestions += 1
        rows.append(row)
    return Review(first, "", rows)


# --- OAuth scopes ----------------------------------------------------------------------

# A scope narrows a session to some API names (security/oauth.py). Bounded so that a
# decision costs at most MAX_SCOPE_ENTRIES linear-time glob matches (SECURITY.md §6).
MAX_SCOPE_ENTRIES = 20
MAX_SCOPE_LENGTH = 1000


class InvalidScope(ValueError):
    """A scope that cannot be granted: says why (never quoting more than a short entry)."""


def parse_scope(text: str) -> tuple[str, ...]:
    """Return a scope's entries (API names or globs, each matching a known API), deduplicated.

    Entries are separated by single spaces (RFC 6749 §3.3); each must be a well-formed API
    name or glob that matches at least one known operation.
    """
    if len(text) > MAX_SCOPE_LENGTH:
        raise InvalidScope(f"The scope is longer than {MAX_SCOPE_LENGTH} characters.")
    entries = text.split(" ")
    if not text or "" in entries:
        raise InvalidScope("The scope is a list of API names separated by single spaces.")
    entries = list(dict.fromkeys(entries))
    if len(entries) > MAX_SCOPE_ENTRIES:
        raise InvalidScope(f"The scope names more than {MAX_SCOPE_ENTRIES} APIs.")
    known = known_operations()
    for entry in entries:
        problem = pattern_problem(entry)
        if problem:
            raise InvalidScope(problem)
        if not any(matches(entry, name) for name in known):
            raise InvalidScope(f"{entry[:60]!r} matches no known API operation.")
    return tuple(entries)


def in_scope(scope: tuple[str, ...], api: str) -> bool:
    """Return whether a session's scope lets it call `api` (an empty scope: everything)."""
    return not scope or any(matches(entry, api) for entry in scope)
