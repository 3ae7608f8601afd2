"""The console's Roles tab, Default permissions page and a user's Permissions tab."""

import json
import re

import pytest

from accounts import policy
from accounts.models import Operator, Role, RoleAttachment
from security import roles
from security.models import AuditEntry

HX = {"HTTP_HX_REQUEST": "true"}
ALL_USERS = json.dumps({"statements": [{"effect": "allow", "api": "User:*"}]})
EMPTY = '{"statements":[]}'


@pytest.fixture(autouse=True)
def _fresh_cache():
    policy.clear_cache()


@pytest.fixture
def reader(root) -> Role:
    return roles.create_role(None, root, "reader", ALL_USERS, "Reads users")


def doc(*statements) -> str:
    return json.dumps({"statements": list(statements)})


# Access first -------------------------------------------------------------------------


def test_it_answers_404_for_another_operators_role(outsider_client, reader):
    assert outsider_client.get("/security/roles/reader/").status_code == 404


def test_it_answers_404_for_another_operators_user(outsider_client, alice):
    assert outsider_client.get("/security/users/alice/permissions").status_code == 404


def test_it_refuses_a_sam_user_without_permission(alice_client):
    response = alice_client.get("/security/roles/")
    assert response.status_code == 403
    assert b"Role:listRoles" in response.content


def test_it_refuses_in_a_dialog_over_htmx(alice_client):
    response = alice_client.get("/security/roles/new", **HX)
    assert response.status_code == 403
    assert b"<dialog" in response.content


def test_it_redirects_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/security/roles/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_lets_a_sam_user_with_a_role_see_the_roles(alice_client, alice, root, reader):
    roles.set_inline_permission(None, root, alice, doc({"effect": "allow", "api": "Role:list*"}))
    assert alice_client.get("/security/roles/").status_code == 200


# Roles tab ----------------------------------------------------------------------------


def test_it_lists_roles_with_their_attached_count(root_client, root, reader, alice):
    roles.attach_role(None, root, alice, reader)
    response = root_client.get("/security/roles/")
    assert response.status_code == 200
    assert b"reader" in response.content
    assert b"<td>1</td>" in response.content


def test_it_renders_only_the_list_for_its_htmx_refresh(root_client, reader):
    response = root_client.get("/security/roles/", HTTP_HX_TARGET="role-list", **HX)
    assert b'id="role-list"' in response.content
    assert b"<html" not in response.content


def test_it_creates_a_role_from_the_dialog(root_client, operator):
    response = root_client.post(
        "/security/roles/new",
        {"role_id": "ops", "description": "Ops", "permission": ALL_USERS},
        **HX,
    )
    assert response.status_code == 204
    assert "rolesChanged" in response["HX-Trigger"]
    assert Role.objects.get(operator=operator, role_id="ops").permission == ALL_USERS


def test_it_creates_a_role_without_javascript(root_client, root, operator):
    response = root_client.post(
        "/security/roles/new", {"role_id": "ops", "description": "Ops", "permission": EMPTY}
    )
    assert response.status_code == 302
    assert response["Location"] == "/security/roles/ops/"
    role = Role.objects.get(operator=operator, role_id="ops")
    assert (role.description, role.permission) == ("Ops", EMPTY)
    entry = AuditEntry.objects.get(action="Role:createRole")
    assert (entry.operator_id, entry.actor, entry.outcome) == (operator.pk, root.email, "allowed")


def test_it_shows_the_error_at_the_offending_statement(root_client):
    bad = doc(
        {"effect": "allow", "api": "User:*"},
        {"effect": "allow", "api": "*", "condition": "ipAddress('10.0.0.0/8') and samUserName"},
    )
    response = root_client.post(
        "/security/roles/new", {"role_id": "ops", "description": "", "permission": bad}, **HX
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-statement="2"' in html
    assert "Statement 2: condition:" in html
    assert "&#x27;and&#x27; needs true/false operands" in html
    assert not Role.objects.exists()


def test_it_points_at_the_position_of_a_condition_error(root_client):
    bad = doc({"effect": "allow", "api": "*", "condition": "samUserName == "})
    response = root_client.post(
        "/security/roles/new", {"role_id": "x", "description": "", "permission": bad}, **HX
    )
    assert "samUserName == \n" + " " * 15 + "^" in response.content.decode()


def test_it_warns_about_an_unknown_operation_but_saves(root_client, reader):
    document = doc({"effect": "allow", "api": "User:lisUsers"})
    response = root_client.post(
        "/security/roles/reader/update", {"description": "", "permission": document}, **HX
    )
    assert response.status_code == 200
    assert b"matches no known API operation" in response.content
    assert b"Saved with warnings" in response.content
    reader.refresh_from_db()
    assert reader.permission == document


def test_it_checks_without_saving(root_client, reader):
    response = root_client.post(
        "/security/roles/reader/update",
        {"description": "", "permission": EMPTY, "check": "1"},
        **HX,
    )
    assert b"Not saved yet" in response.content
    reader.refresh_from_db()
    assert reader.permission == ALL_USERS


def test_it_shows_a_role_with_its_editor(root_client, reader):
    response = root_client.get("/security/roles/reader/")
    assert response.status_code == 200
    assert b"Reads users" in response.content
    assert b"data-json-editor" in response.content


def test_it_updates_a_role_and_bumps_the_policy_version(root_client, reader, operator):
    before = Operator.objects.get(pk=operator.pk).policy_version
    root_client.post("/security/roles/reader/update", {"description": "New", "permission": EMPTY})
    reader.refresh_from_db()
    assert (reader.permission, reader.description) == (EMPTY, "New")
    assert Operator.objects.get(pk=operator.pk).policy_version > before


def test_it_lists_the_users_a_role_is_attached_to(root_client, root, reader, alice):
    roles.attach_role(None, root, alice, reader)
    response = root_client.get("/security/roles/reader/users", **HX)
    assert b"alice" in response.content
    assert b"<html" not in response.content


def test_it_shows_the_attached_users_as_a_page_without_javascript(root_client, reader):
    response = root_client.get("/security/roles/reader/users")
    assert b"<html" in response.content
    assert b"No user holds this role" in response.content


def test_it_refuses_to_delete_an_attached_role_naming_the_users(root_client, root, reader, alice):
    roles.attach_role(None, root, alice, reader)
    assert b"alice" in root_client.get("/security/roles/reader/delete", **HX).content
    response = root_client.post("/security/roles/reader/delete", **HX)
    assert response.status_code == 400
    assert b"Detach it first from" in response.content
    assert Role.objects.filter(pk=reader.pk).exists()


def test_it_deletes_an_unattached_role(root_client, reader):
    response = root_client.post("/security/roles/reader/delete", **HX)
    assert response.status_code == 204
    assert not Role.objects.exists()


# Default permissions ------------------------------------------------------------------------


def test_it_shows_the_default_permissions(root_client, root):
    roles.set_default_permissions(None, root, ALL_USERS)
    response = root_client.get("/security/default-permissions/")
    assert response.status_code == 200
    assert b"User:*" in response.content


def test_it_saves_default_permissions(root_client, operator):
    response = root_client.post(
        "/security/default-permissions/update", {"permission": ALL_USERS}, **HX
    )
    assert response.status_code == 200
    assert b"Applies from the next request" in response.content
    assert Operator.objects.get(pk=operator.pk).default_permissions == ALL_USERS


def test_it_refuses_invalid_default_permissions(root_client, operator):
    response = root_client.post(
        "/security/default-permissions/update", {"permission": '{"statements": 3}'}
    )
    assert response.status_code == 400
    assert Operator.objects.get(pk=operator.pk).default_permissions == ""


def test_it_clears_default_permissions(root_client, root, operator):
    roles.set_default_permissions(None, root, ALL_USERS)
    response = root_client.post("/security/default-permissions/delete")
    assert response.status_code == 302
    assert Operator.objects.get(pk=operator.pk).default_permissions == ""


# A user's Permissions tab -------------------------------------------------------------------


def test_it_shows_a_users_permissions_tab(root_client, alice):
    response = root_client.get("/security/users/alice/permissions")
    assert response.status_code == 200
    assert b"Inline permission" in response.content
    assert b"Policy simulator" in response.content
    assert b"pathVariable(&#x27;user_name&#x27;) == samUserName" in response.content


def test_it_saves_an_inline_permission(root_client, alice):
    response = root_client.post(
        "/security/users/alice/permissions/update", {"permission": ALL_USERS}, **HX
    )
    assert response.status_code == 200
    assert b'id="permission-editor"' in response.content
    alice.refresh_from_db()
    assert alice.inline_permission == ALL_USERS


def test_it_shows_an_inline_error_at_its_statement(root_client, alice):
    bad = doc({"effect": "allow", "api": 5})
    response = root_client.post(
        "/security/users/alice/permissions/update", {"permission": bad}, **HX
    )
    assert response.status_code == 400
    assert b"Statement 1: &quot;api&quot; must be a string or an array" in response.content
    alice.refresh_from_db()
    assert alice.inline_permission == ""


def test_it_removes_an_inline_permission(root_client, root, alice):
    roles.set_inline_permission(None, root, alice, ALL_USERS)
    response = root_client.post("/security/users/alice/permissions/delete", **HX)
    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.inline_permission == ""


def test_it_attaches_a_role_from_the_dialog(root_client, reader, alice):
    response = root_client.post("/security/users/alice/roles/attach", {"role": "reader"}, **HX)
    assert response.status_code == 204
    assert "permissionsChanged" in response["HX-Trigger"]
    assert RoleAttachment.objects.filter(principal=alice, role=reader).exists()


def test_it_offers_only_roles_not_yet_attached(root_client, root, reader, alice):
    roles.create_role(None, root, "other", EMPTY)
    roles.attach_role(None, root, alice, reader)
    html = root_client.get("/security/users/alice/roles/attach", **HX).content.decode()
    assert 'value="other"' in html
    assert 'value="reader"' not in html


def test_it_detaches_a_role(root_client, root, reader, alice):
    roles.attach_role(None, root, alice, reader)
    response = root_client.post("/security/users/alice/roles/reader/detach", **HX)
    assert response.status_code == 204
    assert not RoleAttachment.objects.exists()


def test_it_answers_404_when_detaching_a_role_not_attached(root_client, reader, alice):
    assert root_client.get("/security/users/alice/roles/reader/detach").status_code == 404


def test_it_lists_a_users_roles(root_client, root, reader, alice):
    roles.attach_role(None, root, alice, reader)
    response = root_client.get("/security/users/alice/roles", **HX)
    assert b"reader" in response.content
    assert b"Detach" in response.content


def test_it_shows_the_effective_permission_with_each_source(root_client, root, reader, alice):
    roles.set_default_permissions(None, root, doc({"effect": "allow", "api": "Auth:*"}))
    roles.attach_role(None, root, alice, reader)
    roles.set_inline_permission(None, root, alice, doc({"effect": "deny", "api": "User:delete*"}))
    html = root_client.get("/security/users/alice/permissions/effective", **HX).content.decode()
    assert html.index("Default permissions") < html.index("Role reader") < html.index("Inline")
    assert "User:delete*" in html


def test_it_simulates_an_allowed_call_and_names_the_statement(root_client, root, reader, alice):
    roles.attach_role(None, root, alice, reader)
    response = root_client.get(
        "/security/users/alice/permissions/simulate",
        {"api": "User:listUsers", "method": "GET", "source_ip": "192.0.2.1", "path_vars": ""},
        **HX,
    )
    html = response.content.decode()
    assert 'data-decision="allowed"' in html
    assert "Role reader, statement 1" in html


def test_it_simulates_a_denied_call_with_time_ip_and_path_variables(root_client, root, alice):
    statement = {
        "effect": "allow",
        "api": "User:getUser",
        "condition": "ipAddress('10.0.0.0/8') and currentDate < date(2030, 1, 1) "
        "and pathVariable('user_name') == samUserName",
    }
    roles.set_inline_permission(None, root, alice, doc(statement))
    query = {"api": "User:getUser", "method": "GET", "source_ip": "10.1.1.1"}
    allowed = root_client.get(
        "/security/users/alice/permissions/simulate",
        {**query, "at": "2029-12-31T23:00", "path_vars": "user_name=alice"},
        **HX,
    )
    assert b'data-decision="allowed"' in allowed.content
    later = root_client.get(
        "/security/users/alice/permissions/simulate",
        {**query, "at": "2030-01-01T00:00", "path_vars": "user_name=alice"},
        **HX,
    )
    assert b'data-decision="denied"' in later.content
    assert b"No statement allowed it." in later.content


def test_it_simulates_a_call_with_and_without_a_second_factor(root_client, root, alice):
    statement = {"effect": "allow", "api": "User:getUser", "condition": "multiFactorAuthPresent"}
    roles.set_inline_permission(None, root, alice, doc(statement))
    query = {"api": "User:getUser", "method": "GET", "source_ip": "192.0.2.1"}
    url = "/security/users/alice/permissions/simulate"
    without = root_client.get(url, query, **HX)
    assert b'data-decision="denied"' in without.content
    with_mfa = root_client.get(url, {**query, "second_factor": "on"}, **HX)
    assert b'data-decision="allowed"' in with_mfa.content
    assert re.search(rb'<input type="checkbox" name="second_factor"[^>]* checked', with_mfa.content)


def test_it_refuses_a_bad_simulator_address(root_client, alice):
    response = root_client.get(
        "/security/users/alice/permissions/simulate",
        {"api": "User:getUser", "method": "GET", "source_ip": "nope"},
        **HX,
    )
    assert b"Enter an IPv4 or IPv6 address" in response.content
    assert b"data-decision" not in response.content


def test_it_simulates_as_a_full_page_without_javascript(root_client, alice):
    response = root_client.get(
        "/security/users/alice/permissions/simulate",
        {"api": "Operator:generateOperatorAuthKey", "method": "POST", "source_ip": "::1"},
    )
    assert b"<html" in response.content
    assert b"Only the root account may call this operation" in response.content


# Self-escalation is visible ------------------------------------------------------------------


def test_it_warns_a_sam_user_editing_its_own_permission(alice_client, alice, root):
    roles.set_inline_permission(None, root, alice, doc({"effect": "allow", "api": "User:*"}))
    response = alice_client.get("/security/users/alice/permissions")
    assert b"You are editing your own permission" in response.content


def test_it_flags_a_sam_user_attaching_a_role_to_itself(alice_client, alice, root, reader):
    roles.set_inline_permission(None, root, alice, doc({"effect": "allow", "api": "*"}))
    html = alice_client.get("/security/users/alice/roles/attach", **HX).content
    assert b"attaching a role to yourself" in html
    alice_client.post("/security/users/alice/roles/attach", {"role": "reader"}, **HX)
    entry = AuditEntry.objects.get(action="Role:attachRole")
    assert entry.details["selfEscalation"] is True
    assert (entry.user_name, entry.target) == ("alice", "alice")


def test_it_applies_an_attachment_to_the_signed_in_user_on_the_next_request(
    alice_client, root_client, reader
):
    assert alice_client.get("/security/users/").status_code == 403
    root_client.post("/security/users/alice/roles/attach", {"role": "reader"}, **HX)
    assert alice_client.get("/security/users/").status_code == 200
    root_client.post("/security/users/alice/roles/reader/detach", **HX)
    assert alice_client.get("/security/users/").status_code == 403


def test_the_console_refuses_an_attach_past_the_roles_a_user_may_hold(root_client, root, alice):
    for i in range(roles.MAX_ROLES_PER_USER):
        roles.attach_role(None, root, alice, roles.create_role(None, root, f"r{i}", EMPTY))
    extra = roles.create_role(None, root, "one-more", EMPTY)
    response = root_client.post("/security/users/alice/roles/attach", {"role": extra.role_id}, **HX)
    assert response.status_code == 400
    assert f"({roles.MAX_ROLES_PER_USER})".encode() in response.content
    assert not RoleAttachment.objects.filter(principal=alice, role=extra).exists()
