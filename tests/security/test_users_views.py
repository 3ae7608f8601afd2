"""The Users tab: access first, then each action on the full-page and the HTMX path."""

import json

import pytest
from django.test import Client

from accounts.models import Principal
from security.models import AuditEntry

HX = {"HTTP_HX_REQUEST": "true"}


# Access
def test_it_sends_anonymous_visitors_to_sign_in(db):
    response = Client().get("/security/users/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_it_answers_404_for_another_operators_user(outsider_client, alice):
    assert outsider_client.get("/security/users/alice/").status_code == 404


def test_it_does_not_list_another_operators_users(outsider_client, alice):
    assert b"alice" not in outsider_client.get("/security/users/").content


def test_it_forbids_a_sam_user_without_permission(alice_client):
    response = alice_client.get("/security/users/")
    assert response.status_code == 403
    assert b"User:listUsers" in response.content


def test_it_audits_a_forbidden_console_action(alice_client, alice):
    alice_client.get("/security/users/")
    entry = AuditEntry.objects.get(action="User:listUsers")
    assert entry.outcome == "denied"
    assert entry.actor == "alice"


def test_it_forbids_a_sam_user_to_delete_another_user(alice_client, robot):
    assert alice_client.post("/security/users/robot/delete").status_code == 403
    assert Principal.objects.filter(pk=robot.pk).exists()


# List
def test_it_lists_users(root_client, alice, robot):
    content = root_client.get("/security/users/").content
    assert b"alice" in content
    assert b"robot" in content


def test_it_pages_the_list(root_client, operator):
    for i in range(30):
        Principal.objects.create_sam_user(operator, f"user{i:02d}")
    first = root_client.get("/security/users/").content
    second = root_client.get("/security/users/?page=2").content
    assert b"user00" in first and b"user29" not in first
    assert b"user29" in second


def test_it_renders_only_the_list_for_htmx(root_client, alice):
    response = root_client.get("/security/users/", HTTP_HX_TARGET="user-list", **HX)
    assert b"<html" not in response.content
    assert b'id="user-list"' in response.content


# Create
def test_it_creates_a_user_from_a_plain_form(root_client, operator):
    response = root_client.post("/security/users/new", {"user_name": "bob", "description": "B"})
    assert response.status_code == 302
    assert response.url == "/security/users/bob/"
    assert Principal.objects.get(operator=operator, user_name="bob").description == "B"


def test_it_closes_the_dialog_and_refreshes_the_list_for_htmx(root_client):
    response = root_client.post("/security/users/new", {"user_name": "bob"}, **HX)
    assert response.status_code == 204
    assert json.loads(response["HX-Trigger"]) == {
        "usersChanged": True,
        "closeDialog": True,
        "announce": {"message": "User bob created."},
    }


def test_it_renders_the_create_dialog_alone_for_htmx(root_client):
    response = root_client.get("/security/users/new", **HX)
    assert response.content.lstrip().startswith(b"<dialog")


def test_it_renders_the_create_form_as_a_page_without_javascript(root_client):
    response = root_client.get("/security/users/new")
    assert b"<html" in response.content
    assert b"Create a SAM user" in response.content


@pytest.mark.parametrize("name", ["", "bad name", "-x", "x" * 101, "a/b", "ä"])
def test_it_refuses_an_invalid_name_in_the_dialog(root_client, operator, name):
    response = root_client.post("/security/users/new", {"user_name": name}, **HX)
    assert response.status_code == 400
    assert b"field-error" in response.content
    assert not Principal.objects.filter(operator=operator, kind="sam").exists()


def test_it_refuses_a_duplicate_name_in_the_dialog(root_client, alice):
    response = root_client.post("/security/users/new", {"user_name": "alice"}, **HX)
    assert response.status_code == 400
    assert b"already exists" in response.content


def test_it_records_the_creation(root_client, operator):
    root_client.post("/security/users/new", {"user_name": "bob"})
    entry = AuditEntry.objects.get(action="User:createUser")
    assert (entry.target, entry.actor_kind, entry.operator_id) == ("bob", "root", operator.id)


# Detail and description
def test_it_shows_the_detail_page(root_client, alice):
    response = root_client.get("/security/users/alice/")
    assert b"Alice in ops" in response.content


def test_it_updates_the_description(root_client, alice):
    response = root_client.post("/security/users/alice/update", {"description": "New"}, **HX)
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.description == "New"


def test_it_refuses_a_description_with_control_characters(root_client, alice):
    response = root_client.post("/security/users/alice/update", {"description": "a\x1b[31m"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.description == "Alice in ops"


# Passwords
def test_it_sets_a_password(root_client, robot):
    response = root_client.post(
        "/security/users/robot/password",
        {"new_password": "Fresh-Password-42", "confirm_password": "Fresh-Password-42"},
    )
    assert response.status_code == 200  # the page that says what to send the user
    robot.refresh_from_db()
    assert robot.check_password("Fresh-Password-42")


def test_it_refuses_two_different_passwords(root_client, robot):
    response = root_client.post(
        "/security/users/robot/password",
        {"new_password": "Fresh-Password-42", "confirm_password": "Fresh-Password-43"},
        **HX,
    )
    assert response.status_code == 400
    robot.refresh_from_db()
    assert not robot.has_password


def test_it_refuses_a_weak_password(root_client, robot):
    response = root_client.post(
        "/security/users/robot/password",
        {"new_password": "12345678", "confirm_password": "12345678"},
        **HX,
    )
    assert response.status_code == 400
    assert b"too short" in response.content


def test_it_never_echoes_a_refused_password(canary, root_client, root, robot):
    refused = canary.plant("pw")
    response = root_client.post(
        "/security/users/robot/password",
        {"new_password": refused, "confirm_password": refused + "x"},
        **HX,
    )
    assert response.status_code == 400
    robot.refresh_from_db()
    assert not robot.has_password
    canary.assert_nowhere(revisit=root)


def test_it_removes_a_password(root_client, alice):
    response = root_client.post("/security/users/alice/password/delete", **HX)
    assert response.status_code == 204
    alice.refresh_from_db()
    assert not alice.has_password


# Delete
def test_it_names_the_user_in_the_delete_dialog(root_client, alice):
    response = root_client.get("/security/users/alice/delete", **HX)
    assert b"Delete the user alice?" in response.content


def test_it_deletes_a_user_and_goes_back_to_the_list(root_client, alice):
    response = root_client.post("/security/users/alice/delete", **HX)
    assert response["HX-Redirect"] == "/security/users/"
    assert not Principal.objects.filter(pk=alice.pk).exists()


def test_it_does_not_delete_on_get(root_client, alice):
    root_client.get("/security/users/alice/delete")
    assert Principal.objects.filter(pk=alice.pk).exists()


# Browser-level security
def test_it_refuses_a_post_without_the_csrf_token(root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root, backend="accounts.backends.RootBackend")
    principals = Principal.objects.count()
    assert client.post("/security/users/new", {"user_name": "bob"}).status_code == 403
    assert not Principal.objects.filter(user_name="bob").exists()
    assert Principal.objects.count() == principals
    assert not AuditEntry.objects.filter(action="User:createUser").exists()


def test_it_sends_the_security_headers(root_client):
    response = root_client.get("/security/users/")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"


def test_it_marks_the_session_cookie_httponly_and_lax(root):
    from tests.conftest import ROOT_PASSWORD

    client = Client()
    client.post(
        "/login/", {"mode": "root", "root-email": root.email, "root-password": ROOT_PASSWORD}
    )
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_it_refuses_a_reserved_user_name_as_the_api_does(root_client, operator):
    response = root_client.post("/security/users/new", {"user_name": "default_permissions"}, **HX)
    assert response.status_code == 400
    assert b"reserved" in response.content
    assert not Principal.objects.filter(operator=operator, user_name="default_permissions").exists()
