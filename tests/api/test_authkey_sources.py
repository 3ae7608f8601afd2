"""Source limits of AuthKeys: allowed networks checked at /v1/auth and on every later call.

docs/authkeys.md "Source limits". The client address is console/net.client_ip's: REMOTE_ADDR,
or what a trusted proxy wrote into X-Forwarded-For, never what an untrusted peer wrote.
"""

import ipaddress
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import apisessions
from accounts.models import ApiSession, Operator, Principal
from console import net
from security import authkeys, roles, switching
from security.models import AuditEntry, AuthKey

PROXY = "10.9.9.9"


def ops(principal) -> str:
    return f"/v1/operators/{principal.operator_id}"


def exchange(key_id: str, secret: str, ip: str = "127.0.0.1", **meta):
    return Client(REMOTE_ADDR=ip, **meta).post(
        "/v1/auth", {"authKeyId": key_id, "authKey": secret}, content_type="application/json"
    )


def headers_of(response) -> dict:
    body = response.json()
    return {"HTTP_X_SORACOM_API_KEY": body["apiKey"], "HTTP_X_SORACOM_TOKEN": body["token"]}


def get_operator(principal, headers: dict, ip: str, **meta):
    return Client(REMOTE_ADDR=ip, **meta).get(ops(principal), **headers)


def call(method: str, path: str, headers: dict, body=None, ip: str = "127.0.0.1"):
    data = json.dumps(body) if body is not None else ""
    return Client(REMOTE_ADDR=ip).generic(
        method, path, data, content_type="application/json" if data else None, **headers
    )


@pytest.fixture
def behind_proxy(settings):
    settings.LATCHKEY_TRUSTED_PROXIES = 1
    settings.LATCHKEY_TRUSTED_PROXY_NETWORKS = (ipaddress.ip_network("10.9.9.0/24"),)


def limited(holder, networks: list[str]):
    return authkeys.generate(None, holder, holder, allowed_networks=networks)


# --- parsing ----------------------------------------------------------------------------


def test_it_stores_networks_normalized():
    stored = net.parse_source_networks(["192.0.2.0/24", "2001:DB8::/32", "198.51.100.7"])
    assert stored == "192.0.2.0/24 2001:db8::/32 198.51.100.7/32"


def test_it_stores_an_ipv4_mapped_network_as_ipv4():
    assert net.parse_source_networks(["::ffff:192.0.2.0/120"]) == "192.0.2.0/24"


def test_it_drops_duplicates():
    assert net.parse_source_networks(["192.0.2.0/24", "192.0.2.0/24"]) == "192.0.2.0/24"


@pytest.mark.parametrize(
    "bad",
    [
        ["192.0.2.1/24"],  # host bits set
        ["192.0.2.0/33"],
        ["example.com"],
        ["fe80::1%eth0"],
        [""],
        [7],
        ["192.0.2.0/24 198.51.100.0/24"],
        "192.0.2.0/24",
        [f"10.0.{i}.0/24" for i in range(net.MAX_SOURCE_NETWORKS + 1)],
    ],
)
def test_it_refuses_bad_networks(bad):
    with pytest.raises(net.SourceNetworksError):
        net.parse_source_networks(bad)


def test_it_accepts_the_most_networks_allowed():
    values = [f"10.0.{i}.0/24" for i in range(net.MAX_SOURCE_NETWORKS)]
    assert len(net.parse_source_networks(values).split()) == net.MAX_SOURCE_NETWORKS


# --- the exchange -----------------------------------------------------------------------


def test_it_exchanges_from_an_allowed_ipv4_network(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    assert exchange(key.key_id, secret, "192.0.2.77").status_code == 200


def test_it_refuses_an_exchange_from_outside(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    response = exchange(key.key_id, secret, "198.51.100.1")
    assert response.status_code == 401
    assert not ApiSession.objects.filter(auth_key_id=key.key_id).exists()


def test_a_refused_exchange_does_not_touch_the_last_use(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    exchange(key.key_id, secret, "198.51.100.1")
    key.refresh_from_db()
    assert key.last_used_at is None and key.last_used_ip == ""


def test_a_refused_exchange_is_audited_with_its_reason(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    exchange(key.key_id, secret, "198.51.100.1")
    entries = AuditEntry.objects.filter(action="Auth:auth", outcome=AuditEntry.Outcome.FAILED)
    assert entries.count() == 1
    entry = entries.get()
    assert entry.operator_id == root.operator_id
    assert entry.details["reason"] == "source"
    assert entry.details["sourceIp"] == "198.51.100.1"
    assert secret not in json.dumps(entry.details)


def test_refused_exchanges_count_toward_the_address_throttle(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    key, secret = limited(root, ["192.0.2.0/24"])
    codes = [exchange(key.key_id, secret, "198.51.100.1").status_code for _ in range(4)]
    assert codes[-1] == 429


def test_refusals_from_outside_do_not_lock_the_owner_out(root, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 2
    key, secret = limited(root, ["192.0.2.0/24"])
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        exchange(key.key_id, secret, ip)
    assert exchange(key.key_id, secret, "192.0.2.5").status_code == 200


def test_a_wrong_secret_from_inside_is_an_ordinary_failure(root):
    key, _ = limited(root, ["192.0.2.0/24"])
    response = exchange(key.key_id, authkeys.new_secret(), "192.0.2.5")
    assert response.status_code == 401
    entry = AuditEntry.objects.get(action="Auth:auth")
    assert "reason" not in entry.details


def test_it_exchanges_from_an_allowed_ipv6_network(root):
    key, secret = limited(root, ["2001:db8:1::/48"])
    assert exchange(key.key_id, secret, "2001:db8:1::42").status_code == 200
    assert exchange(key.key_id, secret, "2001:db8:2::42").status_code == 401


def test_an_ipv4_mapped_client_is_its_ipv4_address(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    assert exchange(key.key_id, secret, "::ffff:192.0.2.9").status_code == 200
    assert exchange(key.key_id, secret, "::ffff:198.51.100.9").status_code == 401


def test_it_believes_the_header_from_a_trusted_proxy(root, behind_proxy):
    key, secret = limited(root, ["192.0.2.0/24"])
    response = exchange(key.key_id, secret, PROXY, HTTP_X_FORWARDED_FOR="192.0.2.8")
    assert response.status_code == 200


def test_it_believes_an_ipv6_client_named_by_a_trusted_proxy(root, behind_proxy):
    key, secret = limited(root, ["2001:db8:1::/48"])
    inside = exchange(key.key_id, secret, PROXY, HTTP_X_FORWARDED_FOR="2001:db8:1::9")
    outside = exchange(key.key_id, secret, PROXY, HTTP_X_FORWARDED_FOR="2001:db8:2::9")
    assert (inside.status_code, outside.status_code) == (200, 401)


def test_a_mapped_address_from_a_trusted_proxy_is_its_ipv4_client(root, behind_proxy):
    key, secret = limited(root, ["192.0.2.0/24"])
    response = exchange(key.key_id, secret, PROXY, HTTP_X_FORWARDED_FOR="::ffff:192.0.2.8")
    assert response.status_code == 200


def test_behind_a_proxy_the_proxy_itself_is_not_the_client(root, behind_proxy):
    key, secret = limited(root, ["10.9.9.0/24"])
    response = exchange(key.key_id, secret, PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 401


def test_it_ignores_the_header_from_an_untrusted_peer(root, behind_proxy):
    key, secret = limited(root, ["192.0.2.0/24"])
    response = exchange(key.key_id, secret, "198.51.100.1", HTTP_X_FORWARDED_FOR="192.0.2.8")
    assert response.status_code == 401


def test_a_key_without_networks_works_from_anywhere(root):
    key, secret = authkeys.generate(None, root, root)
    assert exchange(key.key_id, secret, "198.51.100.1").status_code == 200
    assert exchange(key.key_id, secret, "2001:db8::1").status_code == 200


# --- calls with the key's sessions -----------------------------------------------------


def test_a_session_works_from_inside(root):
    key, secret = limited(root, ["192.0.2.0/24", "2001:db8::/32"])
    headers = headers_of(exchange(key.key_id, secret, "192.0.2.1"))
    assert get_operator(root, headers, "192.0.2.200").status_code == 200
    assert get_operator(root, headers, "2001:db8::5").status_code == 200


def test_a_session_is_refused_from_outside_ipv4(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    headers = headers_of(exchange(key.key_id, secret, "192.0.2.1"))
    assert get_operator(root, headers, "198.51.100.1").status_code == 401


def test_a_session_is_refused_from_outside_ipv6(root):
    key, secret = limited(root, ["2001:db8:1::/48"])
    headers = headers_of(exchange(key.key_id, secret, "2001:db8:1::1"))
    assert get_operator(root, headers, "2001:db8:2::1").status_code == 401


def test_a_session_is_refused_when_an_untrusted_peer_forges_the_header(root, behind_proxy):
    key, secret = limited(root, ["192.0.2.0/24"])
    headers = headers_of(exchange(key.key_id, secret, PROXY, HTTP_X_FORWARDED_FOR="192.0.2.1"))
    response = get_operator(root, headers, "198.51.100.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert response.status_code == 401
    assert get_operator(root, headers, PROXY, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200


def test_the_session_check_adds_no_query(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    free, free_secret = authkeys.generate(None, root, root)
    limited_headers = headers_of(exchange(key.key_id, secret, "192.0.2.1"))
    free_headers = headers_of(exchange(free.key_id, free_secret, "192.0.2.1"))
    counts = []
    for headers in (free_headers, limited_headers):
        get_operator(root, headers, "192.0.2.1")  # first calls may do one-time work
        with CaptureQueriesContext(connection) as queries:
            assert get_operator(root, headers, "192.0.2.1").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- editing ----------------------------------------------------------------------------


def test_generate_takes_networks_over_the_api(root, root_api):
    response = call(
        "POST", f"{ops(root)}/auth_keys", root_api, {"allowedSourceNetworks": ["192.0.2.0/24"]}
    )
    assert response.status_code == 201
    key = AuthKey.objects.get(key_id=response.json()["authKeyId"])
    assert key.allowed_networks == "192.0.2.0/24"


def test_generate_refuses_bad_networks_and_writes_nothing(root, root_api):
    body = {"allowedSourceNetworks": ["192.0.2.1/24"]}
    response = call("POST", f"{ops(root)}/auth_keys", root_api, body)
    assert response.status_code == 400
    assert "host bits" in response.json()["message"]
    assert not AuthKey.objects.filter(principal=root).exists()


def test_generate_refuses_networks_that_are_not_a_list(root, alice, root_api):
    body = {"allowedSourceNetworks": "192.0.2.0/24"}
    response = call("POST", f"{ops(root)}/users/alice/auth_keys", root_api, body)
    assert response.status_code == 400
    assert not AuthKey.objects.filter(principal=alice).exists()


def test_the_list_shows_the_networks(root, root_api):
    limited(root, ["192.0.2.0/24"])
    listed = call("GET", f"{ops(root)}/auth_keys", root_api).json()
    assert [k.get("allowedSourceNetworks") for k in listed] == [["192.0.2.0/24"]]


def test_update_sets_networks_and_answers_the_key(root, root_api):
    key, _ = authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{key.key_id}/source_networks"
    response = call("PUT", path, root_api, {"allowedSourceNetworks": ["2001:db8::/32"]})
    assert response.status_code == 200
    assert response.json()["allowedSourceNetworks"] == ["2001:db8::/32"]
    key.refresh_from_db()
    assert key.allowed_networks == "2001:db8::/32"


def test_update_is_audited(root, root_api):
    key, _ = authkeys.generate(None, root, root)
    path = f"{ops(root)}/auth_keys/{key.key_id}/source_networks"
    call("PUT", path, root_api, {"allowedSourceNetworks": ["192.0.2.0/24"]})
    entry = AuditEntry.objects.get(action="Operator:updateOperatorAuthKeySourceNetworks")
    assert entry.details["allowedSourceNetworks"] == ["192.0.2.0/24"]
    assert entry.details["before"] == []


def test_update_refuses_bad_input_and_changes_nothing(root, root_api):
    key, _ = limited(root, ["192.0.2.0/24"])
    path = f"{ops(root)}/auth_keys/{key.key_id}/source_networks"
    response = call("PUT", path, root_api, {"allowedSourceNetworks": ["not a network"]})
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.allowed_networks == "192.0.2.0/24"


def test_update_of_a_missing_key_is_404(root, root_api):
    path = f"{ops(root)}/auth_keys/keyId-{'0' * 32}/source_networks"
    response = call("PUT", path, root_api, {"allowedSourceNetworks": []})
    assert response.status_code == 404


def test_a_user_key_update_works_for_a_sam_user(root, alice, root_api):
    key, _ = authkeys.generate(None, alice, alice)
    path = f"{ops(root)}/users/alice/auth_keys/{key.key_id}/source_networks"
    response = call("PUT", path, root_api, {"allowedSourceNetworks": ["192.0.2.0/24"]})
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.allowed_networks == "192.0.2.0/24"


def test_narrowing_applies_to_open_sessions_at_once(root):
    key, secret = authkeys.generate(None, root, root)
    headers = headers_of(exchange(key.key_id, secret, "198.51.100.1"))
    assert authkeys.set_source_networks(None, root, key, ["192.0.2.0/24"])
    assert get_operator(root, headers, "198.51.100.1").status_code == 401
    assert get_operator(root, headers, "192.0.2.3").status_code == 200


def test_widening_applies_to_open_sessions_at_once(root):
    key, secret = limited(root, ["192.0.2.0/24"])
    headers = headers_of(exchange(key.key_id, secret, "192.0.2.1"))
    assert get_operator(root, headers, "198.51.100.1").status_code == 401
    authkeys.set_source_networks(None, root, key, [])
    assert get_operator(root, headers, "198.51.100.1").status_code == 200


def test_update_of_a_revoked_key_returns_false(root):
    key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, key)
    assert not authkeys.set_source_networks(None, root, key, ["192.0.2.0/24"])
    assert AuthKey.objects.get(pk=key.pk).allowed_networks == ""


# --- a session switched from a limited key's session ----------------------------------------


def test_a_session_switched_from_a_limited_key_is_held_to_its_networks(root, alice):
    roles.set_inline_permission(None, root, alice, '{"statements":[{"effect":"allow","api":"*"}]}')
    other_root = Principal.objects.create_root(
        Operator.create(), "root@other.example", "Other-Pass-123"
    )
    bob = Principal.objects.create_sam_user(other_root.operator, "bob", "trusts alice")
    roles.set_inline_permission(
        None, other_root, bob, '{"statements":[{"effect":"allow","api":"User:listUsers"}]}'
    )
    policy = {
        "statements": [{"effect": "allow", "principal": {"soracom": [apisessions.srn(alice)]}}]
    }
    switching.set_trust_policy(None, other_root, bob, json.dumps(policy))
    key, secret = limited(alice, ["192.0.2.0/24"])
    source = headers_of(exchange(key.key_id, secret, "192.0.2.1"))
    body = {"operatorId": bob.operator_id, "userName": "bob"}
    response = call("POST", "/v1/auth/switch_user", source, body, ip="192.0.2.1")
    assert response.status_code == 200, response.content
    switched = headers_of(response)
    users = f"/v1/operators/{bob.operator_id}/users"
    assert call("GET", users, switched, ip="192.0.2.1").status_code == 200
    assert call("GET", users, switched, ip="198.51.100.1").status_code == 401
