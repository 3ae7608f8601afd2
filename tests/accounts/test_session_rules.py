"""Which events end which sessions (docs/sessions.md): every cell, console and API.

Each cell test opens two sessions of every kind for the subject, checks that each works,
makes the event happen through the console or the API, and checks each session again on
its next request. The expected table is kept here by hand (the oracle) and compared with
the one in docs/sessions.md; nothing is read from the code under test.
"""

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from django.conf import settings
from django.core import mail as outbox
from django.db import connection
from django.test import Client

from accounts import apisessions, signin
from accounts.models import ApiSession, Principal
from security import authkeys, roles, users
from security.models import AuthKey
from tests.api.harness import call
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

NEW_PASSWORD = "a-Brand-new-passw0rd"
ADMIN_PASSWORD = "admin-Password-3456"
HX = {"HTTP_HX_REQUEST": "true"}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sessions.md"

pytestmark = pytest.mark.django_db  # every cell also runs alone (-k, mutmut's selection)

CONSOLE, PASSWORD, AUTHKEY = "console", "password", "authkey"
KINDS = (CONSOLE, PASSWORD, AUTHKEY)
ENDS, SURVIVES, ONLY_IT = "ends", "survives", "ends (only that session)"

# event -> (console session, API session by password, API session by AuthKey)
RULES: dict[str, tuple[str, str, str]] = {
    "password created": (ENDS, ENDS, SURVIVES),
    "password changed by self": (ENDS, ENDS, SURVIVES),
    "password changed by root/admin": (ENDS, ENDS, SURVIVES),
    "password removed": (ENDS, ENDS, SURVIVES),
    "root password changed": (ENDS, ENDS, SURVIVES),
    "root password reset": (ENDS, ENDS, SURVIVES),
    "revoke user tokens": (ENDS, ENDS, ENDS),
    "revoke operator tokens": (ENDS, ENDS, ENDS),
    "user deleted": (ENDS, ENDS, ENDS),
    "AuthKey revoked": (SURVIVES, SURVIVES, ENDS),
    "API logout": (SURVIVES, ONLY_IT, ONLY_IT),
    "console logout": (ONLY_IT, SURVIVES, SURVIVES),
    "permission change": (SURVIVES, SURVIVES, SURVIVES),
    "MFA turned on for the user by root": (ENDS, ENDS, ENDS),
}

# SAM user alice may read herself and set, change and remove her own password.
SELF_SERVICE = json.dumps(
    {
        "statements": [
            {
                "effect": "allow",
                "api": [
                    "User:getUser",
                    "User:hasUserPassword",
                    "User:createUserPassword",
                    "User:updateUserPassword",
                    "User:deleteUserPassword",
                    "User:revokeUserAuthTokens",
                ],
                "condition": "pathVariable('user_name') == samUserName",
            }
        ]
    }
)
ALLOW_ALL = json.dumps({"statements": [{"effect": "allow", "api": "*"}]})


# --- sessions ------------------------------------------------------------------------------


@dataclass
class Session:
    kind: str
    operator_id: str
    client: Client | None = None
    headers: dict | None = None

    def live(self) -> bool:
        """Return whether the session still authenticates, on its next request."""
        if self.kind == CONSOLE:
            response = self.client.get("/security/users/")
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), response["Location"]
                return False
            assert response.status_code in (200, 403), response.status_code
            return True
        response = call("GET", f"/v1/operators/{self.operator_id}", self.headers)
        assert response.status_code in (200, 401, 403), response.content
        return response.status_code != 401


def password_of(principal: Principal) -> str:
    return {"root": ROOT_PASSWORD, "alice": SAM_PASSWORD, "bob": ADMIN_PASSWORD}[
        "root" if principal.is_root else principal.user_name
    ]


def console_session(principal: Principal, password: str | None = None) -> Session:
    """Sign in at /login/ as a browser does; return the signed-in session."""
    password = password or password_of(principal)
    client = Client()
    if principal.is_root:
        form = {"mode": "root", "root-email": principal.email, "root-password": password}
    else:
        form = {
            "mode": "sam",
            "sam-operator_id": principal.operator_id,
            "sam-user_name": principal.user_name,
            "sam-password": password,
        }
    response = client.post("/login/", form)
    assert response.status_code == 302, response.content
    return Session(CONSOLE, principal.operator_id, client=client)


def _api_session(principal: Principal, body: dict) -> Session:
    response = Client().post("/v1/auth", body, content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    headers = {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}
    kind = AUTHKEY if "authKeyId" in body else PASSWORD
    return Session(kind, principal.operator_id, headers=headers)


def password_session(principal: Principal, password: str | None = None) -> Session:
    password = password or password_of(principal)
    if principal.is_root:
        return _api_session(principal, {"email": principal.email, "password": password})
    return _api_session(
        principal,
        {
            "operatorId": principal.operator_id,
            "userName": principal.user_name,
            "password": password,
        },
    )


def authkey_session(principal: Principal, key: AuthKey, secret: str) -> Session:
    return _api_session(principal, {"authKeyId": key.key_id, "authKey": secret})


@dataclass
class World:
    """The subject's sessions (two of each kind), the actors, and bystanders to keep."""

    root: Principal
    subject: Principal
    key: AuthKey
    sessions: dict[str, list[Session]]
    root_api: Session
    root_console: Session
    bystanders: list[Session] = field(default_factory=list)
    acting: Session | None = None

    @property
    def name(self) -> str:
        return self.subject.user_name

    def fresh_subject(self) -> Principal:
        return Principal.objects.get(pk=self.subject.pk)


def build_world(root: Principal, subject: Principal, bystander: Principal) -> World:
    key, secret = authkeys.generate(None, root, subject)
    sessions = {
        CONSOLE: [console_session(subject), console_session(subject)],
        PASSWORD: [password_session(subject), password_session(subject)],
        AUTHKEY: [authkey_session(subject, key, secret), authkey_session(subject, key, secret)],
    }
    # Root acts: through sessions of its own (a third pair when root is the subject).
    root_api, root_console = password_session(root), console_session(root)
    bystanders = [console_session(bystander), password_session(bystander)]
    if not subject.is_root:
        bystanders += [root_api, root_console]
    return World(root, subject, key, sessions, root_api, root_console, bystanders)


@pytest.fixture
def bob(operator) -> Principal:
    """A SAM user allowed everything: an administrator who is not root."""
    user = Principal.objects.create_sam_user(operator, "bob", "Admin")
    user.set_password(ADMIN_PASSWORD)
    user.inline_permission = ALLOW_ALL
    user.save()
    return user


@pytest.fixture
def alice_world(root, alice, bob) -> World:
    roles.set_inline_permission(None, root, alice, SELF_SERVICE)
    return build_world(root, Principal.objects.get(pk=alice.pk), bob)


@pytest.fixture
def root_world(root, alice, bob) -> World:
    return build_world(root, root, bob)


# --- events ----------------------------------------------------------------------------------


def user_path(w: World, suffix: str = "") -> str:
    return f"/v1/operators/{w.subject.operator_id}/users/{w.name}{suffix}"


def console_path(w: World, suffix: str) -> str:
    return f"/security/users/{w.name}/{suffix}"


def expect(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])


def password_form(current: str) -> dict:
    # The console's change dialog asks for the current password, as the API does.
    return {
        "current_password": current,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }


def has_new_password(w: World) -> bool:
    return w.fresh_subject().check_password(NEW_PASSWORD)


def password_created(w: World, via: str, kind: str) -> None:
    # The state the event starts from: a user whose password was removed.
    users.remove_password(None, w.root, w.fresh_subject())
    if via == "api":
        expect(
            call("POST", user_path(w, "/password"), w.root_api.headers, {"password": NEW_PASSWORD}),
            201,
        )
    else:
        form = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
        expect(w.root_console.client.post(console_path(w, "password"), form, **HX), 200)
    assert has_new_password(w)


def password_changed_by_self(w: World, via: str, kind: str) -> None:
    body = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    if via == "api":
        w.acting = password_session(w.subject)
        expect(call("PUT", user_path(w, "/password"), w.acting.headers, body), 200)
    else:
        w.acting = console_session(w.subject)
        form = password_form(SAM_PASSWORD)
        expect(w.acting.client.post(console_path(w, "password/change"), form, **HX), 204)
    assert has_new_password(w)


def password_changed_by_admin(w: World, via: str, kind: str) -> None:
    body = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    if via == "api":
        expect(call("PUT", user_path(w, "/password"), w.root_api.headers, body), 200)
    elif via == "api-admin":
        admin = password_session(Principal.objects.get(user_name="bob"))
        w.bystanders.append(admin)
        expect(call("PUT", user_path(w, "/password"), admin.headers, body), 200)
    else:
        form = password_form(SAM_PASSWORD)
        expect(w.root_console.client.post(console_path(w, "password/change"), form, **HX), 204)
    assert has_new_password(w)


def password_removed(w: World, via: str, kind: str) -> None:
    if via == "api":
        expect(call("DELETE", user_path(w, "/password"), w.root_api.headers), 204)
    else:
        expect(w.root_console.client.post(console_path(w, "password/delete"), {}, **HX), 204)
    assert not w.fresh_subject().has_usable_password()


def root_password_changed(w: World, via: str, kind: str) -> None:
    w.acting = password_session(w.root)
    body = {"currentPassword": ROOT_PASSWORD, "newPassword": NEW_PASSWORD}
    expect(
        call("POST", f"/v1/operators/{w.root.operator_id}/password", w.acting.headers, body), 200
    )
    assert has_new_password(w)


def root_password_reset(w: World, via: str, kind: str) -> None:
    # A code mailed to the root address (the test mailer keeps mail in django.core.mail.outbox).
    form = {"email": w.root.email}
    if via == "api":
        expect(call("POST", "/v1/auth/password_reset_token/issue", {}, form), 200)
    else:
        expect(Client().post("/login/forgot/", form), 302)
    code = re.search(r"^  (\S{43})$", outbox.outbox[-1].body, re.MULTILINE).group(1)
    if via == "api":
        body = {"token": code, "password": NEW_PASSWORD}
        expect(call("POST", "/v1/auth/password_reset_token/verify", {}, body), 200)
    else:
        form = {"token": code, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
        expect(Client().post("/login/reset/", form), 302)
    assert has_new_password(w)


def revoke_user_tokens(w: World, via: str, kind: str) -> None:
    expect(call("DELETE", user_path(w, "/tokens"), w.root_api.headers), 204)


def revoke_operator_tokens(w: World, via: str, kind: str) -> None:
    w.acting = w.root_api
    expect(call("DELETE", f"/v1/operators/{w.root.operator_id}/tokens", w.acting.headers), 204)


def user_deleted(w: World, via: str, kind: str) -> None:
    if via == "api":
        expect(call("DELETE", user_path(w), w.root_api.headers), 204)
    else:
        expect(w.root_console.client.post(console_path(w, "delete"), {}, **HX), 204)
    assert not Principal.objects.filter(pk=w.subject.pk).exists()


def authkey_revoked(w: World, via: str, kind: str) -> None:
    if via == "api":
        expect(call("DELETE", user_path(w, f"/auth_keys/{w.key.key_id}"), w.root_api.headers), 204)
    else:
        path = console_path(w, f"authkeys/{w.key.key_id}/revoke")
        expect(w.root_console.client.post(path, {"reason": "rotated"}, **HX), 204)
    w.key.refresh_from_db()
    assert w.key.slot is None


def api_logout(w: World, via: str, kind: str) -> None:
    # The first session of the column's kind logs out (a password one for the console's).
    w.acting = w.sessions[kind if kind != CONSOLE else PASSWORD][0]
    expect(call("POST", "/v1/auth/logout", w.acting.headers), 204)


def console_logout(w: World, via: str, kind: str) -> None:
    w.acting = w.sessions[CONSOLE][0]
    expect(w.acting.client.post("/logout/"), 302)


def permission_change(w: World, via: str, kind: str) -> None:
    document = json.dumps({"statements": [{"effect": "allow", "api": "Operator:getOperator"}]})
    if via == "api":
        body = {"permission": document}
        expect(call("PUT", user_path(w, "/permission"), w.root_api.headers, body), 200)
    else:
        path = console_path(w, "permissions/update")
        expect(w.root_console.client.post(path, {"permission": document}, **HX), 200)
    assert w.fresh_subject().inline_permission == document


def mfa_turned_on(w: World, via: str, kind: str) -> None:
    # Root enables and verifies alice's TOTP (the code from the secret of the totpUri).
    uri = call("POST", user_path(w, "/mfa"), w.root_api.headers).json()["totpUri"]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    body = {"mfaOTPCode": pyotp.TOTP(secret).now()}
    expect(call("POST", user_path(w, "/mfa/verify"), w.root_api.headers, body), 204)


Event = Callable[[World, str, str], None]
EVENTS: dict[str, tuple[Event, str, tuple[str, ...]]] = {
    # event: (what makes it happen, whose sessions it is about, through which entry points)
    "password created": (password_created, "alice", ("api", "console")),
    "password changed by self": (password_changed_by_self, "alice", ("api", "console")),
    "password changed by root/admin": (
        password_changed_by_admin,
        "alice",
        ("api", "console", "api-admin"),
    ),
    "password removed": (password_removed, "alice", ("api", "console")),
    "root password changed": (root_password_changed, "root", ("api",)),
    "root password reset": (root_password_reset, "root", ("api", "console")),
    "revoke user tokens": (revoke_user_tokens, "alice", ("api",)),
    "revoke operator tokens": (revoke_operator_tokens, "root", ("api",)),
    "user deleted": (user_deleted, "alice", ("api", "console")),
    "AuthKey revoked": (authkey_revoked, "alice", ("api", "console")),
    "API logout": (api_logout, "alice", ("api",)),
    "console logout": (console_logout, "alice", ("console",)),
    "permission change": (permission_change, "alice", ("api", "console")),
    "MFA turned on for the user by root": (mfa_turned_on, "alice", ("api",)),
}

CELLS = [
    (event, kind, via) for event, (_, _, vias) in EVENTS.items() for kind in KINDS for via in vias
]


# --- the table -------------------------------------------------------------------------------


def documented_table() -> dict[str, tuple[str, ...]]:
    """Return the event table of docs/sessions.md, row by row."""
    text = DOCS.read_text()
    header = "| event | console session | API session by password | API session by AuthKey |"
    assert header in text
    rows = {}
    for line in text.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = tuple(cells[1:])
    return rows


def test_it_documents_exactly_the_table_it_tests():
    assert documented_table() == RULES


def test_it_tests_every_event_of_the_table():
    assert set(EVENTS) == set(RULES)


@pytest.mark.parametrize(
    "event,kind,via", CELLS, ids=[f"{e}|{k}|{v}".replace(" ", "-") for e, k, v in CELLS]
)
def test_it_ends_or_keeps_each_kind_of_session_as_the_table_says(request, event, kind, via):
    perform, subject, _ = EVENTS[event]
    w: World = request.getfixturevalue(f"{subject}_world")
    first, second = w.sessions[kind]
    assert first.live() and second.live(), "both sessions work before the event"
    perform(w, via, kind)
    expected = RULES[event][KINDS.index(kind)]
    if expected == ENDS:
        assert (first.live(), second.live()) == (False, False)
    elif expected == SURVIVES:
        assert (first.live(), second.live()) == (True, True)
    else:
        assert w.acting is first
        assert (first.live(), second.live()) == (False, True)
    assert all(s.live() for s in w.bystanders), "nobody else's sessions change"


# --- the session making the change -----------------------------------------------------------


@pytest.mark.parametrize("via", ["api", "console"])
def test_it_keeps_the_session_that_changed_its_own_password(alice_world, via):
    password_changed_by_self(alice_world, via, PASSWORD)
    assert alice_world.acting.live()
    assert not password_session_works(alice_world.subject, SAM_PASSWORD)


def password_session_works(principal: Principal, password: str) -> bool:
    body = (
        {"email": principal.email, "password": password}
        if principal.is_root
        else {
            "operatorId": principal.operator_id,
            "userName": principal.user_name,
            "password": password,
        }
    )
    return Client().post("/v1/auth", body, content_type="application/json").status_code == 200


def test_it_gives_the_console_session_that_changed_its_password_a_new_key(alice_world):
    acting = console_session(alice_world.subject)
    before = acting.client.cookies[settings.SESSION_COOKIE_NAME].value
    form = password_form(SAM_PASSWORD)
    expect(acting.client.post(console_path(alice_world, "password/change"), form, **HX), 204)
    assert acting.client.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert acting.live()


def test_it_keeps_the_root_session_that_changed_the_root_password(root_world):
    root_password_changed(root_world, "api", PASSWORD)
    assert root_world.acting.live()
    assert password_session_works(root_world.root, NEW_PASSWORD)


@pytest.mark.parametrize("via", ["api", "console"])
def test_it_keeps_the_session_that_removed_its_own_password(alice_world, via):
    w = alice_world
    if via == "api":
        w.acting = password_session(w.subject)
        expect(call("DELETE", user_path(w, "/password"), w.acting.headers), 204)
    else:
        w.acting = console_session(w.subject)
        expect(w.acting.client.post(console_path(w, "password/delete"), {}, **HX), 204)
    assert not w.fresh_subject().has_usable_password()
    assert w.acting.live()
    assert not any(s.live() for s in w.sessions[CONSOLE] + w.sessions[PASSWORD])
    assert all(s.live() for s in w.sessions[AUTHKEY])


def test_it_does_not_keep_an_api_session_of_another_principal_that_made_the_change(alice_world):
    # Root's session changes alice's password: root's stays, but it is not alice's to keep.
    password_changed_by_admin(alice_world, "api", PASSWORD)
    assert alice_world.root_api.live()
    assert not ApiSession.objects.filter(
        principal=alice_world.subject, opened_by="password", revoked_at__isnull=True
    ).exists()


def test_it_ends_the_session_that_revoked_its_own_tokens(root_world):
    revoke_operator_tokens(root_world, "api", PASSWORD)
    assert not root_world.acting.live()


def test_it_ends_the_sam_session_that_revoked_its_own_tokens(alice_world):
    acting = password_session(alice_world.subject)
    expect(call("DELETE", user_path(alice_world, "/tokens"), acting.headers), 204)
    assert not acting.live()
    assert not any(s.live() for kind in KINDS for s in alice_world.sessions[kind])


def test_it_lets_an_authkey_open_a_new_session_after_revoke_tokens(alice_world, root):
    key, secret = authkeys.generate(None, root, alice_world.subject)
    revoke_user_tokens(alice_world, "api", AUTHKEY)
    assert authkey_session(alice_world.subject, key, secret).live()


# --- what a session records ------------------------------------------------------------------


def test_it_records_how_each_session_was_opened_and_under_which_epochs(root, alice):
    Principal.objects.filter(pk=alice.pk).update(session_epoch=7, password_epoch=3)
    alice.refresh_from_db()
    key, secret = authkeys.generate(None, root, alice)
    by_password = password_session(alice)
    by_key = authkey_session(alice, key, secret)
    rows = {
        s.kind: ApiSession.objects.get(api_key=s.headers["HTTP_X_SORACOM_API_KEY"])
        for s in (by_password, by_key)
    }
    assert (rows[PASSWORD].opened_by, rows[PASSWORD].session_epoch) == ("password", 7)
    assert rows[PASSWORD].password_epoch == 3
    assert (rows[AUTHKEY].opened_by, rows[AUTHKEY].session_epoch) == ("authkey", 7)
    assert rows[AUTHKEY].password_epoch is None
    assert by_password.live() and by_key.live()


def test_it_does_not_revive_sessions_when_a_principal_loaded_earlier_is_saved(root, alice):
    stale = Principal.objects.get(pk=alice.pk)
    console, api = console_session(alice), password_session(alice)
    users.revoke_tokens(None, root, Principal.objects.get(pk=alice.pk), "User:revokeUserAuthTokens")
    stale.description = "saved from an object loaded before the revocation"
    stale.save()
    assert not console.live()
    assert not api.live()
    assert Principal.objects.get(pk=alice.pk).session_epoch == 1


def test_it_ends_a_console_session_in_every_worker_through_the_database(root, alice):
    # Another worker: a console session signed in before the epoch moved in the database.
    console = console_session(alice)
    Principal.objects.filter(pk=alice.pk).update(session_epoch=41)
    assert not console.live()


# --- races: a credential checked before the change, the session stored after -----------------


def test_it_ends_a_password_session_whose_exchange_raced_a_password_change(
    root, alice, monkeypatch
):
    real_sign_in = signin.sign_in

    def sign_in_then_change(request, **kwargs):
        result = real_sign_in(request, **kwargs)  # the old password checked ...
        users.set_password(None, root, Principal.objects.get(pk=alice.pk), NEW_PASSWORD, "x")
        return result  # ... and the session stored after the change committed

    monkeypatch.setattr(signin, "sign_in", sign_in_then_change)
    raced = password_session(alice, SAM_PASSWORD)
    monkeypatch.undo()
    assert (
        ApiSession.objects.get(api_key=raced.headers["HTTP_X_SORACOM_API_KEY"]).revoked_at is None
    )
    assert not raced.live()


def test_it_ends_an_authkey_session_whose_exchange_raced_revoke_tokens(root, alice, monkeypatch):
    key, secret = authkeys.generate(None, root, alice)
    real_create = apisessions.create_session

    def revoke_then_create(principal, **kwargs):
        users.revoke_tokens(None, root, Principal.objects.get(pk=alice.pk), "x")
        return real_create(principal, **kwargs)

    monkeypatch.setattr(apisessions, "create_session", revoke_then_create)
    raced = authkey_session(alice, key, secret)
    monkeypatch.undo()
    assert not raced.live()
    assert authkey_session(alice, key, secret).live()  # the key itself still works


needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite's in-memory test database shares one "
    "connection between threads",
)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_ends_a_password_session_whose_exchange_raced_a_change_in_another_thread(
    root, alice, monkeypatch
):
    checked, changed = threading.Event(), threading.Event()
    real_sign_in = signin.sign_in
    outcome: dict = {}

    def slow_sign_in(request, **kwargs):
        result = real_sign_in(request, **kwargs)
        checked.set()
        assert changed.wait(30)
        return result

    def exchange() -> None:
        try:
            outcome["session"] = password_session(alice, SAM_PASSWORD)
        except Exception as exc:  # asserted on below
            outcome["error"] = exc
        finally:
            connection.close()

    monkeypatch.setattr(signin, "sign_in", slow_sign_in)
    thread = threading.Thread(target=exchange)
    thread.start()
    assert checked.wait(30)
    users.set_password(None, root, Principal.objects.get(pk=alice.pk), NEW_PASSWORD, "x")
    changed.set()
    thread.join(30)
    monkeypatch.undo()
    assert "error" not in outcome, outcome
    assert not outcome["session"].live()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_ends_an_authkey_session_whose_exchange_raced_revoke_tokens_in_another_thread(
    root, alice, monkeypatch
):
    key, secret = authkeys.generate(None, root, alice)
    checked, revoked = threading.Event(), threading.Event()
    real_create = apisessions.create_session
    outcome: dict = {}

    def slow_create(principal, **kwargs):
        checked.set()  # inside the exchange's transaction, the key row locked
        assert revoked.wait(30)
        return real_create(principal, **kwargs)

    def exchange() -> None:
        try:
            outcome["session"] = authkey_session(alice, key, secret)
        except Exception as exc:  # asserted on below
            outcome["error"] = exc
        finally:
            connection.close()

    monkeypatch.setattr(apisessions, "create_session", slow_create)
    thread = threading.Thread(target=exchange)
    thread.start()
    assert checked.wait(30)
    users.revoke_tokens(None, root, Principal.objects.get(pk=alice.pk), "x")
    revoked.set()
    thread.join(30)
    monkeypatch.undo()
    assert "error" not in outcome, outcome
    assert not outcome["session"].live()


# --- the review's probe ----------------------------------------------------------------------


def test_it_refuses_a_token_opened_with_the_old_password_minting_an_authkey(root, alice):
    grant = {"effect": "allow", "api": ["User:generateUserAuthKey", "User:getUser"]}
    roles.set_inline_permission(None, root, alice, json.dumps({"statements": [grant]}))
    stolen = password_session(alice)
    own = f"/v1/operators/{alice.operator_id}/users/alice"
    expect(call("GET", own, stolen.headers), 200)
    body = {"currentPassword": SAM_PASSWORD, "newPassword": NEW_PASSWORD}
    expect(call("PUT", own + "/password", password_session(root).headers, body), 200)
    expect(call("POST", own + "/auth_keys", stolen.headers), 401)
    assert not AuthKey.objects.filter(principal=alice).exists()
