"""Every security-relevant event of issue 6 lands in the audit trail with the right fields,
and no secret that a test created appears in any entry (canary scan)."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Principal
from security import audit, authkeys
from security.models import AuditEntry
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

pytestmark = pytest.mark.django_db

IP = "198.51.100.23"
UA = "audit-test/1.0 (+events)"
NEW_PASSWORD = "canary-New-Password-7781"
CRED_SECRET = "canary-CredentialSecret-5512"


def client() -> Client:
    return Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=UA)


def entry_of(response, action: str) -> AuditEntry:
    """Return the one entry of `action` written by the request that gave `response`."""
    rid = response["X-Request-Id"]
    return AuditEntry.objects.get(request_id=rid, action=action)


def check(entry: AuditEntry, *, operator, actor_kind, actor, outcome="allowed", target=None):
    assert entry.operator_id == (operator.pk if operator else None)
    assert (entry.actor_kind, entry.actor) == (actor_kind, actor)
    assert entry.outcome == outcome
    assert entry.source_ip == IP
    assert entry.user_agent == UA
    assert len(entry.request_id) == 16
    assert abs((timezone.now() - entry.at).total_seconds()) < 60
    if target is not None:
        assert entry.target == target
    assert audit.verify_chain(entry.chain)[1] is None


def login(c: Client, **body) -> dict:
    response = c.post("/v1/auth", body, content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


def call(method: str, path: str, headers: dict, body=None):
    data = json.dumps(body) if body is not None else ""
    return client().generic(
        method, path, data, content_type="application/json" if data else None, **headers
    )


@pytest.fixture
def root_headers(root) -> dict:
    return login(client(), email=root.email, password=ROOT_PASSWORD)


# --- sign-in, sign-out and /auth --------------------------------------------------------------


def test_it_records_a_console_sign_in(root, operator):
    response = client().post(
        "/login/?mode=root",
        {"mode": "root", "root-email": root.email, "root-password": ROOT_PASSWORD},
    )
    check(
        entry_of(response, "Console:signIn"), operator=operator, actor_kind="root", actor=root.email
    )


def test_it_records_a_failed_console_sign_in(root):
    response = client().post(
        "/login/?mode=root",
        {"mode": "root", "root-email": root.email, "root-password": "wrong-Pass-1"},
    )
    entry = entry_of(response, "Console:signIn")
    # The operator whose root was attacked sees the attempt on its own Audit log tab.
    check(
        entry,
        operator=root.operator,
        actor_kind="anonymous",
        actor="",
        outcome="failed",
        target="root",
    )


def test_it_records_a_console_sign_out(root, operator):
    c = client()
    c.force_login(root, backend="accounts.backends.RootBackend")
    response = c.post("/logout/")
    check(
        entry_of(response, "Console:signOut"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )


def test_it_records_a_password_exchange(alice, operator):
    response = client().post(
        "/v1/auth",
        {"operatorId": operator.pk, "userName": "alice", "password": SAM_PASSWORD},
        content_type="application/json",
    )
    entry = entry_of(response, "Auth:auth")
    check(entry, operator=operator, actor_kind="sam", actor="alice", target="alice")
    assert entry.user_name == "alice"


def test_it_records_a_failed_password_exchange(alice, operator):
    response = client().post(
        "/v1/auth",
        {"operatorId": operator.pk, "userName": "alice", "password": "wrong-Pass-1"},
        content_type="application/json",
    )
    assert response.status_code == 401
    entry = entry_of(response, "Auth:auth")
    assert entry.outcome == "failed"
    assert (entry.source_ip, entry.user_agent) == (IP, UA)


def test_it_records_an_authkey_exchange_with_the_key_id(alice, root, operator):
    key, secret = authkeys.generate(None, root, alice)
    response = client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    entry = entry_of(response, "Auth:auth")
    check(entry, operator=operator, actor_kind="authkey", actor=key.key_id)
    assert (entry.auth_key_id, entry.user_name) == (key.key_id, "alice")


def test_it_records_a_failed_authkey_exchange_with_the_key_id(alice, root):
    key, _ = authkeys.generate(None, root, alice)
    wrong = authkeys.new_secret()
    response = client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": wrong}, content_type="application/json"
    )
    assert response.status_code == 401
    entry = entry_of(response, "Auth:auth")
    assert (entry.outcome, entry.auth_key_id) == ("failed", key.key_id)
    assert wrong not in json.dumps(_everything(entry))


def test_it_records_an_api_logout(root, operator, root_headers):
    response = call("POST", "/v1/auth/logout", root_headers)
    assert response.status_code == 204
    check(entry_of(response, "Auth:logout"), operator=operator, actor_kind="root", actor=root.email)


def test_it_records_a_denied_call(alice, operator):
    headers = login(client(), operatorId=operator.pk, userName="alice", password=SAM_PASSWORD)
    response = call("POST", f"/v1/operators/{operator.pk}/users/mallory", headers, {})
    assert response.status_code == 403
    entry = entry_of(response, "User:createUser")
    check(entry, operator=operator, actor_kind="sam", actor="alice", outcome="denied")


# --- AuthKeys ---------------------------------------------------------------------------------


def test_it_records_an_authkey_generate_and_revoke(root, robot, operator, root_headers):
    base = f"/v1/operators/{operator.pk}/users/robot/auth_keys"
    made = call("POST", base, root_headers)
    key_id = made.json()["authKeyId"]
    entry = entry_of(made, "User:generateUserAuthKey")
    check(entry, operator=operator, actor_kind="root", actor=root.email, target="robot")
    assert entry.details["authKeyId"] == key_id
    gone = call("DELETE", f"{base}/{key_id}", root_headers)
    entry = entry_of(gone, "User:deleteUserAuthKey")
    check(entry, operator=operator, actor_kind="root", actor=root.email, target="robot")


def test_it_records_a_root_authkey_generate(root, operator, root_headers):
    made = call("POST", f"/v1/operators/{operator.pk}/auth_keys", root_headers)
    assert made.status_code == 201
    entry = entry_of(made, "Operator:generateOperatorAuthKey")
    check(entry, operator=operator, actor_kind="root", actor=root.email)


# --- SAM users and passwords ------------------------------------------------------------------


def test_it_records_sam_user_create_update_delete(root, operator, root_headers):
    user = f"/v1/operators/{operator.pk}/users/carol"
    made = call("POST", user, root_headers, {"description": "c"})
    check(
        entry_of(made, "User:createUser"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
        target="carol",
    )
    changed = call("PUT", user, root_headers, {"description": "d"})
    check(
        entry_of(changed, "User:updateUser"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
        target="carol",
    )
    gone = call("DELETE", user, root_headers)
    check(
        entry_of(gone, "User:deleteUser"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
        target="carol",
    )


def test_it_records_password_set_and_remove(root, robot, operator, root_headers):
    path = f"/v1/operators/{operator.pk}/users/robot/password"
    made = call("POST", path, root_headers, {"password": NEW_PASSWORD})
    assert made.status_code == 201, made.content
    check(
        entry_of(made, "User:createUserPassword"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
        target="robot",
    )
    gone = call("DELETE", path, root_headers)
    check(
        entry_of(gone, "User:deleteUserPassword"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
        target="robot",
    )


# --- roles, permissions, default permissions --------------------------------------------------

DOC = json.dumps({"statements": [{"effect": "allow", "api": ["User:listUsers"]}]})


def test_it_records_role_changes(root, alice, operator, root_headers):
    role = f"/v1/operators/{operator.pk}/roles/readers"
    for method, path, body, action in [
        ("POST", role, {"permission": DOC}, "Role:createRole"),
        ("PUT", role, {"permission": DOC, "description": "r"}, "Role:updateRole"),
        (
            "POST",
            f"/v1/operators/{operator.pk}/users/alice/roles",
            {"roleId": "readers"},
            "Role:attachRole",
        ),
        (
            "DELETE",
            f"/v1/operators/{operator.pk}/users/alice/roles/readers",
            None,
            "Role:detachRole",
        ),
        ("DELETE", role, None, "Role:deleteRole"),
    ]:
        response = call(method, path, root_headers, body)
        assert response.status_code < 300, (action, response.content)
        check(entry_of(response, action), operator=operator, actor_kind="root", actor=root.email)


def test_it_records_inline_permission_changes(root, alice, operator, root_headers):
    path = f"/v1/operators/{operator.pk}/users/alice/permission"
    put = call("PUT", path, root_headers, {"permission": DOC})
    assert put.status_code < 300, put.content
    check(
        entry_of(put, "User:updateUserPermission"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )
    gone = call("DELETE", path, root_headers)
    check(
        entry_of(gone, "User:deleteUserPermission"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )


def test_it_records_default_permission_changes(root, operator, root_headers):
    path = f"/v1/operators/{operator.pk}/users/default_permissions"
    put = call("PUT", path, root_headers, {"permissions": DOC})
    assert put.status_code < 300, put.content
    check(
        entry_of(put, "User:updateDefaultPermissions"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )
    gone = call("DELETE", path, root_headers)
    check(
        entry_of(gone, "User:deleteDefaultPermissions"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )


# --- credential sets --------------------------------------------------------------------------


def test_it_records_credential_set_changes_without_values(canary, root, operator, root_headers):
    canary.add(CRED_SECRET, label="credential")
    path = "/v1/credentials/psk-1"
    made = call("POST", path, root_headers, {"type": "psk", "credentials": {"key": CRED_SECRET}})
    assert made.status_code == 201, made.content
    changed = call(
        "PUT", path, root_headers, {"credentials": {"key": CRED_SECRET + "-2"}, "description": "x"}
    )
    gone = call("DELETE", path, root_headers)
    for response, action in [
        (made, "Credential:createCredential"),
        (changed, "Credential:updateCredential"),
        (gone, "Credential:deleteCredential"),
    ]:
        entry = entry_of(response, action)
        check(entry, operator=operator, actor_kind="root", actor=root.email)
    canary.assert_nowhere()


# --- support ----------------------------------------------------------------------------------


def test_it_records_support_access_and_staff_revocation(root, alice, operator):
    staff = Principal.objects.create_staff(
        "helpdesk", "staff-Password-4321", Principal.StaffRole.SUPPORT
    )
    rc, sc = client(), client()
    rc.force_login(root, backend="accounts.backends.RootBackend")
    sc.force_login(staff, backend="accounts.backends.StaffBackend")
    granted = rc.post("/security/support/grant", {"hours": "1"})
    check(
        entry_of(granted, "Operator:grantSupportAccess"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )
    viewed = sc.get(f"/staff/operators/{operator.pk}/")
    check(
        entry_of(viewed, "Support:viewOperator"),
        operator=operator,
        actor_kind="staff",
        actor="helpdesk",
    )
    key, _ = authkeys.generate(None, root, alice)
    revoked = sc.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "found in a paste"})
    entry = entry_of(revoked, "Support:revokeAuthKey")
    check(entry, operator=operator, actor_kind="staff", actor="helpdesk", target="alice")
    assert entry.details["reason"] == "found in a paste"
    withdrawn = rc.post("/security/support/withdraw")
    check(
        entry_of(withdrawn, "Operator:revokeSupportAccess"),
        operator=operator,
        actor_kind="root",
        actor=root.email,
    )


# --- no secret in any entry -------------------------------------------------------------------


def _everything(entry: AuditEntry) -> dict:
    return {f.name: str(getattr(entry, f.attname)) for f in AuditEntry._meta.concrete_fields}


def test_it_never_writes_a_secret_into_the_trail(canary, root, alice, robot, operator):
    canaries = [ROOT_PASSWORD, SAM_PASSWORD, NEW_PASSWORD, CRED_SECRET]
    c = client()
    root_h = login(c, email=root.email, password=ROOT_PASSWORD)
    canaries += [root_h["HTTP_X_SORACOM_API_KEY"], root_h["HTTP_X_SORACOM_TOKEN"]]
    base = f"/v1/operators/{operator.pk}"
    generated = call("POST", f"{base}/users/robot/auth_keys", root_h)
    key = generated.json()
    canaries.append(key["authKey"])
    key_h = login(c, authKeyId=key["authKeyId"], authKey=key["authKey"])
    canaries += [key_h["HTTP_X_SORACOM_API_KEY"], key_h["HTTP_X_SORACOM_TOKEN"]]
    wrong = authkeys.new_secret()
    canaries.append(wrong)
    c.post(
        "/v1/auth",
        {"authKeyId": key["authKeyId"], "authKey": wrong},
        content_type="application/json",
    )
    c.post(
        "/v1/auth",
        {"email": root.email, "password": ROOT_PASSWORD + "x"},
        content_type="application/json",
    )
    canaries.append(ROOT_PASSWORD + "x")
    call("POST", f"{base}/users/robot/password", root_h, {"password": NEW_PASSWORD})
    call(
        "PUT",
        f"{base}/users/alice/password",
        login(c, operatorId=operator.pk, userName="alice", password=SAM_PASSWORD),
        {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD + "b"},
    )
    canaries.append(NEW_PASSWORD + "b")
    call(
        "POST",
        "/v1/credentials/aws-1",
        root_h,
        {
            "type": "aws-credentials",
            "credentials": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": CRED_SECRET},
        },
    )
    call("POST", f"{base}/auth_keys", root_h)
    call("POST", "/v1/auth/logout", key_h)
    entries = list(AuditEntry.objects.all())
    assert len(entries) >= 10
    # API keys and tokens belong in the session table and the /auth answers, never the trail.
    dump = json.dumps([_everything(e) for e in entries])
    assert not [c for c in canaries if c in dump]
    # Passwords and secrets belong nowhere (the audit page, its export and API included).
    for secret in (ROOT_PASSWORD, SAM_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "b", CRED_SECRET):
        canary.add(secret)
    canary.add(wrong)
    canary.add(ROOT_PASSWORD + "x")
    canary.add(key["authKey"], shown_in=generated)
    canary.assert_nowhere(revisit=root)


def test_it_shows_the_operator_a_failed_exchange_of_its_own_key(alice, root, operator):
    key, _ = authkeys.generate(None, root, alice)
    response = client().post(
        "/v1/auth",
        {"authKeyId": key.key_id, "authKey": authkeys.new_secret()},
        content_type="application/json",
    )
    assert entry_of(response, "Auth:auth").operator_id == operator.pk


def test_it_shows_the_operator_a_failed_root_password_exchange(root, operator):
    response = client().post(
        "/v1/auth",
        {"email": root.email, "password": "wrong-Password-1"},
        content_type="application/json",
    )
    assert entry_of(response, "Auth:auth").operator_id == operator.pk


def test_it_keeps_a_failed_exchange_for_an_unknown_operator_at_installation_level(db):
    response = client().post(
        "/v1/auth",
        {"operatorId": "OP0000000000", "userName": "ghost", "password": "wrong-Password-1"},
        content_type="application/json",
    )
    assert entry_of(response, "Auth:auth").operator_id is None
