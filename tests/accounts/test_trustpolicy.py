"""Trust-policy documents: validated on save like permission documents (issue 12 item 3)."""

import json

import pytest

from accounts import trustpolicy
from accounts.trustpolicy import InvalidTrustPolicy
from security.authkeys import new_secret

ALICE = "srn:soracom:OP0000000001::User:alice"
ROOT = "srn:soracom:OP0000000001::Operator:OP0000000001"


def doc(*statements) -> str:
    return json.dumps({"statements": list(statements)})


def allow(*srns, **extra) -> dict:
    return {"effect": "allow", "principal": {"soracom": list(srns)}, **extra}


def test_it_accepts_the_documented_example():
    policy = trustpolicy.parse(doc(allow(ROOT, ALICE)))
    assert policy.allowed_srns() == [ROOT, ALICE]


def test_it_keeps_deny_srns_out_of_the_trusted_index():
    policy = trustpolicy.parse(
        doc(allow(ALICE), {"effect": "deny", "principal": {"soracom": [ROOT]}})
    )
    assert policy.allowed_srns() == [ALICE]


@pytest.mark.parametrize(
    ("text", "message", "statement", "position"),
    [
        ("{", "not valid JSON (line 1, column 2)", None, None),
        ('{"statements":[],"statements":[]}', "appears twice", None, None),
        ('{"statements":[],"version":1}', "Unknown field 'version'", None, None),
        ('{"statements":{}}', '"statements" must be an array', None, None),
        ("[]", "JSON object", None, None),
        (doc({"effect": "allow"}), '"principal" must be an object', 1, None),
        (doc(allow(ALICE), {**allow(ALICE), "api": "*"}), "unknown field 'api'", 2, None),
        (doc({**allow(ALICE), "effect": "Allow"}), '"effect" must be', 1, None),
        (
            doc({"effect": "allow", "principal": {"service": ["Flux"]}}),
            "unknown principal kind 'service'",
            1,
            None,
        ),
        (
            doc({"effect": "allow", "principal": {"oidc": "okta"}}),
            "unknown principal kind 'oidc'",
            1,
            None,
        ),
        (
            doc({"effect": "allow", "principal": {"soracom": ALICE}}),
            "array of SRN strings",
            1,
            None,
        ),
        (doc(allow()), "at least one SRN", 1, None),
        (
            doc(allow(ALICE, "srn:soracom:OP0000000001::User:*")),
            "SRN 2: an SRN may not hold a wildcard",
            1,
            2,
        ),
        (
            doc(allow("srn:soracom:OP1::User:alice")),
            "SRN 1: 'srn:soracom:OP1::User:alice' is not an SRN",
            1,
            1,
        ),
        (
            doc(allow("srn:soracom:OP0000000001::Operator:OP0000000002")),
            "names its own operator twice",
            1,
            1,
        ),
        (doc(allow("srn:soracom:OP0000000001::User:-bad")), "not a valid SAM user name", 1, 1),
        (doc(allow("srn:soracom:OP0000000001::Role:admin")), "is not an SRN", 1, 1),
        (doc(allow(ALICE, condition="ipAddress(")), "condition:", 1, None),
        (doc(allow(ALICE, condition=5)), '"condition" must be a string', 1, None),
    ],
)
def test_it_refuses_a_bad_document_saying_where(text, message, statement, position):
    with pytest.raises(InvalidTrustPolicy) as caught:
        trustpolicy.parse(text)
    assert message in str(caught.value)
    assert caught.value.statement == statement
    if position is not None:
        assert caught.value.position == position


def test_it_points_at_the_condition_error():
    with pytest.raises(InvalidTrustPolicy) as caught:
        trustpolicy.parse(doc(allow(ALICE, condition="ipAddress('10.0.0.0/8') and")))
    assert caught.value.position is not None
    assert "at position" in str(caught.value)


def test_it_refuses_a_secret_in_a_condition():
    secret = new_secret()
    with pytest.raises(InvalidTrustPolicy) as caught:
        trustpolicy.parse(doc(allow(ALICE, condition=f"ipAddress('{secret}')")))
    assert secret[-20:] not in str(caught.value)
    assert "secret" in str(caught.value).lower()


@pytest.mark.parametrize(
    "text",
    [
        doc(*[allow(ALICE)] * 101),
        doc(allow(*[f"srn:soracom:OP0000000001::User:u{i}" for i in range(101)])),
        doc(allow("srn:soracom:OP0000000001::User:" + "a" * 300)),
        "x" * 40_000,
        "[" * 5000,
    ],
)
def test_it_caps_what_a_tenant_can_make_it_read(text):
    with pytest.raises(InvalidTrustPolicy):
        trustpolicy.parse(text)


def test_it_never_trusts_with_an_unreadable_stored_policy():
    assert not trustpolicy.trusts("{", ALICE, _facts())


def _facts():
    from datetime import UTC, datetime

    from accounts.conditions import Facts

    return Facts(now=datetime(2026, 1, 1, tzinfo=UTC), source_ip="192.0.2.1")


def test_it_lets_a_deny_win_over_an_allow():
    text = doc(allow(ALICE), {"effect": "deny", "principal": {"soracom": [ALICE]}})
    assert not trustpolicy.trusts(text, ALICE, _facts())
    assert trustpolicy.trusts(doc(allow(ALICE)), ALICE, _facts())
    assert not trustpolicy.trusts(doc(allow(ALICE)), ROOT, _facts())
