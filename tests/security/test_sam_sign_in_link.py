"""SAM sign-in: the operator ID in any case, and the sign-in link an administrator sends."""

import re

import pytest
from django.test import Client

from accounts.identifiers import canonical_operator_id
from accounts.models import Principal
from security.models import AuditEntry
from tests.conftest import SAM_PASSWORD

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
NEW_PASSWORD = "first-Password-2468"


def _sam_login(client, operator_id, name, password):
    return client.post(
        "/login/",
        {
            "mode": "sam",
            "sam-operator_id": operator_id,
            "sam-user_name": name,
            "sam-password": password,
        },
    )


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("op0123456789", "OP0123456789"),
        ("Op0123456789", "OP0123456789"),
        (" oP0123456789 ", "OP0123456789"),
        ("OP0123456789", "OP0123456789"),
        ("op012345678", "op012345678"),  # not an operator ID: left as typed (trimmed)
        ("xx0123456789", "xx0123456789"),
    ],
)
def test_canonical_operator_id(typed, canonical):
    assert canonical_operator_id(typed) == canonical


def test_a_sam_user_signs_in_with_a_lowercase_operator_id(alice):
    client = Client()
    response = _sam_login(client, alice.operator_id.lower(), "alice", SAM_PASSWORD)
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk
    entry = AuditEntry.objects.get(action="Console:signIn", outcome="allowed")
    assert entry.operator_id == alice.operator_id


def test_an_unknown_lowercase_operator_gets_the_same_answer_and_work(alice, monkeypatch):
    hashed = []
    real = Principal.set_password

    def counting(self, raw):
        hashed.append(raw)
        return real(self, raw)

    monkeypatch.setattr(Principal, "set_password", counting)
    monkeypatch.setattr(Principal, "check_password", lambda self, raw: hashed.append(raw) or False)
    unknown_upper = _sam_login(Client(), "OP0000000000", "alice", "wrong-Password-1")
    upper_work = len(hashed)
    unknown_lower = _sam_login(Client(), "op0000000000", "alice", "wrong-Password-1")
    wrong_password = _sam_login(Client(), alice.operator_id.lower(), "alice", "wrong-Password-1")
    assert unknown_upper.status_code == unknown_lower.status_code == wrong_password.status_code
    assert unknown_upper.status_code == 400
    for response in (unknown_upper, unknown_lower, wrong_password):
        assert "Sign-in failed. Check what you entered and try again." in response.content.decode()
    assert upper_work == 1 and len(hashed) == 3  # one hash each: unknown costs like wrong


def test_the_sign_in_link_prefills_the_operator_id(alice):
    response = Client().get("/login/", {"mode": "sam", "operator": alice.operator_id.lower()})
    html = response.content.decode()
    assert re.search(rf'name="sam-operator_id" value="{alice.operator_id}"', html)
    # The cursor starts where the person types next: the user name.
    assert re.search(r'<input type="text" name="sam-user_name"[^>]* autofocus', html)
    assert not re.search(r'name="sam-operator_id"[^>]* autofocus', html)


@pytest.mark.parametrize("value", ["<script>", "OP123", "secret-" + "a" * 64, "OP0123456789x"])
def test_the_sign_in_link_ignores_what_is_not_an_operator_id(db, value):
    html = Client().get("/login/", {"mode": "sam", "operator": value}).content.decode()
    assert re.search(r'name="sam-operator_id"[^>]* autofocus', html)
    assert value not in html


def test_the_users_page_shows_the_sign_in_link_with_a_copy_button(root_client, alice):
    html = root_client.get("/security/users/alice/").content.decode()
    link = f"http://testserver/login/?mode=sam&amp;operator={alice.operator_id}"
    assert f'aria-labelledby="sign-in-link-title">{link}</code>' in html
    assert 'data-copy-target="sign-in-link"' in html
    assert "Give the password through another channel" in html


def test_setting_a_password_says_what_to_send(canary, root_client, root, robot):
    password = canary.plant("pw")
    response = root_client.post(
        "/security/users/robot/password",
        {"new_password": password, "confirm_password": password},
        **HX,
    )
    assert response.status_code == 200
    robot.refresh_from_db()
    assert robot.has_password and robot.check_password(password)
    html = response.content.decode()
    assert "Password set for robot" in html
    assert f"/login/?mode=sam&amp;operator={robot.operator_id}" in html
    assert "<strong>robot</strong>" in html
    assert 'data-close-event="userChanged"' in html
    canary.assert_nowhere(revisit=root)


def test_setting_a_password_without_javascript_shows_the_same_as_a_page(root_client, robot):
    response = root_client.post(
        "/security/users/robot/password",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and "Password set for robot" in html
    assert 'href="/security/users/robot/"' in html
