"""The condition language: parsing, static types, evaluation, caps, and fuzzing."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.conditions import (
    MAX_DEPTH,
    MAX_LENGTH,
    Condition,
    ConditionSyntaxError,
    EvaluationError,
    Facts,
    parse,
)

NOW = datetime(2026, 3, 15, 12, 30, 0, tzinfo=UTC)


def facts(**kw) -> Facts:
    base = {"now": NOW, "source_ip": "10.0.0.5", "method": "GET", "path_vars": {}}
    base.update(kw)
    return Facts(**base)


def holds(source: str, **kw) -> bool:
    return Condition.parse(source).holds(facts(**kw))


def error_of(source: str) -> ConditionSyntaxError:
    with pytest.raises(ConditionSyntaxError) as info:
        parse(source)
    return info.value


# Syntax errors with their position ------------------------------------------------------


def test_it_refuses_python_code():
    assert "__import__" in error_of("__import__('os')").reason


def test_it_refuses_an_unknown_function_with_its_position():
    err = error_of("currentDate >= today()")
    assert err.position == 15
    assert "unknown function 'today'" in err.reason


def test_it_refuses_an_unknown_variable():
    assert "unknown name 'userName'" in error_of("userName == 'a'").reason


def test_it_refuses_a_single_equals_sign_at_its_position():
    err = error_of("samUserName = 'a'")
    assert err.position == 12


def test_it_refuses_an_unterminated_string():
    assert "unterminated" in error_of("samUserName == 'abc").reason


def test_it_refuses_a_missing_closing_parenthesis():
    err = error_of("(samUserName == 'a'")
    assert "expected )" in err.reason
    assert err.position == len("(samUserName == 'a'")


def test_it_refuses_trailing_tokens():
    assert "unexpected" in error_of("samUserName == 'a' 'b'").reason


def test_it_refuses_a_condition_longer_than_the_cap():
    err = error_of("samUserName == '" + "a" * MAX_LENGTH + "'")
    assert "longer than" in err.reason


def test_it_refuses_a_64_kib_condition():
    assert "longer than" in error_of("x" * 65536).reason


def test_it_refuses_deep_nesting_without_recursing():
    err = error_of("(" * 400 + "samUserName == 'a'" + ")" * 400)
    assert "nested more than" in err.reason
    assert err.position == MAX_DEPTH


def test_it_refuses_1000_nested_parentheses():
    assert error_of("(" * 1000 + "samUserName == 'a'" + ")" * 1000)


def test_it_refuses_a_long_not_chain():
    assert "nested more than" in error_of("not " * 200 + "httpMethod('GET')").reason


def test_it_accepts_nesting_up_to_the_cap():
    depth = MAX_DEPTH - 1
    assert holds("(" * depth + "samUserName == 'a'" + ")" * depth, sam_user_name="a")


def test_it_refuses_an_empty_condition():
    assert "empty" in error_of("   ").reason


# Static types -------------------------------------------------------------------------


def test_it_refuses_comparing_a_string_with_a_date():
    err = error_of("pathVariable('x') >= date(2020, 1, 1)")
    assert "cannot compare a string with a date" in err.reason


def test_it_refuses_a_condition_that_is_not_true_or_false():
    assert "not true or false" in error_of("samUserName").reason


def test_it_refuses_and_on_a_string():
    assert "'and' needs true/false operands" in error_of("samUserName and httpMethod('GET')").reason


def test_it_refuses_an_impossible_date():
    assert "not a real calendar value" in error_of("currentDate > date(2016, 2, 30)").reason


def test_it_refuses_a_bad_cidr_at_its_argument():
    err = error_of("ipAddress('10.0.0.0/8', '300.1.1.1')")
    assert err.position == 24


def test_it_refuses_an_unknown_http_method():
    assert "not an HTTP method" in error_of("httpMethod('FETCH')").reason


def test_it_refuses_a_non_literal_argument():
    assert "literal arguments" in error_of("pathVariable(samUserName) == 'a'").reason


def test_it_refuses_pathvariable_with_two_names():
    assert "one name" in error_of("pathVariable('a', 'b') == 'x'").reason


# Evaluation ---------------------------------------------------------------------------


def test_it_compares_the_current_date_with_leading_zero_literals():
    assert holds("currentDate >= date(2016, 02, 01)")
    assert not holds("currentDate < date(2016, 02, 01)")


def test_it_compares_date_times_in_utc():
    assert holds("currentDateTime >= dateTime(2026, 3, 15, 12, 30, 0)")
    assert not holds("currentDateTime > dateTime(2026, 3, 15, 12, 30, 0)")


def test_it_matches_ipv4_cidrs():
    assert holds("ipAddress('10.0.0.0/24')", source_ip="10.0.0.200")
    assert not holds("ipAddress('10.0.0.0/24')", source_ip="10.0.1.1")


def test_it_matches_ipv6_cidrs():
    assert holds("ipAddress('2001:db8::/32', '10.0.0.0/8')", source_ip="2001:db8::1")
    assert not holds("ipAddress('2001:db8::/32')", source_ip="2001:db9::1")


def test_it_treats_an_ipv4_mapped_address_as_ipv4():
    assert holds("ipAddress('192.0.2.0/24')", source_ip="::ffff:192.0.2.7")


def test_it_matches_http_methods_case_insensitively():
    assert holds("httpMethod('get', 'POST')", method="POST")
    assert not holds("httpMethod('GET')", method="DELETE")


def test_it_compares_a_path_variable_with_the_sam_user_name():
    source = "pathVariable('user_name') == samUserName"
    assert holds(source, path_vars={"user_name": "alice"}, sam_user_name="alice")
    assert not holds(source, path_vars={"user_name": "bob"}, sam_user_name="alice")


def test_it_raises_an_evaluation_error_for_a_missing_path_variable():
    with pytest.raises(EvaluationError):
        holds("pathVariable('user_name') == 'a'")


def test_it_raises_an_evaluation_error_for_a_caller_that_is_not_a_sam_user():
    with pytest.raises(EvaluationError):
        holds("samUserName == 'a'", sam_user_name=None)


def test_it_raises_an_evaluation_error_for_an_unparseable_source_address():
    with pytest.raises(EvaluationError):
        holds("ipAddress('10.0.0.0/8')", source_ip="unknown")


def test_it_applies_precedence_not_and_or():
    # not binds tighter than and, and tighter than or.
    assert holds("httpMethod('POST') or httpMethod('GET') and not httpMethod('PUT')")
    assert not holds("not httpMethod('GET') or httpMethod('PUT')")
    assert holds("not (httpMethod('PUT') and httpMethod('GET'))")


def test_it_compares_numbers_and_strings():
    assert holds("10 > 9.5 and 'b' > 'a' and 1 != 2 and 'x' == 'x'")


# Fuzzing ------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [
        *"()', =!<>andortcuDTIpAMhVS0123456789.:/ \"_",
        "currentDate",
        "currentDateTime",
        "samUserName",
        "date(",
        "dateTime(",
        "ipAddress(",
        "httpMethod(",
        "pathVariable(",
        " and ",
        " or ",
        "not ",
        "==",
        ">=",
        "'10.0.0.0/8'",
        "'GET'",
        "'user_name'",
        "2020",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_it_never_crashes_on_arbitrary_text(source):
    try:
        parse(source)
    except ConditionSyntaxError:
        pass


@settings(max_examples=600, deadline=None)
@given(
    st.lists(_ALPHABET, max_size=40).map("".join),
    st.sampled_from(["10.0.0.1", "2001:db8::1", "garbage", ""]),
    st.sampled_from([None, "alice"]),
    st.dictionaries(st.sampled_from(["user_name", "role_id"]), st.text(max_size=5)),
)
def test_it_never_crashes_when_evaluating_what_it_parsed(source, ip, user, path_vars):
    try:
        condition = Condition.parse(source)
    except ConditionSyntaxError:
        return
    try:
        result = condition.holds(facts(source_ip=ip, sam_user_name=user, path_vars=path_vars))
    except EvaluationError:
        return
    assert isinstance(result, bool)
