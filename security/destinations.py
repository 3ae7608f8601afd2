"""Destination URLs of group services: no credentials inside them, and only public targets.

A destination is where the platform will one day send a device's data, signed or
authenticated with a credential set. Two rules keep it from becoming a weapon:

- **No userinfo** (`https://user:pass@host/`): credentials belong in credential sets, which
  are sealed and write-only, not in a URL that every lister of groups can read. A URL
  stored before this rule is shown (and audited) without its userinfo (`shown`).
- **Public targets only, in production** (settings.DEBUG false): the host is resolved when
  the URL is saved and every address it resolves to must be public: not private,
  loopback, link-local, multicast, reserved, unspecified or shared (carrier NAT), for IPv4
  and IPv6, including IPv4 addresses carried inside IPv6 (IPv4-mapped, 6to4, NAT64).
  Hosts written as numbers other than a dotted quad (`2130706433`, `0177.0.0.1`,
  `0x7f.1`) are refused outright: resolvers read them as IPv4 addresses. With DEBUG a
  developer may point destinations at their own machine.

Resolution at save time is the first gate, not the last: DNS may answer differently
later (rebinding), so whatever sends data must resolve and check the address again when
it connects.
"""

import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from console import secretscan

URL_MAX = 2000
_url_validator = URLValidator(schemes=["http", "https"])
# The WHATWG URL standard parses a host whose last label is a number as IPv4.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)\Z", re.IGNORECASE | re.ASCII)
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationInvalid(ValueError):
    """A refused destination URL; the message says which rule, never the URL's secrets."""


def _resolve(host: str, port: int) -> list[str]:
    """Return the addresses host resolves to (a seam: tests answer without DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """Return whether address is a public unicast address (and so is any IPv4 inside it)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id or address.is_site_local:
            return False
        inner = _embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_target(host: str, port: int) -> None:
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in _resolve(host, port)]
        except (OSError, UnicodeError, ValueError):
            raise DestinationInvalid("The destination's host name does not resolve.") from None
        if not addresses:
            raise DestinationInvalid("The destination's host name does not resolve.")
    if not all(is_public(address) for address in addresses):
        raise DestinationInvalid(
            "The destination must be a public address: private, loopback, link-local, "
            "multicast and reserved addresses are refused."
        )


def validate(url: object) -> str:
    """Return the destination URL to store, or raise DestinationInvalid saying why."""
    if not isinstance(url, str):
        raise DestinationInvalid("Enter an http:// or https:// URL.")
    url = url.strip()
    if len(url) > URL_MAX:
        raise DestinationInvalid(f"The URL is too long (at most {URL_MAX} characters).")
    kind = secretscan.first_kind(url)
    if kind is not None:  # a token in a query string belongs in a credential set too
        raise DestinationInvalid(secretscan.message("URL", kind))
    try:
        parts = urlsplit(url)
    except ValueError:
        raise DestinationInvalid("Enter an http:// or https:// URL.") from None
    if "@" in parts.netloc:
        raise DestinationInvalid(
            "A destination URL cannot hold a user name or password: keep credentials in a "
            "credential set."
        )
    try:
        _url_validator(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except (ValidationError, ValueError):
        raise DestinationInvalid("Enter an http:// or https:// URL.") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DestinationInvalid("Enter an http:// or https:// URL.")
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]) and _literal(host) is None:
        raise DestinationInvalid("Write an IPv4 address as four decimal numbers (192.0.2.1).")
    if not settings.DEBUG:
        _check_target(host, port)
    return url


def shown(url: str) -> str:
    """Return url without any user name or password in it (stored before they were refused)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
