"""The client-address rule (console/net.py): X-Forwarded-For only from a configured proxy
network, read from the right, at most one entry per trusted proxy, bare addresses only."""

import ipaddress

import pytest
from django.test import RequestFactory, override_settings

from console.net import ProxyNetworksError, client_ip, parse_proxy_networks

NO_PROXY = {"hops": 0, "networks": ""}
ONE_PROXY = {"hops": 1, "networks": "10.0.0.0/24"}
TWO_PROXIES = {"hops": 2, "networks": "10.0.0.0/24"}
UNIX_PROXY = {"hops": 1, "networks": "unix"}
PROXY = "10.0.0.2"  # inside 10.0.0.0/24
OUTSIDE = "203.0.113.9"  # a client that reached the app server directly
KILOBYTE = "x" * 1024

# (case, proxy configuration, REMOTE_ADDR, X-Forwarded-For or None, expected client)
CASES = [
    # No proxy configured: the header is never read, whatever it says.
    ("no proxy, spoofed header", NO_PROXY, OUTSIDE, "192.0.2.10", OUTSIDE),
    ("no proxy, header from a would-be proxy", NO_PROXY, PROXY, "192.0.2.10", PROXY),
    ("no proxy, no header", NO_PROXY, OUTSIDE, None, OUTSIDE),
    # A proxy is configured but the request does not come from its network.
    ("outside the proxy network", ONE_PROXY, OUTSIDE, "192.0.2.10", OUTSIDE),
    ("outside, two entries", ONE_PROXY, OUTSIDE, "192.0.2.10, 10.0.0.7", OUTSIDE),
    ("two proxies, outside", TWO_PROXIES, OUTSIDE, "192.0.2.10, 10.0.0.7", OUTSIDE),
    # One hop: the entry our proxy appended, never one the client wrote before it.
    ("one hop", ONE_PROXY, PROXY, "198.51.100.4", "198.51.100.4"),
    ("one hop, spoofed left-most", ONE_PROXY, PROXY, "192.0.2.10, 198.51.100.4", "198.51.100.4"),
    (
        "one hop, many spoofed entries",
        ONE_PROXY,
        PROXY,
        "192.0.2.1," * 100 + "198.51.100.4",
        "198.51.100.4",
    ),
    ("one hop, client inside the proxy network", ONE_PROXY, PROXY, "10.0.0.9", "10.0.0.9"),
    (
        "one hop, inside client spoofing",
        ONE_PROXY,
        PROXY,
        "192.0.2.10, 10.0.0.9",
        "10.0.0.9",
    ),
    ("one hop, no header: the proxy itself", ONE_PROXY, PROXY, None, PROXY),
    ("one hop, empty header", ONE_PROXY, PROXY, "", PROXY),
    ("one hop, only commas", ONE_PROXY, PROXY, ", , ,", PROXY),
    ("one hop, tabs and spaces", ONE_PROXY, PROXY, " 192.0.2.10 ,\t198.51.100.4\t", "198.51.100.4"),
    # Two hops: skip our first proxy, stop at the first address that is not ours.
    ("two hops", TWO_PROXIES, PROXY, "198.51.100.4, 10.0.0.5", "198.51.100.4"),
    (
        "two hops, spoofed left-most",
        TWO_PROXIES,
        PROXY,
        "192.0.2.10, 198.51.100.4, 10.0.0.5",
        "198.51.100.4",
    ),
    (
        "two hops, spoofed proxy entry",
        TWO_PROXIES,
        PROXY,
        "10.0.0.8, 192.0.2.10, 198.51.100.4",
        "198.51.100.4",
    ),
    (
        "two hops, the nearer hop is not a proxy",
        TWO_PROXIES,
        PROXY,
        "192.0.2.10, 198.51.100.4",
        "198.51.100.4",
    ),
    ("two hops, only one entry", TWO_PROXIES, PROXY, "198.51.100.4", "198.51.100.4"),
    (
        "two hops, every entry a proxy: the left-most read",
        TWO_PROXIES,
        PROXY,
        "192.0.2.10, 10.0.0.6, 10.0.0.5",
        "10.0.0.6",
    ),
    # Garbage: never stored, never compared; the nearest verified hop stands.
    ("garbage", ONE_PROXY, PROXY, "not-an-address", PROXY),
    ("garbage left of the client", ONE_PROXY, PROXY, "evil, 198.51.100.4", "198.51.100.4"),
    ("garbage as the second hop", TWO_PROXIES, PROXY, "evil, 10.0.0.5", "10.0.0.5"),
    ("1 kB of garbage", ONE_PROXY, PROXY, KILOBYTE, PROXY),
    (
        "1 kB spoofed before the client",
        ONE_PROXY,
        PROXY,
        KILOBYTE + ",198.51.100.4",
        "198.51.100.4",
    ),
    ("46 characters", ONE_PROXY, PROXY, "1" * 46, PROXY),
    ("SQL", ONE_PROXY, PROXY, "1.2.3.4' OR '1'='1", PROXY),
    ("NUL", ONE_PROXY, PROXY, "198.51.100.4\x00", PROXY),
    ("a host name", ONE_PROXY, PROXY, "localhost", PROXY),
    ("a network", ONE_PROXY, PROXY, "198.51.100.0/24", PROXY),
    ("leading zeros", ONE_PROXY, PROXY, "198.051.100.004", PROXY),
    ("an integer", ONE_PROXY, PROXY, "3325256708", PROXY),
    ("full-width digits", ONE_PROXY, PROXY, "\uff11\uff19\uff18.51.100.4", PROXY),
    ("the unknown token", ONE_PROXY, PROXY, "unknown", PROXY),
    # IPv6: normalized; IPv4-mapped is the IPv4 client; no zone index.
    ("IPv6", ONE_PROXY, PROXY, "2001:DB8:0:0::1", "2001:db8::1"),
    ("IPv4-mapped IPv6", ONE_PROXY, PROXY, "::ffff:198.51.100.4", "198.51.100.4"),
    ("IPv6 zone index", ONE_PROXY, PROXY, "fe80::1%eth0", PROXY),
    (
        "IPv6 proxy network",
        {"hops": 1, "networks": "fd00::/64"},
        "fd00::2",
        "2001:db8::7",
        "2001:db8::7",
    ),
    ("IPv4-mapped REMOTE_ADDR", ONE_PROXY, "::ffff:10.0.0.2", "198.51.100.4", "198.51.100.4"),
    # Ports and brackets are not bare addresses.
    ("IPv4 with a port", ONE_PROXY, PROXY, "198.51.100.4:4711", PROXY),
    ("IPv6 in brackets", ONE_PROXY, PROXY, "[2001:db8::1]", PROXY),
    ("IPv6 in brackets with a port", ONE_PROXY, PROXY, "[2001:db8::1]:443", PROXY),
    ("RFC 7239 syntax", ONE_PROXY, PROXY, "for=198.51.100.4", PROXY),
    # REMOTE_ADDR itself: a unix socket leaves it empty.
    ("unix socket trusted", UNIX_PROXY, "", "198.51.100.4", "198.51.100.4"),
    ("unix socket trusted, spoofed", UNIX_PROXY, "", "192.0.2.1, 198.51.100.4", "198.51.100.4"),
    ("unix socket not trusted", ONE_PROXY, "", "198.51.100.4", "0.0.0.0"),
    ("unix token does not trust an IP peer", UNIX_PROXY, OUTSIDE, "198.51.100.4", OUTSIDE),
    ("REMOTE_ADDR not an address", NO_PROXY, "testserver", None, "0.0.0.0"),
    ("REMOTE_ADDR IPv6 normalized", NO_PROXY, "2001:DB8::0001", None, "2001:db8::1"),
]


def _networks(text: str):
    return parse_proxy_networks([n for n in text.split(",") if n])


@pytest.mark.parametrize(
    ("config", "remote", "forwarded", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_it_derives_the_client_address(config, remote, forwarded, expected):
    networks, unix = _networks(config["networks"])
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **headers)
    with override_settings(
        LATCHKEY_TRUSTED_PROXIES=config["hops"],
        LATCHKEY_TRUSTED_PROXY_NETWORKS=networks,
        LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET=unix,
    ):
        found = client_ip(request)
    assert found == expected
    # Whatever it returns is a valid address in its normalized text form.
    assert str(ipaddress.ip_address(found)) == found


@pytest.mark.parametrize(
    "value", ["10.0.0.1/8", "0.0.0.0/0", "::/0", "proxy.internal", "10.0.0.0/33", "unix:/run/x"]
)
def test_it_refuses_a_proxy_network_that_is_not_one(value):
    with pytest.raises(ProxyNetworksError):
        parse_proxy_networks([value])


def test_it_reads_single_addresses_and_the_unix_token_as_proxy_networks():
    networks, unix = parse_proxy_networks(["127.0.0.1", " fd00::/64 ", "", "unix"])
    assert [str(n) for n in networks] == ["127.0.0.1/32", "fd00::/64"]
    assert unix is True
