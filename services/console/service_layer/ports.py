"""What the console's use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.console.domain.at_risk import Deadline, TicketFacts
from services.console.domain.history import EscalationRow, HistoryEvent, Mark, TicketRecord


class Projecting(Protocol):
    """One event's changes to the read model, inside one transaction with its tracking row."""

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        """The ticket's facts, locked until the unit ends: the changes of one ticket (from
        its three topics, on any replica) apply one at a time."""
        ...

    async def put_ticket(self, facts: TicketFacts) -> None: ...

    async def deadlines(self, ticket_id: str) -> list[Deadline]: ...

    async def put_deadline(self, row: Deadline) -> None: ...

    async def drop_deadline(self, ticket_id: str, metric: str) -> None: ...

    async def drop_deadlines(self, ticket_id: str) -> None: ...

    async def record(self, event: HistoryEvent) -> None:
        """Keep a ticket event for the ticket's history."""
        ...

    async def mark(self, mark: Mark) -> None:
        """Keep a marker of the ticket's timeline."""
        ...

    async def escalation(self, escalation_id: uuid.UUID) -> EscalationRow | None: ...

    async def put_escalation(self, row: EscalationRow) -> None: ...


@dataclass(frozen=True, slots=True)
class AtRiskQuery:
    accounts: frozenset[str] | None
    """The viewer's accounts; None for the admin token (every account)."""
    account: str | None = None
    policy: str | None = None
    priority: str | None = None
    limit: int = 500


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    newest_event_at: datetime | None
    """The event time of the newest event applied (the lag is now minus this)."""
    changes: int
    """How many events changed the read model so far (a change counter for live pages)."""


class ReadModel(Protocol):
    def applying(
        self, event_id: uuid.UUID, event_at: datetime
    ) -> AbstractAsyncContextManager[Projecting | None]:
        """A unit for event `event_id` (None: it was applied before, do nothing); its
        changes, its tracking row and the projection status commit together on exit."""
        ...

    async def at_risk(self, query: AtRiskQuery) -> Sequence[Deadline]: ...

    async def status(self) -> ProjectionStatus: ...

    async def filters(self, accounts: frozenset[str] | None) -> dict[str, list[str]]:
        """The accounts, policies and priorities present for these accounts (for the
        filter form)."""
        ...

    async def ticket_record(
        self, ticket_id: str, accounts: frozenset[str] | None
    ) -> TicketRecord | None:
        """The ticket with its events (version order) and marks (time order); None when
        it is unknown or of an account outside `accounts` (None: every account)."""
        ...

    def histories(
        self, accounts: frozenset[str] | None
    ) -> AsyncIterator[tuple[TicketFacts, list[HistoryEvent]]]:
        """Every ticket of `accounts` with its events in version order, one at a time."""
        ...

    async def escalations(
        self, accounts: frozenset[str] | None, limit: int = 500
    ) -> Sequence[EscalationRow]:
        """Open (not resolved) escalations of `accounts`, raised ones first, oldest first."""
        ...

    async def open_escalation(
        self, escalation_id: uuid.UUID, accounts: frozenset[str] | None
    ) -> EscalationRow | None:
        """The escalation if it is open (not resolved) and of one of `accounts`."""
        ...

    async def clear(self) -> None:
        """Forget everything projected (and the tracking rows): before a rebuild."""
        ...


class KeyAccounts(Protocol):
    async def accounts_of(self, key_id: str) -> frozenset[str] | None:
        """The accounts of API key `key_id` while it is valid; None once it is revoked."""
        ...


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """What the escalation API answered an acknowledgement."""

    status: int
    """Its HTTP status: 200 acknowledged (also when it already was), 404 not the key's, 409
    already resolved, 401 the key is no longer valid, 0 the API could not be reached."""
    detail: str
    acknowledged_by: str | None = None


class EscalationAcks(Protocol):
    async def acknowledge(self, escalation_id: uuid.UUID, by: str, api_key: str) -> AckOutcome:
        """`POST /v1/escalations/{id}/ack` with the viewer's own API key."""
        ...
