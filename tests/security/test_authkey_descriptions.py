"""An AuthKey's optional description: the console's generate dialog and the API's own field.

The API field is additive: a generate without a body answers exactly as the contract says,
and a list names `description` only for a key that has one (never null).
"""

import json

import pytest
from django.test import Client

from security import authkeys
from security.models import AuditEntry, AuthKey
from tests.conftest import api_login

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def root_api(root) -> dict:
    data = api_login(Client(), email=root.email, password="root-Password-1234")
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


def call(method: str, path: str, headers: dict, body=None):
    data = json.dumps(body) if body is not None else ""
    return Client().generic(
        method, path, data, content_type="application/json" if data else None, **headers
    )


# Console ---------------------------------------------------------------------------------


def test_the_generate_dialog_asks_for_a_description(root_client, root):
    response = root_client.get("/security/authkeys/new", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="description"' in html
    assert 'hx-post="/security/authkeys/generate"' in html
    assert not AuthKey.objects.exists()  # opening the dialog generates nothing


def test_the_generate_dialog_is_a_page_without_javascript(root_client, robot):
    response = root_client.get("/security/users/robot/authkeys/new")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'action="/security/users/robot/authkeys/generate"' in html


def test_the_generate_dialog_says_so_at_the_limit(root_client, root):
    authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    response = root_client.get("/security/authkeys/new", **HX)
    assert response.status_code == 409
    assert "revoke one to generate a new one" in response.content.decode()


def test_the_console_stores_the_description_and_lists_it(root_client, robot):
    response = root_client.post(
        "/security/users/robot/authkeys/generate", {"description": "  CI deploy job "}, **HX
    )
    assert response.status_code == 200
    key = AuthKey.objects.get(principal=robot)
    assert key.description == "CI deploy job"
    html = root_client.get("/security/users/robot/authentication").content.decode()
    assert '<small class="detail" data-key-description>CI deploy job</small>' in html


def test_the_generate_is_audited_with_the_description(root_client, root):
    root_client.post("/security/authkeys/generate", {"description": "backup job"}, **HX)
    entry = AuditEntry.objects.get(action="Operator:generateOperatorAuthKey")
    assert entry.details["description"] == "backup job"


def test_a_generate_without_a_description_still_works(root_client, root):
    assert root_client.post("/security/authkeys/generate", **HX).status_code == 200
    assert AuthKey.objects.get(principal=root).description == ""


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("x" * 101, "at most 100 characters"),
        ("line\nbreak", "control characters"),
        ("bell\x07", "control characters"),
    ],
)
def test_the_console_refuses_a_bad_description_and_generates_nothing(
    root_client, root, description, message
):
    response = root_client.post("/security/authkeys/generate", {"description": description}, **HX)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'name="description"' in response.content.decode()  # the dialog again, to fix it
    assert not AuthKey.objects.exists()


def test_the_console_refuses_a_secret_in_the_description_without_echoing_it(root_client, root):
    _, secret = authkeys.generate(None, root, root)
    response = root_client.post(
        "/security/authkeys/generate", {"description": f"key {secret}"}, **HX
    )
    assert response.status_code == 400
    assert secret not in response.content.decode()
    assert authkeys.live_keys(root).count() == 1


def test_the_revoked_list_keeps_the_description(root_client, root):
    key, _ = authkeys.generate(None, root, root, description="old laptop")
    authkeys.revoke(None, root, key)
    html = root_client.get("/security/authkeys/").content.decode()
    assert '<small class="help">old laptop</small>' in html


def test_each_key_id_has_a_copy_button(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    html = root_client.get("/security/authkeys/").content.decode()
    assert f'<code class="key-id" id="key-{key.key_id}">' in html
    assert f'data-copy-target="key-{key.key_id}"' in html


def test_the_operator_id_has_a_copy_button(root_client, root):
    html = root_client.get("/security/users/").content.decode()
    assert f'id="operator-id" title="Operator ID">{root.operator_id}</span>' in html
    assert 'data-copy-target="operator-id"' in html


# API -------------------------------------------------------------------------------------


def test_the_api_generate_without_a_body_answers_the_contracts_shape(root, root_api):
    response = call("POST", f"/v1/operators/{root.operator_id}/auth_keys", root_api)
    assert response.status_code == 201
    assert set(response.json()) == {"authKeyId", "authKey"}
    (item,) = call("GET", f"/v1/operators/{root.operator_id}/auth_keys", root_api).json()
    # no description, and no null (status is Latchkey's own, always present)
    assert set(item) == {"authKeyId", "createDateTime", "status"}


def test_the_api_stores_a_root_keys_description_and_lists_it(root, root_api):
    path = f"/v1/operators/{root.operator_id}/auth_keys"
    response = call("POST", path, root_api, {"description": "terraform"})
    assert response.status_code == 201
    assert set(response.json()) == {"authKeyId", "authKey"}
    (item,) = call("GET", path, root_api).json()
    assert item["description"] == "terraform"
    assert AuthKey.objects.get(key_id=item["authKeyId"]).description == "terraform"


def test_the_api_lists_a_users_key_description_everywhere_keys_are_listed(root, robot, root_api):
    user = f"/v1/operators/{root.operator_id}/users/robot"
    response = call("POST", user + "/auth_keys", root_api, {"description": "edge gateway"})
    assert response.status_code == 200
    key_id = response.json()["authKeyId"]
    assert call("GET", user + "/auth_keys", root_api).json()[0]["description"] == "edge gateway"
    one = call("GET", f"{user}/auth_keys/{key_id}", root_api).json()
    assert one["description"] == "edge gateway"
    detail = call("GET", user, root_api).json()
    assert detail["authKeyList"][0]["description"] == "edge gateway"


@pytest.mark.parametrize("description", [None, 5, ["a"], "x" * 101, "tab\there"])
def test_the_api_refuses_a_bad_description_and_generates_nothing(root, root_api, description):
    path = f"/v1/operators/{root.operator_id}/auth_keys"
    response = call("POST", path, root_api, {"description": description})
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"code", "message"}
    assert not AuthKey.objects.exists()


def test_the_api_refuses_a_secret_in_the_description_without_echoing_it(root, root_api):
    path = f"/v1/operators/{root.operator_id}/auth_keys"
    secret = authkeys.new_secret()
    response = call("POST", path, root_api, {"description": secret})
    assert response.status_code == 400
    assert secret not in response.content.decode()
    assert response.json()["message"].startswith("The description holds")
    assert not AuthKey.objects.exists()
