"""Staff sign-in: each role its own page, the console's three throttle buckets, every attempt
audited in the installation's chain (issue 9 item 5, issue 17 item 2)."""

from dataclasses import dataclass

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from accounts.models import Principal
from security.models import AuditEntry
from tests.conftest import ADMIN_PASSWORD, SUPPORT_PASSWORD

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Surface:
    """One staff sign-in page: where it is, its field names, whom it admits."""

    url: str
    handle_field: str
    role: str
    action: str
    landing: str

    def post(self, client: Client, handle: str, password: str):
        return client.post(self.url, {self.handle_field: handle, "password": password})


ADMIN = Surface("/admin/login/", "username", "admin", "Installation:signIn", "/admin/")
SUPPORT = Surface("/staff/login/", "handle", "support", "Support:signIn", "/staff/")
SURFACES = [pytest.param(ADMIN, id="admin"), pytest.param(SUPPORT, id="support")]


@pytest.fixture
def accounts(helpdesk, ops_admin) -> dict[str, tuple[Principal, str]]:
    return {"admin": (ops_admin, ADMIN_PASSWORD), "support": (helpdesk, SUPPORT_PASSWORD)}


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _fail(surface: Surface, handle: str, times: int, ip: str = "198.51.100.1") -> None:
    client = Client(REMOTE_ADDR=ip)
    for _ in range(times):
        assert surface.post(client, handle, "wrong-Password-000").status_code in (200, 400, 429)


# --- each role at its own page -----------------------------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_it_signs_in_the_role_of_the_page(surface, accounts):
    principal, password = accounts[surface.role]
    client = Client()
    response = surface.post(client, principal.handle, password)
    assert response.status_code == 302
    assert _signed_in(client)
    assert client.get(surface.landing, follow=True).status_code == 200


@pytest.mark.parametrize("surface", SURFACES)
def test_it_refuses_the_other_roles_account(surface, accounts):
    other = "support" if surface.role == "admin" else "admin"
    principal, password = accounts[other]
    client = Client()
    response = surface.post(client, principal.handle, password)
    assert response.status_code in (200, 400)
    assert not _signed_in(client)
    assert b"Sign-in failed." in response.content


def test_it_refuses_a_tenant_at_the_admin_sign_in(root):
    client = Client()
    ADMIN.post(client, root.handle, "root-Password-1234")
    assert not _signed_in(client)


def test_it_gives_the_staff_backend_nothing_for_djangos_own_username_field(ops_admin):
    # Django's stock forms pass `username`: none of them may reach staff past the throttle.
    assert authenticate(username="ops-admin", password=ADMIN_PASSWORD) is None
    found = authenticate(staff_handle="ops-admin", staff_role="admin", password=ADMIN_PASSWORD)
    assert found == ops_admin


# --- throttles ---------------------------------------------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_it_throttles_one_account_from_one_address(surface, accounts, settings):
    principal, password = accounts[surface.role]
    _fail(surface, principal.handle, settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP)
    client = Client(REMOTE_ADDR="198.51.100.1")
    response = surface.post(client, principal.handle, password)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not _signed_in(client)


def test_it_refused_the_right_password_after_sixty_wrong_ones_at_the_admin(ops_admin):
    # The probe of the review: 60 wrong passwords, then the right one, at /admin/login/.
    _fail(ADMIN, "ops-admin", 60)
    client = Client(REMOTE_ADDR="198.51.100.1")
    response = ADMIN.post(client, "ops-admin", ADMIN_PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)


@pytest.mark.parametrize("surface", SURFACES)
def test_it_shows_the_wait_in_the_form(surface, accounts, settings):
    principal, password = accounts[surface.role]
    _fail(surface, principal.handle, settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP)
    response = surface.post(Client(REMOTE_ADDR="198.51.100.1"), principal.handle, password)
    seconds = response["Retry-After"]
    assert f"Too many failed sign-ins. Try again in {seconds} seconds." in response.content.decode()


@pytest.mark.parametrize("surface", SURFACES)
def test_it_throttles_one_account_from_many_addresses(surface, accounts, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 6
    principal, password = accounts[surface.role]
    for n in range(6):
        _fail(surface, principal.handle, 1, ip=f"203.0.113.{n + 1}")
    client = Client(REMOTE_ADDR="203.0.113.200")
    assert surface.post(client, principal.handle, password).status_code == 429
    assert not _signed_in(client)


@pytest.mark.parametrize("surface", SURFACES)
def test_it_lets_a_browser_that_signed_in_before_past_the_account_bucket(
    surface, accounts, settings
):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 6
    principal, password = accounts[surface.role]
    owner = Client(REMOTE_ADDR="192.0.2.50")
    assert surface.post(owner, principal.handle, password).status_code == 302
    owner.post(surface.url.replace("login", "logout"))
    for n in range(6):
        _fail(surface, principal.handle, 1, ip=f"203.0.113.{n + 1}")
    stranger = Client(REMOTE_ADDR="192.0.2.51")
    assert surface.post(stranger, principal.handle, password).status_code == 429
    response = surface.post(owner, principal.handle, password)
    assert response.status_code == 302
    assert _signed_in(owner)


@pytest.mark.parametrize("surface", SURFACES)
def test_it_throttles_one_address_across_accounts(surface, accounts, settings):
    settings.LATCHKEY_THROTTLE_PER_IP = 5
    principal, password = accounts[surface.role]
    for n in range(5):
        _fail(surface, f"sprayed-{n}", 1, ip="198.51.100.9")
    client = Client(REMOTE_ADDR="198.51.100.9")
    assert surface.post(client, principal.handle, password).status_code == 429
    assert not _signed_in(client)


def test_it_keeps_each_sign_in_pages_buckets_apart(accounts, settings):
    settings.LATCHKEY_THROTTLE_PER_IP = 5
    for n in range(5):
        _fail(ADMIN, f"sprayed-{n}", 1, ip="198.51.100.9")
    helpdesk, password = accounts["support"]
    client = Client(REMOTE_ADDR="198.51.100.9")
    assert SUPPORT.post(client, helpdesk.handle, password).status_code == 302


def test_it_costs_no_password_hash_when_throttled(accounts, settings, monkeypatch):
    principal, password = accounts["admin"]
    _fail(ADMIN, principal.handle, settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP)
    checked = []
    monkeypatch.setattr(Principal, "check_password", lambda self, raw: checked.append(raw))
    ADMIN.post(Client(REMOTE_ADDR="198.51.100.1"), principal.handle, password)
    assert checked == []


# --- audit -------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_it_records_a_staff_sign_in_in_the_installation_chain(surface, accounts):
    principal, password = accounts[surface.role]
    surface.post(Client(REMOTE_ADDR="192.0.2.7"), principal.handle, password)
    entry = AuditEntry.objects.get(action=surface.action, outcome="allowed")
    assert (entry.chain, entry.operator_id, entry.actor_kind, entry.actor) == (
        "",
        None,
        "staff",
        principal.handle,
    )
    assert (entry.source_ip, entry.request_path) == ("192.0.2.7", surface.url)


@pytest.mark.parametrize("surface", SURFACES)
def test_it_records_a_failed_staff_sign_in_without_the_password(surface, accounts):
    principal, _ = accounts[surface.role]
    surface.post(Client(), principal.handle, "wrong-Secret-999")
    entry = AuditEntry.objects.get(action=surface.action, outcome="failed")
    assert (entry.chain, entry.actor_kind, entry.target) == ("", "anonymous", principal.handle)
    assert entry.details == {"throttled": False}
    assert "wrong-Secret-999" not in str(entry.__dict__)


@pytest.mark.parametrize("surface", SURFACES)
def test_it_records_a_throttled_staff_sign_in(surface, accounts, settings):
    principal, password = accounts[surface.role]
    _fail(surface, principal.handle, settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP)
    surface.post(Client(REMOTE_ADDR="198.51.100.1"), principal.handle, password)
    last = AuditEntry.objects.filter(action=surface.action).order_by("-seq").first()
    # The first throttled attempt of a bucket and window is recorded in full, the next
    # ones only counted (security/failures.py).
    assert (last.outcome, last.details["throttled"]) == ("failed", True)
    assert last.details["aggregated"]["bucket"] == "acct-ip"
    failures = AuditEntry.objects.filter(action=surface.action, outcome="failed").count()
    assert failures == settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP + 1


@pytest.mark.parametrize("surface", SURFACES)
def test_it_records_a_sign_in_with_the_other_roles_account_as_a_failure(surface, accounts):
    other = "support" if surface.role == "admin" else "admin"
    principal, password = accounts[other]
    surface.post(Client(), principal.handle, password)
    assert AuditEntry.objects.filter(action=surface.action, outcome="failed").count() == 1
    assert not AuditEntry.objects.filter(outcome="allowed", action__endswith=":signIn").exists()


@pytest.mark.parametrize(
    ("client_fixture", "url", "action"),
    [
        ("helpdesk_client", "/staff/logout/", "Support:signOut"),
        ("ops_admin_client", "/admin/logout/", "Installation:signOut"),
    ],
)
def test_it_records_a_staff_sign_out(request, client_fixture, url, action):
    client = request.getfixturevalue(client_fixture)
    response = client.post(url)
    assert response.status_code in (200, 302)
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get(action=action)
    assert (entry.chain, entry.actor_kind) == ("", "staff")


def test_it_sends_support_staff_home_after_signing_in(helpdesk):
    client = Client()
    response = client.post(
        "/staff/login/", {"handle": "helpdesk", "password": SUPPORT_PASSWORD, "next": "//evil/"}
    )
    assert response["Location"] == "/staff/"
