"""The caller's address, derived only from what the deployment says it can trust.

Threat: `X-Forwarded-For` is a request header; anyone who reaches the app server can
write it. A client that could choose its own address would pick one inside an
`ipAddress()` condition, a fresh one per attempt (no per-address throttle ever fills), or
any string at all as a key's "last used address". So the header is read only when the
request itself comes from a configured proxy network (LATCHKEY_TRUSTED_PROXY_NETWORKS),
only the right-most LATCHKEY_TRUSTED_PROXIES entries are read (the ones our own proxies
appended; everything further left was written by the client), the walk from the right
stops at the first address that is not a trusted proxy, and an entry that is not a bare
IP address ends the walk at the nearest hop already verified. Whatever this module
returns is a valid, normalized IP address: nothing else is ever stored or compared.

The settings module parses LATCHKEY_TRUSTED_PROXY_NETWORKS with this module, so nothing
here reads a setting at import time.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What LATCHKEY_TRUSTED_PROXY_NETWORKS says for "the peer has no IP address": gunicorn
# bound to a unix socket leaves REMOTE_ADDR empty, and only processes allowed to open the
# socket file can connect.
UNIX_SOCKET = "unix"
# The longest text form of an IP address (IPv6 with an embedded IPv4 tail): longer
# entries are refused before any parsing.
_MAX_ADDRESS_LENGTH = 45
# Returned when not even REMOTE_ADDR names an address (a unix socket without a proxy).
UNKNOWN = ipaddress.IPv4Address("0.0.0.0")  # noqa: S104 (an address, not a bind)


class ProxyNetworksError(ValueError):
    pass


def parse_address(text: str) -> Address | None:
    """Return the IP address a header entry names (normalized), or None if it names none.

    Strict: a bare IPv4 or IPv6 address only; no port, brackets, zone index or host name.
    An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is that IPv4 client.
    """
    text = text.strip(" \t")
    if not text or len(text) > _MAX_ADDRESS_LENGTH:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def parse_proxy_networks(values: list[str]) -> tuple[tuple[Network, ...], bool]:
    """Return (networks, whether a unix-socket peer is trusted) or raise ProxyNetworksError."""
    networks: list[Network] = []
    unix = False
    for value in (v.strip() for v in values):
        if not value:
            continue
        if value == UNIX_SOCKET:
            unix = True
            continue
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ProxyNetworksError(
                f"LATCHKEY_TRUSTED_PROXY_NETWORKS: {value!r} is not a network (CIDR such as "
                "10.0.0.0/24, a single address, or 'unix')."
            ) from None
        if network.prefixlen == 0:
            raise ProxyNetworksError(
                f"LATCHKEY_TRUSTED_PROXY_NETWORKS: {value} would trust every client's header."
            )
        networks.append(network)
    return tuple(networks), unix


def _is_proxy(address: Address | None, networks: tuple[Network, ...], unix: bool) -> bool:
    if address is None:
        return unix
    return any(address in network for network in networks)


def client_address(
    remote_addr: str,
    forwarded_for: str,
    *,
    hops: int,
    networks: tuple[Network, ...],
    unix: bool = False,
) -> Address:
    """Return the client's address from REMOTE_ADDR and X-Forwarded-For under these rules."""
    remote = parse_address(remote_addr)
    if hops <= 0 or not _is_proxy(remote, networks, unix):
        return remote or UNKNOWN
    # Only the right-most `hops` entries can have been written by our proxies: the rest is
    # never even split (a 1 kB header costs the same as a short one).
    entries = forwarded_for.rsplit(",", hops)[-hops:]
    client = remote
    for entry in reversed(entries):
        address = parse_address(entry)
        if address is None:
            break  # not an address: the nearest verified hop is the client
        client = address
        if not _is_proxy(address, networks, unix=False):
            break  # the first address that is not our proxy is the client
    return client or UNKNOWN


def from_proxy(request: HttpRequest) -> bool:
    """Return whether the request's peer is one of the configured proxy networks."""
    return _is_proxy(
        parse_address(request.META.get("REMOTE_ADDR", "")),
        settings.LATCHKEY_TRUSTED_PROXY_NETWORKS,
        settings.LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET,
    )


def client_ip(request: HttpRequest) -> str:
    """Return the client IP (normalized text): REMOTE_ADDR, or what trusted proxies saw."""
    return str(
        client_address(
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_X_FORWARDED_FOR", ""),
            hops=settings.LATCHKEY_TRUSTED_PROXIES,
            networks=settings.LATCHKEY_TRUSTED_PROXY_NETWORKS,
            unix=settings.LATCHKEY_TRUSTED_PROXY_UNIX_SOCKET,
        )
    )


# One IPv6 customer usually holds a whole /64 (RFC 6177 assigns /48 to /64 to end sites)
# and can take any address in it at will: per-address limits would give it 2**64 budgets.
IPV6_SOURCE_PREFIX = 64


def throttle_source(ip: str) -> str:
    """Return what per-address throttles count by: the IPv4 address, or the IPv6 /64."""
    address = parse_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_SOURCE_PREFIX), strict=False)
        return str(network)
    return ip


# --- source limits of AuthKeys (docs/authkeys.md "Source limits") --------------------------

MAX_SOURCE_NETWORKS = 20
_MAX_NETWORK_LENGTH = _MAX_ADDRESS_LENGTH + 4  # an address and "/128"


class SourceNetworksError(ValueError):
    """A list of allowed source networks that cannot be used (the message says why)."""


def _one_network(value: object, position: int) -> Network:
    where = f"Allowed source network {position}"
    if not isinstance(value, str):
        raise SourceNetworksError(f"{where} must be a string.")
    text = value.strip()
    if not text:
        raise SourceNetworksError(f"{where} is empty.")
    if len(text) > _MAX_NETWORK_LENGTH or not all(c in "0123456789abcdefABCDEF.:/" for c in text):
        raise SourceNetworksError(
            f"{where} is not an IPv4 or IPv6 network (CIDR such as 192.0.2.0/24 or 2001:db8::/32)."
        )
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        reason = "it has host bits set" if "host bits" in str(exc) else "it is not a CIDR"
        raise SourceNetworksError(
            f"{where} ({text}) is not usable: {reason} "
            "(a network such as 192.0.2.0/24 or 2001:db8::/32, or a single address)."
        ) from None
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            # Clients seen as ::ffff:a.b.c.d are IPv4 clients (parse_address): so is the network.
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def parse_source_networks(values: object) -> str:
    """Return allowed source networks as their stored text, or raise SourceNetworksError.

    `values`: a list of CIDRs (a bare address is a /32 or /128). Strict: host bits must be
    zero, at most MAX_SOURCE_NETWORKS entries, no duplicates kept. Stored normalized,
    space-separated, in the order given; "" means "from anywhere".
    """
    if not isinstance(values, list | tuple):
        raise SourceNetworksError("Allowed source networks must be a list of CIDRs.")
    if len(values) > MAX_SOURCE_NETWORKS:
        raise SourceNetworksError(
            f"At most {MAX_SOURCE_NETWORKS} allowed source networks per AuthKey."
        )
    found: list[str] = []
    for position, value in enumerate(values, 1):
        text = str(_one_network(value, position))
        if text not in found:
            found.append(text)
    return " ".join(found)


@lru_cache(maxsize=1024)
def _networks(stored: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text) for text in stored.split())


def source_networks(stored: str) -> list[str]:
    """Return the stored text of allowed source networks as a list ([] = from anywhere)."""
    return stored.split()


def source_allowed(ip: str, stored: str) -> bool:
    """Return whether a client address (client_ip) may use a key limited to `stored`."""
    if not stored:
        return True
    address = parse_address(ip)
    if address is None:
        return False
    return any(address in network for network in _networks(stored))
