"""The proxy-network setting and the forwarded-proto proxy check (console/net.py), the
parts `make mutate` found untested."""

import ipaddress

import pytest
from django.test import RequestFactory, override_settings

from console.net import ProxyNetworksError, client_ip, from_proxy, parse_proxy_networks


def test_it_reads_every_network_after_the_unix_token():
    networks, unix = parse_proxy_networks(["unix", "10.0.0.0/24", "fd00::/64"])
    assert networks == (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/64"))
    assert unix is True


def test_it_trusts_no_unix_socket_unless_the_token_is_listed():
    assert parse_proxy_networks(["10.0.0.0/24", " ", ""]) == (
        (ipaddress.ip_network("10.0.0.0/24"),),
        False,
    )


def test_it_names_the_entry_that_is_not_a_network():
    with pytest.raises(ProxyNetworksError) as refused:
        parse_proxy_networks(["10.0.0.0/24", "proxy.internal"])
    assert str(refused.value) == (
        "LATCHKEY_TRUSTED_PROXY_NETWORKS: 'proxy.internal' is not a network (CIDR such as "
        "10.0.0.0/24, a single address, or 'unix')."
    )


def test_it_names_the_network_that_would_trust_everyone():
    with pytest.raises(ProxyNetworksError) as refused:
        parse_proxy_networks(["::/0"])
    assert str(refused.value) == (
        "LATCHKEY_TRUSTED_PROXY_NETWORKS: ::/0 would trust every client's header."
    )


@pytest.mark.parametrize(
    ("networks", "remote", "expected"),
    [
        (["10.0.0.0/24"], "10.0.0.2", True),
        (["10.0.0.0/24"], "::ffff:10.0.0.2", True),
        (["10.0.0.0/24"], "203.0.113.9", False),
        (["10.0.0.0/24"], "", False),
        (["10.0.0.0/24", "unix"], "", True),
        (["unix"], "203.0.113.9", False),
        ([], "10.0.0.2", False),
    ],
)
def test_it_tells_whether_the_peer_is_a_configured_proxy(networks, remote, expected):
    parsed, unix = parse_proxy_networks(networks)
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    with override_settings(
        LATCHKEY_TRUSTED_PROXY_NETWORKS=parsed, LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET=unix
    ):
        assert from_proxy(request) is expected


@pytest.mark.parametrize(("networks", "expected"), [(["unix"], True), (["10.0.0.0/24"], False)])
def test_it_treats_a_peer_without_remote_addr_as_the_unix_socket(networks, expected):
    parsed, unix = parse_proxy_networks(networks)
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    with override_settings(
        LATCHKEY_TRUSTED_PROXY_NETWORKS=parsed, LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET=unix
    ):
        assert from_proxy(request) is expected


@pytest.mark.parametrize("networks", [["unix"], ["10.0.0.0/24"], []])
def test_it_answers_the_unknown_address_for_a_bare_request(networks):
    """No REMOTE_ADDR and no X-Forwarded-For at all (a unix socket, trusted or not)."""
    parsed, unix = parse_proxy_networks(networks)
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    with override_settings(
        LATCHKEY_TRUSTED_PROXIES=1,
        LATCHKEY_TRUSTED_PROXY_NETWORKS=parsed,
        LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET=unix,
    ):
        assert client_ip(request) == "0.0.0.0"
