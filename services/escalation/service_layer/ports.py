"""What the escalation use cases need from the outside, as protocols: the PostgreSQL adapter
(`adapters/postgres.py`) implements them, and the unit tests' in-memory fakes do too."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from services.escalation.domain.escalation import Escalation, TicketFacts
from shared.events.escalation import EscalationEvent


class EscalationWork(Protocol):
    """One transaction: the escalation state, the consumer's tracking row and the outgoing
    events (outbox) written through it commit together, or not at all."""

    async def first_time(self, event_id: uuid.UUID) -> bool:
        """Record the tracking row of `event_id`; False when it was handled already."""
        ...

    async def open_for(self, ticket_id: str, metric: str) -> Escalation | None:
        """The open episode of (ticket, metric), locked for this transaction."""
        ...

    async def open_of_ticket(self, ticket_id: str) -> list[Escalation]:
        """Every open episode of the ticket, oldest first, locked."""
        ...

    async def get(self, escalation_id: uuid.UUID) -> Escalation | None:
        """The escalation, locked for this transaction."""
        ...

    async def save(self, escalation: Escalation) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[Escalation]:
        """Episodes whose next step is due at `now`, locked (other replicas skip them)."""
        ...

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        """What ticket events told about the ticket; None when nothing."""
        ...

    async def remember_ticket(self, facts: TicketFacts) -> None:
        """Store the facts given; a None fact keeps the stored one."""
        ...

    async def contacts_by_level(self, account: str) -> dict[int, list[str]]: ...

    async def matrix_override(self, account: str) -> dict[str, Any]:
        """The account's escalation matrix override ({} when none)."""
        ...

    async def publish(self, event: EscalationEvent) -> None:
        """Queue `event` for `ticketflow.escalations` (sent after the commit)."""
        ...


class EscalationStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[EscalationWork]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        ...

    async def ticket(self, ticket_id: str) -> TicketFacts | None: ...

    async def get(self, escalation_id: uuid.UUID) -> Escalation | None: ...

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[Escalation]:
        """Escalations of `accounts`, newest first."""
        ...

    async def next_due(self) -> datetime | None: ...

    async def open_counts(self) -> dict[str, int]:
        """Escalations not resolved yet, by status."""
        ...

    async def outbox_pending(self) -> int:
        """Outgoing events not published yet."""
        ...
