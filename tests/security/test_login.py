from django.conf import settings
from django.test import Client, override_settings

from security.models import AuditEntry
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD


def _root_login(client, email, password):
    return client.post("/login/", {"mode": "root", "root-email": email, "root-password": password})


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


def test_it_shows_the_sign_in_page(db):
    response = Client().get("/login/")
    assert response.status_code == 200
    assert b"Sign in to Latchkey" in response.content


def test_it_redirects_the_home_page_to_sign_in(db):
    assert Client().get("/").url == "/login/"


def test_it_signs_in_root(root):
    client = Client()
    response = _root_login(client, "ROOT@example.com", ROOT_PASSWORD)
    assert response.status_code == 302
    assert client.get("/security/users/").status_code == 200


def test_it_signs_in_a_sam_user(alice):
    client = Client()
    response = _sam_login(client, alice.operator_id, "alice", SAM_PASSWORD)
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_it_refuses_a_sam_user_without_password(robot):
    response = _sam_login(Client(), robot.operator_id, "robot", "")
    assert response.status_code == 400


def test_it_gives_one_message_for_unknown_and_wrong(root):
    wrong = _root_login(Client(), root.email, "not-the-password")
    unknown = _root_login(Client(), "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert b"Sign-in failed." in wrong.content
    assert b"Sign-in failed." in unknown.content


def test_it_records_a_failed_sign_in(root):
    _root_login(Client(), root.email, "nope-nope-nope")
    assert AuditEntry.objects.filter(action="Console:signIn", outcome="failed").count() == 1


@override_settings(LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP=20)
def test_it_throttles_twenty_failures_while_another_account_signs_in(root, alice):
    client = Client()
    for _ in range(20):
        _root_login(client, root.email, "wrong-password")
    throttled = _root_login(client, root.email, ROOT_PASSWORD)
    assert throttled.status_code == 429
    assert b"Try again in" in throttled.content
    assert int(throttled["Retry-After"]) > 0
    assert _sam_login(Client(), alice.operator_id, "alice", SAM_PASSWORD).status_code == 302


def test_it_lets_the_owner_in_from_elsewhere_during_an_attack(root):
    owner = Client(REMOTE_ADDR="192.0.2.7")
    assert _root_login(owner, root.email, ROOT_PASSWORD).status_code == 302
    owner.post("/logout/")
    for i in range(60):  # a distributed attack: many addresses, one account
        Client(REMOTE_ADDR=f"10.0.{i // 250}.{i % 250}").post(
            "/login/", {"mode": "root", "root-email": root.email, "root-password": "bad-pw"}
        )
    stranger = Client(REMOTE_ADDR="192.0.2.8")
    assert _root_login(stranger, root.email, ROOT_PASSWORD).status_code == 429
    # The owner's browser signed in before: its device cookie skips the per-account bucket.
    assert _root_login(owner, root.email, ROOT_PASSWORD).status_code == 302


def test_it_signs_out(root_client):
    cookie = settings.SESSION_COOKIE_NAME
    old = root_client.cookies[cookie].value
    assert root_client.get("/security/users/").status_code == 200
    root_client.post("/logout/")
    assert root_client.get("/security/users/").status_code == 302
    # The server ended the session: the old cookie, replayed, no longer signs anyone in.
    replay = Client()
    replay.cookies[cookie] = old
    response = replay.get("/security/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_sends_root_home_to_the_users_tab(root_client):
    assert root_client.get("/").url == "/security/users/"


def test_it_welcomes_a_sam_user_without_permissions_instead_of_a_403(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 200
    assert b"Signed in as alice" in response.content


def test_it_sends_a_self_service_user_to_its_own_page(root, alice, alice_client):
    import json

    from security import roles

    statement = {
        "effect": "allow",
        "api": "User:getUser",
        "condition": "pathVariable('user_name') == samUserName",
    }
    roles.set_inline_permission(None, root, alice, json.dumps({"statements": [statement]}))
    assert alice_client.get("/").url == "/security/users/alice/"
