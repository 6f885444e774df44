"""What the use cases need from the outside, as protocols: the adapters (PostgreSQL, the SLA
service's HTTP API) implement them, and the unit tests' in-memory fakes do too."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from services.intake.domain.opening import Account
from services.intake.domain.tickets import TicketRow
from shared.events import Envelope
from shared.policy import Policy

Build = Callable[[TicketRow], Envelope]
"""Decides a ticket's next event from its current row, inside the store's transaction."""


class TicketStore(Protocol):
    async def open_ticket(self, envelope: Envelope) -> Envelope:
        """Store a ticket's first event; TicketNumberTaken when its number is in use."""
        ...

    async def append_with_status(
        self,
        ticket_id: uuid.UUID,
        build: Build,
        expected_version: int | None = None,
        accounts: frozenset[str] | None = None,
    ) -> tuple[Envelope, str]:
        """Append `build(row)` at the ticket's next version, returning the recorded event and
        the status after it; TicketNotFound, VersionConflict, or what `build` raises."""
        ...

    async def ticket(self, ticket_id: uuid.UUID, accounts: frozenset[str]) -> TicketRow: ...

    async def ticket_by_number(self, number: str) -> TicketRow | None: ...


class CommandLog(Protocol):
    async def apply_command(
        self, command_id: uuid.UUID, command: str, ticket_id: uuid.UUID, based_on: int, build: Build
    ) -> tuple[str, str]:
        """Append `build(row)` once per `command_id`, only while the ticket is at `based_on`:
        (outcome, detail); TicketNotFound."""
        ...


class AccountDirectory(Protocol):
    async def get(self, account_id: str) -> Account:
        """The account; UnknownAccount when there is none."""
        ...

    async def accounts_approving(self, email: str, among: frozenset[str]) -> list[str]: ...

    async def tam_exhausted(self, account_id: str, month: str) -> bool:
        """Whether the account used up its TAM hours of `month` (billing said so)."""
        ...

    async def record_tam_exhausted(self, account_id: str, month: str, at: datetime) -> bool:
        """Note the month's TAM budget as used up; False when it was noted already."""
        ...

    async def create(
        self,
        account_id: str,
        name: str,
        policy_id: str,
        plan: str | None,
        entitled_from: date | None,
        entitled_until: date | None,
        target_overrides: Mapping[str, float],
        escalation: dict[str, Any] | None = None,
    ) -> None:
        """AccountExists when the id is taken."""
        ...


class SlaViews(Protocol):
    async def view(self, ticket_id: uuid.UUID) -> dict[str, Any] | None:
        """The SLA service's view of the ticket, None before it has seen it; SlaUnavailable."""
        ...


@dataclass(frozen=True, slots=True)
class Ports:
    """Everything the ticket use cases take, wired by bootstrap (or a test)."""

    store: TicketStore
    accounts: AccountDirectory
    policies: Mapping[str, Policy]
    now: Callable[[], datetime]
    random_digits: Callable[[int], str]
    new_ticket_id: Callable[[], uuid.UUID]
