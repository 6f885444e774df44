"""Resolves a webhook host and checks every address it resolves to against the destination
policy (`services.notify.domain.destinations`). Used when a subscription is created and on
every connection the webhook sender opens (`pinned_http`). The resolver is a parameter, so a
test can play a DNS server that changes its answer between the check and the connection."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from services.notify.domain.destinations import (
    Address,
    DestinationPolicy,
    check_addresses,
    literal_address,
    target,
)

Resolver = Callable[[str, int], Awaitable[list[Address]]]


async def system_resolver(host: str, port: int) -> list[Address]:
    """Every address the system resolver gives for `host` (A and AAAA), in its order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    seen: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


class DestinationGuard:
    def __init__(
        self, policy: DestinationPolicy | None = None, resolver: Resolver = system_resolver
    ) -> None:
        self.policy = policy or DestinationPolicy()
        self._resolve = resolver

    async def addresses(self, host: str, port: int) -> list[Address]:
        """The addresses of `host`, every one of them allowed; raise
        `services.notify.domain.destinations.DestinationRefused` (the host does not resolve,
        or one address is refused)."""
        literal = literal_address(host)
        found = [literal] if literal is not None else await self._resolve(host, port)
        check_addresses(host, found, self.policy)
        return found

    async def check_url(self, url: str) -> None:
        """Raise `DestinationRefused` unless notify may send to `url`."""
        where = target(url, self.policy)
        await self.addresses(where.host, where.port)
