"""Permission names in the console: suggestions in the editors, warnings, the API names page."""

import json

import pytest

from accounts.models import Role
from accounts.permissions import known_operations
from security import roles

TYPO = json.dumps({"statements": [{"effect": "allow", "api": "User:getUsr"}]})


@pytest.fixture
def typo_role(root) -> Role:
    return roles.create_role(None, root, "typo", TYPO, "")


def test_it_offers_every_known_api_name_in_the_role_editor(root_client):
    html = root_client.get("/security/roles/new").content.decode()
    offered = {
        line.split('"')[1]
        for line in html.split("<option value=")[1:]
        if line.startswith('"') and ":" in line.split('"')[1]
    }
    assert offered >= known_operations()


def test_it_offers_the_names_in_the_inline_permission_editor(root_client, alice):
    html = root_client.get("/security/users/alice/permissions").content.decode()
    assert 'list="id_permission-api-names"' in html
    assert '<option value="User:generateUserAuthKey">' in html


def test_it_shows_the_warning_of_a_stored_role_when_its_page_opens(root_client, typo_role):
    html = root_client.get("/security/roles/typo/").content.decode()
    assert "&#x27;User:getUsr&#x27; matches no known API operation." in html
    assert "Did you mean &#x27;User:getUser&#x27;?" in html


def test_it_shows_no_review_for_a_stored_role_without_warnings(root_client, root):
    roles.create_role(None, root, "fine", json.dumps({"statements": []}), "")
    html = root_client.get("/security/roles/fine/").content.decode()
    assert "data-review" not in html


def test_it_lists_every_known_api_name_on_the_names_page(root_client):
    html = root_client.get("/api/names/").content.decode()
    for name in known_operations():
        assert f"<code>{name}</code>" in html


def test_it_marks_root_only_names_on_the_names_page(root_client):
    html = root_client.get("/api/names/").content.decode()
    row = html.split('id="name-operatorgenerateoperatorauthkey"')[1].split("</tr>")[0]
    assert "root only" in row
    row = html.split('id="name-usergenerateuserauthkey"')[1].split("</tr>")[0]
    assert "root only" not in row


def test_it_opens_the_new_roles_page_when_its_document_has_warnings(root_client):
    data = {"role_id": "typo", "description": "", "permission": TYPO}
    response = root_client.post("/security/roles/new", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/security/roles/typo/"
    assert Role.objects.filter(role_id="typo").exists()


def test_it_just_closes_the_dialog_for_a_role_without_warnings(root_client):
    data = {"role_id": "fine", "description": "", "permission": '{"statements": []}'}
    response = root_client.post("/security/roles/new", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert "HX-Redirect" not in response
