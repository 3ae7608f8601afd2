"""The console's AuthKeys tab and a SAM user's Authentication tab (full page and HTMX)."""

import json
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from accounts.models import ApiSession
from security import authkeys, roles
from security.models import AuditEntry, AuthKey
from tests.conftest import ROOT_PASSWORD

HX = {"HTTP_HX_REQUEST": "true"}


def hx_target(target: str) -> dict:
    return {**HX, "HTTP_HX_TARGET": target}


def secret_in(response) -> str:
    """Return the secret shown by a generate response (the dialog's secret box)."""
    html = response.content.decode()
    start = html.index('id="new-key-secret"')
    start = html.index(">", start) + 1
    return html[start : html.index("<", start)].strip()


# --- access ----------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(db):
    response = Client().get("/security/authkeys/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_refuses_a_sam_user_the_root_keys_tab(alice_client):
    assert alice_client.get("/security/authkeys/").status_code == 403
    assert alice_client.post("/security/authkeys/generate").status_code == 403
    assert not AuthKey.objects.exists()


def test_it_answers_404_for_another_operators_user(outsider_client, alice):
    assert outsider_client.get("/security/users/alice/authentication").status_code == 404
    assert outsider_client.post("/security/users/alice/authkeys/generate").status_code == 404
    assert not AuthKey.objects.exists()


def test_it_answers_404_for_another_operators_key(outsider_client, root, alice):
    key, _ = authkeys.generate(None, root, alice)
    url = f"/security/users/alice/authkeys/{key.key_id}/revoke"
    assert outsider_client.post(url).status_code == 404
    root_key, _ = authkeys.generate(None, root, root)
    assert outsider_client.post(f"/security/authkeys/{root_key.key_id}/revoke").status_code == 404
    assert AuthKey.objects.filter(slot__isnull=False).count() == 2


def test_it_refuses_a_sam_user_without_permission_to_generate(alice_client, alice):
    response = alice_client.post("/security/users/alice/authkeys/generate", **HX)
    assert response.status_code == 403
    assert not AuthKey.objects.exists()


@pytest.mark.parametrize("user_name", ["%E2%80%AEalice", "alice%00", "a" * 101, "%EF%BD%81lice"])
def test_it_answers_404_for_odd_user_names(root_client, alice, user_name):
    assert root_client.get(f"/security/users/{user_name}/authentication").status_code == 404
    assert root_client.post(f"/security/users/{user_name}/authkeys/generate").status_code == 404
    assert not AuthKey.objects.exists()


@pytest.mark.parametrize("key_id", ["keyId-", "keyId-" + "A" * 32, "x" * 500, "keyId-%00"])
def test_it_answers_404_for_malformed_key_ids(root_client, root, key_id):
    authkeys.generate(None, root, root)
    assert root_client.post(f"/security/authkeys/{key_id}/revoke").status_code == 404
    assert authkeys.live_keys(root).count() == 1


def test_it_refuses_generate_by_get(root_client):
    assert root_client.get("/security/authkeys/generate").status_code == 405
    assert not AuthKey.objects.exists()


SELF_SERVICE = json.dumps(
    {
        "statements": [
            {
                "effect": "allow",
                "api": [
                    "User:listUserAuthKeys",
                    "User:generateUserAuthKey",
                    "User:deleteUserAuthKey",
                ],
                "condition": "pathVariable('user_name') == samUserName",
            }
        ]
    }
)


@pytest.fixture
def alice_self_service(root, alice):
    roles.set_inline_permission(None, root, alice, SELF_SERVICE)


def test_it_lets_a_sam_user_with_self_service_manage_its_own_keys(
    alice_client, alice, alice_self_service
):
    assert alice_client.get("/security/users/alice/authentication").status_code == 200
    response = alice_client.post("/security/users/alice/authkeys/generate", **HX)
    key = AuthKey.objects.get(principal=alice)
    assert authkeys.verify_secret(key, secret_in(response))
    revoke = alice_client.post(f"/security/users/alice/authkeys/{key.key_id}/revoke", **HX)
    assert revoke.status_code == 204
    assert AuthKey.objects.get(pk=key.pk).revoked_by == "sam:alice"


def test_it_refuses_self_service_on_another_user(alice_client, robot, alice_self_service):
    assert alice_client.get("/security/users/robot/authentication").status_code == 403
    assert alice_client.post("/security/users/robot/authkeys/generate").status_code == 403
    assert not AuthKey.objects.filter(principal=robot).exists()


def test_it_shows_a_sam_user_without_generate_permission_why(root, alice, alice_client):
    roles.set_inline_permission(
        None,
        root,
        alice,
        json.dumps({"statements": [{"effect": "allow", "api": "User:listUserAuthKeys"}]}),
    )
    html = alice_client.get("/security/users/alice/authentication").content.decode()
    assert "You do not have permission for User:generateUserAuthKey." in html
    assert "data-generate-authkey disabled" in html


# --- list ------------------------------------------------------------------------------


def test_it_lists_the_root_keys_on_the_authkeys_tab(root_client, root, alice):
    key, _ = authkeys.generate(None, root, root)
    other, _ = authkeys.generate(None, root, alice)
    html = root_client.get("/security/authkeys/").content.decode()
    assert key.key_id in html
    assert other.key_id not in html
    assert "never" in html


def test_it_lists_a_users_keys_on_its_authentication_tab(root_client, root, alice):
    key, _ = authkeys.generate(None, root, alice)
    response = root_client.get("/security/users/alice/authentication")
    assert response.status_code == 200
    html = response.content.decode()
    assert key.key_id in html
    assert 'aria-current="page">Authentication' in html


def test_it_renders_only_the_list_for_htmx(root_client, root):
    authkeys.generate(None, root, root)
    response = root_client.get("/security/authkeys/", **hx_target("authkey-list"))
    html = response.content.decode()
    assert html.startswith('<div id="authkey-list"')
    assert "<html" not in html


def test_it_renders_only_a_users_list_for_htmx(root_client, root, alice):
    key, _ = authkeys.generate(None, root, alice)
    response = root_client.get("/security/users/alice/authentication", **hx_target("authkey-list"))
    html = response.content.decode()
    assert html.startswith('<div id="authkey-list"') and key.key_id in html
    assert 'hx-get="/security/users/alice/authentication"' in html


def test_it_shows_last_use_with_time_and_address(root_client, root):
    key, secret = authkeys.generate(None, root, root)
    Client(REMOTE_ADDR="203.0.113.7").post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    html = root_client.get("/security/authkeys/").content.decode()
    assert "from 203.0.113.7" in html
    assert "just now" in html


def test_it_flags_a_key_unused_for_the_stale_period(root_client, root, settings):
    settings.LATCHKEY_STALE_KEY_DAYS = 30
    key, _ = authkeys.generate(None, root, root)
    AuthKey.objects.filter(pk=key.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert "unused 30+ days" in root_client.get("/security/authkeys/").content.decode()


def test_it_does_not_flag_a_recently_used_key(root_client, root, settings):
    settings.LATCHKEY_STALE_KEY_DAYS = 30
    key, _ = authkeys.generate(None, root, root)
    AuthKey.objects.filter(pk=key.pk).update(
        created_at=timezone.now() - timedelta(days=300), last_used_at=timezone.now()
    )
    assert "unused 30+ days" not in root_client.get("/security/authkeys/").content.decode()


def test_it_disables_generate_at_the_limit_with_the_reason(root_client, root):
    authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    html = root_client.get("/security/authkeys/").content.decode()
    assert "data-generate-authkey disabled" in html
    assert "revoke one to generate a new one" in html


# --- generate --------------------------------------------------------------------------


def test_it_generates_and_shows_the_secret_once_in_the_dialog(root_client, root):
    response = root_client.post("/security/authkeys/generate", **HX)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = secret_in(response)
    key = AuthKey.objects.get(principal=root)
    assert authkeys.verify_secret(key, secret)
    html = response.content.decode()
    assert key.key_id in html
    assert "will not be shown again" in html
    assert 'hx-history="false"' in html
    assert "data-csv-download" in html


def test_it_generates_as_a_full_page_without_javascript(root_client, root):
    response = root_client.post("/security/authkeys/generate")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'href="/security/authkeys/"' in html
    assert authkeys.verify_secret(AuthKey.objects.get(principal=root), secret_in(response))


def test_it_generates_a_key_for_a_user(root_client, robot):
    response = root_client.post("/security/users/robot/authkeys/generate", **HX)
    key = AuthKey.objects.get(principal=robot)
    assert authkeys.verify_secret(key, secret_in(response))


def test_it_never_shows_the_secret_again(root_client, root):
    secret = secret_in(root_client.post("/security/authkeys/generate", **HX))
    pages = [
        root_client.get("/security/authkeys/"),
        root_client.get("/security/authkeys/", **hx_target("authkey-list")),
        root_client.get("/security/users/"),
    ]
    for page in pages:
        assert secret not in page.content.decode()
    assert secret not in str(dict(root_client.session))
    for cache in caches.all():
        assert all(secret.encode() not in value for value in _stored_values(cache))


def _stored_values(cache) -> list[bytes]:
    """Return every value a cache holds, as stored (pickled): local memory or Redis."""
    store = cache._cache
    if isinstance(store, dict):
        return list(store.values())
    client = store.get_client(None)
    return [client.get(key) or b"" for key in client.scan_iter()]


def test_it_refuses_a_third_key_with_a_409_dialog_and_writes_nothing(root_client, root):
    authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    response = root_client.post("/security/authkeys/generate", **HX)
    assert response.status_code == 409
    assert "revoke one to generate a new one" in response.content.decode()
    assert AuthKey.objects.count() == 2
    assert AuditEntry.objects.filter(
        action="Operator:generateOperatorAuthKey", outcome="failed"
    ).exists()


def test_it_refuses_a_third_key_as_a_full_page(root_client, root):
    authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    response = root_client.post("/security/authkeys/generate")
    assert response.status_code == 409
    assert "<html" in response.content.decode()


def test_it_refuses_generate_churn_with_a_429_dialog(root_client, root, settings):
    settings.LATCHKEY_AUTHKEY_GENERATES_PER_HOUR = 1
    key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    response = root_client.post("/security/authkeys/generate", **HX)
    assert response.status_code == 429
    assert "Try again in" in response.content.decode()
    assert not authkeys.live_keys(root).exists()


def test_it_needs_the_csrf_token_to_generate(root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root, backend="accounts.backends.RootBackend")
    assert client.post("/security/authkeys/generate", **HX).status_code == 403
    assert not AuthKey.objects.exists()


# --- revoke ----------------------------------------------------------------------------


def test_it_shows_a_confirm_dialog_naming_the_key(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    response = root_client.get(f"/security/authkeys/{key.key_id}/revoke", **HX)
    assert response.status_code == 200
    assert (
        f'Revoke the AuthKey <code class="nowrap">{key.key_id}</code>?' in response.content.decode()
    )
    key.refresh_from_db()
    assert key.is_live


def test_it_shows_the_confirmation_as_a_full_page_without_javascript(root_client, root, alice):
    key, _ = authkeys.generate(None, root, alice)
    response = root_client.get(f"/security/users/alice/authkeys/{key.key_id}/revoke")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and key.key_id in html
    assert 'href="/security/users/alice/authentication">Cancel' in html


def test_it_revokes_through_htmx_and_refreshes_the_list(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    response = root_client.post(
        f"/security/authkeys/{key.key_id}/revoke", {"reason": "rotated"}, **HX
    )
    assert response.status_code == 204
    assert "authkeysChanged" in response["HX-Trigger"]
    key.refresh_from_db()
    assert key.slot is None and key.revoke_reason == "rotated"
    assert key.revoked_by == f"root:{root.email}"


def test_it_revokes_as_a_full_page_and_redirects_to_the_list(root_client, root, alice):
    key, _ = authkeys.generate(None, root, alice)
    response = root_client.post(f"/security/users/alice/authkeys/{key.key_id}/revoke")
    assert response.status_code == 302
    assert response["Location"] == "/security/users/alice/authentication"
    assert not authkeys.live_keys(alice).exists()


def test_it_ends_the_sessions_of_a_key_revoked_in_the_console(root_client, root):
    key, secret = authkeys.generate(None, root, root)
    session = Client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    assert session.status_code == 200
    headers = {
        "HTTP_X_SORACOM_API_KEY": session.json()["apiKey"],
        "HTTP_X_SORACOM_TOKEN": session.json()["token"],
    }
    operator = f"/v1/operators/{root.operator_id}"
    assert Client().get(operator, **headers).status_code == 200
    root_client.post(f"/security/authkeys/{key.key_id}/revoke", **HX)
    assert Client().get(operator, **headers).status_code == 401
    assert not ApiSession.objects.filter(auth_key_id=key.key_id, revoked_at__isnull=True).exists()


def test_it_answers_404_when_revoking_a_revoked_key(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    assert root_client.post(f"/security/authkeys/{key.key_id}/revoke", **HX).status_code == 404


def test_it_refuses_a_reason_with_control_characters(root_client, root):
    key, _ = authkeys.generate(None, root, root)
    response = root_client.post(
        f"/security/authkeys/{key.key_id}/revoke", {"reason": "a\x1b[31mb"}, **HX
    )
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.is_live


# --- an AuthKey never signs in to the console ------------------------------------------


@pytest.mark.parametrize("mode", ["root", "sam"])
def test_it_never_signs_in_to_the_console_with_an_authkey(root, mode):
    key, secret = authkeys.generate(None, root, root)
    client = Client()
    if mode == "root":
        data = {"mode": "root", "root-email": key.key_id, "root-password": secret}
    else:
        data = {
            "mode": "sam",
            "sam-operator_id": root.operator_id,
            "sam-user_name": key.key_id,
            "sam-password": secret,
        }
    response = client.post("/login/", data)
    assert response.status_code in (400, 429)
    assert "_auth_user_id" not in client.session
    assert client.get("/security/authkeys/").status_code == 302


def test_it_does_not_accept_a_secret_as_the_root_password(root):
    _key, secret = authkeys.generate(None, root, root)
    client = Client()
    client.post("/login/", {"mode": "root", "root-email": root.email, "root-password": secret})
    assert "_auth_user_id" not in client.session
    client.post(
        "/login/", {"mode": "root", "root-email": root.email, "root-password": ROOT_PASSWORD}
    )
    assert "_auth_user_id" in client.session


def test_it_does_not_open_a_console_session_from_an_api_token(root):
    key, secret = authkeys.generate(None, root, root)
    body = (
        Client()
        .post(
            "/v1/auth",
            {"authKeyId": key.key_id, "authKey": secret},
            content_type="application/json",
        )
        .json()
    )
    client = Client(
        HTTP_X_SORACOM_API_KEY=body["apiKey"],
        HTTP_X_SORACOM_TOKEN=body["token"],
        HTTP_AUTHORIZATION="Bearer " + body["token"],
    )
    assert client.get("/security/authkeys/").status_code == 302
