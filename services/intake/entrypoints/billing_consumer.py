"""Consumes `ticketflow.billing` for the one fact intake acts on: an account's TAM hours of a
month are used up (`tam.budget_exhausted`), after which its new TAM-channel tickets of that
month are marked redirected to the support email. Other billing events are not intake's
business. A record that is not a billing event is dead-lettered (the common loop)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from services.common.backoff import Backoff
from services.common.consumer import BadMessage, ConsumerLoop
from services.intake.service_layer.ports import AccountDirectory
from shared.events.billing import BillingEvent

log = logging.getLogger("ticketflow.intake.billing")

SERVICE = "intake"


class BillingFactsConsumer:
    def __init__(
        self,
        accounts: AccountDirectory,
        consumer: Any,
        producer: Any,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._accounts = accounts
        retry = backoff or Backoff()
        self._loop = ConsumerLoop(
            SERVICE, consumer, producer, self.handle, retry_s=retry.initial, max_retry_s=retry.cap
        )

    async def handle(self, message: Any) -> str:
        try:
            event = BillingEvent.model_validate_json(message.value or b"")
        except ValidationError as exc:
            raise BadMessage("undecodable", str(exc)) from None
        if event.type != "tam.budget_exhausted" or event.tam is None:
            return "ignored"
        fresh = await self._accounts.record_tam_exhausted(event.account, event.tam.month, event.at)
        if fresh:
            log.info(
                "account %s: TAM hours of %s used up; its TAM tickets are redirected to the "
                "support email",
                event.account,
                event.tam.month,
            )
        return "recorded" if fresh else "duplicate"

    async def run(self, stop: asyncio.Event) -> None:
        """Handle batches until `stop`; offsets are committed after each batch's effects."""
        await self._loop.run(stop)
