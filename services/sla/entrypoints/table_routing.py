"""Forwarding a table-routed request to the worker that owns the ticket's partition.

Faust's own Router forwards every incoming header (Host, Content-Length and hop-by-hop ones
included), waits as long as its HTTP client lets it (minutes) and answers with the owner's
body and status only, so a forwarded 401 loses `WWW-Authenticate` and a 429 `Retry-After`.
This one forwards the credentials and content negotiation only, keeps the owner's
authentication and rate-limit headers, gives up after `timeout_s` (503 with Retry-After),
and forwards a request at most once: a worker receiving a forwarded request it does not own
answers 503, so two workers disagreeing about an assignment during a rebalance cannot
bounce it between them (a client sending the marker itself gains nothing: the owner answers
as it would anyway, any other worker refuses)."""

from __future__ import annotations

from typing import Any

import aiohttp
from faust.app.router import Router
from faust.exceptions import SameNode
from yarl import URL

from services.sla.entrypoints.problems import problem

FORWARDED_HEADERS = ("authorization", "x-api-key", "accept", "x-request-id", "traceparent")
RETURNED_HEADERS = ("www-authenticate", "retry-after", "cache-control")
ROUTED_HEADER = "x-ticketflow-routed"


def forwarding_router(timeout_s: float) -> type[Router]:
    """The `Router` class for the Faust app (Faust instantiates it with the app)."""

    class ForwardingRouter(Router):
        async def route_req(self, table_name: str, key: Any, web: Any, request: Any) -> Any:
            try:
                destination: URL = self.key_store(table_name, key)
            except KeyError:
                return _unavailable("the partitions are being reassigned")
            if request.headers.get(ROUTED_HEADER) and not self._here(destination):
                # Forwarded here by a worker that takes this one for the owner: the two
                # disagree about the assignment (a rebalance). Never forward twice.
                return _unavailable("the partitions are being reassigned")
            return await self._route_req(destination, web, request)

        def _here(self, url: URL) -> bool:
            return self._urlident(url) == self._urlident(self.app.conf.canonical_url)

        async def _route_req(self, dest_url: URL, web: Any, request: Any) -> Any:
            if self._here(dest_url):
                raise SameNode()
            host, port = self._urlident(dest_url)
            headers = {
                name: value
                for name in FORWARDED_HEADERS
                if (value := request.headers.get(name)) is not None
            }
            headers[ROUTED_HEADER] = "1"
            try:
                async with self.app.http_client.request(
                    method=request.method,
                    url=request.url.with_host(host).with_port(port),
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout_s),
                ) as response:
                    body = await response.read()
                    kept = {
                        name: value
                        for name in RETURNED_HEADERS
                        if (value := response.headers.get(name)) is not None
                    }
                    return web.bytes(
                        body,
                        content_type=response.content_type,
                        status=response.status,
                        headers=kept,
                    )
            except (aiohttp.ClientError, TimeoutError):
                return _unavailable("the worker owning this ticket did not answer")

    return ForwardingRouter


def _unavailable(detail: str) -> Any:
    return problem(503, detail, headers={"Retry-After": "1"})
