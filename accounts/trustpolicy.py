"""Trust policies: who may switch to a SAM user (Auth:switchUser), parsed and decided.

A trust policy is `{"statements":[{"effect":"allow"|"deny","principal":{"soracom":[SRN,
...]},"condition":"..."}]}`, a JSON string inside JSON like a permission document
(soracom-api.md §4.10). It is validated completely before anything is saved, with the
same rules and the same kind of errors as permission documents (accounts/permissions.py):
unknown fields refused, duplicate keys refused, the first problem named with its
statement, the SRN's place in its list and, for a condition, the position.

SRNs are checked for their form only (`srn:soracom:OP…::User:<name>` or
`srn:soracom:OP…::Operator:OP…`, no wildcards): whether another operator's user exists is
never looked up, so that a trust policy is no oracle of other tenants.

The principal object names its kind of principal. Only `soracom` exists today; the model
keeps room for others (issue 16 plans `{"oidc": "<provider>"}`) by keeping the kinds in
`PRINCIPAL_KINDS` and each statement's principals as (kind, value) pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from accounts.conditions import Condition, ConditionSyntaxError, EvaluationError, Facts
from accounts.identifiers import is_valid_name
from accounts.permissions import EFFECTS, InvalidPermission, raw_statements
from console import secretscan

MAX_PRINCIPALS = 100  # SRNs in one statement
MAX_SRN_LENGTH = 200
EMPTY_POLICY = '{"statements":[]}'

# Kinds of principal a statement may name. "soracom": SRNs of root accounts and SAM users.
PRINCIPAL_KINDS = ("soracom",)

_OPERATOR_ID = r"OP\d{10}"
_SRN = re.compile(rf"^srn:soracom:({_OPERATOR_ID})::(User|Operator):([^:]+)\Z", re.ASCII)


class InvalidTrustPolicy(InvalidPermission):
    """A trust policy that cannot be saved: says where (statement, position) and why."""


@dataclass(frozen=True)
class TrustStatement:
    effect: str
    principals: tuple[tuple[str, str], ...]  # (kind, value): ("soracom", "srn:…")
    condition: Condition | None

    def names(self, srn: str) -> bool:
        return ("soracom", srn) in self.principals


@dataclass(frozen=True)
class TrustPolicy:
    statements: tuple[TrustStatement, ...]

    def allowed_srns(self) -> list[str]:
        """Return every SRN an allow statement names (the "who trusts me" index)."""
        found = dict.fromkeys(
            value
            for s in self.statements
            if s.effect == "allow"
            for kind, value in s.principals
            if kind == "soracom"
        )
        return list(found)


def srn_problem(srn: str) -> str:
    """Return why an SRN is not one a trust policy may name, or "" when it is."""
    if len(srn) > MAX_SRN_LENGTH:
        return f"an SRN is longer than {MAX_SRN_LENGTH} characters."
    match = _SRN.match(srn)
    if "*" in srn:
        return "an SRN may not hold a wildcard (*): name each principal."
    if match is None:
        if secretscan.contains_secret(srn):
            return secretscan.message("SRN", secretscan.first_kind(srn))
        shown = srn if len(srn) <= 60 else srn[:57] + "..."
        return (
            f"{shown!r} is not an SRN: use srn:soracom:OP0000000000::User:<name> or "
            "srn:soracom:OP0000000000::Operator:OP0000000000."
        )
    operator_id, kind, name = match.groups()
    if kind == "Operator" and name != operator_id:
        return f"{srn!r}: a root account's SRN names its own operator twice."
    if kind == "User" and not is_valid_name(name):
        return f"{srn!r}: {name!r} is not a valid SAM user name."
    return ""


def parse(text: object, *, refuse_secrets: bool = True) -> TrustPolicy:
    """Return the validated trust policy in `text`, or raise InvalidTrustPolicy."""
    statements = raw_statements(text, "trust policy", InvalidTrustPolicy)
    return TrustPolicy(tuple(_statement(s, i, refuse_secrets) for i, s in enumerate(statements, 1)))


def _statement(raw: object, number: int, refuse_secrets: bool) -> TrustStatement:
    if not isinstance(raw, dict):
        raise InvalidTrustPolicy("a statement must be a JSON object.", number)
    unknown = sorted(set(raw) - {"effect", "principal", "condition"})
    if unknown:
        raise InvalidTrustPolicy(
            f"unknown field {unknown[0]!r} (use effect, principal and condition).", number
        )
    if raw.get("effect") not in EFFECTS:
        raise InvalidTrustPolicy('"effect" must be "allow" or "deny".', number)
    principal = raw.get("principal")
    if not isinstance(principal, dict) or not principal:
        raise InvalidTrustPolicy(
            '"principal" must be an object such as {"soracom": ["srn:soracom:…"]}.', number
        )
    kinds = sorted(set(principal) - set(PRINCIPAL_KINDS))
    if kinds:
        raise InvalidTrustPolicy(
            f'unknown principal kind {kinds[0]!r} (only "soracom" is supported).', number
        )
    srns = principal["soracom"]
    if not isinstance(srns, list) or not all(isinstance(s, str) for s in srns):
        raise InvalidTrustPolicy('"principal.soracom" must be an array of SRN strings.', number)
    if not srns:
        raise InvalidTrustPolicy('"principal.soracom" must name at least one SRN.', number)
    if len(srns) > MAX_PRINCIPALS:
        raise InvalidTrustPolicy(f'"principal.soracom" lists more than {MAX_PRINCIPALS}.', number)
    for index, srn in enumerate(srns, 1):
        problem = srn_problem(srn)
        if problem:
            raise InvalidTrustPolicy(f"SRN {index}: {problem}", number, index)
    condition = None
    if "condition" in raw:
        text = raw["condition"]
        if not isinstance(text, str):
            raise InvalidTrustPolicy('"condition" must be a string.', number)
        kind = secretscan.first_kind(text) if refuse_secrets else None
        if kind is not None:
            raise InvalidTrustPolicy(secretscan.message("condition", kind), number)
        if text.strip():
            try:
                condition = Condition.parse(text)
            except ConditionSyntaxError as exc:
                raise InvalidTrustPolicy(
                    f"condition: {exc.reason} at position {exc.position}.", number, exc.position
                ) from None
    principals = tuple(("soracom", s) for s in dict.fromkeys(srns))
    return TrustStatement(raw["effect"], principals, condition)


def _holds(statement: TrustStatement, facts: Facts, *, fail: bool) -> bool:
    if statement.condition is None:
        return True
    try:
        return statement.condition.holds(facts)
    except EvaluationError:
        return fail


def trusts(text: str, srn: str, facts: Facts) -> bool:
    """Return whether the stored trust policy `text` lets the principal `srn` switch in.

    An explicit deny naming the SRN wins (a deny whose condition cannot be evaluated still
    denies); then an allow naming it whose condition holds; otherwise no. A stored policy
    that no longer parses trusts nobody.
    """
    if not text:
        return False
    try:
        policy = parse(text, refuse_secrets=False)
    except InvalidTrustPolicy:
        return False
    named = [s for s in policy.statements if s.names(srn)]
    if any(s.effect == "deny" and _holds(s, facts, fail=True) for s in named):
        return False
    return any(s.effect == "allow" and _holds(s, facts, fail=False) for s in named)
