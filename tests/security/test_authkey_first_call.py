"""The AuthKey dialog's first calls: /v1/auth with the new key, one follow-up, a warning."""

import html
import json
import re
import subprocess

import pytest

from security import roles

HX = {"HTTP_HX_REQUEST": "true"}
GET_SELF = json.dumps(
    {
        "statements": [
            {
                "effect": "allow",
                "api": "User:getUser",
                "condition": "pathVariable('user_name') == samUserName",
            }
        ]
    }
)


def _curl(response) -> str:
    found = re.search(r'<pre id="new-key-curl"[^>]*>(.*?)</pre>', response.content.decode(), re.S)
    assert found, "no curl block in the dialog"
    return html.unescape(found.group(1))


def _secret(response) -> str:
    found = re.search(
        r'id="new-key-secret"[^>]*>\s*(secret-[0-9A-Za-z]+)', response.content.decode()
    )
    return found.group(1)


def test_it_shows_the_auth_call_with_the_new_key(root_client, alice):
    response = root_client.post("/security/users/alice/authkeys/generate", **HX)
    curl = _curl(response)
    key_id = re.search(r"keyId-[0-9A-Za-z]+", curl).group(0)
    assert "curl -s -X POST http://testserver/v1/auth" in curl
    body = json.loads(re.search(r"-d '(\{.*\})'", curl).group(1))
    assert body == {"authKeyId": key_id, "authKey": _secret(response)}


def test_it_says_when_the_holder_has_no_permission_and_links_to_it(root_client, alice):
    response = root_client.post("/security/users/alice/authkeys/generate", **HX)
    page = response.content.decode()
    assert "data-no-permission" in page
    assert 'href="/security/users/alice/permissions"' in page


def test_it_picks_a_follow_up_the_holder_may_call(root_client, root, alice):
    roles.set_inline_permission(None, root, alice, GET_SELF)
    response = root_client.post("/security/users/alice/authkeys/generate", **HX)
    assert f"http://testserver/v1/operators/{alice.operator_id}/users/alice \\" in _curl(response)
    assert "data-no-permission" not in response.content.decode()


def test_it_gives_root_a_follow_up_on_its_operator(root_client, root):
    response = root_client.post("/security/authkeys/generate", **HX)
    assert f"http://testserver/v1/operators/{root.operator_id}/users \\" in _curl(response)
    assert "data-no-permission" not in response.content.decode()


def test_it_counts_a_deny_only_permission_as_none(root_client, root, alice):
    deny = json.dumps({"statements": [{"effect": "deny", "api": "*"}]})
    roles.set_inline_permission(None, root, alice, deny)
    response = root_client.post("/security/users/alice/authkeys/generate", **HX)
    assert "data-no-permission" in response.content.decode()


def test_it_shows_the_calls_on_the_no_javascript_page(root_client, alice):
    response = root_client.post("/security/users/alice/authkeys/generate")
    assert "/v1/auth" in _curl(response)


def test_it_keeps_the_secret_to_the_dialog_with_the_curl_calls(canary, root_client, root, alice):
    response = root_client.post("/security/users/alice/authkeys/generate", **HX)
    secret = canary.add(_secret(response), label="alice AuthKey", shown_in=response)
    assert secret in _curl(response)
    canary.assert_nowhere(revisit=root)


@pytest.mark.skipif(
    subprocess.run(["which", "bash"], capture_output=True).returncode != 0, reason="no bash"
)
def test_it_writes_a_command_a_shell_parses(root_client, alice):
    response = root_client.post("/security/users/alice/authkeys/generate", **HX)
    checked = subprocess.run(["bash", "-n"], input=_curl(response), text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
