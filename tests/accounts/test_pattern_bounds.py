"""Nothing a tenant writes is evaluated in super-linear time (issue 9 item 2).

A `*` once became `.*` in a backtracking regex: forty stars and a tail that never matches
kept a worker busy for minutes on every decision of every SAM user holding that document.
The adversarial cases run in a forked child under a deadline (tests/bounded.py), so that
code which hangs fails here instead of stalling the suite.
"""

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import policy
from accounts.conditions import MAX_NODES, ConditionSyntaxError, Facts, parse
from accounts.models import Operator, Principal, Role, RoleAttachment
from accounts.permissions import (
    MAX_WILDCARDS,
    InvalidPermission,
    known_operations,
    matches,
    parse_document,
    review,
)
from tests.api.harness import call
from tests.bounded import run_bounded

# Forty stars and a tail no API name ends with: C(n + 39, 39) ways for a backtracking
# matcher to split any n-character name before it gives up.
STARS = "*" * 40 + "Q"
HOSTILE = json.dumps({"statements": [{"effect": "allow", "api": STARS}]})
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    policy.clear_cache()
    known_operations()  # load the route table in the parent: the child inherits it
    yield
    policy.clear_cache()


def _decide(principal: Principal, api: str = "User:listUsers") -> tuple[bool, str]:
    """Load the stored rules here (database), decide in a child (pure work, deadline)."""
    compiled = policy.CompiledPolicy(policy.load_rules(principal.pk))
    facts = Facts(now=NOW, source_ip="192.0.2.1", sam_user_name=principal.user_name)

    def work() -> tuple[bool, str]:
        decision = compiled.decide(api, facts)
        return decision.allowed, decision.reason

    return run_bounded(work)


def _reference(pattern: str, name: str) -> bool:
    # The old meaning, as a regex: fine as an oracle on short strings only.
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, name) is not None


# The matcher ---------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab:*", max_size=8), st.text(alphabet="ab:", max_size=10))
def test_it_matches_exactly_what_the_glob_means(pattern, name):
    assert matches(pattern, name) == _reference(pattern, name)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "User:listUsers", True),
        ("User:*", "User:listUsers", True),
        ("User:list*", "User:listUsers", True),
        ("*Users", "User:listUsers", True),
        ("U*:*s*s", "User:listUsers", True),
        ("Operator:*AuthKey*", "Operator:listOperatorAuthKeys", True),
        ("User:*Users*Users", "User:listUsers", False),
        ("User:listUsers", "User:listUser", False),
        ("ab*ba", "aba", False),  # the anchored ends must not overlap
        ("a*a", "a", False),
    ],
)
def test_it_matches_globs(pattern, name, expected):
    assert matches(pattern, name) is expected


def test_it_decides_forty_stars_and_a_tail_that_never_matches_at_once():
    assert run_bounded(lambda: [matches(STARS, n) for n in sorted(known_operations())]) == [
        False
    ] * len(known_operations())


# Caps on save ----------------------------------------------------------------------------


def test_it_refuses_more_wildcards_than_the_cap_naming_the_statement():
    text = json.dumps(
        {
            "statements": [
                {"effect": "allow", "api": "User:*"},
                {"effect": "allow", "api": ["Role:*", "User:" + "*" * (MAX_WILDCARDS + 1)]},
            ]
        }
    )
    with pytest.raises(InvalidPermission) as info:
        parse_document(text)
    assert info.value.statement == 2
    assert str(info.value) == (
        f"Statement 2: an API name has more than {MAX_WILDCARDS} wildcards (*)."
    )


def test_it_accepts_a_pattern_at_the_wildcard_cap():
    pattern = "U" + "*s" * (MAX_WILDCARDS - 1) + "*"
    parse_document(json.dumps({"statements": [{"effect": "allow", "api": pattern}]}))


def test_it_refuses_a_condition_with_more_nodes_than_the_cap():
    condition = " or ".join(["samUserName == 'a'"] * (MAX_NODES // 3 + 1))
    assert len(condition) <= 1000
    with pytest.raises(ConditionSyntaxError, match=f"more than {MAX_NODES} operands"):
        parse(condition)


def test_it_accepts_a_condition_under_the_node_cap():
    parse(" or ".join(["samUserName == 'a'"] * (MAX_NODES // 4)))


def test_it_refuses_forty_stars_in_default_permissions_through_the_api(root_api, operator):
    response = call(
        "PUT",
        f"/v1/operators/{operator.pk}/users/default_permissions",
        root_api,
        {"permissions": HOSTILE},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Statement 1: ")
    assert Operator.objects.get(pk=operator.pk).default_permissions == ""


def test_it_refuses_forty_stars_in_a_role_through_the_api(root_api, operator):
    response = call(
        "POST", f"/v1/operators/{operator.pk}/roles/starry", root_api, {"permission": HOSTILE}
    )
    assert response.status_code == 400
    assert "wildcards" in response.json()["message"]
    assert not Role.objects.filter(role_id="starry").exists()


def test_it_refuses_forty_stars_in_the_consoles_statement_check():
    # The console's editor reviews every statement (and warns about names that match no
    # operation by matching each pattern against every known name).
    result = run_bounded(lambda: (review(HOSTILE).ok, str(review(HOSTILE).error)))
    message = f"Statement 1: an API name has more than {MAX_WILDCARDS} wildcards (*)."
    assert result == (False, message)


# Stored documents over the caps deny, promptly ---------------------------------------------


def test_it_denies_promptly_under_stored_default_permissions_over_the_cap(operator, alice):
    Operator.objects.filter(pk=operator.pk).update(default_permissions=HOSTILE)
    allowed, reason = _decide(alice)
    assert not allowed
    assert reason == "Denied by an explicit deny."


def test_it_denies_promptly_under_a_stored_role_over_the_cap(operator, alice):
    role = Role.objects.create(operator=operator, role_id="starry", permission=HOSTILE)
    RoleAttachment.objects.create(role=role, principal=alice)
    assert _decide(alice) == (False, "Denied by an explicit deny.")


def test_it_denies_promptly_under_a_stored_inline_permission_over_the_cap(alice):
    Principal.objects.filter(pk=alice.pk).update(inline_permission=HOSTILE)
    assert _decide(alice) == (False, "Denied by an explicit deny.")


def test_it_keeps_other_statements_from_granting_beside_a_document_over_the_cap(operator, alice):
    grant = json.dumps({"statements": [{"effect": "allow", "api": "*"}]})
    Operator.objects.filter(pk=operator.pk).update(default_permissions=grant)
    Principal.objects.filter(pk=alice.pk).update(inline_permission=HOSTILE)
    assert _decide(alice, "User:getUser")[0] is False
