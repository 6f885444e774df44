"""The webhook channel's sender: signed delivery over HTTP (httpx, one pooled client on a
`PinnedTransport`). 2xx is delivered; 408, 425, 429 and 5xx are retried; a redirect (3xx,
never followed) and any other 4xx are permanent, and so is a destination that is not allowed
(checked on every connection, not only when the subscription was made), or a subscription
disabled meanwhile. Each delivery has its own connect, read and total timeouts. The
subscription's secret is stored sealed; it is opened here, just to sign. Errors carry no URL
credentials or query strings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from services.common import tracing
from services.common.redaction import redact_logger, redact_urls_in
from services.notify.adapters.destination_guard import DestinationGuard
from services.notify.adapters.pinned_http import PinnedTransport
from services.notify.adapters.secret_box import SecretBox, UnreadableSecret
from services.notify.domain.destinations import DestinationRefused, target
from services.notify.domain.notifications import Notification
from services.notify.domain.retries import Outcome
from services.notify.domain.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign

RETRYABLE = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class WebhookTimeouts:
    connect_s: float = 5.0
    read_s: float = 10.0
    total_s: float = 10.0


class WebhookSender:
    def __init__(
        self,
        secrets: SecretBox,
        guard: DestinationGuard | None = None,
        *,
        timeouts: WebhookTimeouts = WebhookTimeouts(),
        max_connections: int = 64,
    ) -> None:
        redact_logger("httpx")  # it logs each request's URL, credentials included
        self._secrets = secrets
        self._guard = guard or DestinationGuard()
        self._timeouts = timeouts
        limits = httpx.Limits(max_connections=max_connections)
        self._client = httpx.AsyncClient(
            transport=PinnedTransport(self._guard, limits),
            timeout=httpx.Timeout(
                timeouts.total_s, connect=timeouts.connect_s, read=timeouts.read_s
            ),
            headers={"User-Agent": "ticketflow-notify/1"},
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, notification: Notification) -> Outcome:
        """Signed with the attempt's time (`notification.at`)."""
        url, sealed_secret, body = notification.url, notification.secret_sealed, notification.body
        if url is None:
            return Outcome(False, "webhook subscription disabled", permanent=True)
        if sealed_secret is None:
            return Outcome(False, "webhook signing secret not sealed yet (restart notify)")
        timestamp = int((notification.at or datetime.now(UTC)).timestamp())
        try:
            target(url, self._guard.policy)
            secret = self._secrets.open(sealed_secret)
        except DestinationRefused as exc:
            return Outcome(False, f"destination not allowed: {exc}", permanent=True)
        except UnreadableSecret as exc:
            return Outcome(False, str(exc))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: str(notification.id),
            EVENT_HEADER: notification.source_type,
            **tracing.current(),  # W3C `traceparent`: the receiver may continue the trace
        }
        try:
            async with asyncio.timeout(self._timeouts.total_s):
                response = await self._client.post(url, content=body, headers=headers)
        except DestinationRefused as exc:
            return Outcome(False, f"destination not allowed: {exc}", permanent=True)
        except TimeoutError:
            return Outcome(False, f"timed out after {self._timeouts.total_s:g}s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Outcome(False, redact_urls_in(f"{type(exc).__name__}: {exc}"))
        status = response.status_code
        if response.is_success:
            return Outcome(True)
        if response.is_redirect or 300 <= status < 400:
            return Outcome(False, f"HTTP {status}: redirects are not followed", permanent=True)
        permanent = 400 <= status < 500 and status not in RETRYABLE
        return Outcome(False, f"HTTP {status}", permanent=permanent)

    async def close(self) -> None:
        await self._client.aclose()
