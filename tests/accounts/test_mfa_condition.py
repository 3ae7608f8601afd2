"""The condition variable `multiFactorAuthPresent`: true only for a session opened with a
second factor (like AWS's aws:MultiFactorAuthPresent); false for AuthKey sessions."""

import pyotp
import pytest
from django.test import Client

from accounts.conditions import ConditionSyntaxError, parse
from accounts.context import SECOND_FACTOR_SESSION_KEY
from accounts.permissions import dumps
from security import mfa
from tests.api.harness import call
from tests.api.test_mfa_api import T0, headers_of, secret_of
from tests.conftest import SAM_PASSWORD

ONLY_WITH_MFA = [
    {"effect": "allow", "api": "User:listUsers", "condition": "multiFactorAuthPresent"}
]


@pytest.fixture
def clock(monkeypatch):
    moment = {"t": T0}
    monkeypatch.setattr(mfa, "clock", lambda: moment["t"])
    return moment


def test_it_parses_the_variable_as_true_or_false():
    assert parse("multiFactorAuthPresent").type == "boolean"
    assert parse("not multiFactorAuthPresent and httpMethod('GET')").type == "boolean"
    with pytest.raises(ConditionSyntaxError):
        parse("multiFactorAuthPresent == 'yes'")


@pytest.fixture
def alice_needs_mfa(alice, operator):
    alice.inline_permission = dumps(ONLY_WITH_MFA)
    alice.save()
    operator.bump_policy_version()
    return alice


def _enrol(root, alice, clock) -> pyotp.TOTP:
    uri = mfa.enable(None, root, alice, "User:enableUserMFA")
    totp = pyotp.TOTP(secret_of(uri))
    mfa.verify(None, root, alice, totp.at(clock["t"]), "User:verifyUserMFA")
    clock["t"] += 30
    return totp


def _login(**extra) -> dict:
    body = {"operatorId": extra.pop("operator_id"), "userName": "alice", "password": SAM_PASSWORD}
    response = Client().post("/v1/auth", {**body, **extra}, content_type="application/json")
    assert response.status_code == 200, response.content
    return headers_of(response.json())


def test_it_is_false_for_a_password_session_without_a_code(alice_needs_mfa):
    headers = _login(operator_id=alice_needs_mfa.operator_id)
    path = f"/v1/operators/{alice_needs_mfa.operator_id}/users"
    assert call("GET", path, headers).status_code == 403


def test_it_is_true_for_a_session_opened_with_a_code(alice_needs_mfa, root, clock):
    totp = _enrol(root, alice_needs_mfa, clock)
    headers = _login(operator_id=alice_needs_mfa.operator_id, mfaOTPCode=totp.at(clock["t"]))
    path = f"/v1/operators/{alice_needs_mfa.operator_id}/users"
    assert call("GET", path, headers).status_code == 200


def test_it_is_false_for_an_authkey_session_even_with_mfa_active(alice_needs_mfa, root, clock):
    from security import authkeys

    _enrol(root, alice_needs_mfa, clock)
    _key, secret = authkeys.generate(None, root, alice_needs_mfa)
    response = Client().post(
        "/v1/auth", {"authKeyId": _key.key_id, "authKey": secret}, content_type="application/json"
    )
    headers = headers_of(response.json())
    path = f"/v1/operators/{alice_needs_mfa.operator_id}/users"
    assert call("GET", path, headers).status_code == 403


def test_it_follows_the_console_session(alice_needs_mfa):
    client = Client()
    client.force_login(alice_needs_mfa)
    assert client.get("/security/users/").status_code == 403
    session = client.session
    session[SECOND_FACTOR_SESSION_KEY] = True
    session.save()
    assert client.get("/security/users/").status_code == 200
