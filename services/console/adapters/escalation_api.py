"""The escalation API as the console's ack buttons call it: `POST /v1/escalations/{id}/ack`
with the signed-in viewer's own API key, so the escalation service itself checks that the
escalation is of one of the key's accounts."""

from __future__ import annotations

import logging
import uuid

import httpx

from services.console.service_layer.ports import AckOutcome

log = logging.getLogger("ticketflow.console")
TIMEOUT_S = 5.0


class HttpEscalationAcks:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._transport = transport

    async def acknowledge(self, escalation_id: uuid.UUID, by: str, api_key: str) -> AckOutcome:
        url = f"{self._base}/v1/escalations/{escalation_id}/ack"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, transport=self._transport) as client:
                response = await client.post(
                    url, json={"by": by}, headers={"Authorization": f"Bearer {api_key}"}
                )
        except httpx.HTTPError as exc:
            log.warning("escalation API unreachable acknowledging %s: %s", escalation_id, exc)
            return AckOutcome(0, "the escalation service could not be reached; try again")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200:
            return AckOutcome(200, "acknowledged", body.get("acknowledged_by"))
        detail = body.get("detail")
        return AckOutcome(response.status_code, str(detail or response.reason_phrase))
