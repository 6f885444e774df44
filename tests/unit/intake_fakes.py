"""In-memory twins of intake's ports (`service_layer/ports.py`), for unit tests of its use
cases: the same refusals as the PostgreSQL adapters, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from services.intake.domain.errors import (
    AccountExists,
    TicketNotFound,
    TicketNumberTaken,
    UnknownAccount,
    VersionConflict,
)
from services.intake.domain.lifecycle import OPEN, next_closed_reason, next_resolution, next_status
from services.intake.domain.opening import Account
from services.intake.domain.tickets import TicketRow
from services.intake.service_layer.ports import Build
from shared.events import Envelope


class MemoryTickets:
    """Tickets and their events; a write is all or nothing, as one transaction is."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, TicketRow] = {}
        self.events: list[Envelope] = []

    async def open_ticket(self, envelope: Envelope) -> Envelope:
        number = envelope.data["ticket_number"]
        if any(row.number == number for row in self.rows.values()):
            raise TicketNumberTaken(number)
        ticket_id = uuid.UUID(envelope.subject)
        self.rows[ticket_id] = TicketRow(
            ticket_id=ticket_id,
            account_id=envelope.account,
            number=number,
            policy=envelope.policy,
            priority=envelope.data["priority"],
            plan=envelope.data.get("plan"),
            status=OPEN,
            version=1,
            opened_at=envelope.time,
            updated_at=envelope.time,
            channel=envelope.data.get("channel"),
        )
        self.events.append(envelope)
        return envelope

    async def append_with_status(
        self,
        ticket_id: uuid.UUID,
        build: Build,
        expected_version: int | None = None,
        accounts: frozenset[str] | None = None,
    ) -> tuple[Envelope, str]:
        ticket = self.rows.get(ticket_id)
        if ticket is None or (accounts is not None and ticket.account_id not in accounts):
            raise TicketNotFound(str(ticket_id))
        if expected_version is not None and expected_version != ticket.version:
            raise VersionConflict(ticket_id, expected_version, ticket.version)
        envelope = build(ticket)
        status = next_status(ticket.status, envelope.type)
        resolution = next_resolution(ticket.resolution, envelope.type)
        priority = envelope.data.get("priority", ticket.priority)
        self.rows[ticket_id] = replace(
            ticket,
            version=envelope.sequence,
            status=status,
            priority=priority if envelope.type == "ticket.severity_changed" else ticket.priority,
            resolution=resolution,
            closed_reason=next_closed_reason(ticket.closed_reason, resolution, envelope.type),
        )
        self.events.append(envelope)
        return envelope, status

    async def ticket(self, ticket_id: uuid.UUID, accounts: frozenset[str]) -> TicketRow:
        ticket = self.rows.get(ticket_id)
        if ticket is None or ticket.account_id not in accounts:
            raise TicketNotFound(str(ticket_id))
        return ticket

    async def ticket_by_number(self, number: str) -> TicketRow | None:
        return next((row for row in self.rows.values() if row.number == number), None)


class MemoryAccounts:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {account.id: account for account in accounts}
        self.created: list[dict[str, Any]] = []
        self.tam_months: set[tuple[str, str]] = set()

    async def tam_exhausted(self, account_id: str, month: str) -> bool:
        return (account_id, month) in self.tam_months

    async def record_tam_exhausted(self, account_id: str, month: str, at: datetime) -> bool:
        fresh = (account_id, month) not in self.tam_months
        self.tam_months.add((account_id, month))
        return fresh

    async def get(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise UnknownAccount(account_id) from None

    async def accounts_approving(self, email: str, among: frozenset[str]) -> list[str]:
        return sorted(
            account.id
            for account in self.accounts.values()
            if account.id in among and account.approves(email)
        )

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
        if account_id in self.accounts:
            raise AccountExists(account_id)
        self.accounts[account_id] = Account(
            account_id,
            name,
            policy_id,
            plan,
            entitled_from,
            entitled_until,
            target_overrides=dict(target_overrides),
        )
        self.created.append({"id": account_id, "escalation": escalation})
