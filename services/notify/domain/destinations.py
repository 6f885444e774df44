"""Where a webhook may be sent: the addresses notify refuses to connect to, so that a
subscription cannot make it reach its own network (the intake admin API on loopback, the cloud
metadata service on 169.254.169.254, a database on 10.x) and read the answer back through the
delivery log. Pure: the caller resolves the host and asks about every address it got.

An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
`::a.b.c.d`, 6to4 `2002:aabb:ccdd::/48`, NAT64 `64:ff9b::a.b.c.d`, Teredo) is judged by the
IPv4 address it carries as well. A host written as an integer (`2130706433`, `0x7f.1`,
`0177.0.0.1`) is read the way the C resolver reads it, so it cannot pass for a host name."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), why) for cidr, why in pairs)


REFUSED_V4 = _nets(
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598, carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (reserved)"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast (reserved)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (reserved)"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved / broadcast"),
)
REFUSED_V6 = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("2001:db8::/32", "documentation"),
    ("2001:10::/28", "ORCHID (reserved)"),
    ("2001::/23", "IETF protocol assignments (reserved)"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class DestinationRefused(ValueError):
    """A webhook URL or one of its host's addresses is not an allowed destination."""


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """`allow_private`: no address is refused (local development, tests). `allowed`: networks
    that are allowed although they would be refused (an operator's own receivers).
    `https_only`: plain http URLs are refused (production)."""

    allow_private: bool = False
    allowed: tuple[Network, ...] = ()
    https_only: bool = False


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.1.0.0/16, fd00::/8` -> networks; raise ValueError naming a bad entry."""
    out: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not a network (CIDR): {item!r}") from None
    return tuple(out)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is of a form that carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: Address, policy: DestinationPolicy = DestinationPolicy()) -> str | None:
    """Why notify must not connect to `address` (None: it may)."""
    if policy.allow_private or any(
        address.version == net.version and address in net for net in policy.allowed
    ):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            why = refusal(carried, policy)
            if why is not None:
                return f"carries {carried}, {why}"
            if address.ipv4_mapped is not None:
                return None  # the connection goes to the (allowed) IPv4 address itself
    for net, why in REFUSED_V4 if address.version == 4 else REFUSED_V6:
        if address in net:
            return why
    return None


def _number(part: str) -> int:
    lowered = part.lower()
    if lowered.startswith("0x"):
        return int(lowered[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part, 10)


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """A host written as a number the way inet_aton / WHATWG URL read it (`2130706433`,
    `0x7f.1`, `0177.0.0.1`, `127.1`), or None when it is not numeric. Raise
    `DestinationRefused` when it is numeric but no IPv4 address."""
    parts = host.removesuffix(".").split(".")
    if not parts or not all(p and p.isalnum() for p in parts):
        return None
    try:
        numbers = [_number(p) for p in parts]
    except ValueError:
        return None
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise DestinationRefused(f"host {host!r} is not a valid IPv4 address")
    last_bytes = 5 - len(numbers)
    if numbers[-1] >= 256**last_bytes:
        raise DestinationRefused(f"host {host!r} is not a valid IPv4 address")
    value = numbers[-1]
    for index, n in enumerate(numbers[:-1]):
        value |= n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> Address | None:
    """The address a host names literally (`[::1]`, `127.0.0.1`, `2130706433`), else None."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    return numeric_ipv4(bare)


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int


def target(url: str, policy: DestinationPolicy = DestinationPolicy()) -> Target:
    """Scheme, host and port of a webhook URL; raise `DestinationRefused` for a URL notify
    does not send to (not http(s), no host, plain http where https is required)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused(f"scheme {scheme!r} is not allowed (http or https only)")
    if policy.https_only and scheme != "https":
        raise DestinationRefused("plain http URLs are not allowed in production; use https")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def first_refused(
    addresses: Iterable[Address], policy: DestinationPolicy
) -> tuple[Address, str] | None:
    """The first of a host's addresses that is refused, with the reason."""
    for address in addresses:
        why = refusal(address, policy)
        if why is not None:
            return address, why
    return None


def check_addresses(host: str, addresses: Sequence[Address], policy: DestinationPolicy) -> None:
    """Raise `DestinationRefused` unless `host` resolved and every address is allowed."""
    if not addresses:
        raise DestinationRefused(f"host {host!r} does not resolve")
    found = first_refused(addresses, policy)
    if found is not None:
        address, why = found
        raise DestinationRefused(
            f"host {host!r} resolves to {address}, which is not allowed ({why})"
        )
