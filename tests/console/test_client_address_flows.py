"""The derived client address is what the throttles, `ipAddress()` conditions and stored
addresses use, end to end; a hostile X-Forwarded-For never answers 500 (SQLite and PostgreSQL).
"""

import ipaddress
import json

import pytest
from django.test import Client

from accounts.models import ApiSession
from console.net import parse_proxy_networks
from security import authkeys, roles
from security.models import AuditEntry, AuthKey
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

PROXY = "10.0.0.2"
CLIENT = "198.51.100.4"
OTHER_CLIENT = "198.51.100.5"
ALLOWED_NET = "192.0.2.0/24"
ALLOWED_ADDRESS = "192.0.2.10"

HOSTILE_HEADERS = [
    "x" * 1024,
    "1" * 46,
    "2001:db8:1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:1:2:3:4:5:6",
    "198.51.100.4\x00",
    "'; DROP TABLE accounts_principal; --",
    "[2001:db8::1]:443",
    "198.51.100.4:4711",
    "fe80::1%eth0",
    "é" * 200,
    ",".join(["192.0.2.1"] * 300) + ",unknown",
]


@pytest.fixture
def behind_proxy(settings):
    """One proxy in 10.0.0.0/24 in front of the app server."""
    settings.LATCHKEY_TRUSTED_PROXIES = 1
    networks, unix = parse_proxy_networks(["10.0.0.0/24"])
    settings.LATCHKEY_TRUSTED_PROXY_NETWORKS = networks
    settings.LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET = unix


def via_proxy(real_client: str, spoofed: str = "") -> Client:
    """A client behind our proxy, which appends the address it saw to what the client sent."""
    forwarded = f"{spoofed}, {real_client}" if spoofed else real_client
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


def direct(real_client: str, spoofed: str) -> Client:
    """A client that reached the app server without the proxy, writing its own header."""
    return Client(REMOTE_ADDR=real_client, HTTP_X_FORWARDED_FOR=spoofed)


def console_sign_in(client: Client, email: str, password: str):
    return client.post("/login/", {"mode": "root", "root-email": email, "root-password": password})


def is_normalized_ip(text: str) -> bool:
    try:
        return str(ipaddress.ip_address(text)) == text
    except ValueError:
        return False


# --- throttles ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["via the proxy", "around the proxy"])
def test_it_throttles_a_sprayer_who_rotates_spoofed_addresses(db, behind_proxy, settings, path):
    settings.LATCHKEY_THROTTLE_PER_IP = 3
    connect = via_proxy if path == "via the proxy" else direct
    for i in range(3):
        response = console_sign_in(connect(CLIENT, f"192.0.2.{i}"), f"u{i}@example.com", "bad-pw")
        assert response.status_code == 400
    throttled = console_sign_in(connect(CLIENT, "192.0.2.99"), "u9@example.com", "bad-pw")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    # The bucket is the sprayer's own address, not the proxy's: another client is not blocked.
    other = console_sign_in(via_proxy(OTHER_CLIENT), "u9@example.com", "bad-pw")
    assert other.status_code == 400


def test_it_throttles_authkey_guessing_from_rotating_spoofed_addresses(
    root, behind_proxy, settings
):
    settings.LATCHKEY_THROTTLE_PER_IP = 3
    key, secret = authkeys.generate(None, root, root)
    body = {"authKeyId": key.key_id, "authKey": authkeys.new_secret()}  # well-formed, wrong
    for i in range(3):
        response = via_proxy(CLIENT, f"192.0.2.{i}").post(
            "/v1/auth", body, content_type="application/json"
        )
        assert response.status_code == 401
    throttled = via_proxy(CLIENT, "192.0.2.99").post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    assert throttled.status_code == 429
    # From another real client the right secret still works, and the key records that address.
    ok = via_proxy(OTHER_CLIENT, "192.0.2.1").post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    assert ok.status_code == 200
    key.refresh_from_db()
    assert key.last_used_ip == OTHER_CLIENT


# --- ipAddress() conditions ---------------------------------------------------------------


@pytest.fixture
def office_only_alice(root, alice):
    """Alice may list users only from the office network."""
    document = {
        "statements": [
            {"effect": "allow", "api": "User:listUsers", "condition": f"ipAddress('{ALLOWED_NET}')"}
        ]
    }
    roles.set_inline_permission(None, root, alice, json.dumps(document))
    return alice


def list_users_as(client: Client, alice):
    login = client.post(
        "/v1/auth",
        {"operatorId": alice.operator_id, "userName": "alice", "password": SAM_PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    body = login.json()
    return client.get(
        f"/v1/operators/{alice.operator_id}/users",
        HTTP_X_SORACOM_API_KEY=body["apiKey"],
        HTTP_X_SORACOM_TOKEN=body["token"],
    )


def test_it_allows_a_client_whose_derived_address_is_in_the_condition(
    office_only_alice, behind_proxy
):
    assert list_users_as(via_proxy(ALLOWED_ADDRESS), office_only_alice).status_code == 200


def test_it_denies_a_spoofed_left_most_address_in_the_condition(office_only_alice, behind_proxy):
    response = list_users_as(via_proxy(CLIENT, spoofed=ALLOWED_ADDRESS), office_only_alice)
    assert response.status_code == 403


def test_it_denies_a_header_sent_around_the_proxy(office_only_alice, behind_proxy):
    response = list_users_as(direct(CLIENT, spoofed=ALLOWED_ADDRESS), office_only_alice)
    assert response.status_code == 403


def test_it_denies_a_header_when_no_proxy_is_configured(office_only_alice):
    response = list_users_as(direct(CLIENT, spoofed=ALLOWED_ADDRESS), office_only_alice)
    assert response.status_code == 403


def test_it_evaluates_the_console_condition_with_the_derived_address(
    office_only_alice, behind_proxy
):
    client = via_proxy(CLIENT, spoofed=ALLOWED_ADDRESS)
    client.force_login(office_only_alice, backend="accounts.backends.SamUserBackend")
    assert client.get("/security/users/").status_code == 403
    office = via_proxy(ALLOWED_ADDRESS)
    office.force_login(office_only_alice, backend="accounts.backends.SamUserBackend")
    assert office.get("/security/users/").status_code == 200


# --- hostile headers: never 500, only valid addresses stored --------------------------------


def assert_stored_addresses_are_ips() -> None:
    stored = [
        *ApiSession.objects.values_list("source_ip", flat=True),
        # Entries written outside a request (a fixture's key generation) have no address.
        *AuditEntry.objects.exclude(request_path="").values_list("source_ip", flat=True),
        *AuthKey.objects.exclude(last_used_ip="").values_list("last_used_ip", flat=True),
    ]
    assert stored
    bad = [s for s in stored if not is_normalized_ip(s)]
    assert not bad, bad


@pytest.mark.parametrize("header", HOSTILE_HEADERS, ids=range(len(HOSTILE_HEADERS)))
@pytest.mark.parametrize("sender", ["proxy", "direct"])
def test_it_answers_a_hostile_header_at_the_password_exchange(root, behind_proxy, header, sender):
    client = Client(REMOTE_ADDR=PROXY if sender == "proxy" else CLIENT, HTTP_X_FORWARDED_FOR=header)
    ok = client.post(
        "/v1/auth",
        {"email": root.email, "password": ROOT_PASSWORD},
        content_type="application/json",
    )
    assert ok.status_code == 200
    bad = client.post(
        "/v1/auth", {"email": root.email, "password": "wrong-pw"}, content_type="application/json"
    )
    assert bad.status_code == 401
    assert_stored_addresses_are_ips()


@pytest.mark.parametrize("header", HOSTILE_HEADERS, ids=range(len(HOSTILE_HEADERS)))
def test_it_answers_a_hostile_header_at_the_authkey_exchange(root, behind_proxy, header):
    key, secret = authkeys.generate(None, root, root)
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header)
    response = client.post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_ip == PROXY  # no verifiable client: the proxy's own address
    assert_stored_addresses_are_ips()


@pytest.mark.parametrize("header", HOSTILE_HEADERS, ids=range(len(HOSTILE_HEADERS)))
def test_it_answers_a_hostile_header_at_the_console_sign_in(root, behind_proxy, header):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header)
    assert console_sign_in(client, root.email, "wrong-password").status_code == 400
    assert console_sign_in(client, root.email, ROOT_PASSWORD).status_code == 302
    assert_stored_addresses_are_ips()
    assert set(AuditEntry.objects.values_list("source_ip", flat=True)) == {PROXY}


def test_it_records_the_derived_address_of_a_sign_in(root, behind_proxy):
    assert (
        console_sign_in(via_proxy(CLIENT, ALLOWED_ADDRESS), root.email, ROOT_PASSWORD).status_code
        == 302
    )
    entry = AuditEntry.objects.get(action="Console:signIn")
    assert entry.source_ip == CLIENT
