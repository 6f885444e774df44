"""Signed webhook delivery over HTTP (httpx, one pooled client). 2xx is delivered; 408, 429
and 5xx are retried; any other 4xx is permanent (the receiver refuses this payload)."""

from __future__ import annotations

import uuid

import httpx

from services.notify.domain.retries import Outcome
from services.notify.domain.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign

RETRYABLE = {408, 425, 429}


class WebhookSender:
    def __init__(self, timeout_s: float = 10.0, max_connections: int = 64) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"User-Agent": "ticketflow-notify/1"},
            follow_redirects=False,
        )

    async def send(
        self,
        notification_id: uuid.UUID,
        url: str,
        secret: str,
        event_type: str,
        body: bytes,
        timestamp: int,
    ) -> Outcome:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: str(notification_id),
            EVENT_HEADER: event_type,
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return Outcome(True)
        status = response.status_code
        permanent = 400 <= status < 500 and status not in RETRYABLE
        return Outcome(False, f"HTTP {status}", permanent=permanent)

    async def close(self) -> None:
        await self._client.aclose()
