"""The condition language (accounts/conditions.py) at its edges: every refusal with its
exact reason and position (tests/accounts/test_conditions.py checks fragments), the caps at
their limits, and evaluation details, which `make mutate` found open."""

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from accounts.conditions import (
    MAX_LENGTH,
    Condition,
    ConditionSyntaxError,
    EvaluationError,
    parse,
    tokenize,
)
from tests.accounts.test_conditions import NOW, facts, holds  # the same facts, one place


def _or(*parts: str) -> str:
    return " or ".join(parts)


@pytest.mark.parametrize(
    ("source", "reason", "position"),
    [
        ("samUserName = 'a'", "use == to compare", 12),
        ("!httpMethod('GET')", "use 'not' to negate, or != to compare", 0),
        ("samUserName == 'abc", "unterminated string", 15),
        ("samUserName == 'a\tb'", "control character in a string", 15),
        ("samUserName == 'a\x1fb'", "control character in a string", 15),
        ("1234567890123456789012345678901 == 1", "number too long", 0),
        ("samUserName == 'a' # x", "unexpected character '#'", 19),
        ("samUserName == 'a' and é", "unexpected character 'é'", 23),
        ("samUserName == '1' and \u0661 == 1", "unexpected character '\u0661'", 23),
        ("currentDate >= today()", "unknown function 'today'", 15),
        ("userName == 'a'", "unknown name 'userName'", 0),
        ("ipAddress == 'a'", "ipAddress needs arguments", 0),
        ("(samUserName == 'a'", "expected ), found end of condition", 19),
        ("samUserName == 'a' 'b'", "unexpected \"'b'\"", 19),
        ("samUserName", "the condition is a string, not true or false", 0),
        ("samUserName and httpMethod('GET')", "'and' needs true/false operands, not a string", 0),
        ("httpMethod('GET') or samUserName", "'or' needs true/false operands, not a string", 21),
        ("not samUserName", "'not' needs true/false operands, not a string", 4),
        ("1 == 1 or pathVariable('x')", "'or' needs true/false operands, not a string", 10),
        ("pathVariable('x')", "the condition is a string, not true or false", 0),
        ("1 == 1 or 'a'", "'or' needs true/false operands, not a string", 10),
        ("1 == 1 or 2", "'or' needs true/false operands, not a number", 10),
        ("and 1 == 1", "unexpected 'and'", 0),
        ("not " * 33 + "1 == 1", "nested more than 32 levels deep", 128),
        ("pathVariable('x') >= date(2020, 1, 1)", "cannot compare a string with a date", 18),
        (
            "multiFactorAuthPresent < multiFactorAuthPresent",
            "true/false values can only be compared with == or !=",
            23,
        ),
        ("httpMethod(samUserName)", "httpMethod takes literal arguments, found 'samUserName'", 11),
        ("httpMethod('GET',)", "httpMethod takes literal arguments, found ')'", 17),
        ("httpMethod('GET' 'POST')", "expected ), found \"'POST'\"", 17),
        # The count and kind of a date's arguments were reported as "not a real calendar
        # value" until make mutate found their own reasons unreachable.
        ("date(2020, 1) == currentDate", "date takes 3 numbers", 0),
        ("dateTime(2020, 1, 1, 0, 0) == currentDateTime", "dateTime takes 6 numbers", 0),
        ("date(2020, 1, 1.5) == currentDate", "date takes whole numbers", 14),
        ("date(2020, '1', 1) == currentDate", "date takes whole numbers", 11),
        ("date(2020, 2, 31) == currentDate", "date is not a real calendar value", 0),
        ("date(99999999999, 1, 1) == currentDate", "date is not a real calendar value", 0),
        (
            "dateTime(2020, 1, 1, 25, 0, 0) == currentDateTime",
            "dateTime is not a real calendar value",
            0,
        ),
        ("ipAddress()", "ipAddress needs at least 1 string", 0),
        ("ipAddress('10.0.0.0/8', 1)", "ipAddress takes strings", 24),
        ("ipAddress('10.0.0.0/33')", "'10.0.0.0/33' is not an IP address or CIDR block", 10),
        ("httpMethod('GET', 'FETCH')", "'FETCH' is not an HTTP method", 18),
        ("httpMethod(1)", "httpMethod takes strings", 11),
        ("pathVariable('a', 'b') == 'x'", "pathVariable takes one name", 0),
        ("pathVariable() == 'x'", "pathVariable needs at least 1 string", 0),
        ("pathVariable(1) == 'x'", "pathVariable takes strings", 13),
        ("", "the condition is empty", 0),
        (" \t\r\n", "the condition is empty", 0),
        ("x" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH} characters", MAX_LENGTH),
        (") == 1", "unexpected ')'", 0),
        ("1 == ", "unexpected end of condition", 5),
        ("samUserName == 'a' and", "unexpected end of condition", 22),
        ("samUserName == 'a' , 1", "unexpected ','", 19),
        (
            _or(*["not 1==1"] * 2, *["1==1"] * 40),
            "more than 128 operands and operators",
            4,
        ),
    ],
)
def test_it_refuses_with_the_reason_and_position(source, reason, position):
    with pytest.raises(ConditionSyntaxError) as refused:
        parse(source)
    assert (refused.value.reason, refused.value.position) == (reason, position)
    assert str(refused.value) == f"{reason} (at position {position})"


def test_it_refuses_what_is_not_a_string():
    with pytest.raises(ConditionSyntaxError) as refused:
        parse(5)
    assert (refused.value.reason, refused.value.position) == ("a condition is a string", 0)


def test_it_accepts_a_condition_of_exactly_the_length_cap():
    source = "samUserName == '" + "a" * (MAX_LENGTH - 17) + "'"
    assert len(source) == MAX_LENGTH
    assert holds(source, sam_user_name="a" * (MAX_LENGTH - 17))


def test_it_accepts_exactly_128_nodes():
    assert holds(_or("not 1==1", *["1==1"] * 41))


def test_it_accepts_32_arguments_and_refuses_33():
    assert holds("httpMethod(" + ",".join(["'GET'"] * 32) + ")")
    with pytest.raises(ConditionSyntaxError) as refused:
        parse("httpMethod(" + ",".join(["'GET'"] * 33) + ")")
    assert (refused.value.reason, refused.value.position) == ("too many arguments", 203)


# Tokens -------------------------------------------------------------------------------


def test_it_tokenizes_every_kind_with_its_position_and_value():
    tokens = tokenize("(a_1 <= 2.50, 'x y')>=3 != 4 < 5 > 6 == not")
    assert [(t.kind, t.text, t.position) for t in tokens] == [
        ("(", "(", 0),
        ("name", "a_1", 1),
        ("operator", "<=", 5),
        ("number", "2.50", 8),
        (",", ",", 12),
        ("string", "'x y'", 14),
        (")", ")", 19),
        ("operator", ">=", 20),
        ("number", "3", 22),
        ("operator", "!=", 24),
        ("number", "4", 27),
        ("operator", "<", 29),
        ("number", "5", 31),
        ("operator", ">", 33),
        ("number", "6", 35),
        ("operator", "==", 37),
        ("operator", "not", 40),
        ("end of condition", "", 43),
    ]
    assert str(tokens[3].value) == "2.50"
    assert tokens[5].value == "x y"


def test_a_number_ends_before_a_dot_without_digits():
    with pytest.raises(ConditionSyntaxError) as refused:
        tokenize("1.x")
    assert (refused.value.reason, refused.value.position) == ("unexpected character '.'", 1)


def test_a_number_of_30_digits_is_accepted():
    (number, _end) = tokenize("9" * 30)
    assert number.text == "9" * 30


def test_double_quoted_strings_and_keywords():
    tokens = tokenize('"a\'b" and or')
    assert [(t.kind, t.text, t.value) for t in tokens[:3]] == [
        ("string", '"a\'b"', "a'b"),
        ("operator", "and", None),
        ("operator", "or", None),
    ]


# Evaluation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 < 2", True),
        ("2 < 2", False),
        ("2 <= 2", True),
        ("3 <= 2", False),
        ("3 > 2", True),
        ("2 > 2", False),
        ("2 >= 2", True),
        ("1 >= 2", False),
        ("1 == 1.0", True),
        ("1 != 1", False),
        ("'a' != 'b'", True),
        ("multiFactorAuthPresent == multiFactorAuthPresent", True),
        ("multiFactorAuthPresent != multiFactorAuthPresent", False),
        ("not (1 == 1)", False),
        ("1 == 2 or 2 == 2", True),
        ("1 == 2 or 2 == 3", False),
        ("1 == 1 and 2 == 2 and 3 == 3", True),
        ("1 == 1 and 2 == 3", False),
    ],
)
def test_it_evaluates_comparisons_and_connectives(source, expected):
    assert holds(source) is expected


def test_the_current_date_and_time_are_utc():
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))  # 21:30 the same day
    late = datetime(2026, 3, 15, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=9)))
    assert holds("currentDate == date(2026, 3, 15)", now=tokyo)
    assert holds("currentDate == date(2026, 3, 15)", now=late)  # the 16th in Tokyo
    assert holds("currentDateTime == dateTime(2026, 3, 15, 12, 30, 0)", now=tokyo)
    assert holds("currentDateTime < dateTime(2026, 3, 15, 12, 30, 1)", now=tokyo)


def test_date_values_are_the_literals_given():
    tree = parse("currentDate >= date(2026, 1, 2)")
    assert tree.children[1].children[0].value == date(2026, 1, 2)
    tree = parse("currentDateTime >= dateTime(2026, 1, 2, 3, 4, 5)")
    assert tree.children[1].children[0].value == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_ip_address_matches_any_network_after_stripping():
    condition = "ipAddress(' 10.0.0.0/8 ', '192.0.2.1')"
    assert holds(condition, source_ip="10.200.0.1")
    assert holds(condition, source_ip="192.0.2.1")
    assert not holds(condition, source_ip="192.0.2.2")
    assert holds("ipAddress('10.1.2.3/8')", source_ip="10.9.9.9")  # host bits allowed


def test_an_ipv4_client_through_an_ipv6_socket_is_that_client():
    assert holds("ipAddress('10.0.0.0/8')", source_ip="::ffff:10.1.1.1")
    assert holds("ipAddress('2001:db8::/32')", source_ip="2001:db8::1")
    assert not holds("ipAddress('10.0.0.0/8')", source_ip="2001:db8::1")


def test_the_source_address_is_parsed_once():
    seen = facts(source_ip="10.0.0.5")
    first = seen.ip()
    seen.source_ip = "not an address"
    assert seen.ip() is first


def test_a_missing_source_address_is_an_evaluation_error():
    with pytest.raises(EvaluationError) as missing:
        holds("ipAddress('10.0.0.0/8')", source_ip="")
    assert str(missing.value) == "the source address is not an IP address"


def test_http_method_ignores_case_on_both_sides():
    assert holds("httpMethod('delete', 'Put')", method="PUT")
    assert holds("httpMethod('delete')", method="delete")
    assert not holds("httpMethod('delete')", method="GET")


def test_a_missing_path_variable_names_it():
    with pytest.raises(EvaluationError) as missing:
        holds("pathVariable('role_id') == 'x'")
    assert str(missing.value) == "this call has no path variable 'role_id'"
    assert holds("pathVariable('role_id') == 'x'", path_vars={"role_id": "x"})


def test_a_caller_that_is_not_a_sam_user_has_no_user_name():
    with pytest.raises(EvaluationError) as missing:
        holds("samUserName == 'a'", sam_user_name=None)
    assert str(missing.value) == "the caller is not a SAM user"
    assert holds("samUserName == ''", sam_user_name="")


def test_multi_factor_is_a_boolean_fact():
    condition = "multiFactorAuthPresent == (1 == 1)"
    assert holds(condition, second_factor=True)
    assert not holds(condition, second_factor=False)
    assert holds("multiFactorAuthPresent", second_factor=1)


def test_a_type_error_at_run_time_fails_closed():
    condition = Condition.parse("1 < 2")
    broken = Condition(condition.source, condition.tree, lambda f: 1 < "2")
    with pytest.raises(EvaluationError) as failed:
        broken.holds(facts())
    assert "not supported" in str(failed.value)


def test_a_condition_keeps_its_source_and_tree():
    condition = Condition.parse("httpMethod('GET')")
    assert condition.source == "httpMethod('GET')"
    assert condition.tree == parse("httpMethod('GET')")


@pytest.fixture
def tokyo_local_time(monkeypatch):
    """The process's local time zone set to Asia/Tokyo (UTC+9), then restored."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_local_time")
def test_the_current_date_is_utc_whatever_the_local_time_zone():
    late = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)  # 08:30 on the 16th in Tokyo
    assert datetime.fromtimestamp(late.timestamp()).day == 16  # the fixture took effect
    assert holds("currentDate == date(2026, 3, 15)", now=late)


def test_closing_a_parenthesis_gives_its_level_back():
    assert holds(" and ".join(["(1 == 1)"] * 40))  # 40 groups, each one level deep


def test_the_depth_counts_what_is_still_open():
    # Three levels open, one closed: two still open, then 31 more make 33.
    source = "(((1 == 1) and " + "(" * 31 + "1 == 1" + ")" * 31 + "))"
    with pytest.raises(ConditionSyntaxError) as refused:
        parse(source)
    assert refused.value.reason == "nested more than 32 levels deep"
    assert holds("(((1 == 1) and " + "(" * 30 + "1 == 1" + ")" * 30 + "))")


def test_the_size_cap_names_the_node_past_it():
    # Nodes are counted depth-first from the last operand: the 129th is the comparison of
    # the first operand, at the position of its operator.
    with pytest.raises(ConditionSyntaxError) as refused:
        parse(_or("not 1==1", *["1==1"] * 42))
    assert (refused.value.reason, refused.value.position) == (
        "more than 128 operands and operators",
        5,
    )


def test_a_not_gives_its_level_back():
    assert holds(" and ".join(["not multiFactorAuthPresent"] * 20), second_factor=False)


def test_the_depth_counts_the_levels_still_open_around_a_not():
    source = "((not 1 == 2 and " + "(" * 31 + "1 == 1" + ")" * 31 + "))"
    with pytest.raises(ConditionSyntaxError) as refused:
        parse(source)
    assert refused.value.reason == "nested more than 32 levels deep"
