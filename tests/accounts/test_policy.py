"""The permission engine: documents, effective permission, deny-wins, root-only, caching."""

import itertools
import json
import random
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import policy
from accounts.context import CallContext
from accounts.models import Operator, Principal
from accounts.permissions import (
    MAX_STATEMENTS,
    InvalidPermission,
    known_operations,
    parse_document,
    review,
)
from security import roles

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    policy.clear_cache()
    yield
    policy.clear_cache()


def doc(*statements: dict) -> str:
    return json.dumps({"statements": list(statements)})


def allow(api, condition=None) -> dict:
    s = {"effect": "allow", "api": api}
    if condition:
        s["condition"] = condition
    return s


def deny(api, condition=None) -> dict:
    return {**allow(api, condition), "effect": "deny"}


def ctx(principal, api, **kw) -> CallContext:
    base = {"source_ip": "10.0.0.1", "method": "GET", "path_vars": {}, "now": NOW}
    base.update(kw)
    return CallContext(principal=principal, api=api, **base)


def allowed(principal, api, **kw) -> bool:
    return policy.is_allowed(ctx(principal, api, **kw))


def refusal(text) -> InvalidPermission:
    with pytest.raises(InvalidPermission) as info:
        parse_document(text)
    return info.value


# Documents ------------------------------------------------------------------------------


def test_it_accepts_api_as_a_string_or_an_array():
    document = parse_document(doc(allow("User:*"), deny(["Role:attachRole", "Role:detachRole"])))
    assert document.statements[0].patterns == ("User:*",)
    assert document.statements[1].patterns == ("Role:attachRole", "Role:detachRole")


def test_it_refuses_malformed_json():
    assert "not valid JSON" in str(refusal('{"statements": ['))


def test_it_refuses_a_document_that_is_not_a_string():
    assert "JSON string" in str(refusal({"statements": []}))


def test_it_refuses_an_api_of_the_wrong_type_naming_the_statement():
    err = refusal(doc(allow("User:*"), {"effect": "allow", "api": 5}))
    assert err.statement == 2
    assert str(err).startswith("Statement 2: ")
    assert "string or an array of strings" in str(err)


def test_it_refuses_null_in_api():
    assert "string or an array" in str(refusal(doc({"effect": "allow", "api": [None]})))


def test_it_refuses_unknown_keys_in_a_statement():
    err = refusal(doc({"effect": "allow", "api": "*", "resource": "x"}))
    assert "unknown field 'resource'" in str(err)


def test_it_refuses_unknown_top_level_keys():
    assert "Unknown field 'version'" in str(refusal('{"statements": [], "version": 1}'))


def test_it_refuses_an_unknown_effect():
    assert '"effect" must be' in str(refusal(doc({"effect": "Allow", "api": "*"})))


def test_it_refuses_duplicate_keys():
    assert "appears twice" in str(refusal('{"statements": [], "statements": []}'))


def test_it_refuses_a_malformed_pattern():
    err = refusal(doc(allow("User:list Users")))
    assert "is not an API name" in str(err)


def test_it_refuses_more_statements_than_the_cap():
    err = refusal(doc(*[deny("*")] * (MAX_STATEMENTS + 1)))
    assert f"at most {MAX_STATEMENTS}" in str(err)


def test_it_refuses_10000_statements():
    refusal(doc(*[deny("*")] * 10_000))


def test_it_refuses_a_64_kib_condition():
    refusal(doc(allow("*", "samUserName == '" + "a" * 65536 + "'")))


def test_it_refuses_a_condition_syntax_error_with_its_position():
    err = refusal(doc(allow("*"), allow("*", "samUserName == 'a' and ipAddress(10)")))
    assert err.statement == 2
    assert err.position == 33
    assert "at position 33" in str(err)


def test_it_refuses_python_as_a_condition():
    assert "Statement 1: condition" in str(refusal(doc(allow("*", "__import__('os')"))))


def test_it_warns_about_a_pattern_that_matches_no_known_operation():
    result = review(doc(allow("User:*"), allow("User:lisUsers")))
    assert result.ok
    assert result.statements[1].warnings == [
        "'User:lisUsers' matches no known API operation. Did you mean 'User:listUsers'?"
    ]
    assert not result.statements[0].warnings


def test_it_reviews_every_statement_of_a_refused_document():
    result = review(doc(allow(7), allow("User:*"), allow("*", "((")))
    assert [bool(s.error) for s in result.statements] == [True, False, True]
    assert result.statements[2].pointer == "  ^"


def test_it_knows_the_contract_and_registered_operations():
    names = known_operations()
    assert {"User:listUsers", "Credential:createCredential", "AuditLog:getApiAuditLogs"} <= names
    assert "User:simulatePermission" in names


# Decisions ------------------------------------------------------------------------------


@pytest.fixture
def bob(operator) -> Principal:
    return Principal.objects.create_sam_user(operator, "bob")


def test_it_allows_root_everything(root):
    assert allowed(root, "User:deleteUser")
    assert allowed(root, "Operator:generateOperatorAuthKey")


def test_it_denies_a_sam_user_with_nothing(bob):
    assert not allowed(bob, "User:listUsers")


def test_it_lets_every_sam_user_log_out(bob):
    assert allowed(bob, "Auth:logout")


@pytest.mark.parametrize("role", Principal.StaffRole.values)
def test_it_denies_staff(db, role):
    staff = Principal.objects.create_staff("helpdesk", "pw-123456789", role)
    assert not allowed(staff, "User:listUsers")


def test_it_combines_default_roles_and_inline(root, bob):
    roles.set_default_permissions(None, root, doc(allow("User:getUser")))
    role = roles.create_role(None, root, "reader", doc(allow("Role:list*")))
    roles.attach_role(None, root, bob, role)
    roles.set_inline_permission(None, root, bob, doc(allow("Credential:listCredentials")))
    assert allowed(bob, "User:getUser")
    assert allowed(bob, "Role:listRoles")
    assert allowed(bob, "Credential:listCredentials")
    assert not allowed(bob, "Credential:deleteCredential")


def test_it_lets_a_default_deny_win_over_an_inline_allow(root, bob):
    roles.set_default_permissions(None, root, doc(deny("User:deleteUser")))
    roles.set_inline_permission(None, root, bob, doc(allow("*")))
    assert not allowed(bob, "User:deleteUser")
    assert allowed(bob, "User:listUsers")


def test_it_lets_a_role_deny_win_over_a_role_allow(root, bob):
    for name, statement in (("a", allow("User:*")), ("b", deny("User:delete*"))):
        roles.attach_role(None, root, bob, roles.create_role(None, root, name, doc(statement)))
    assert not allowed(bob, "User:deleteUser")
    assert allowed(bob, "User:createUser")


def test_it_allows_only_when_the_condition_holds(root, bob):
    roles.set_inline_permission(None, root, bob, doc(allow("*", "ipAddress('10.0.0.0/8')")))
    assert allowed(bob, "User:listUsers", source_ip="10.1.1.1")
    assert not allowed(bob, "User:listUsers", source_ip="192.0.2.1")


def test_it_denies_only_when_the_deny_condition_holds(root, bob):
    roles.set_inline_permission(None, root, bob, doc(allow("*"), deny("*", "httpMethod('DELETE')")))
    assert allowed(bob, "User:listUsers", method="GET")
    assert not allowed(bob, "User:deleteUser", method="DELETE")


def test_it_does_not_allow_when_an_allow_condition_cannot_be_evaluated(root, bob):
    roles.set_inline_permission(
        None, root, bob, doc(allow("*", "pathVariable('user_name') == samUserName"))
    )
    assert not allowed(bob, "User:listUsers")  # no user_name in the path
    assert allowed(bob, "User:getUser", path_vars={"user_name": "bob"})
    assert not allowed(bob, "User:getUser", path_vars={"user_name": "alice"})


def test_it_denies_when_a_deny_condition_cannot_be_evaluated(root, bob):
    roles.set_inline_permission(
        None, root, bob, doc(allow("*"), deny("*", "pathVariable('role_id') == 'admin'"))
    )
    assert not allowed(bob, "User:listUsers")  # fail closed
    assert allowed(bob, "Role:getRole", path_vars={"role_id": "reader"})


def test_it_reports_the_deciding_statement(root, bob):
    role = roles.create_role(None, root, "ops", doc(allow("User:*"), deny("User:deleteUser")))
    roles.attach_role(None, root, bob, role)
    decision = policy.explain(ctx(bob, "User:deleteUser"))
    assert not decision.allowed
    assert decision.rule.label == "Role ops, statement 2"
    assert policy.explain(ctx(bob, "Role:getRole")).reason == "No statement allowed it."


def test_it_refuses_every_root_only_operation_to_a_sam_user_holding_everything(root, bob):
    roles.set_inline_permission(None, root, bob, doc(allow("*")))
    root_only = [name for name in known_operations() if policy.is_root_only(name)]
    assert set(policy.ROOT_ONLY) <= set(root_only) | set(policy.ROOT_ONLY)
    for name in sorted(set(root_only) | policy.ROOT_ONLY):
        assert not allowed(bob, name), name
        assert allowed(root, name), name


def test_it_covers_new_members_of_root_only_families():
    assert policy.is_root_only("Operator:rotateOperatorAuthKey")
    assert policy.is_root_only("Operator:resetMFA")
    assert not policy.is_root_only("Operator:getOperator")
    assert not policy.is_root_only("User:generateUserAuthKey")


def test_it_applies_a_change_on_the_next_decision(root, bob):
    assert not allowed(bob, "User:listUsers")
    roles.set_inline_permission(None, root, bob, doc(allow("User:listUsers")))
    assert allowed(bob, "User:listUsers")
    roles.delete_inline_permission(None, root, bob)
    assert not allowed(bob, "User:listUsers")


def test_it_compiles_once_per_policy_version(root, bob):
    roles.set_inline_permission(None, root, bob, doc(allow("User:*")))
    with mock.patch.object(policy, "load_rules", wraps=policy.load_rules) as load:
        for _ in range(5):
            assert allowed(bob, "User:listUsers")
        assert load.call_count == 1
        roles.attach_role(None, root, bob, roles.create_role(None, root, "r", doc(allow("*"))))
        assert allowed(bob, "Role:listRoles")
        assert load.call_count == 2


def test_it_uses_the_version_in_the_context_without_a_query(root, bob, django_assert_num_queries):
    roles.set_inline_permission(None, root, bob, doc(allow("User:*")))
    version = Operator.objects.get(pk=bob.operator_id).policy_version
    policy.is_allowed(ctx(bob, "User:listUsers", policy_version=version))
    with django_assert_num_queries(0):
        assert policy.is_allowed(ctx(bob, "User:getUser", policy_version=version))


def test_it_bumps_the_policy_version_on_every_change(root, bob):
    def version():
        return Operator.objects.get(pk=root.operator_id).policy_version

    steps = [
        lambda: roles.create_role(None, root, "r", doc(allow("*"))),
        lambda: roles.attach_role(None, root, bob, roles.get_role(root.operator_id, "r")),
        lambda: roles.update_role(None, root, roles.get_role(root.operator_id, "r"), doc()),
        lambda: roles.detach_role(None, root, bob, roles.get_role(root.operator_id, "r")),
        lambda: roles.set_inline_permission(None, root, bob, doc()),
        lambda: roles.delete_inline_permission(None, root, bob),
        lambda: roles.set_default_permissions(None, root, doc()),
        lambda: roles.delete_default_permissions(None, root),
        lambda: roles.delete_role(None, root, roles.get_role(root.operator_id, "r")),
    ]
    seen = [version()]
    for step in steps:
        step()
        seen.append(version())
    # create_role adds no statement to anyone: only the eight other changes must bump.
    assert all(b > a for a, b in itertools.pairwise(seen[1:])), seen


def test_it_denies_everything_when_a_stored_document_is_unreadable(root, bob):
    roles.set_inline_permission(None, root, bob, doc(allow("*")))
    Operator.objects.filter(pk=root.operator_id).update(default_permissions="{broken")
    Operator(pk=root.operator_id).bump_policy_version()
    assert not allowed(bob, "User:listUsers")


# Properties over random documents ---------------------------------------------------------

_APIS = ["User:listUsers", "User:getUser", "Role:attachRole", "Credential:listCredentials"]
_PATTERNS = st.sampled_from(["*", "User:*", "User:list*", "Role:*", "*Credential*", *_APIS])
_CONDITIONS = st.sampled_from(
    [
        None,
        "ipAddress('10.0.0.0/8')",
        "httpMethod('GET')",
        "pathVariable('user_name') == samUserName",
        "currentDate >= date(2030, 1, 1)",
        "not ipAddress('10.0.0.0/8')",
    ]
)
_STATEMENTS = st.builds(
    lambda effect, patterns, condition: {
        "effect": effect,
        "api": patterns,
        **({"condition": condition} if condition else {}),
    },
    st.sampled_from(["allow", "deny"]),
    st.lists(_PATTERNS, min_size=1, max_size=3),
    _CONDITIONS,
)
_CALLS = st.tuples(
    st.sampled_from(_APIS),
    st.sampled_from(["10.0.0.1", "192.0.2.1"]),
    st.sampled_from(["GET", "DELETE"]),
    st.sampled_from([{}, {"user_name": "bob"}, {"user_name": "eve"}]),
)


def _compiled(statements: list[dict]) -> policy.CompiledPolicy:
    document = parse_document(doc(*statements))
    return policy.CompiledPolicy(
        tuple(policy.Rule("inline", "", i, s) for i, s in enumerate(document.statements, 1))
    )


def _facts(call):
    from accounts.conditions import Facts

    _, ip, method, path_vars = call
    return Facts(now=NOW, source_ip=ip, method=method, path_vars=path_vars, sam_user_name="bob")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STATEMENTS, max_size=8), _CALLS, st.randoms(use_true_random=False))
def test_it_decides_the_same_whatever_the_order_of_statements(statements, call, rnd):
    shuffled = list(statements)
    rnd.shuffle(shuffled)
    api = call[0]
    first = _compiled(statements).decide(api, _facts(call))
    second = _compiled(shuffled).decide(api, _facts(call))
    assert first.allowed == second.allowed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STATEMENTS, max_size=8), _CALLS)
def test_it_lets_an_unconditional_matching_deny_win(statements, call):
    api = call[0]
    statements = [*statements, {"effect": "deny", "api": api}]
    random.Random(len(statements)).shuffle(statements)
    assert not _compiled(statements).decide(api, _facts(call)).allowed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STATEMENTS, max_size=8), _CALLS)
def test_it_allows_exactly_when_an_allow_holds_and_no_deny_applies(statements, call):
    from accounts.conditions import EvaluationError

    api, facts = call[0], _facts(call)
    document = parse_document(doc(*statements))

    def applies(statement, fail_value):
        if not any(policy.matches(p, api) for p in statement.patterns):
            return False
        if statement.condition is None:
            return True
        try:
            return statement.condition.holds(facts)
        except EvaluationError:
            return fail_value

    denied = any(applies(s, True) for s in document.statements if s.effect == "deny")
    granted = any(applies(s, False) for s in document.statements if s.effect == "allow")
    assert _compiled(statements).decide(api, facts).allowed == (granted and not denied)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["statements", "effect", "api", "condition", "x"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_JSON.map(json.dumps), st.text(max_size=300)))
def test_it_never_crashes_on_arbitrary_documents(text):
    try:
        parse_document(text)
    except InvalidPermission:
        pass
    result = review(text)
    assert result.ok == (result.error is None)


def test_it_refuses_to_register_a_malformed_api_name():
    from accounts.permissions import register_operation

    with pytest.raises(ValueError, match="Tag:operationId"):
        register_operation("listUsers")
