"""Authorization: one call decides every API operation and every console action.

Root may call everything. Staff principals belong to no operator and are refused here
(their pages authorize themselves). A SAM user may call an operation when its effective
permission allows it: the operator's default permissions + every attached role + its
inline permission. An explicit deny wins; then an allow whose condition holds; otherwise
the call is denied. Operations in the root-only list are refused to every SAM user,
whatever its statements say. A session narrowed by an OAuth scope (security/oauth.py) is
refused, root's included, every operation its scope does not match, before any of this.

The effective statements are compiled once per (principal, operator policy version) and
kept in this process; every change that can alter a decision bumps the operator's
`policy_version` in the same transaction, so the next request, with any token already
issued, is decided under the new rules.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from accounts.conditions import EvaluationError, Facts
from accounts.context import CallContext
from accounts.models import Operator, Principal, Role
from accounts.permissions import (
    Document,
    InvalidPermission,
    Statement,
    in_scope,
    matches,
    parse_document,
)

log = logging.getLogger("latchkey.policy")

# Operations that only the root account may perform; no statement can grant them to a SAM
# user. Exact names here, and globs in ROOT_ONLY_PATTERNS for families of names (root
# AuthKeys, root MFA, support access) so that a new member of a family is covered too.
ROOT_ONLY: frozenset[str] = frozenset(
    {
        "Operator:listOperatorAuthKeys",
        "Operator:generateOperatorAuthKey",
        "Operator:deleteOperatorAuthKey",
        "Operator:updateOperatorPassword",
        "Operator:updateOperatorEmail",
        "Operator:enableMFA",
        "Operator:getMFAStatus",
        "Operator:verifyMFA",
        "Operator:revokeMFA",
        "Operator:issueMFARevokingToken",
        "Operator:verifyMFARevokingToken",
        "Operator:revokeOperatorAuthTokens",
        "Operator:grantSupportAccess",
        "Operator:revokeSupportAccess",
    }
)
ROOT_ONLY_PATTERNS: tuple[str, ...] = (
    "Operator:*AuthKey*",
    "Operator:*MFA*",
    "Operator:*Passkey*",
    "Operator:*Password*",
    "Operator:*Email*",
    "Operator:*SupportAccess*",
)

# Calls every SAM user may make whatever its permissions: ending its own API session
# ("can be called regardless of any permission settings", soracom-api.md §4.1).
ALWAYS_ALLOWED: frozenset[str] = frozenset({"Auth:logout"})

CACHE_SIZE = 4096


@lru_cache(maxsize=1024)
def is_root_only(api: str) -> bool:
    """Return whether no statement may grant `api` to a SAM user."""
    return api in ROOT_ONLY or any(matches(p, api) for p in ROOT_ONLY_PATTERNS)


@dataclass(frozen=True)
class Rule:
    """One statement of a principal's effective permission, with where it comes from."""

    source: str  # "default", "role", "inline"
    name: str  # the role ID for a role, "" otherwise
    number: int  # 1-based position in its document
    statement: Statement

    @property
    def label(self) -> str:
        where = {"default": "Default permissions", "inline": "Inline permission"}.get(
            self.source, f"Role {self.name}"
        )
        return f"{where}, statement {self.number}" if self.number else where


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: Rule | None = None


_ROOT = Decision(True, "The root account may call every operation.")
_NOT_TENANT = Decision(False, "Only the root account and SAM users call operations.")
_ROOT_ONLY = Decision(False, "Only the root account may call this operation.")
_ALWAYS = Decision(True, "Every user may end its own session.")
_NOTHING = Decision(False, "No statement allowed it.")
_OUT_OF_SCOPE = Decision(False, "The session's scope does not include this operation.")


class CompiledPolicy:
    """A SAM user's effective statements, indexed by API name as names are asked for."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._by_api: dict[str, tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}

    def _rules_for(self, api: str) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        found = self._by_api.get(api)
        if found is None:
            hits = [r for r in self.rules if any(matches(p, api) for p in r.statement.patterns)]
            found = (
                tuple(r for r in hits if r.statement.effect == "deny"),
                tuple(r for r in hits if r.statement.effect == "allow"),
            )
            if len(self._by_api) < 2048:  # bounded: API names come from our own routes
                self._by_api[api] = found
        return found

    def decide(self, api: str, facts: Facts) -> Decision:
        denies, allows = self._rules_for(api)
        for rule in denies:
            condition = rule.statement.condition
            if condition is None:
                return Decision(False, "Denied by an explicit deny.", rule)
            try:
                if condition.holds(facts):
                    return Decision(False, "Denied by an explicit deny.", rule)
            except EvaluationError:
                # Fail closed: a deny whose condition cannot be evaluated still denies.
                return Decision(False, "Denied: the deny's condition could not be evaluated.", rule)
        for rule in allows:
            condition = rule.statement.condition
            if condition is None:
                return Decision(True, "Allowed.", rule)
            try:
                if condition.holds(facts):
                    return Decision(True, "Allowed.", rule)
            except EvaluationError:
                continue  # an allow whose condition cannot be evaluated does not allow
        return _NOTHING


@lru_cache(maxsize=1024)
def _parsed(text: str) -> Document | InvalidPermission:
    # Documents are immutable values: a role shared by many users, or unchanged across a
    # policy version bump, is parsed once per process.
    try:
        return parse_document(text)
    except InvalidPermission as exc:
        return exc


def _rules_of(source: str, name: str, text: str) -> list[Rule]:
    if not text:
        return []
    document = _parsed(text)
    if isinstance(document, InvalidPermission):
        # Stored documents were validated on save; one that no longer parses (a cap lowered
        # by an upgrade) must not silently grant or lose a deny: it denies everything.
        log.error("unreadable %s permission %r: %s", source, name, document)
        broken = parse_document('{"statements":[{"effect":"deny","api":"*"}]}')
        return [Rule(source, name, 0, broken.statements[0])]
    return [Rule(source, name, i, s) for i, s in enumerate(document.statements, 1)]


def load_rules(principal_id: int) -> tuple[Rule, ...]:
    """Return the effective statements of a SAM user as stored now."""
    row = (
        Principal.objects.filter(pk=principal_id, kind=Principal.Kind.SAM)
        .values_list("inline_permission", "operator__default_permissions")
        .first()
    )
    if row is None:
        return ()
    inline, default = row
    roles = (
        Role.objects.filter(attachments__principal_id=principal_id)
        .order_by("role_id")
        .values_list("role_id", "permission")
    )
    rules = _rules_of("default", "", default)
    for role_id, permission in roles:
        rules += _rules_of("role", role_id, permission)
    rules += _rules_of("inline", "", inline)
    return tuple(rules)


def allows_anything(principal: Principal) -> bool:
    """Return whether some statement allows the principal a call (root: always)."""
    if not principal.is_sam:
        return principal.is_root
    return any(rule.statement.effect == "allow" for rule in load_rules(principal.pk))


_cache: OrderedDict[tuple[int, str, int], CompiledPolicy] = OrderedDict()
_lock = threading.Lock()


def compiled(principal: Principal, version: int) -> CompiledPolicy:
    """Return the compiled policy of a SAM user at an operator policy version (cached)."""
    key = (principal.pk, principal.operator_id or "", version)
    found = _cache.get(key)
    if found is not None:
        return found
    policy = CompiledPolicy(load_rules(principal.pk))
    with _lock:
        _cache[key] = policy
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return policy


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def current_version(operator_id: str) -> int:
    version = (
        Operator.objects.filter(pk=operator_id).values_list("policy_version", flat=True).first()
    )
    return version or 0


def facts_of(ctx: CallContext) -> Facts:
    principal = ctx.principal
    return Facts(
        now=ctx.now,
        source_ip=ctx.source_ip,
        method=ctx.method,
        path_vars=ctx.path_vars,
        sam_user_name=principal.user_name if principal.is_sam else None,
        second_factor=ctx.second_factor,
    )


def explain(ctx: CallContext) -> Decision:
    """Return the decision for ctx with the statement (rule) that made it, if any."""
    principal = ctx.principal
    # A scoped session (OAuth client credentials) needs both: the scope and, below, the
    # principal's own permission. Ending one's own session stays always allowed.
    if ctx.scope and ctx.api not in ALWAYS_ALLOWED and not in_scope(ctx.scope, ctx.api):
        return _OUT_OF_SCOPE
    if principal.is_root:
        return _ROOT
    if not principal.is_sam or not principal.operator_id or not principal.is_active:
        return _NOT_TENANT
    if is_root_only(ctx.api):
        return _ROOT_ONLY
    if ctx.api in ALWAYS_ALLOWED:
        return _ALWAYS
    version = ctx.policy_version
    if version is None:
        version = current_version(principal.operator_id)
    return compiled(principal, version).decide(ctx.api, facts_of(ctx))


def may_ever_call(principal: Principal, api: str) -> bool:
    """Return whether some statement could allow `api` to the principal (conditions aside).

    For refusing an OAuth scope that names nothing the key may do: a statement whose
    condition might hold counts, an unconditional deny does not.
    """
    if principal.is_root:
        return True
    if not principal.is_sam or not principal.operator_id or is_root_only(api):
        return False
    if api in ALWAYS_ALLOWED:
        return True
    version = current_version(principal.operator_id)
    denies, allows = compiled(principal, version)._rules_for(api)
    if any(rule.statement.condition is None for rule in denies):
        return False
    return bool(allows)


def is_allowed(ctx: CallContext) -> bool:
    """Return whether the principal in ctx may call ctx.api."""
    return explain(ctx).allowed


def is_self_escalation(actor: Principal, target: Principal | None = None, role=None) -> bool:
    """Return whether a SAM user is changing what it may do itself (for the audit trail).

    True when the target user is the actor, or the role is attached to the actor.
    """
    if not actor.is_sam:
        return False
    if target is not None and target.pk == actor.pk:
        return True
    if role is not None:
        return role.attachments.filter(principal_id=actor.pk).exists()
    return False
