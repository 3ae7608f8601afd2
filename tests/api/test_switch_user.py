"""Switch user with trust policies: the one deliberate exception to tenancy, tested like one.

Personas: alice, a SAM user of the home operator allowed everything there (so anything of
home's that a switched session reached would show); bob, a SAM user of another operator
whose trust policy names alice and whose own permission is only `User:listUsers`.
"""

import json

import pytest
from django.test import Client

from accounts import apisessions, tokens
from accounts.models import ApiSession, Operator, Principal
from security import authkeys, roles, switching, users
from security.models import AuditEntry
from tests import dbstate
from tests.api.harness import call, error_of
from tests.conftest import SAM_PASSWORD, api_login
from tests.routes import authorized_routes
from tests.tenant_world import Caller, build_world, path_values, required

pytestmark = pytest.mark.django_db

SWITCH = "/v1/auth/switch_user"
EVERYTHING = '{"statements":[{"effect":"allow","api":"*"}]}'
LIST_USERS = '{"statements":[{"effect":"allow","api":"User:listUsers"}]}'


def trust(*srns: str, effect: str = "allow", **extra) -> str:
    return json.dumps(
        {"statements": [{"effect": effect, "principal": {"soracom": list(srns)}, **extra}]}
    )


def headers_of(data: dict) -> dict:
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


@pytest.fixture
def home_root(root):
    return root


@pytest.fixture
def source(alice, home_root):
    roles.set_inline_permission(None, home_root, alice, EVERYTHING)
    return alice


@pytest.fixture
def source_api(source) -> dict:
    return headers_of(
        api_login(Client(), operatorId=source.operator_id, userName="alice", password=SAM_PASSWORD)
    )


@pytest.fixture
def other_root(db) -> Principal:
    return Principal.objects.create_root(Operator.create(), "root@other.example", "Other-Pass-123")


@pytest.fixture
def bob(other_root, source) -> Principal:
    user = Principal.objects.create_sam_user(other_root.operator, "bob", "trusts alice")
    roles.set_inline_permission(None, other_root, user, LIST_USERS)
    switching.set_trust_policy(None, other_root, user, trust(apisessions.srn(source)))
    user.refresh_from_db()
    return user


def switch(headers: dict, target: Principal, **extra):
    body = {"operatorId": target.operator_id, "userName": target.user_name, **extra}
    return call("POST", SWITCH, headers, body)


@pytest.fixture
def switched(source_api, bob) -> dict:
    response = switch(source_api, bob)
    assert response.status_code == 200, response.content
    return headers_of(response.json())


def users_of(operator_id: str) -> str:
    return f"/v1/operators/{operator_id}/users"


# The switch itself ---------------------------------------------------------------------------


def test_it_answers_the_targets_auth_response(source_api, bob):
    response = switch(source_api, bob)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"apiKey", "operatorId", "token", "userName"}
    assert (body["operatorId"], body["userName"]) == (bob.operator_id, "bob")
    claims = tokens.verify(body["token"], int(apisessions._now().timestamp()))
    assert claims["operator"] == {"operatorId": bob.operator_id}
    assert claims["exp"] - claims["iat"] == 3600
    session = ApiSession.objects.get(api_key=body["apiKey"])
    assert (session.principal_id, session.opened_by) == (bob.pk, "switch_user")


def test_it_lets_root_switch_too(home_root, root_api, bob, other_root):
    switching.set_trust_policy(None, other_root, bob, trust(apisessions.srn(home_root)))
    assert switch(root_api, bob).status_code == 200


def test_it_records_the_switch_in_both_operators_trails(source, source_api, bob):
    switch(source_api, bob)
    mine = AuditEntry.objects.get(action="Auth:switchUser", operator_id=source.operator_id)
    theirs = AuditEntry.objects.get(action="Auth:switchUser", operator_id=bob.operator_id)
    both = {"from": apisessions.srn(source), "to": apisessions.srn(bob)}
    assert (mine.actor, mine.user_name, mine.outcome) == ("alice", "alice", "allowed")
    assert (theirs.actor_kind, theirs.actor, theirs.user_name) == (
        "switch",
        apisessions.srn(source),
        "",
    )
    for entry in (mine, theirs):
        assert {k: entry.details[k] for k in both} == both


@pytest.mark.parametrize("timeout", [179, 3601, 0, "600", None])
def test_it_refuses_a_timeout_outside_180_to_3600(source_api, bob, timeout):
    before = ApiSession.objects.count()
    response = switch(source_api, bob, tokenTimeoutSeconds=timeout)
    assert response.status_code == 400
    error_of(response)
    assert ApiSession.objects.count() == before


def test_it_accepts_the_bounds(source_api, bob):
    for timeout in (180, 3600):
        assert switch(source_api, bob, tokenTimeoutSeconds=timeout).status_code == 200


# Refusals: one answer for every reason ----------------------------------------------------------


def _refused(headers: dict, body: dict) -> dict:
    before = dbstate.raw_state()
    response = call("POST", SWITCH, headers, body)
    assert response.status_code == 400, response.content
    assert dbstate.diff(before, dbstate.raw_state()) == {}
    return error_of(response)


@pytest.mark.parametrize(
    "case",
    ["not named", "no policy", "denied", "unknown user", "unknown operator", "bad ids", "self"],
)
def test_it_refuses_with_one_message_whatever_the_reason(case, source, source_api, bob, other_root):
    body = {"operatorId": bob.operator_id, "userName": "bob"}
    if case == "not named":
        switching.set_trust_policy(None, other_root, bob, trust("srn:soracom:OP0000000001::User:x"))
    elif case == "no policy":
        switching.delete_trust_policy(None, other_root, bob)
    elif case == "denied":
        document = json.loads(trust(apisessions.srn(source)))
        document["statements"].append(
            {"effect": "deny", "principal": {"soracom": [apisessions.srn(source)]}}
        )
        switching.set_trust_policy(None, other_root, bob, json.dumps(document))
    elif case == "unknown user":
        body["userName"] = "nobody"
    elif case == "unknown operator":
        body["operatorId"] = "OP9999999999"
    elif case == "bad ids":
        body = {"operatorId": "OP12", "userName": "../bob"}
    elif case == "self":
        body = {"operatorId": source.operator_id, "userName": "alice"}
    error = _refused(source_api, body)
    assert error["message"] == "Switch user not allowed."


def test_it_records_a_refusal_in_the_callers_trail_only(source, source_api, bob, other_root):
    switching.delete_trust_policy(None, other_root, bob)
    switch(source_api, bob)
    entries = AuditEntry.objects.filter(action="Auth:switchUser")
    assert [(e.operator_id, e.outcome) for e in entries] == [(source.operator_id, "denied")]


def test_it_refuses_a_switched_session_to_switch_again(switched, bob, other_root):
    carol = Principal.objects.create_sam_user(other_root.operator, "carol")
    switching.set_trust_policy(None, other_root, carol, trust(apisessions.srn(bob)))
    roles.set_inline_permission(None, other_root, bob, EVERYTHING)
    error = _refused(switched, {"operatorId": carol.operator_id, "userName": "carol"})
    assert error["message"] == "Switch user not allowed."


def test_it_needs_the_switch_permission_of_a_sam_source(source, home_root, source_api, bob):
    roles.set_inline_permission(
        None, home_root, source, '{"statements":[{"effect":"deny","api":"Auth:switchUser"}]}'
    )
    assert switch(source_api, bob).status_code == 403


def test_it_honours_a_trust_condition(source, source_api, bob, other_root):
    policy = trust(apisessions.srn(source), condition="ipAddress('10.0.0.0/8')")
    switching.set_trust_policy(None, other_root, bob, policy)
    assert switch(source_api, bob).status_code == 400
    assert call("POST", SWITCH, {**source_api, "REMOTE_ADDR": "10.1.2.3"}, {
        "operatorId": bob.operator_id, "userName": "bob"}).status_code == 200  # fmt: skip


# The switched session: exactly the target's permissions ----------------------------------------


def test_it_reaches_the_targets_operator_as_the_target_may(switched, bob):
    response = call("GET", users_of(bob.operator_id), switched)
    assert response.status_code == 200
    assert [u["userName"] for u in response.json()] == ["bob"]


def test_it_holds_nothing_of_the_sources_permissions(switched, bob):
    before = dbstate.raw_state()
    response = call("POST", users_of(bob.operator_id) + "/eve", switched, {"description": "x"})
    assert response.status_code == 403
    assert dbstate.diff(before, dbstate.raw_state()) == {}


def test_it_reaches_nothing_of_the_source_operator(switched, source):
    assert call("GET", users_of(source.operator_id), switched).status_code == 404


# Cross-tenant matrix: every API operation, the switched credentials, both operators ----------


API_ROUTES = [r for r in authorized_routes() if r.kind == "api"]


@pytest.fixture
def matrix(db):
    """Return the world, a switched caller into other's target, and the target."""
    world = build_world()
    source = world["people"]["nothing"]
    roles.set_inline_permission(None, world["home"]["root"], source, EVERYTHING)
    target = Principal.objects.get(user_name="foreign-target")
    switching.set_trust_policy(None, world["other"]["root"], target, trust(apisessions.srn(source)))
    caller = Caller(source)
    response = caller.api.post(SWITCH, {"operatorId": target.operator_id, "userName":
        target.user_name}, content_type="application/json", **caller.headers)  # fmt: skip
    assert response.status_code == 200, response.content
    caller.headers = headers_of(response.json())
    return world, caller, target


def _send(caller, route, values):
    return caller.send(route, path_values(route, values))[0]


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: r.label)
def test_it_refuses_every_operation_on_the_source_operator(matrix, route):
    world, caller, _ = matrix
    before = dbstate.raw_state()
    response = _send(caller, route, world["home"]["values"])
    if required(route)[0] == "Auth:logout":
        assert response.status_code == 204  # the switched session's own end, nothing else
        return
    assert response.status_code in (400, 403, 404), (route.label, response.content[:200])
    if "operator_id" not in route.params and required(route)[0] != "Auth:switchUser":
        # Paths without an operator act in the caller's (the target's) operator: refused
        # there by the target's permission, which holds only Auth:logout.
        assert response.status_code == 403, route.label
    assert dbstate.diff(before, dbstate.raw_state()) == {}, route.label


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: r.label)
def test_it_allows_on_the_target_operator_only_what_the_target_may(matrix, route):
    world, caller, _ = matrix
    before = dbstate.raw_state()
    response = _send(caller, route, world["other"]["values"])
    if required(route)[0] == "Auth:logout":
        assert response.status_code == 204
        return
    # The target's permission is Auth:logout only (tests/tenant_world.py LOGOUT_ONLY).
    assert response.status_code == 403, (route.label, response.content[:200])
    assert dbstate.diff(before, dbstate.raw_state()) == {}, route.label


# What ends a switched session, on the next request ---------------------------------------------


def _alive(headers: dict) -> bool:
    status = call("GET", users_of(Principal.objects.get(user_name="bob").operator_id), headers)
    return status.status_code == 200


def test_it_lives_until_something_ends_it(switched):
    assert _alive(switched)


@pytest.mark.parametrize(
    "event",
    [
        "source tokens revoked",
        "source deleted",
        "source deactivated",
        "source logged out",
        "source password changed",
        "target tokens revoked",
        "target deleted",
        "trust policy changed",
        "trust policy deleted",
        "switched sessions ended",
    ],
)
def test_it_ends_when(event, switched, source, source_api, bob, home_root, other_root):
    if event == "source tokens revoked":
        users.revoke_tokens(None, home_root, source, "User:revokeUserAuthTokens")
    elif event == "source deleted":
        users.delete_user(None, home_root, source)
    elif event == "source deactivated":
        Principal.objects.filter(pk=source.pk).update(is_active=False)
    elif event == "source logged out":
        assert call("POST", "/v1/auth/logout", source_api).status_code == 204
    elif event == "source password changed":
        users.set_password(None, home_root, source, "A-new-Passw0rd-99", "User:updateUserPassword")
    elif event == "target tokens revoked":
        users.revoke_tokens(None, other_root, bob, "User:revokeUserAuthTokens")
    elif event == "target deleted":
        users.delete_user(None, other_root, bob)
        Principal.objects.create_sam_user(other_root.operator, "bob")  # a new bob: not it
    elif event == "trust policy changed":
        switching.set_trust_policy(None, other_root, bob, trust(apisessions.srn(source)))
    elif event == "trust policy deleted":
        switching.delete_trust_policy(None, other_root, bob)
    elif event == "switched sessions ended":
        switching.end_switched_sessions(None, other_root, bob)
    assert call("GET", users_of(other_root.operator_id), switched).status_code == 401


def test_it_ends_with_the_authkey_of_its_source(source, home_root, bob):
    key, secret = authkeys.generate(None, home_root, source)
    data = api_login(Client(), authKeyId=key.key_id, authKey=secret)
    switched = headers_of(switch(headers_of(data), bob).json())
    assert _alive(switched)
    authkeys.revoke(None, home_root, key)
    assert not _alive(switched)


def test_it_keeps_the_targets_own_sessions_when_switched_ones_end(switched, bob, other_root):
    own_key, own_token = apisessions.create_session(bob, timeout=600)
    own = {"HTTP_X_SORACOM_API_KEY": own_key, "HTTP_X_SORACOM_TOKEN": own_token}
    switching.end_switched_sessions(None, other_root, bob)
    assert not _alive(switched)
    assert _alive(own)


def test_it_refuses_a_switch_that_read_the_old_trust_epoch(source, bob, other_root):
    stale = Principal.objects.get(pk=bob.pk)
    switching.end_switched_sessions(None, other_root, bob)
    api_key, token = apisessions.create_switched_session(stale, source, timeout=600)
    headers = {"HTTP_X_SORACOM_API_KEY": api_key, "HTTP_X_SORACOM_TOKEN": token}
    assert not _alive(headers)


# Trust policy operations -------------------------------------------------------------------------


def _tp(user: Principal) -> str:
    return f"/v1/operators/{user.operator_id}/users/{user.user_name}/trust_policy"


def test_it_reads_the_trust_policy(bob, other_root, source):
    headers = headers_of(api_login(Client(), email=other_root.email, password="Other-Pass-123"))
    response = call("GET", _tp(bob), headers)
    assert response.status_code == 200
    assert json.loads(response.json()["trustPolicy"]) == json.loads(trust(apisessions.srn(source)))


def test_it_saves_and_deletes_a_trust_policy(root, root_api, alice):
    policy = trust("srn:soracom:OP0000000001::Operator:OP0000000001")
    assert call("PUT", _tp(alice), root_api, {"trustPolicy": policy}).status_code == 204
    alice.refresh_from_db()
    assert alice.trust_policy == policy
    assert switching.trusted_by(alice) == ["srn:soracom:OP0000000001::Operator:OP0000000001"]
    assert call("DELETE", _tp(alice), root_api).status_code == 204
    alice.refresh_from_db()
    assert (alice.trust_policy, switching.trusted_by(alice)) == ("", [])
    empty = call("GET", _tp(alice), root_api).json()
    assert empty == {"trustPolicy": '{"statements":[]}'}


def test_it_answers_another_operators_user_like_a_missing_one(root_api, bob):
    before = dbstate.raw_state()
    policy = trust("srn:soracom:OP0000000001::User:x")
    assert call("PUT", _tp(bob), root_api, {"trustPolicy": policy}).status_code == 404
    assert call("GET", _tp(bob), root_api).status_code == 404
    assert dbstate.diff(before, dbstate.raw_state()) == {}


def test_it_lists_and_ends_switched_sessions_for_the_targets_root(
    switched, source, bob, other_root
):
    headers = headers_of(api_login(Client(), email=other_root.email, password="Other-Pass-123"))
    path = f"/v1/operators/{bob.operator_id}/users/bob/switched_sessions"
    listed = call("GET", path, headers).json()
    assert [s["sourceSrn"] for s in listed] == [apisessions.srn(source)]
    assert call("DELETE", path, headers).status_code == 204
    assert call("GET", path, headers).json() == []
    assert not _alive(switched)
    entry = AuditEntry.objects.get(action="User:revokeUserSwitchedSessions")
    assert entry.details == {"sessions": 1}


def test_it_flags_a_user_trusting_itself_into_another(alice, root, robot):
    roles.set_inline_permission(
        None, root, alice, '{"statements":[{"effect":"allow","api":"User:updateUserTrustPolicy"}]}'
    )
    switching.set_trust_policy(None, alice, robot, trust(apisessions.srn(alice)))
    entry = AuditEntry.objects.get(action="User:updateUserTrustPolicy")
    assert entry.details["selfEscalation"] is True
    assert entry.details["trusted"] == [apisessions.srn(alice)]


def test_it_names_the_source_in_every_entry_of_the_switched_session(switched, source, bob):
    call("POST", users_of(bob.operator_id) + "/eve", switched, {"description": "x"})
    entry = AuditEntry.objects.get(operator_id=bob.operator_id, action="User:createUser")
    assert (entry.actor, entry.outcome) == ("bob", "denied")
    assert entry.details["switchedFrom"] == apisessions.srn(source)


def test_it_names_nobody_else_in_the_targets_own_entries(bob, other_root):
    api_key, token = apisessions.create_session(bob, timeout=600)
    headers = {"HTTP_X_SORACOM_API_KEY": api_key, "HTTP_X_SORACOM_TOKEN": token}
    call("POST", users_of(bob.operator_id) + "/eve", headers, {"description": "x"})
    entry = AuditEntry.objects.get(operator_id=bob.operator_id, action="User:createUser")
    assert "switchedFrom" not in entry.details
