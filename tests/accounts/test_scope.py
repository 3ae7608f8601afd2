"""OAuth scopes in the permission engine: parsing bounds and the intersection rule."""

import time

import pytest

from accounts import policy
from accounts.context import CallContext
from accounts.permissions import (
    MAX_SCOPE_ENTRIES,
    MAX_SCOPE_LENGTH,
    InvalidScope,
    dumps,
    parse_scope,
)
from security import roles


def ctx(principal, api: str, scope=()) -> CallContext:
    return CallContext(principal, api, "127.0.0.1", "GET", scope=tuple(scope))


def test_it_parses_names_and_globs_and_drops_repeats(db):
    assert parse_scope("User:listUsers Role:* User:listUsers") == ("User:listUsers", "Role:*")


@pytest.mark.parametrize(
    "text",
    ["", " ", "User:listUsers ", "User:listUsers  Role:*", "User:list\tUsers", "x-y:z", "No:such"],
)
def test_it_refuses_a_malformed_or_unknown_scope(db, text):
    with pytest.raises(InvalidScope):
        parse_scope(text)


def test_it_refuses_more_entries_than_the_cap(db):
    entries = [f"User:*{'a' * i}*" for i in range(MAX_SCOPE_ENTRIES + 1)]
    with pytest.raises(InvalidScope, match="more than"):
        parse_scope(" ".join(entries))


def test_it_refuses_a_scope_over_the_length_cap(db):
    with pytest.raises(InvalidScope, match="longer"):
        parse_scope("User:listUsers " * (MAX_SCOPE_LENGTH // 15 + 1))


def test_it_decides_a_worst_case_scope_in_linear_time(db, root):
    # 20 entries of 8 stars each, every one a near miss: a backtracking matcher would stall.
    scope = tuple("*a*a*a*a*a*a*a*b" + str(i) for i in range(MAX_SCOPE_ENTRIES))
    started = time.perf_counter()
    for _ in range(200):
        assert not policy.is_allowed(ctx(root, "User:" + "a" * 180, scope))
    assert time.perf_counter() - started < 2


def test_it_refuses_root_outside_its_scope(root):
    assert not policy.is_allowed(ctx(root, "User:createUser", ["User:list*"]))


def test_it_allows_root_inside_its_scope(root):
    assert policy.is_allowed(ctx(root, "User:listUsers", ["User:list*"]))


def test_it_needs_the_principals_permission_inside_the_scope(root, alice):
    roles.set_inline_permission(
        None, root, alice, dumps([{"effect": "allow", "api": "User:listUsers"}])
    )
    assert policy.is_allowed(ctx(alice, "User:listUsers", ["User:*"]))
    assert not policy.is_allowed(ctx(alice, "User:getUser", ["User:*"]))


def test_it_lets_a_scoped_session_log_out(alice):
    assert policy.is_allowed(ctx(alice, "Auth:logout", ["User:listUsers"]))


def test_it_says_a_user_may_never_call_what_no_statement_allows(root, alice):
    roles.set_inline_permission(None, root, alice, dumps([{"effect": "allow", "api": "User:*"}]))
    assert policy.may_ever_call(alice, "User:listUsers")
    assert not policy.may_ever_call(alice, "Role:listRoles")


def test_it_says_an_unconditional_deny_wins_for_may_ever_call(root, alice):
    statements = [{"effect": "allow", "api": "*"}, {"effect": "deny", "api": "User:listUsers"}]
    roles.set_inline_permission(None, root, alice, dumps(statements))
    assert not policy.may_ever_call(alice, "User:listUsers")
