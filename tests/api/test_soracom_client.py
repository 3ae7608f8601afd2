"""The published `soracom-api` 0.0.2 client against a live Latchkey (soracom-api.md §9).

The client pins urllib3<2, so it lives in its own virtual environment (.venv-soracom,
made by `make test`, or here when it is missing) and runs in a subprocess: each test sends
a list of steps to tests/api/soracom_driver.py and asserts on the answers and on the
database. The client raises on any null in a typed field and on any non-2xx status.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import ApiSession, Principal
from security.models import AuthKey
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

ROOT_DIR = Path(__file__).resolve().parents[2]
VENV = ROOT_DIR / ".venv-soracom"
PYTHON = VENV / "bin" / "python"
DRIVER = Path(__file__).with_name("soracom_driver.py")
NEW_PASSWORD = "a-Brand-new-passw0rd"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def soracom_python() -> Path:
    """Return the interpreter that has soracom-api 0.0.2, creating its venv if needed."""
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "--quiet", "soracom-api==0.0.2"], check=True
        )
        (VENV / ".installed").touch()
    return PYTHON


@pytest.fixture
def run(soracom_python, live_server):
    host = f"http://127.0.0.1:{live_server.thread.port}/v1"

    def run_steps(*steps: dict) -> list[dict]:
        done = subprocess.run(
            [str(soracom_python), str(DRIVER)],
            input=json.dumps({"host": host, "steps": list(steps)}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run_steps


def root_auth(root) -> dict:
    return {"auth": {"email": root.email, "password": ROOT_PASSWORD}}


def user_call(method: str, **kwargs) -> dict:
    return {
        "api": "UserApi",
        "method": method,
        "kwargs": {"operator_id": "$last:operatorId", **kwargs},
    }


def operator_call(method: str, **kwargs) -> dict:
    return {
        "api": "OperatorApi",
        "method": method,
        "kwargs": {"operator_id": "$last:operatorId", **kwargs},
    }


def model(name: str, **fields) -> dict:
    return {"$model": name, "fields": fields}


def ok(result: dict):
    assert result["ok"], result
    return result["value"]


# Auth ------------------------------------------------------------------------------------


def test_it_authenticates_root_with_a_password(run, root):
    answer = ok(run(root_auth(root))[0])
    assert answer["operator_id"] == root.operator_id
    assert answer["api_key"].startswith("api-")
    assert ApiSession.objects.filter(principal=root, api_key=answer["api_key"]).exists()


def test_it_authenticates_a_sam_user_with_a_password(run, alice):
    body = {"operator_id": alice.operator_id, "user_name": "alice", "password": SAM_PASSWORD}
    answer = ok(run({"auth": body})[0])
    assert answer["user_name"] == "alice"


def test_it_maps_a_wrong_password_to_the_clients_401(run, root):
    result = run({"auth": {"email": root.email, "password": "wrong-password-1"}})[0]
    assert result["exception"] == "UnauthorizedException"
    assert result["body"] == {"code": "LKY0401", "message": "Authentication failed."}


def test_it_authenticates_with_an_authkey_the_client_generated(run, root):
    results = run(
        root_auth(root),
        operator_call("generate_operator_auth_key"),
    )
    generated = ok(results[1])
    again = run(
        {"auth": {"auth_key_id": generated["auth_key_id"], "auth_key": generated["auth_key"]}}
    )
    assert ok(again[0])["operator_id"] == root.operator_id
    key = AuthKey.objects.get(key_id=generated["auth_key_id"])
    assert key.last_used_at is not None


# Users -----------------------------------------------------------------------------------


def test_it_creates_lists_gets_updates_and_deletes_users(run, root):
    results = run(
        root_auth(root),
        user_call(
            "create_user",
            user_name="bob",
            create_user_request=model("CreateUserRequest", description="Bob"),
        ),
        user_call("create_user", user_name="carol", create_user_request=model("CreateUserRequest")),
        user_call("list_users"),
        user_call("get_user", user_name="bob"),
        user_call(
            "update_user",
            user_name="bob",
            update_user_request=model("UpdateUserRequest", description="Bobby"),
        ),
        user_call("get_user", user_name="bob"),
        user_call("delete_user", user_name="carol"),
        user_call("list_users"),
    )
    for result in results:
        ok(result)
    listed = results[3]["value"]
    assert [u["user_name"] for u in listed] == ["bob", "carol"]
    assert listed[0]["auth_key_list"] == []
    assert listed[0]["role_list"] == []
    assert listed[0]["has_password"] is False
    assert isinstance(listed[0]["create_date_time"], int)
    assert results[4]["value"]["description"] == "Bob"
    assert results[6]["value"]["description"] == "Bobby"
    assert [u["user_name"] for u in results[8]["value"]] == ["bob"]
    assert not Principal.objects.filter(user_name="carol").exists()


def test_it_reads_a_user_whose_keys_were_used_and_never_used(run, root, alice, robot):
    from security import authkeys

    authkeys.generate(None, root, robot)  # never used: no lastUsedDateTime, never null
    results = run(
        root_auth(root), user_call("list_users"), user_call("get_user", user_name="robot")
    )
    listed = ok(results[1])
    assert [u["user_name"] for u in listed] == ["alice", "robot"]
    assert "last_used_date_time" not in ok(results[2])["auth_key_list"][0]


def test_it_maps_a_missing_user_to_the_clients_404(run, root):
    result = run(root_auth(root), user_call("get_user", user_name="nobody"))[1]
    assert result["exception"] == "NotFoundException"
    assert result["body"]["message"] == "SAM User not found."


def test_it_maps_a_duplicate_user_to_an_api_exception(run, root, alice):
    result = run(
        root_auth(root),
        user_call("create_user", user_name="alice", create_user_request=model("CreateUserRequest")),
    )[1]
    assert result["status"] == 400


def test_it_reads_the_operator(run, root):
    answer = ok(run(root_auth(root), operator_call("get_operator"))[1])
    assert answer["operator_id"] == root.operator_id
    assert answer["email"] == root.email


# Passwords -------------------------------------------------------------------------------


def test_it_creates_checks_changes_and_deletes_a_user_password(run, root, robot):
    results = run(
        root_auth(root),
        user_call("has_user_password", user_name="robot"),
        user_call(
            "create_user_password",
            user_name="robot",
            create_user_password_request=model("CreateUserPasswordRequest", password=SAM_PASSWORD),
        ),
        user_call("has_user_password", user_name="robot"),
        user_call(
            "update_user_password",
            user_name="robot",
            update_password_request=model(
                "UpdatePasswordRequest", current_password=SAM_PASSWORD, new_password=NEW_PASSWORD
            ),
        ),
    )
    assert ok(results[1]) == {"has_password": False}
    ok(results[2])
    assert ok(results[3]) == {"has_password": True}
    ok(results[4])
    robot.refresh_from_db()
    assert robot.check_password(NEW_PASSWORD)
    signed_in = run(
        {"auth": {"operator_id": robot.operator_id, "user_name": "robot", "password": NEW_PASSWORD}}
    )
    assert ok(signed_in[0])["user_name"] == "robot"
    removed = run(root_auth(root), user_call("delete_user_password", user_name="robot"),
                  user_call("delete_user_password", user_name="robot"))  # fmt: skip
    ok(removed[1])
    assert removed[2]["exception"] == "NotFoundException"
    assert removed[2]["body"]["message"] == "Password registration is required."


def test_it_changes_the_root_password(run, root):
    results = run(
        root_auth(root),
        operator_call(
            "update_operator_password",
            update_password_request=model(
                "UpdatePasswordRequest", current_password=ROOT_PASSWORD, new_password=NEW_PASSWORD
            ),
        ),
    )
    ok(results[1])
    root.refresh_from_db()
    assert root.check_password(NEW_PASSWORD)


# AuthKeys --------------------------------------------------------------------------------


def test_it_lists_generates_gets_and_deletes_user_authkeys(run, root, robot):
    results = run(
        root_auth(root),
        user_call("generate_user_auth_key", user_name="robot"),
        user_call("list_user_auth_keys", user_name="robot"),
    )
    generated = ok(results[1])
    assert generated["auth_key"].startswith("secret-")
    listed = ok(results[2])
    assert [k["auth_key_id"] for k in listed] == [generated["auth_key_id"]]
    key_id = generated["auth_key_id"]
    more = run(
        root_auth(root),
        user_call("get_user_auth_key", user_name="robot", auth_key_id=key_id),
        user_call("delete_user_auth_key", user_name="robot", auth_key_id=key_id),
        user_call("get_user_auth_key", user_name="robot", auth_key_id=key_id),
    )
    assert ok(more[1])["auth_key_id"] == key_id
    ok(more[2])
    assert more[3]["exception"] == "NotFoundException"
    assert AuthKey.objects.get(key_id=key_id).slot is None


def test_it_authenticates_a_sam_user_with_its_authkey(run, root, robot):
    generated = ok(run(root_auth(root), user_call("generate_user_auth_key", user_name="robot"))[1])
    answer = ok(
        run({"auth": {"auth_key_id": generated["auth_key_id"], "auth_key": generated["auth_key"]}})[
            0
        ]
    )
    assert answer["user_name"] == "robot"
    assert answer["operator_id"] == robot.operator_id


def test_it_lists_generates_and_deletes_operator_authkeys(run, root):
    results = run(
        root_auth(root),
        operator_call("generate_operator_auth_key"),
        operator_call("list_operator_auth_keys"),
    )
    key_id = ok(results[1])["auth_key_id"]
    assert [k["auth_key_id"] for k in ok(results[2])] == [key_id]
    deleted = run(
        root_auth(root),
        operator_call("delete_operator_auth_key", auth_key_id=key_id),
        operator_call("list_operator_auth_keys"),
    )
    ok(deleted[1])
    assert ok(deleted[2]) == []


def test_it_refuses_a_third_authkey_through_the_client(run, root):
    results = run(
        root_auth(root),
        operator_call("generate_operator_auth_key"),
        operator_call("generate_operator_auth_key"),
        operator_call("generate_operator_auth_key"),
    )
    ok(results[1])
    ok(results[2])
    assert results[3]["status"] == 409
    assert AuthKey.objects.filter(principal=root, slot__isnull=False).count() == 2


# generateAuthToken and switch user (issue 12) ------------------------------------------------


def _trusting_bob(alice, root):
    """Return bob of another operator, trusting alice; alice may switch, bob list users."""
    from accounts import apisessions
    from accounts.models import Operator
    from security import roles, switching

    roles.set_inline_permission(
        None, root, alice, '{"statements":[{"effect":"allow","api":"Auth:switchUser"}]}'
    )
    other = Principal.objects.create_root(Operator.create(), "r@other.example", "Other-Pass-12")
    bob = Principal.objects.create_sam_user(other.operator, "bob")
    roles.set_inline_permission(
        None, other, bob, '{"statements":[{"effect":"allow","api":"User:listUsers"}]}'
    )
    trust = {
        "statements": [{"effect": "allow", "principal": {"soracom": [apisessions.srn(alice)]}}]
    }
    switching.set_trust_policy(None, other, bob, json.dumps(trust))
    return bob


def _alice_auth(alice) -> dict:
    return {
        "auth": {"operator_id": alice.operator_id, "user_name": "alice", "password": SAM_PASSWORD}
    }


def test_it_refreshes_a_token_and_uses_it(run, root):
    results = run(
        root_auth(root),
        {
            **operator_call(
                "generate_auth_token",
                generate_token_request=model("GenerateTokenRequest", token_timeout_seconds=600),
            ),
            "adopt_token": True,
        },
        operator_call("get_operator"),
    )
    token = ok(results[1])["token"]
    assert token != ok(results[0])["token"]
    assert ok(results[2])["operator_id"] == root.operator_id
    assert ApiSession.objects.filter(principal=root).count() == 1


def test_it_maps_a_bad_refresh_timeout_to_an_api_exception(run, root):
    result = run(
        root_auth(root),
        operator_call(
            "generate_auth_token",
            generate_token_request=model("GenerateTokenRequest", token_timeout_seconds=0),
        ),
    )[1]
    assert result["status"] == 400
    assert set(result["body"]) == {"code", "message"}


def test_it_switches_user_and_calls_as_the_target(run, root, alice):
    bob = _trusting_bob(alice, root)
    body = {"operatorId": bob.operator_id, "userName": "bob"}
    results = run(
        _alice_auth(alice),
        {"raw": {"method": "POST", "path": "/auth/switch_user", "body": body}, "adopt": True},
        user_call("list_users"),
        {"api": "UserApi", "method": "list_users", "kwargs": {"operator_id": alice.operator_id}},
        user_call("create_user", user_name="eve", create_user_request=model("CreateUserRequest")),
    )
    switched = ok(results[1])
    assert (switched["operatorId"], switched["userName"]) == (bob.operator_id, "bob")
    assert [u["user_name"] for u in ok(results[2])] == ["bob"]
    assert results[3]["exception"] == "NotFoundException"  # the source operator: unreachable
    assert results[4]["exception"] == "ForbiddenException"  # nothing of the source's rights
    assert not Principal.objects.filter(user_name="eve").exists()


def test_it_maps_a_refused_switch_to_an_api_exception(run, root, alice):
    bob = _trusting_bob(alice, root)
    body = {"operatorId": bob.operator_id, "userName": "nobody"}
    result = run(
        _alice_auth(alice), {"raw": {"method": "POST", "path": "/auth/switch_user", "body": body}}
    )[1]
    assert result["status"] == 400
    assert result["body"]["message"] == "Switch user not allowed."


def test_it_saves_reads_and_deletes_a_trust_policy(run, root, alice):
    path = "/operators/{operator_id}/users/alice/trust_policy"
    policy = (
        '{"statements":[{"effect":"allow",'
        '"principal":{"soracom":["srn:soracom:OP0000000001::User:x"]}}]}'
    )
    results = run(
        root_auth(root),
        {"raw": {"method": "PUT", "path": path, "body": {"trustPolicy": policy}, "answers": False}},
        {"raw": {"method": "GET", "path": path}},
        {"raw": {"method": "PUT", "path": path, "body": {"trustPolicy": "{"}, "answers": False}},
        {"raw": {"method": "DELETE", "path": path, "answers": False}},
    )
    ok(results[1])
    assert ok(results[2]) == {"trustPolicy": policy}
    assert results[3]["status"] == 400
    ok(results[4])
    alice.refresh_from_db()
    assert alice.trust_policy == ""
