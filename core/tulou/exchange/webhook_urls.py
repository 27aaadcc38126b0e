"""Which URLs a subscription may point at: public HTTPS endpoints, and private ones only when an admin admits them.

A webhook makes the server send requests where a caller says, so an unchecked URL
would let anyone with ``subscription:manage`` probe the county's internal network
(server-side request forgery). The host is resolved and every address it resolves
to must be public unless the host name, or the address, is in the allow-list
(``TULOU_EXCHANGE__WEBHOOK_ALLOW``). The check is made again before each delivery
and the request then goes to the very address checked, so a name that resolves to a
public address at subscription time and to ``127.0.0.1`` later (DNS rebinding)
gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from tulou.errors import Invalid
from tulou.i18n import gettext as _

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowList:
    """Host names (lower-case) and networks that may be reached although not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def admits_host(self, host: str) -> bool:
        """A listed name, or an address literal inside a listed network."""
        if host.lower().rstrip(".") in self.hosts:
            return True
        try:
            return self.admits_address(ipaddress.ip_address(host))
        except ValueError:
            return False

    def admits_address(self, address: Address) -> bool:
        return any(candidate in network for candidate in _forms(address) for network in self.networks
                   if candidate.version == network.version)


def parse_allow_list(text: str) -> AllowList:
    """``"hooks.lan, 10.0.0.0/8, ::1"`` as an :class:`AllowList`; ``ValueError`` names a bad entry."""
    hosts, networks = set(), []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not _looks_like_host(entry):
                raise ValueError(f"{entry!r} is neither a host name nor an address or network") from None
            hosts.add(entry.lower().rstrip("."))
    return AllowList(frozenset(hosts), tuple(networks))


def _looks_like_host(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)


def _forms(address: Address) -> tuple[Address, ...]:
    """The address, and the IPv4 address inside an IPv4-mapped IPv6 one (``::ffff:127.0.0.1``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return (address, address.ipv4_mapped)
    return (address,)


def is_public(address: Address) -> bool:
    """Globally routable unicast: not loopback, private, link-local, multicast, reserved or unspecified."""
    return all(form.is_global and not form.is_multicast for form in _forms(address))


def _refused(message: str) -> Invalid:
    return Invalid(message, field="url")


def check_url(url: str, allow: AllowList) -> SplitResult:
    """The URL's parts if its form is acceptable: https (http for admitted hosts), a host, no credentials."""
    parts = urlsplit(url.strip())
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise _refused(_("The URL's port is not a number")) from None
    if parts.scheme not in ("https", "http") or not host:
        raise _refused(_("The URL must start with https:// and name a host"))
    if parts.scheme == "http" and not allow.admits_host(host):
        raise _refused(_("Only https URLs are accepted for this host"))
    if parts.username is not None or parts.password is not None:
        raise _refused(_("Put no credentials in the URL: verify the Tulou-Signature header instead"))
    return parts


@dataclass(frozen=True)
class Target:
    """Where a request will really go: the checked address, and the host name for ``Host`` and TLS."""

    url: str
    host: str
    address: Address

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address, so no second lookup can change it."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc.rpartition("@")[2]


async def _addresses(host: str, port: int) -> list[Address]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _refused(_("The URL's host %(host)s cannot be resolved") % {"host": host}) from None
    return list(dict.fromkeys(ipaddress.ip_address(entry[4][0].split("%")[0]) for entry in found))


async def resolve_target(url: str, allow: AllowList) -> Target:
    """Check the URL and every address its host resolves to; the first address to send to.

    A name with one public and one private address is refused: the system resolver
    may pick either.
    """
    parts = check_url(url, allow)
    host = parts.hostname or ""
    addresses = await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise _refused(_("The URL's host %(host)s cannot be resolved") % {"host": host})
    admitted_host = allow.admits_host(host)
    for address in addresses:
        if not (is_public(address) or admitted_host or allow.admits_address(address)):
            raise _refused(
                _("%(host)s resolves to %(address)s, a private or reserved address: an administrator must allow it")
                % {"host": host, "address": address}
            )
    return Target(url=urlunsplit(parts), host=host, address=addresses[0])
