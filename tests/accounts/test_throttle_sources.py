"""Per-address throttles count an IPv6 client by its /64, an IPv4 client by its address."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts import throttle
from console.net import throttle_source
from security import authkeys
from security.models import AuditEntry
from tests.conftest import ROOT_PASSWORD

WINDOW = 900
WRONG = "not-the-Password-0"
# One customer's IPv6 prefix: every residential or cloud IPv6 client holds at least a /64.
PREFIX = "2001:db8:77:1::"


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    start = int(datetime.now(UTC).timestamp()) // WINDOW * WINDOW + 100
    monkeypatch.setattr(throttle, "_now", lambda: datetime.fromtimestamp(start, UTC))


@pytest.mark.parametrize(
    ("ip", "source"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "::ffff:192.0.2.7"),  # not an address client_ip ever returns
    ],
)
def test_it_counts_a_source_by_its_address_or_its_ipv6_64(ip, source):
    assert throttle_source(ip) == source


def _sign_in(root, ip: str, password: str = WRONG):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"email": root.email, "password": password}, content_type="application/json"
    )


def test_it_throttles_sign_ins_from_every_address_of_one_ipv6_64_together(root, settings):
    limit = settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP
    for n in range(limit):
        assert _sign_in(root, f"2001:db8:5:6::{n + 1:x}").status_code == 401
    # A fresh address of the same /64 is the same source: refused, right password or not.
    assert _sign_in(root, "2001:db8:5:6:ffff::1", ROOT_PASSWORD).status_code == 429
    # Another /64 is another source.
    assert _sign_in(root, "2001:db8:5:7::1", ROOT_PASSWORD).status_code == 200


def test_it_throttles_exchanges_from_every_address_of_one_ipv6_64_together(root, settings):
    key, secret = authkeys.generate(None, root, root)
    wrong = authkeys.new_secret()
    limit = settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP
    for n in range(limit):
        response = Client(REMOTE_ADDR=f"2001:db8:9:9::{n + 1:x}").post(
            "/v1/auth", {"authKeyId": key.key_id, "authKey": wrong}, content_type="application/json"
        )
        assert response.status_code == 401
    refused = Client(REMOTE_ADDR="2001:db8:9:9:abcd::1").post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    assert refused.status_code == 429


def _api_password_sign_in(ip: str, **body):
    return Client(REMOTE_ADDR=ip).post(
        "/v1/auth", {"password": WRONG, **body}, content_type="application/json"
    )


def test_it_throttles_a_sprayer_who_rotates_addresses_inside_one_ipv6_prefix(root):
    # 100 failures across accounts is the per-address limit; from one /64 they count as one
    # place, as 100 failures from one IPv4 address do.
    for n in range(100):
        response = _api_password_sign_in(f"{PREFIX}{n + 1:x}", email=f"user{n}@example.com")
        assert response.status_code == 401
    response = _api_password_sign_in(f"{PREFIX}ffff", email=root.email)
    assert response.status_code == 429, response.content


def test_it_bounds_the_entries_one_ipv6_prefix_writes_into_a_tenants_chain(operator):
    # Anonymous: failed SAM sign-ins naming the operator, a fresh user name and a fresh
    # address of the same /64 each time. From one IPv4 address the chain gets at most the
    # per-address limit (100) plus one aggregated entry per refusing bucket.
    for n in range(150):
        _api_password_sign_in(f"{PREFIX}{n + 1:x}", operatorId=operator.pk, userName=f"nobody{n}")
    written = AuditEntry.objects.filter(operator=operator, action="Auth:auth").count()
    assert written <= 102, f"{written} entries written by one /64 in one window"
