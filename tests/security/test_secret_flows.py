"""Every flow that handles a secret, console and API, through the one canary scanner.

Each test plants its secrets (or registers the one the server made), runs the whole flow,
successes and refusals, and ends with `canary.assert_nowhere(revisit=...)`: no log record,
output, table, cache, session, audit entry, mail, response or later page holds the secret,
any 12-character window of it, or its encoded forms (tests/canary.py, docs/testing.md).
"""

import json

import pytest
from django.test import Client

from accounts.models import Principal
from security import authkeys, roles
from security.models import CredentialSet
from tests.api.harness import call
from tests.conftest import SAM_PASSWORD, api_login
from tests.security.credential_samples import make_cert

HX = {"HTTP_HX_REQUEST": "true"}


def ops(principal) -> str:
    return f"/v1/operators/{principal.operator_id}"


def exchange(key_id: str, secret: str, ip: str = "192.0.2.10"):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )


def headers_of(response) -> dict:
    body = response.json()
    return {"HTTP_X_SORACOM_API_KEY": body["apiKey"], "HTTP_X_SORACOM_TOKEN": body["token"]}


def grant(root, user, *apis: str) -> None:
    """Let a SAM user call `apis` on itself only (Soracom's self-service statement)."""
    statement = {
        "effect": "allow",
        "api": list(apis),
        "condition": "pathVariable('user_name') == samUserName",
    }
    roles.set_inline_permission(None, root, user, json.dumps({"statements": [statement]}))


# --- AuthKeys -----------------------------------------------------------------------------


def _shown_secret(response) -> str:
    html = response.content.decode()
    start = html.index(">", html.index('id="new-key-secret"')) + 1
    return html[start : html.index("<", start)].strip()


def _use_and_revoke(root, holder, secret: str) -> None:
    """Exchange the key, fail at it in every way, then revoke it."""
    key = authkeys.live_keys(holder).last()
    session = exchange(key.key_id, secret)
    assert session.status_code == 200
    assert call("GET", f"{ops(root)}/users", headers_of(session)).status_code in (200, 403)
    assert exchange(key.key_id, authkeys.new_secret()).status_code == 401  # wrong secret
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert exchange(key.key_id, typo).status_code == 401
    assert exchange(secret, secret).status_code == 401  # the secret sent as the ID
    assert exchange("keyId-" + "0" * 32, secret).status_code == 401  # unknown ID
    assert authkeys.revoke(None, root, key)
    assert exchange(key.key_id, secret).status_code == 401  # revoked


@pytest.mark.parametrize("htmx", [True, False], ids=["dialog", "no-javascript"])
def test_it_keeps_a_root_authkey_secret_generated_in_the_console_to_its_dialog(
    canary, root_client, root, htmx
):
    response = root_client.post("/security/authkeys/generate", **(HX if htmx else {}))
    assert response.status_code == 200
    secret = canary.add(_shown_secret(response), label="root AuthKey", shown_in=response)
    _use_and_revoke(root, root, secret)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_a_users_authkey_secret_generated_in_the_console_to_its_dialog(
    canary, root_client, root, robot
):
    response = root_client.post("/security/users/robot/authkeys/generate", **HX)
    assert response.status_code == 200
    secret = canary.add(_shown_secret(response), label="robot AuthKey", shown_in=response)
    _use_and_revoke(root, robot, secret)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_a_root_authkey_secret_generated_by_the_api_to_its_response(
    canary, root, root_api
):
    response = call("POST", f"{ops(root)}/auth_keys", root_api)
    assert response.status_code == 201
    secret = canary.add(response.json()["authKey"], label="root AuthKey", shown_in=response)
    _use_and_revoke(root, root, secret)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_a_users_authkey_secret_generated_by_the_api_to_its_response(
    canary, root, alice, alice_api
):
    grant(root, alice, "User:generateUserAuthKey", "User:listUsers")
    response = call("POST", f"{ops(alice)}/users/alice/auth_keys", alice_api)
    assert response.status_code == 200
    secret = canary.add(response.json()["authKey"], label="alice AuthKey", shown_in=response)
    _use_and_revoke(root, alice, secret)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_an_authkey_secret_out_of_everything_when_the_exchange_is_throttled(
    canary, root, settings
):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 2
    key, secret = authkeys.generate(None, root, root)
    canary.add(secret, label="root AuthKey")
    for _ in range(3):
        exchange(key.key_id, authkeys.new_secret())
    assert exchange(key.key_id, secret).status_code == 429
    assert exchange(key.key_id, secret, ip="198.51.100.7").status_code == 200
    canary.assert_nowhere(revisit=root)


# --- passwords ----------------------------------------------------------------------------


def _console_sign_in(mode: str, password: str, **who):
    fields = {f"{mode}-{name}": value for name, value in who.items()}
    return Client().post("/login/", {"mode": mode, **fields, f"{mode}-password": password})


def test_it_keeps_a_sam_password_set_and_changed_in_the_console_out_of_everything(
    canary, root_client, root, robot
):
    first, second = canary.plant("pw1"), canary.plant("pw2")
    path = "/security/users/robot/password"
    mismatch = {"new_password": first, "confirm_password": first + "x"}
    assert root_client.post(path, mismatch, **HX).status_code == 400
    ok = root_client.post(path, {"new_password": first, "confirm_password": first}, **HX)
    assert ok.status_code == 200, ok.content  # the dialog that says what to send the user
    assert b"Password set for robot" in ok.content
    change = {"current_password": first, "new_password": second, "confirm_password": second}
    ok = root_client.post(path + "/change", change)
    assert ok.status_code == 302
    robot.refresh_from_db()
    assert robot.check_password(second)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_a_weak_password_refused_in_the_console_out_of_everything(
    canary, root_client, root, robot
):
    weak = canary.plant("", length=20, alphabet="0123456789")  # all digits: refused
    response = root_client.post(
        "/security/users/robot/password", {"new_password": weak, "confirm_password": weak}, **HX
    )
    assert response.status_code == 400
    robot.refresh_from_db()
    assert not robot.has_password
    canary.assert_nowhere(revisit=root)


def test_it_keeps_a_password_a_sam_user_changes_itself_in_the_console_out_of_everything(
    canary, root, alice, alice_client
):
    grant(root, alice, "User:getUser", "User:createUserPassword", "User:updateUserPassword")
    new = canary.plant("pw")
    change = {"current_password": SAM_PASSWORD, "new_password": new, "confirm_password": new}
    response = alice_client.post("/security/users/alice/password/change", change, **HX)
    assert response.status_code == 204, response.content
    alice.refresh_from_db()
    assert alice.check_password(new)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_passwords_typed_at_the_console_sign_in_out_of_everything(canary, operator, alice):
    root_password = canary.plant("rpw")
    root = Principal.objects.create_root(operator, "canary@example.com", root_password)
    alice.set_password(sam := canary.plant("spw"))
    alice.save()
    wrong = canary.plant("bad")
    assert _console_sign_in("root", wrong, email=root.email).status_code == 400
    assert _console_sign_in("root", root_password, email=root.email).status_code == 302
    sam_login = {"operator_id": operator.pk, "user_name": "alice"}
    assert _console_sign_in("sam", wrong, **sam_login).status_code == 400
    assert _console_sign_in("sam", sam, **sam_login).status_code == 302
    nobody = {"operator_id": operator.pk, "user_name": "nobody"}
    assert _console_sign_in("sam", sam, **nobody).status_code == 400
    canary.assert_nowhere(revisit=root)


def test_it_keeps_passwords_sent_to_the_auth_exchange_out_of_everything(canary, operator, alice):
    root_password = canary.plant("rpw")
    root = Principal.objects.create_root(operator, "canary@example.com", root_password)
    alice.set_password(sam := canary.plant("spw"))
    alice.save()
    wrong = canary.plant("bad")
    for body, status in [
        ({"email": root.email, "password": wrong}, 401),
        ({"email": root.email, "password": root_password}, 200),
        ({"email": "nobody@example.com", "password": root_password}, 401),
        ({"operatorId": operator.pk, "userName": "alice", "password": wrong}, 401),
        ({"operatorId": operator.pk, "userName": "alice", "password": sam}, 200),
        ({"operatorId": operator.pk, "userName": "alice", "password": sam, "email": "x"}, 400),
    ]:
        response = Client().post("/v1/auth", body, content_type="application/json")
        assert response.status_code == status, (body, response.content)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_passwords_set_and_changed_through_the_api_out_of_everything(
    canary, root, robot, root_api
):
    first, second, wrong = canary.plant("pw1"), canary.plant("pw2"), canary.plant("bad")
    path = f"{ops(root)}/users/robot/password"
    assert call("POST", path, root_api, {"password": first}).status_code == 201
    assert call("POST", path, root_api, {"password": second}).status_code == 409
    refused = call("PUT", path, root_api, {"currentPassword": wrong, "newPassword": second})
    assert refused.status_code == 400
    changed = call("PUT", path, root_api, {"currentPassword": first, "newPassword": second})
    assert changed.status_code == 200
    api_login(Client(), operatorId=robot.operator_id, userName="robot", password=second)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_a_password_a_sam_user_changes_itself_through_the_api_out_of_everything(
    canary, root, alice, alice_api
):
    grant(root, alice, "User:updateUserPassword")
    new = canary.plant("pw")
    body = {"currentPassword": SAM_PASSWORD, "newPassword": new}
    assert call("PUT", f"{ops(alice)}/users/alice/password", alice_api, body).status_code == 200
    api_login(Client(), operatorId=alice.operator_id, userName="alice", password=new)
    canary.assert_nowhere(revisit=root)


def test_it_keeps_the_root_password_changed_through_the_api_out_of_everything(canary, operator):
    current, new, wrong = canary.plant("cur"), canary.plant("new"), canary.plant("bad")
    root = Principal.objects.create_root(operator, "canary@example.com", current)
    headers = headers_of(
        Client().post(
            "/v1/auth", {"email": root.email, "password": current}, content_type="application/json"
        )
    )
    path = f"{ops(root)}/password"
    refused = call("POST", path, headers, {"currentPassword": wrong, "newPassword": new})
    assert refused.status_code == 400
    weak = canary.plant("", length=16, alphabet="0123456789")
    for newest, status in [(weak, 400), (new, 200)]:
        body = {"currentPassword": current, "newPassword": newest}
        assert call("POST", path, headers, body).status_code == status
    api_login(Client(), email=root.email, password=new)
    canary.assert_nowhere(revisit=root)


# --- credential sets ----------------------------------------------------------------------


def _key_secret(pem: str) -> str:
    """Return the random part of a PEM private key (its first line is a fixed ASN.1 header)."""
    return "\n".join(pem.strip().splitlines()[2:-1])


def _fields(canary, kind: str) -> dict[str, str]:
    """Return valid fields of `kind`, every secret one a fresh canary."""
    if kind == "aws-credentials":
        return {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": canary.plant("aws")}
    if kind == "psk":
        return {"key": canary.plant("psk")}
    if kind == "username-password-credentials":
        return {"username": "device-1", "password": canary.plant("pw") + " &<odd>/+chars"}
    if kind == "google-service-account-json":
        return {"credentials": json.dumps({"private_key": canary.plant("gsa"), "type": "x"})}
    if kind == "api-token-credentials":
        return {"token": canary.plant("tok")}
    if kind == "x509":
        cert, key = make_cert("canary.example")
        canary.add(_key_secret(key), label="x509 key")
        return {"cert": cert, "key": key}
    raise AssertionError(kind)


KINDS = [
    "aws-credentials",
    "psk",
    "username-password-credentials",
    "google-service-account-json",
    "api-token-credentials",
    "x509",
]


def _form_data(fields: dict[str, str]) -> dict[str, str]:
    return {f"c__{name}": value for name, value in fields.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_it_keeps_credential_fields_saved_in_the_console_out_of_everything(
    canary, root_client, root, kind
):
    created = _fields(canary, kind)
    refused = root_client.post(
        "/security/credentials/new",
        {"credentials_id": "bad id!", "type": kind, **_form_data(created)},
        **HX,
    )
    assert refused.status_code == 400
    response = root_client.post(
        "/security/credentials/new",
        {"credentials_id": "cs-1", "description": "", "type": kind, **_form_data(created)},
        **HX,
    )
    assert response.status_code == 204, response.content  # valid: the save ran
    updated = _fields(canary, kind)
    response = root_client.post(
        "/security/credentials/cs-1/update", {"description": "new", **_form_data(updated)}, **HX
    )
    assert response.status_code == 204, response.content
    assert CredentialSet.objects.get(credentials_id="cs-1").description == "new"
    canary.assert_nowhere(revisit=root)


@pytest.mark.parametrize("kind", KINDS)
def test_it_keeps_credential_fields_saved_through_the_api_out_of_everything(
    canary, root, root_api, kind
):
    created = _fields(canary, kind)
    bad = {"type": kind, "credentials": {**created, "unknown": created[next(iter(created))]}}
    assert call("POST", "/v1/credentials/cs-1", root_api, bad).status_code == 400
    body = {"type": kind, "credentials": created}
    response = call("POST", "/v1/credentials/cs-1", root_api, body)
    assert response.status_code == 201, response.content
    updated = _fields(canary, kind)
    response = call("PUT", "/v1/credentials/cs-1", root_api, {"type": kind, "credentials": updated})
    assert response.status_code == 200, response.content
    assert call("GET", "/v1/credentials", root_api).json()[0]["credentials"] == {}
    canary.assert_nowhere(revisit=root)
