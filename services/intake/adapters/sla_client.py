"""Reads a ticket's SLA view from the SLA service (any worker: Faust routes to the owner),
authenticated with the deployment's internal token (`TICKETFLOW_INTERNAL_TOKEN`): intake
checks the caller's own key and account before it asks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


class SlaUnavailable(Exception):
    """The SLA service did not answer, or refused intake's token."""


class SlaClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 3.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, headers=headers)

    async def view(self, ticket_id: uuid.UUID) -> dict[str, Any] | None:
        """The SLA view, or None when the SLA service holds no state for the ticket yet."""
        try:
            response = await self._http.get(f"/v1/tickets/{ticket_id}/sla")
        except httpx.HTTPError as exc:
            raise SlaUnavailable(f"SLA service unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code == 401:
            raise SlaUnavailable(
                "SLA service refused the internal token (TICKETFLOW_INTERNAL_TOKEN)"
            )
        if response.status_code != 200:
            raise SlaUnavailable(f"SLA service answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await self._http.aclose()
