"""The admin site: installation administrators only, no tenant data, audited changes
(issue 17 items 1 and 2)."""

import io

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import Operator, Principal, Role, StaffAccount
from security import authkeys
from security.models import AuditEntry, AuthKey, CredentialSet

pytestmark = pytest.mark.django_db

DEFAULT_PERMISSIONS = (
    '{"statements":[{"effect":"allow","api":"User:getUser","condition":"ipAddress(\'10.9.8.7\')"}]}'
)


# --- who may enter -----------------------------------------------------------------------


def test_it_lets_an_installation_administrator_in(ops_admin_client):
    response = ops_admin_client.get("/admin/")
    assert response.status_code == 200
    assert b"Credential-set quotas" in response.content


@pytest.mark.parametrize("client_fixture", ["helpdesk_client", "root_client", "alice_client"])
def test_it_keeps_everyone_else_out_of_the_admin(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    for url in ("/admin/", "/admin/accounts/staffaccount/", "/admin/quotas/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/")


def test_it_keeps_installation_administrators_off_the_support_pages(ops_admin_client, root, alice):
    key, _ = authkeys.generate(None, root, alice)
    assert ops_admin_client.post("/staff/authkeys/", {"key_id": key.key_id}).status_code == 403
    assert ops_admin_client.get("/staff/operators/").status_code == 403
    response = ops_admin_client.post(f"/staff/authkeys/{key.key_id}/revoke", {"reason": "x"})
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.is_live
    assert not AuditEntry.objects.filter(action__startswith="Support:").exists()


def test_it_gives_no_principal_the_django_superuser_bit(ops_admin):
    with pytest.raises(IntegrityError), transaction.atomic():
        Principal.objects.filter(pk=ops_admin.pk).update(is_superuser=True)


def test_it_gives_every_staff_account_exactly_one_role(helpdesk):
    with pytest.raises(IntegrityError), transaction.atomic():
        Principal.objects.filter(pk=helpdesk.pk).update(staff_role="")


def test_it_gives_tenants_no_staff_role(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Principal.objects.filter(pk=alice.pk).update(staff_role="admin", is_staff=True)


# --- no tenant model, no oracle ----------------------------------------------------------


def test_it_registers_only_staff_accounts():
    assert set(admin.site._registry) == {StaffAccount}


@pytest.mark.parametrize("model", [Operator, Principal, Role, AuthKey, CredentialSet, AuditEntry])
def test_it_refuses_to_register_a_tenant_model(model):
    with pytest.raises(ValueError, match="holds tenant data"):
        admin.site.register(model)
    assert model not in admin.site._registry


def test_it_answers_the_default_permissions_oracle_with_nothing(ops_admin_client, root):
    # The review's probe: `?default_permissions__contains=` one character at a time.
    Operator.objects.filter(pk=root.operator_id).update(default_permissions=DEFAULT_PERMISSIONS)
    url = "/admin/accounts/operator/"
    hit = ops_admin_client.get(url, {"default_permissions__contains": "ipAddress('1"})
    miss = ops_admin_client.get(url, {"default_permissions__contains": "ipAddress('2"})
    assert hit.status_code == miss.status_code == 404
    assert root.operator_id.encode() not in hit.content


@pytest.mark.parametrize(
    "lookup",
    [
        "password__startswith",
        "description__contains",
        "inline_permission__contains",
        "operator__default_permissions__contains",
        "operator__credential_quota__gte",
        "handle__startswith",
        "email__contains",
    ],
)
def test_it_refuses_lookups_outside_the_filters(ops_admin_client, lookup):
    response = ops_admin_client.get("/admin/accounts/staffaccount/", {lookup: "m"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [{"staff_role__exact": "\x00"}, {"staff_role__exact": "sam"}, {"is_active__exact": "x"}],
)
def test_it_refuses_a_filter_value_the_filter_does_not_offer(ops_admin_client, query):
    assert ops_admin_client.get("/admin/accounts/staffaccount/", query).status_code == 400


@pytest.mark.parametrize("query", [{"staff_role__exact": "support"}, {"is_active__exact": "0"}])
def test_it_filters_staff_accounts(ops_admin_client, helpdesk, query):
    assert ops_admin_client.get("/admin/accounts/staffaccount/", query).status_code == 200


def test_it_lists_staff_accounts_and_no_tenant(ops_admin_client, helpdesk, root, alice):
    body = ops_admin_client.get("/admin/accounts/staffaccount/").content.decode()
    assert "helpdesk" in body and "ops-admin" in body
    assert root.email not in body and "alice" not in body


def test_it_answers_a_tenants_primary_key_like_a_missing_one(ops_admin_client, alice):
    missing = ops_admin_client.get("/admin/accounts/staffaccount/999999/change/")
    tenant = ops_admin_client.get(f"/admin/accounts/staffaccount/{alice.pk}/change/")
    assert (tenant.status_code, tenant["Location"]) == (missing.status_code, missing["Location"])
    history = ops_admin_client.get(f"/admin/accounts/staffaccount/{alice.pk}/history/")
    assert history.status_code == 302
    assert b"alice" not in history.content


def test_it_does_not_route_the_view_on_site_redirect(ops_admin_client, alice):
    content_type = ContentType.objects.get_for_model(Principal)
    response = ops_admin_client.get(f"/admin/r/{content_type.pk}/{alice.pk}/")
    assert response.status_code == 404


# --- staff accounts ----------------------------------------------------------------------


def _change(client: Client, account: Principal, **fields):
    data = {"staff_role": account.staff_role, "is_active": "on" if account.is_active else ""}
    data.update(fields)
    return client.post(f"/admin/accounts/staffaccount/{account.pk}/change/", data)


def test_it_deactivates_a_staff_account_and_ends_its_sessions(
    ops_admin_client, helpdesk, helpdesk_client
):
    assert _change(ops_admin_client, helpdesk, is_active="").status_code == 302
    helpdesk.refresh_from_db()
    assert not helpdesk.is_active
    assert helpdesk_client.get("/staff/authkeys/")["Location"].startswith("/staff/login/")
    entry = AuditEntry.objects.get(action="Installation:updateStaffAccount")
    assert (entry.chain, entry.actor, entry.target) == ("", "ops-admin", "helpdesk")
    assert entry.details == {"active": {"from": True, "to": False}}


def test_it_changes_a_staff_accounts_role_at_once(ops_admin_client, helpdesk, helpdesk_client):
    _change(ops_admin_client, helpdesk, staff_role="admin")
    helpdesk.refresh_from_db()
    assert helpdesk.staff_role == "admin"
    assert helpdesk_client.get("/staff/authkeys/").status_code == 403
    entry = AuditEntry.objects.get(action="Installation:updateStaffAccount")
    assert entry.details == {"role": {"from": "support", "to": "admin"}}


def test_it_does_not_let_an_administrator_change_its_own_account(ops_admin_client, ops_admin):
    _change(ops_admin_client, ops_admin, staff_role="support", is_active="")
    ops_admin.refresh_from_db()
    assert (ops_admin.staff_role, ops_admin.is_active) == ("admin", True)
    assert not AuditEntry.objects.filter(action="Installation:updateStaffAccount").exists()


def test_it_offers_no_add_or_delete_of_staff_accounts(ops_admin_client, helpdesk):
    assert ops_admin_client.get("/admin/accounts/staffaccount/add/").status_code == 403
    response = ops_admin_client.post(
        f"/admin/accounts/staffaccount/{helpdesk.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert Principal.objects.filter(pk=helpdesk.pk).exists()


def test_it_records_an_administrators_password_change(ops_admin_client):
    response = ops_admin_client.post(
        "/admin/password_change/",
        {
            "old_password": "admin-Password-7890",
            "new_password1": "a-New-Password-2468",
            "new_password2": "a-New-Password-2468",
        },
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="Installation:changeStaffPassword")
    assert (entry.chain, entry.actor) == ("", "ops-admin")
    assert "a-New-Password-2468" not in str(entry.__dict__)


# --- quotas: write-only, recorded in the tenant's trail ----------------------------------


def _set_quota(client: Client, operator_id: str, credentials: str, reason: str = "ticket 4711"):
    return client.post(
        "/admin/quotas/",
        {"operator_id": operator_id, "credentials": credentials, "reason": reason},
    )


def test_it_sets_a_quota_and_records_it_in_the_operators_trail(ops_admin_client, root):
    response = _set_quota(ops_admin_client, root.operator_id, "150")
    assert response.status_code == 302
    root.operator.refresh_from_db()
    assert root.operator.credential_quota == 150
    entry = AuditEntry.objects.get(action="Installation:setQuota")
    assert (entry.chain, entry.operator_id, entry.actor_kind, entry.actor) == (
        root.operator_id,
        root.operator_id,
        "staff",
        "ops-admin",
    )
    assert entry.details == {"credentials": {"from": 100, "to": 150}, "reason": "ticket 4711"}


def test_it_shows_the_administrator_nothing_of_the_operator(ops_admin_client, root):
    Operator.objects.filter(pk=root.operator_id).update(credential_quota=271828)
    response = _set_quota(ops_admin_client, root.operator_id, "150")
    page = ops_admin_client.get(response["Location"]).content.decode()
    assert "271828" not in page
    assert root.email not in page
    assert "150 credential sets" in page


def test_it_answers_an_unknown_operator_with_nothing_changed(ops_admin_client, root):
    response = _set_quota(ops_admin_client, "OP0000000000", "150")
    assert response.status_code == 400
    assert b"No operator has that ID." in response.content
    assert not AuditEntry.objects.filter(action="Installation:setQuota").exists()


@pytest.mark.parametrize(
    ("operator_id", "credentials", "reason"),
    [
        ("OP12", "150", "why"),
        ("{op}", "-1", "why"),
        ("{op}", "100001", "why"),
        ("{op}", "150", "   "),
        ("{op}", "150", "{secret}"),
    ],
)
def test_it_refuses_a_bad_quota_form(
    ops_admin_client, root, alice, operator_id, credentials, reason
):
    _, secret = authkeys.generate(None, root, alice)
    response = _set_quota(
        ops_admin_client,
        operator_id.format(op=root.operator_id),
        credentials,
        reason.format(secret=secret),
    )
    assert response.status_code == 400
    assert secret.encode() not in response.content
    root.operator.refresh_from_db()
    assert root.operator.credential_quota == 100


def test_it_sets_the_quota_with_setquota_and_a_reason(root):
    call_command("setquota", root.operator_id, "--credentials", "250", "--reason", "ticket 9")
    entry = AuditEntry.objects.get(action="Installation:setQuota", operator=root.operator)
    assert entry.details == {"credentials": {"from": 100, "to": 250}, "reason": "ticket 9"}


# --- creating staff accounts -------------------------------------------------------------


def test_it_makes_createsuperuser_an_installation_administrator(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "boss-Password-1357")
    call_command("createsuperuser", "--handle", "boss", "--noinput", stdout=io.StringIO())
    boss = Principal.objects.get(handle="boss")
    assert (boss.kind, boss.staff_role, boss.is_staff, boss.is_superuser) == (
        "staff",
        "admin",
        True,
        False,
    )
    assert AuditEntry.objects.get(action="Installation:createStaffAccount").details == {
        "role": "admin"
    }


@pytest.mark.parametrize("role", ["support", "admin"])
def test_it_creates_a_staff_account_of_each_role(db, monkeypatch, role):
    monkeypatch.setattr("sys.stdin", io.StringIO("staff-Password-8642\n"))
    out = io.StringIO()
    call_command("createstaff", "kim", "--role", role, "--password-stdin", stdout=out)
    kim = Principal.objects.get(handle="kim")
    assert (kim.staff_role, kim.is_superuser) == (role, False)
    assert kim.check_password("staff-Password-8642")
    assert ("/staff/login/" if role == "support" else "/admin/login/") in out.getvalue()


@pytest.mark.parametrize("handle", ["root:victim@example.com", "sam:OP0000000001:bob", "", "a b"])
def test_it_refuses_a_staff_handle_outside_the_name_rule(db, handle):
    with pytest.raises(ValidationError):
        Principal.objects.create_staff(handle, "staff-Password-8642", "support")
    assert not Principal.objects.filter(kind="staff").exists()


def test_it_refuses_a_weak_staff_password(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CommandError):
        call_command("createstaff", "kim", "--role", "support", "--password-stdin")
    assert not Principal.objects.filter(handle="kim").exists()


@pytest.mark.parametrize(
    ("client_fixture", "landing"), [("helpdesk_client", "/staff/"), ("ops_admin_client", "/admin/")]
)
def test_it_sends_each_staff_role_home_to_its_own_pages(request, client_fixture, landing):
    response = request.getfixturevalue(client_fixture).get("/")
    assert (response.status_code, response["Location"]) == (302, landing)
