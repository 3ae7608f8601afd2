"""The console's trust-policy tab, switched-session control and switch user menu."""

import json

import pytest
from django.test import Client

from accounts import apisessions
from accounts.models import ApiSession, Operator, Principal
from security import roles, switching, users
from security.models import AuditEntry

pytestmark = pytest.mark.django_db

SWITCH_ONLY = '{"statements":[{"effect":"allow","api":"Auth:switchUser"}]}'
LIST_USERS = '{"statements":[{"effect":"allow","api":"User:listUsers"}]}'


def trust(*srns: str) -> str:
    return json.dumps({"statements": [{"effect": "allow", "principal": {"soracom": list(srns)}}]})


@pytest.fixture
def other_root(db) -> Principal:
    return Principal.objects.create_root(Operator.create(), "root@other.example", "Other-Pass-123")


@pytest.fixture
def other_root_client(other_root) -> Client:
    client = Client()
    client.force_login(other_root, backend="accounts.backends.RootBackend")
    return client


@pytest.fixture
def bob(other_root, alice, root) -> Principal:
    roles.set_inline_permission(None, root, alice, SWITCH_ONLY)
    user = Principal.objects.create_sam_user(other_root.operator, "bob")
    roles.set_inline_permission(None, other_root, user, LIST_USERS)
    switching.set_trust_policy(None, other_root, user, trust(apisessions.srn(alice)))
    return user


def _switch(client: Client, target: Principal):
    body = {"operator_id": target.operator_id, "user_name": target.user_name}
    return client.post("/security/switch-user/", body)


# The trust-policy tab --------------------------------------------------------------------------


def test_it_shows_the_trusted_principals_to_the_targets_root(other_root_client, bob, alice):
    page = other_root_client.get("/security/users/bob/trust-policy")
    assert page.status_code == 200
    assert apisessions.srn(alice) in page.content.decode()


def test_it_saves_a_trust_policy(root_client, alice):
    policy = trust("srn:soracom:OP0000000009::User:eve")
    response = root_client.post(
        "/security/users/alice/trust-policy/update", {"trust_policy": policy}
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.trust_policy == policy
    assert switching.trusted_by(alice) == ["srn:soracom:OP0000000009::User:eve"]


def test_it_shows_where_a_document_is_wrong_and_saves_nothing(root_client, alice):
    bad = json.dumps(
        {"statements": [{"effect": "allow", "principal": {"soracom": ["srn:soracom:OP1::User:x"]}}]}
    )
    response = root_client.post("/security/users/alice/trust-policy/update", {"trust_policy": bad})
    assert response.status_code == 400
    assert "Statement 1: SRN 1:" in response.content.decode()
    alice.refresh_from_db()
    assert alice.trust_policy == ""


def test_it_refuses_a_sam_user_without_the_permission(alice_client, alice):
    response = alice_client.get("/security/users/alice/trust-policy")
    assert response.status_code == 403


def test_it_answers_another_operators_user_like_a_missing_one(root_client, bob):
    assert root_client.get("/security/users/bob/trust-policy").status_code == 404


# The switch menu, the banner, switching back -------------------------------------------------


def test_it_offers_the_menu_only_with_a_trusted_target(alice_client, alice, root, other_root):
    roles.set_inline_permission(None, root, alice, SWITCH_ONLY)
    assert 'class="switch-menu"' not in alice_client.get("/security/switch-user/").content.decode()
    user = Principal.objects.create_sam_user(other_root.operator, "bob")
    switching.set_trust_policy(None, other_root, user, trust(apisessions.srn(alice)))
    menu = alice_client.get("/security/switch-user/").content.decode()
    assert 'class="switch-menu"' in menu
    assert 'value="bob"' in menu


def test_it_switches_the_browser_to_the_target(alice_client, bob):
    response = _switch(alice_client, bob)
    assert response.status_code == 302
    page = alice_client.get("/security/users/")
    assert page.status_code == 200
    assert page.wsgi_request.user.pk == bob.pk
    text = page.content.decode()
    assert 'id="switch-banner"' in text
    assert apisessions.srn(bob) in text
    session = ApiSession.objects.get(principal=bob)
    assert session.opened_by == "switch_user"


def test_it_holds_only_the_targets_permissions(alice_client, bob):
    _switch(alice_client, bob)
    assert alice_client.get("/security/roles/").status_code == 403


def test_it_refuses_a_second_switch(alice_client, bob, other_root):
    _switch(alice_client, bob)
    carol = Principal.objects.create_sam_user(other_root.operator, "carol")
    switching.set_trust_policy(None, other_root, carol, trust(apisessions.srn(bob)))
    roles.set_inline_permission(None, other_root, bob, SWITCH_ONLY)
    response = _switch(alice_client, carol)
    assert response.status_code == 400
    assert alice_client.get("/security/switch-user/").wsgi_request.user.pk == bob.pk


def test_it_switches_back_without_a_password(alice_client, alice, bob):
    _switch(alice_client, bob)
    response = alice_client.post("/security/switch-user/back")
    assert response.status_code == 302
    page = alice_client.get("/security/switch-user/")
    assert page.wsgi_request.user.pk == alice.pk
    assert 'id="switch-banner"' not in page.content.decode()
    assert ApiSession.objects.get(principal=bob).revoked_at is not None


def test_it_signs_out_when_switching_back_to_a_source_that_ended(alice_client, alice, root, bob):
    _switch(alice_client, bob)
    users.set_password(None, root, alice, "A-changed-Passw0rd-7", "User:updateUserPassword")
    alice_client.post("/security/switch-user/back")
    page = alice_client.get("/security/users/")
    assert page.status_code == 302 and "/login/" in page["Location"]


def test_it_refuses_a_switch_nobody_allowed(alice_client, alice, root, other_root):
    roles.set_inline_permission(None, root, alice, SWITCH_ONLY)
    Principal.objects.create_sam_user(other_root.operator, "bob")
    before = ApiSession.objects.count()
    response = alice_client.post(
        "/security/switch-user/", {"operator_id": other_root.operator_id, "user_name": "bob"}
    )
    assert response.status_code == 400
    assert ApiSession.objects.count() == before
    assert alice_client.get("/security/switch-user/").wsgi_request.user.pk == alice.pk
    refusal = AuditEntry.objects.get(action="Auth:switchUser")
    assert (refusal.operator_id, refusal.outcome) == (alice.operator_id, "denied")


# Ending switched console sessions ----------------------------------------------------------------


@pytest.mark.parametrize("event", ["end control", "trust policy removed", "source deleted"])
def test_it_signs_out_a_switched_browser_when(
    event, alice_client, alice, root, bob, other_root_client
):
    _switch(alice_client, bob)
    if event == "end control":
        response = other_root_client.post("/security/users/bob/switched-sessions/end")
        assert response.status_code == 302
    elif event == "trust policy removed":
        other_root_client.post("/security/users/bob/trust-policy/delete")
    else:
        users.delete_user(None, root, alice)
    page = alice_client.get("/security/users/")
    assert page.status_code == 302 and "/login/" in page["Location"]


def test_it_lists_the_switched_sessions_for_the_targets_root(
    alice_client, alice, bob, other_root_client
):
    _switch(alice_client, bob)
    panel = other_root_client.get("/security/users/bob/switched-sessions", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert apisessions.srn(alice) in panel.content.decode()


def test_it_names_the_source_in_the_console_entries_of_a_switched_browser(alice_client, alice, bob):
    _switch(alice_client, bob)
    alice_client.post("/security/users/new", {"user_name": "eve", "description": ""})
    entry = AuditEntry.objects.get(operator_id=bob.operator_id, action="User:createUser")
    assert entry.details["switchedFrom"] == apisessions.srn(alice)
