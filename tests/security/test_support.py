"""Support staff: AuthKey look-up and revocation, and time-limited support access."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Operator, Principal
from security import authkeys, support
from security.models import AuditEntry
from tests.routes import authorized_routes

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "staff-Password-4321"


@pytest.fixture
def staff(db) -> Principal:
    return Principal.objects.create_staff("helpdesk", STAFF_PASSWORD, Principal.StaffRole.SUPPORT)


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff, backend="accounts.backends.StaffBackend")
    return client


@pytest.fixture
def leaked(alice, root):
    key, secret = authkeys.generate(None, root, alice)
    return key, secret


def _lookup(client, key_id):
    return client.post("/staff/authkeys/", {"key_id": key_id})


# --- access ------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_support_sign_in(client):
    response = client.get("/staff/authkeys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_it_hides_staff_pages_from_a_root_account(root_client, leaked):
    key, _ = leaked
    assert _lookup(root_client, key.key_id).status_code == 404
    response = root_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "x"})
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.is_live


def test_it_hides_staff_pages_from_a_sam_user(alice_client):
    assert alice_client.get("/staff/operators/").status_code == 404


# --- look-up -----------------------------------------------------------------------------


def test_it_shows_which_operator_and_principal_hold_a_key_under_a_grant(
    staff_client, leaked, operator, root
):
    support.grant(None, root, 1)
    key, _ = leaked
    response = _lookup(staff_client, key.key_id)
    assert response.status_code == 200
    holder = response.context["found"].holder
    assert (holder.operator_id, holder.user_name, holder.holder_kind) == (
        operator.pk,
        "alice",
        "sam",
    )
    assert operator.pk.encode() in response.content
    assert root.email.encode() in response.content


def test_it_shows_only_that_a_key_is_live_without_a_grant(staff_client, leaked, operator, root):
    key, _ = leaked
    response = _lookup(staff_client, key.key_id)
    assert response.status_code == 200
    found = response.context["found"]
    assert (found.key_id, found.is_live, found.holder) == (key.key_id, True, None)
    body = response.content.decode()
    for tenant_data in (operator.pk, root.email, "alice", key.created_at.strftime("%Y-%m-%d")):
        assert tenant_data not in body
    assert 'id="revoke-form"' in body


def test_it_answers_a_revoked_key_like_an_unknown_one_without_a_grant(staff_client, leaked, root):
    key, _ = leaked
    authkeys.revoke(None, root, key, reason="rotated by bob")
    revoked = _lookup(staff_client, key.key_id)
    unknown = _lookup(staff_client, "keyId-" + "0" * 32)
    assert revoked.status_code == unknown.status_code == 404
    assert b"rotated by bob" not in revoked.content
    assert revoked.context["error"] == unknown.context["error"] == "No live AuthKey has that ID."


def test_it_shows_a_revoked_keys_history_under_a_grant(staff_client, leaked, root):
    key, _ = leaked
    authkeys.revoke(None, root, key, reason="rotated by bob")
    support.grant(None, root, 1)
    response = _lookup(staff_client, key.key_id)
    assert response.status_code == 200
    assert b"rotated by bob" in response.content
    assert 'id="revoke-form"' not in response.content.decode()


def test_it_revokes_a_key_without_a_grant(staff_client, leaked, operator):
    key, _ = leaked
    response = staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "in a gist"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.is_live
    followed = staff_client.get(response["Location"])
    assert operator.pk.encode() not in followed.content
    assert b"alice" not in followed.content


def test_it_refuses_to_revoke_an_already_revoked_key_like_an_unknown_one(
    staff_client, leaked, root
):
    key, _ = leaked
    authkeys.revoke(None, root, key, reason="rotated")
    revoked = staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "again"})
    unknown = staff_client.post(f"/staff/authkeys/keyId-{'0' * 32}/revoke", {"reason": "again"})
    assert revoked.status_code == unknown.status_code == 404
    key.refresh_from_db()
    assert key.revoke_reason == "rotated"


def test_it_never_shows_a_secret_or_its_hash(canary, staff_client, leaked):
    key, secret = leaked
    canary.add(secret, label="AuthKey")
    body = _lookup(staff_client, key.key_id).content.decode()
    assert key.key_id in body
    assert key.secret_hash not in body
    canary.assert_nowhere(revisit=key.principal)


def test_it_audits_a_lookup_in_the_operators_trail(staff_client, leaked, operator):
    key, _ = leaked
    _lookup(staff_client, key.key_id)
    entry = AuditEntry.objects.filter(operator=operator, action="Support:lookupAuthKey").get()
    assert (entry.actor_kind, entry.actor) == ("staff", "helpdesk")
    assert entry.details["authKeyId"] == key.key_id


def test_it_answers_404_for_an_unknown_key(staff_client):
    response = _lookup(staff_client, "keyId-" + "0" * 32)
    assert response.status_code == 404
    assert b"No live AuthKey has that ID." in response.content


def test_it_refuses_something_that_is_not_a_key_id(staff_client):
    response = _lookup(staff_client, "<script>")
    assert response.status_code == 400
    assert b"<script>" not in response.content.replace(b"&lt;script&gt;", b"")


# --- revocation --------------------------------------------------------------------------


def test_it_revokes_a_key_with_a_reason(staff_client, leaked):
    key, _ = leaked
    response = staff_client.post(
        f"/staff/authkeys/{key.key_id}/revoke", {"reason": "Posted on a public forum"}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.is_live
    assert key.revoked_by == "staff:helpdesk"
    assert key.revoke_reason == "Posted on a public forum"


def test_it_requires_a_reason(staff_client, leaked):
    key, _ = leaked
    response = staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "   "})
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.is_live


def test_it_records_the_revocation_with_staff_and_reason(staff_client, leaked, operator):
    key, _ = leaked
    staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "leaked in CI logs"})
    entry = AuditEntry.objects.get(operator=operator, action="Support:revokeAuthKey")
    assert (entry.actor_kind, entry.actor, entry.outcome) == ("staff", "helpdesk", "allowed")
    assert entry.details["reason"] == "leaked in CI logs"
    assert entry.details["authKeyId"] == key.key_id


def test_it_shows_the_revocation_on_the_operators_audit_tab(staff_client, root_client, leaked):
    key, _ = leaked
    staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "leaked in CI logs"})
    body = root_client.get("/security/audit/").content.decode()
    assert "Support:revokeAuthKey" in body
    assert "leaked in CI logs" in body


def test_it_ends_the_keys_api_sessions(staff_client, leaked):
    key, secret = leaked
    auth = Client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    headers = {
        "HTTP_X_SORACOM_API_KEY": auth.json()["apiKey"],
        "HTTP_X_SORACOM_TOKEN": auth.json()["token"],
    }
    own_user = f"/v1/operators/{key.operator_id}/users/{key.holder}"
    assert Client().get(own_user, **headers).status_code == 403  # signed in, not allowed
    staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "leaked"})
    assert Client().get(own_user, **headers).status_code == 401
    assert Client().post("/v1/auth/logout", **headers).status_code == 401


def test_it_refuses_get_on_revoke(staff_client, leaked):
    key, _ = leaked
    assert staff_client.get(f"/staff/authkeys/{key.key_id}/revoke").status_code == 405


def test_it_refuses_staff_the_consoles_key_generation(staff_client, leaked):
    before = authkeys.live_keys(leaked[0].principal).count()
    response = staff_client.post("/security/users/alice/authkeys/generate")
    assert response.status_code == 403
    assert authkeys.live_keys(leaked[0].principal).count() == before


def test_it_refuses_staff_the_api(staff):
    response = Client().post(
        "/v1/auth",
        {"email": "helpdesk", "password": STAFF_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 401


# --- support access ----------------------------------------------------------------------


def test_it_hides_an_operator_without_a_grant(staff_client, operator, root):
    assert staff_client.get(f"/staff/operators/{operator.pk}/").status_code == 404
    # Nothing in the operator's trail; the refusal is in the staff member's (installation)
    # chain: tests/security/test_audit_cross_tenant.py.
    assert not AuditEntry.objects.filter(chain=operator.pk, action="Support:viewOperator").exists()


def test_it_lets_root_grant_support_access(root_client, operator):
    response = root_client.post("/security/support/grant", {"hours": "8"})
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.support_access_until > timezone.now() + timedelta(hours=7)
    entry = AuditEntry.objects.get(operator=operator, action="Operator:grantSupportAccess")
    assert entry.details["hours"] == 8


def test_it_refuses_a_grant_of_another_length(root_client, operator):
    response = root_client.post("/security/support/grant", {"hours": "10000"})
    assert response.status_code == 400
    operator.refresh_from_db()
    assert operator.support_access_until is None


def test_it_refuses_a_sam_user_the_grant(alice_client, operator):
    assert alice_client.post("/security/support/grant", {"hours": "8"}).status_code == 403
    assert alice_client.get("/security/support/").status_code == 403
    operator.refresh_from_db()
    assert operator.support_access_until is None


def test_it_renders_the_grant_partial_for_htmx(root_client):
    response = root_client.post(
        "/security/support/grant",
        {"hours": "1"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="support-state",
    )
    assert response.content.decode().lstrip().startswith('<div id="support-state">')
    assert b"open" in response.content


def test_it_shows_an_operator_to_staff_during_a_grant(staff_client, root, leaked, operator):
    support.grant(None, root, 1)
    response = staff_client.get(f"/staff/operators/{operator.pk}/")
    assert response.status_code == 200
    assert leaked[0].key_id.encode() in response.content
    assert leaked[1].encode() not in response.content


def test_it_audits_every_staff_view_during_a_grant(staff_client, root, operator):
    support.grant(None, root, 1)
    staff_client.get(f"/staff/operators/{operator.pk}/")
    staff_client.get(f"/staff/operators/{operator.pk}/")
    views = AuditEntry.objects.filter(operator=operator, action="Support:viewOperator")
    assert views.count() == 2
    assert {(e.actor_kind, e.actor) for e in views} == {("staff", "helpdesk")}


def test_it_lists_only_operators_with_an_open_grant(staff_client, root, outsider):
    support.grant(None, root, 1)
    body = staff_client.get("/staff/operators/").content.decode()
    assert root.operator_id in body
    assert outsider.operator_id not in body


def test_it_closes_access_when_the_grant_expires(staff_client, root, operator):
    support.grant(None, root, 1)
    Operator.objects.filter(pk=operator.pk).update(
        support_access_until=timezone.now() - timedelta(seconds=1)
    )
    assert staff_client.get(f"/staff/operators/{operator.pk}/").status_code == 404


def test_it_closes_access_when_root_withdraws_it(staff_client, root_client, root, operator):
    support.grant(None, root, 24)
    response = root_client.post("/security/support/withdraw")
    assert response.status_code == 302
    assert staff_client.get(f"/staff/operators/{operator.pk}/").status_code == 404
    assert AuditEntry.objects.filter(
        operator=operator, action="Operator:revokeSupportAccess"
    ).exists()


def test_it_shows_the_staff_revocation_on_the_authkeys_tab(staff_client, root_client, leaked):
    key, _ = leaked
    staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "leaked in CI logs"})
    body = root_client.get("/security/users/alice/authentication").content.decode()
    assert key.key_id in body
    assert "staff:helpdesk" in body
    assert "leaked in CI logs" in body


def test_it_refuses_a_reason_that_holds_the_secret(staff_client, leaked):
    key, secret = leaked
    response = staff_client.post(
        f"/staff/authkeys/{key.key_id}/revoke", {"reason": f"found {secret} in a paste"}
    )
    assert response.status_code == 400
    assert b"Leave the secret out of the reason" in response.content
    assert secret.encode() not in response.content
    key.refresh_from_db()
    assert key.is_live


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/security/credentials/"),
        ("get", "/security/audit/"),
        ("post", "/security/roles/new"),
        ("get", "/security/users/"),
    ],
)
def test_it_gives_staff_nothing_of_the_tenant_console(staff_client, alice, method, url):
    assert getattr(staff_client, method)(url).status_code == 403


def test_it_records_a_lookup_that_found_nothing_in_the_installation_chain(staff_client):
    _lookup(staff_client, "keyId-" + "0" * 32)
    entry = AuditEntry.objects.get(action="Support:lookupAuthKey")
    assert (entry.chain, entry.outcome, entry.actor) == ("", "failed", "helpdesk")
    assert entry.target == "keyId-" + "0" * 32


# --- SECURITY.md D11: staff hold no tenant operation, console or API ----------------------


def _tenant_values(root, alice, leaked) -> dict[str, str]:
    return {
        "user_name": alice.user_name,
        "auth_key_id": leaked[0].key_id,
        "operator_id": root.operator_id,
        "role_id": "auditor",
        "credentials_id": "set-1",
        "group_id": "g1",
        "passkey_id": "1",
    }


@pytest.mark.parametrize("role", Principal.StaffRole.values)
def test_it_refuses_staff_every_console_action(root, alice, leaked, role):
    staff = Principal.objects.create_staff(f"{role}-1", STAFF_PASSWORD, role)
    client = Client()
    client.force_login(staff, backend="accounts.backends.StaffBackend")
    values = _tenant_values(root, alice, leaked)
    before = AuditEntry.objects.filter(operator=root.operator).count()
    for route in [r for r in authorized_routes() if r.kind == "console"]:
        for method in (client.get, client.post):
            response = method(route.url(values))
            assert response.status_code in (403, 405), route.label
    leaked[0].refresh_from_db()
    assert leaked[0].is_live
    assert AuditEntry.objects.filter(operator=root.operator).count() == before


@pytest.mark.parametrize("role", Principal.StaffRole.values)
def test_it_gives_a_staff_session_nothing_of_the_api(root, alice, leaked, role):
    staff = Principal.objects.create_staff(f"{role}-1", STAFF_PASSWORD, role)
    client = Client()
    client.force_login(staff, backend="accounts.backends.StaffBackend")
    values = _tenant_values(root, alice, leaked)
    for route in [r for r in authorized_routes() if r.kind == "api"]:
        call = getattr(client, route.method.lower())
        response = call(route.url(values), {}, content_type="application/json")
        assert response.status_code == 401, route.label


def test_it_never_echoes_a_secret_pasted_into_the_staff_key_look_up(helpdesk_client, root):
    # The page asks staff to paste the ID of a key reported as leaked; a leak report holds
    # the secret too. The look-up is a POST (never in the URL); the page must not put the
    # secret back into the input either.
    _, secret = authkeys.generate(None, root, root)
    response = helpdesk_client.post("/staff/authkeys/", {"key_id": secret})
    assert response.status_code == 400
    assert secret not in response.content.decode()
