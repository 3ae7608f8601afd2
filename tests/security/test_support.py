"""Support staff: AuthKey look-up and revocation, and time-limited support access."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Operator, Principal
from security import authkeys, support
from security.models import AuditEntry

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "staff-Password-4321"


@pytest.fixture
def staff(db) -> Principal:
    return Principal.objects.create_superuser("helpdesk", STAFF_PASSWORD)


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
    return client.get("/staff/authkeys/", {"key_id": key_id})


# --- access ------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_admin_sign_in(client):
    response = client.get("/staff/authkeys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


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


def test_it_shows_which_operator_and_principal_hold_a_key(staff_client, leaked, operator):
    key, _ = leaked
    response = _lookup(staff_client, key.key_id)
    assert response.status_code == 200
    owner = response.context["owner"]
    assert (owner.operator_id, owner.holder, owner.holder_kind) == (operator.pk, "alice", "sam")
    assert operator.pk.encode() in response.content


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
    assert b"No AuthKey has that ID." in response.content


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
    staff_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "leaked"})
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
    assert not AuditEntry.objects.filter(action="Support:viewOperator").exists()


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


def test_it_audits_a_staff_sign_in_through_the_admin(staff):
    client = Client()
    response = client.post(
        "/admin/login/", {"username": "helpdesk", "password": STAFF_PASSWORD, "next": "/staff/"}
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="Support:signIn", outcome="allowed")
    assert (entry.chain, entry.actor_kind, entry.actor) == ("", "staff", "helpdesk")


def test_it_audits_a_failed_staff_sign_in_without_the_password(db):
    Client().post("/admin/login/", {"username": "helpdesk", "password": "wrong-Secret-999"})
    entry = AuditEntry.objects.get(action="Support:signIn", outcome="failed")
    assert entry.target == "helpdesk"
    assert "wrong-Secret-999" not in str(entry.details)


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


def test_it_audits_a_staff_sign_out(staff_client):
    response = staff_client.post("/admin/logout/")
    assert response.status_code in (200, 302)
    entry = AuditEntry.objects.get(action="Support:signOut")
    assert (entry.chain, entry.actor_kind, entry.actor) == ("", "staff", "helpdesk")


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
