"""An httpx transport whose connections go only to checked addresses. httpcore asks its
network backend to `connect_tcp(host, port)`; this backend resolves the host itself, checks
every address (`DestinationGuard`) and connects to the checked address, so a DNS answer that
changes between a check and the connection (rebinding) cannot reach a refused address. The
URL's host still names the request: httpcore sends it as `Host` and uses it for TLS (SNI and
the certificate check), because only the TCP connection is pinned. Proxies from the
environment are not used (a proxy would connect on notify's behalf, unchecked)."""

from __future__ import annotations

import asyncio
import typing

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._backends.auto import AutoBackend

from services.notify.adapters.destination_guard import DestinationGuard

SocketOption = typing.Any


class PinnedBackend(AsyncNetworkBackend):
    def __init__(self, guard: DestinationGuard, inner: AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._guard.addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # `addresses` is never empty
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook destinations")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` with its connection pool on a `PinnedBackend`."""

    def __init__(self, guard: DestinationGuard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(guard),
        )
