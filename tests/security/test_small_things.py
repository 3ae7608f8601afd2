"""Issue 14 item 10: identifier errors, the inline permission's Remove, the skip link."""

import json

import pytest

from accounts.identifiers import NAME_RULE, name_problem
from accounts.models import Principal
from security import roles

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bob smith", "A user name cannot hold spaces."),
        ("bob/x!", "A user name cannot hold “!”, “/”."),
        ("-bob", "A user name starts with a letter or a digit, not “-”."),
        ("b\x07ob", "A user name cannot hold U+0007."),
        ("x" * 101, "A user name has at most 100 characters (this one has 101)."),
        ("", "Enter a user name."),
    ],
)
def test_name_problem_names_the_fault(value, message):
    assert name_problem(value, "user name") == message


def test_the_user_name_error_does_not_repeat_the_help_text(root_client):
    response = root_client.post("/security/users/new", {"user_name": "bob smith"}, **HX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "A user name cannot hold spaces." in html
    assert html.count(NAME_RULE.replace("'", "&#x27;")) == 1  # the help text, once
    assert not Principal.objects.filter(user_name="bob smith").exists()


def test_the_role_id_error_names_the_fault(root_client):
    response = root_client.post(
        "/security/roles/new", {"role_id": "ops team", "permission": '{"statements":[]}'}, **HX
    )
    assert response.status_code == 400
    assert "A role ID cannot hold spaces." in response.content.decode()


def test_remove_is_offered_only_for_an_existing_inline_permission(root_client, root, alice):
    html = root_client.get("/security/users/alice/permissions").content.decode()
    assert 'href="/security/users/alice/permissions/delete"' not in html
    doc = json.dumps({"statements": [{"effect": "allow", "api": "User:getUser"}]})
    roles.set_inline_permission(None, root, alice, doc)
    html = root_client.get("/security/users/alice/permissions").content.decode()
    assert 'href="/security/users/alice/permissions/delete"' in html


def test_saving_an_inline_permission_refreshes_the_panels_that_show_it(root_client, alice):
    doc = json.dumps({"statements": [{"effect": "allow", "api": "User:getUser"}]})
    response = root_client.post(
        "/security/users/alice/permissions/update", {"permission": doc}, **HX
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["permissionSaved"] is True
    alice.refresh_from_db()
    assert json.loads(alice.inline_permission) == json.loads(doc)


def test_every_page_starts_with_a_skip_link_to_the_main_content(root_client):
    html = root_client.get("/security/users/").content.decode()
    body = html[html.index("<body") :]
    first_link = body[body.index("<a ") : body.index("</a>")]
    assert 'class="skip-link" href="#main"' in first_link
    assert '<main id="main" tabindex="-1"' in html
