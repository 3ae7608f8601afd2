"""The policy engine's edges (accounts/policy.py) that `make mutate` found untested: rule
labels, the bounded caches, the helpers other modules call (allows_anything,
is_self_escalation, current_version) and the facts a condition sees."""

import json
import logging
from datetime import UTC, datetime

import pytest

from accounts import policy
from accounts.context import CallContext
from accounts.models import Operator, Principal
from accounts.permissions import InvalidPermission, parse_document
from security import roles

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    policy.clear_cache()
    yield
    policy.clear_cache()


@pytest.fixture
def bob(operator) -> Principal:
    return Principal.objects.create_sam_user(operator, "bob")


def doc(*statements: dict) -> str:
    return json.dumps({"statements": list(statements)})


def ctx(principal, api, **kw) -> CallContext:
    base = {"source_ip": "10.0.0.1", "method": "GET", "path_vars": {}, "now": NOW}
    base.update(kw)
    return CallContext(principal=principal, api=api, **base)


def _statement(effect="allow", api="*"):
    return parse_document(doc({"effect": effect, "api": api})).statements[0]


# Labels and reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "number", "label"),
    [
        ("default", "", 3, "Default permissions, statement 3"),
        ("inline", "", 1, "Inline permission, statement 1"),
        ("role", "ops", 2, "Role ops, statement 2"),
        ("inline", "", 0, "Inline permission"),
    ],
)
def test_a_rule_is_labelled_by_where_it_comes_from(source, name, number, label):
    assert policy.Rule(source, name, number, _statement()).label == label


def test_the_deciding_allow_is_reported_with_its_reason(root, bob):
    roles.set_inline_permission(None, root, bob, doc({"effect": "allow", "api": "User:*"}))
    decision = policy.explain(ctx(bob, "User:listUsers"))
    assert decision.allowed is True
    assert decision.reason == "Allowed."
    assert decision.rule.label == "Inline permission, statement 1"


def test_the_deciding_deny_is_reported_with_its_reason(root, bob):
    roles.set_default_permissions(None, root, doc({"effect": "deny", "api": "User:*"}))
    decision = policy.explain(ctx(bob, "User:listUsers"))
    assert decision.allowed is False
    assert decision.reason == "Denied by an explicit deny."
    assert decision.rule.label == "Default permissions, statement 1"


def test_a_deny_whose_condition_holds_is_reported_as_the_deny(root, bob):
    statements = [
        {"effect": "allow", "api": "*"},
        {"effect": "deny", "api": "*", "condition": "httpMethod('DELETE')"},
    ]
    roles.set_inline_permission(None, root, bob, doc(*statements))
    decision = policy.explain(ctx(bob, "User:deleteUser", method="DELETE"))
    assert (decision.allowed, decision.reason) == (False, "Denied by an explicit deny.")
    assert decision.rule.number == 2


def test_a_deny_that_cannot_be_evaluated_says_so(root, bob):
    statements = [
        {"effect": "allow", "api": "*"},
        {"effect": "deny", "api": "*", "condition": "pathVariable('role_id') == 'admin'"},
    ]
    roles.set_inline_permission(None, root, bob, doc(*statements))
    decision = policy.explain(ctx(bob, "User:listUsers"))
    assert decision.allowed is False
    assert decision.reason == "Denied: the deny's condition could not be evaluated."
    assert decision.rule.number == 2


def test_an_allow_whose_condition_holds_is_reported_with_its_rule(root, bob):
    statements = [{"effect": "allow", "api": "*", "condition": "httpMethod('GET')"}]
    roles.set_inline_permission(None, root, bob, doc(*statements))
    decision = policy.explain(ctx(bob, "User:listUsers"))
    assert (decision.allowed, decision.reason, decision.rule.number) == (True, "Allowed.", 1)


def test_a_later_allow_decides_after_one_that_cannot_be_evaluated(root, bob):
    statements = [
        {"effect": "allow", "api": "*", "condition": "pathVariable('user_name') == 'x'"},
        {"effect": "allow", "api": "User:*"},
    ]
    roles.set_inline_permission(None, root, bob, doc(*statements))
    decision = policy.explain(ctx(bob, "User:listUsers"))
    assert (decision.allowed, decision.rule.number) == (True, 2)


@pytest.mark.parametrize(
    ("who", "allowed", "reason"),
    [
        ("root", True, "The root account may call every operation."),
        ("staff", False, "Only the root account and SAM users call operations."),
        ("inactive", False, "Only the root account and SAM users call operations."),
    ],
)
def test_the_principal_kind_decides_before_any_statement(root, bob, who, allowed, reason):
    roles.set_inline_permission(None, root, bob, doc({"effect": "allow", "api": "*"}))
    if who == "staff":
        principal = Principal.objects.create_staff("helpdesk", "pw-123456789", "support")
    elif who == "inactive":
        Principal.objects.filter(pk=bob.pk).update(is_active=False)
        principal = Principal.objects.get(pk=bob.pk)
    else:
        principal = root
    decision = policy.explain(ctx(principal, "User:listUsers"))
    assert (decision.allowed, decision.reason, decision.rule) == (allowed, reason, None)


def test_root_only_and_logout_are_decided_before_any_statement(root, bob):
    roles.set_inline_permission(None, root, bob, doc({"effect": "deny", "api": "*"}))
    refused = policy.explain(ctx(bob, "Operator:generateOperatorAuthKey"))
    assert (refused.allowed, refused.reason) == (
        False,
        "Only the root account may call this operation.",
    )
    logout = policy.explain(ctx(bob, "Auth:logout"))
    assert (logout.allowed, logout.reason) == (True, "Every user may end its own session.")


# Unreadable documents --------------------------------------------------------------------


def test_an_unreadable_document_is_logged_by_source_and_name(root, bob, caplog):
    role = roles.create_role(None, root, "ops", doc({"effect": "allow", "api": "*"}))
    roles.attach_role(None, root, bob, role)
    role.__class__.objects.filter(pk=role.pk).update(permission="{broken")
    with caplog.at_level(logging.ERROR, logger="latchkey.policy"):
        rules = policy.load_rules(bob.pk)
    assert [(r.source, r.name, r.number, r.statement.effect) for r in rules] == [
        ("role", "ops", 0, "deny")
    ]
    assert rules[0].statement.patterns == ("*",)
    assert rules[0].statement.condition is None
    (record,) = [r for r in caplog.records if r.name == "latchkey.policy"]
    assert record.levelno == logging.ERROR
    with pytest.raises(InvalidPermission) as why:
        parse_document("{broken")
    assert record.getMessage() == f"unreadable role permission 'ops': {why.value}"


def test_load_rules_numbers_statements_from_one_in_document_order(root, bob):
    roles.set_default_permissions(None, root, doc({"effect": "allow", "api": "Role:*"}))
    for name in ("b", "a"):
        role = roles.create_role(None, root, name, doc({"effect": "allow", "api": f"{name}:*"}))
        roles.attach_role(None, root, bob, role)
    roles.set_inline_permission(
        None,
        root,
        bob,
        doc({"effect": "deny", "api": "User:x"}, {"effect": "allow", "api": "User:*"}),
    )
    assert [(r.source, r.name, r.number) for r in policy.load_rules(bob.pk)] == [
        ("default", "", 1),
        ("role", "a", 1),
        ("role", "b", 1),
        ("inline", "", 1),
        ("inline", "", 2),
    ]


def test_load_rules_has_nothing_for_a_root_account(root):
    roles.set_default_permissions(None, root, doc({"effect": "allow", "api": "*"}))
    assert policy.load_rules(root.pk) == ()


# Helpers other modules call --------------------------------------------------------------


def test_allows_anything_for_root_but_not_staff(root):
    staff = Principal.objects.create_staff("helpdesk", "pw-123456789", "support")
    assert policy.allows_anything(root) is True
    assert policy.allows_anything(staff) is False


def test_allows_anything_needs_an_allow_statement(root, bob):
    assert policy.allows_anything(bob) is False
    roles.set_inline_permission(None, root, bob, doc({"effect": "deny", "api": "*"}))
    assert policy.allows_anything(bob) is False
    roles.set_default_permissions(None, root, doc({"effect": "allow", "api": "Role:getRole"}))
    assert policy.allows_anything(bob) is True


def test_current_version_reads_the_operator_and_is_zero_for_none(root):
    Operator.objects.filter(pk=root.operator_id).update(policy_version=7)
    assert policy.current_version(root.operator_id) == 7
    assert policy.current_version("OP9999999999") == 0


def test_self_escalation_is_changing_oneself(root, bob, alice):
    assert policy.is_self_escalation(bob, bob) is True
    assert policy.is_self_escalation(bob, alice) is False
    assert policy.is_self_escalation(bob) is False
    assert policy.is_self_escalation(root, root) is False  # root holds everything already


def test_self_escalation_is_changing_a_role_one_holds(root, bob, alice):
    held = roles.create_role(None, root, "held", doc({"effect": "allow", "api": "*"}))
    other = roles.create_role(None, root, "other", doc({"effect": "allow", "api": "*"}))
    roles.attach_role(None, root, bob, held)
    roles.attach_role(None, root, alice, other)
    assert policy.is_self_escalation(bob, role=held) is True
    assert policy.is_self_escalation(bob, role=other) is False
    assert policy.is_self_escalation(bob, alice, role=held) is True
    assert policy.is_self_escalation(root, role=held) is False


# The facts a condition sees ----------------------------------------------------------------


def test_facts_carry_the_call(bob):
    facts = policy.facts_of(
        ctx(
            bob,
            "User:getUser",
            source_ip="192.0.2.7",
            method="DELETE",
            path_vars={"user_name": "bob"},
            second_factor=True,
        )
    )
    assert (facts.now, facts.source_ip, facts.method) == (NOW, "192.0.2.7", "DELETE")
    assert facts.path_vars == {"user_name": "bob"}
    assert (facts.sam_user_name, facts.second_factor) == ("bob", True)


def test_facts_of_root_have_no_sam_user_name(root):
    facts = policy.facts_of(ctx(root, "User:getUser"))
    assert (facts.sam_user_name, facts.second_factor) == (None, False)


# Bounded caches --------------------------------------------------------------------------


def test_the_per_api_index_keeps_at_most_2048_names():
    compiled = policy.CompiledPolicy((policy.Rule("inline", "", 1, _statement()),))
    for i in range(2100):
        compiled.decide(f"User:op{i}", None)
    assert len(compiled._by_api) == 2048
    assert "User:op2047" in compiled._by_api
    assert "User:op2048" not in compiled._by_api
    assert compiled.decide("User:op2099", None).allowed is True  # still decided


def test_the_compiled_cache_evicts_the_oldest_entry(root, bob, monkeypatch):
    monkeypatch.setattr(policy, "CACHE_SIZE", 2)
    first = policy.compiled(bob, 1)
    second = policy.compiled(bob, 2)
    third = policy.compiled(bob, 3)
    key = (bob.pk, bob.operator_id)
    assert list(policy._cache) == [(*key, 2), (*key, 3)]
    assert policy.compiled(bob, 2) is second
    assert policy.compiled(bob, 3) is third
    assert policy.compiled(bob, 1) is not first


def test_the_compiled_cache_keys_on_principal_operator_and_version(root, bob):
    policy.compiled(bob, 4)
    assert list(policy._cache) == [(bob.pk, bob.operator_id, 4)]


def test_clear_cache_empties_it(bob):
    policy.compiled(bob, 1)
    policy.clear_cache()
    assert len(policy._cache) == 0


def test_a_sam_user_without_an_operator_is_no_tenant(db):
    # Never stored (the database requires the operator), but the engine must not rely on it.
    ghost = Principal(kind=Principal.Kind.SAM, user_name="ghost", is_active=True)
    decision = policy.explain(ctx(ghost, "User:listUsers"))
    assert (decision.allowed, decision.reason) == (
        False,
        "Only the root account and SAM users call operations.",
    )


def test_the_per_api_index_matches_a_name_once(monkeypatch):
    compiled = policy.CompiledPolicy((policy.Rule("inline", "", 1, _statement(api="User:*")),))
    calls = []
    real = policy.matches
    monkeypatch.setattr(policy, "matches", lambda p, api: calls.append(api) or real(p, api))
    assert compiled.decide("User:listUsers", None).allowed
    assert calls == ["User:listUsers"]
    assert compiled.decide("User:listUsers", None).allowed
    assert calls == ["User:listUsers"]  # the second decision used the index
