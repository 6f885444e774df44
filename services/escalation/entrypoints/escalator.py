"""The escalation service's use cases, each one database transaction: the state change, the
consumer's tracking row (for messages) and the outgoing records (outbox) commit together."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

import asyncpg
from prometheus_client import Counter, Gauge

from services.common import outbox
from services.common.ops import OUTBOX_PENDING
from services.common.tracking import first_time
from services.escalation.adapters import store
from services.escalation.domain import escalation as machine
from services.escalation.domain.escalation import (
    Decision,
    Escalation,
    Happened,
    TicketFacts,
    Trigger,
)
from services.escalation.domain.matrix import Matrix, matrix_for
from shared.events.escalation import EscalationEvent, escalation_event_id
from shared.policy import Policy
from shared.topics import ESCALATIONS

log = logging.getLogger("ticketflow.escalation")
SERVICE = "escalation"
EMITTED = Counter("ticketflow_escalation_events_total", "Escalation events emitted", ["type"])
OPEN = Gauge("ticketflow_escalations_open", "Escalations not resolved yet, by status", ["status"])


class UnknownPolicy(LookupError):
    pass


class Escalator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        policies: dict[str, Policy],
        clock: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._policies = policies
        self._clock = clock
        self._on_commit = on_commit

    async def _matrix(self, conn: asyncpg.Connection, account: str, policy_ref: str) -> Matrix:
        policy = self._policies.get(policy_ref)
        if policy is None:
            raise UnknownPolicy(policy_ref)
        override = await store.matrix_override(conn, account)
        try:
            return matrix_for(policy, override)
        except ValueError:
            log.warning("account %s: invalid escalation override ignored", account)
            return matrix_for(policy)

    async def _apply(
        self, conn: asyncpg.Connection, decision: Decision, causation: uuid.UUID | None
    ) -> list[Happened]:
        escalation, happened = decision
        if escalation is None:
            return happened
        await store.save(conn, escalation)
        contacts = await store.contacts_by_level(conn, escalation.account) if happened else {}
        for item in happened:
            event = _event(escalation, item, _recipients(contacts, item), causation)
            await outbox.append(
                conn,
                SERVICE,
                ESCALATIONS.name,
                escalation.ticket_id,
                event.model_dump(mode="json"),
                event.type,
            )
            EMITTED.labels(item.type).inc()
            log.info(
                "%s %s ticket %s metric %s level %s -> %s",
                item.type,
                escalation.id,
                escalation.ticket_id,
                escalation.metric,
                item.level,
                ", ".join(event.recipients) or "no contacts at this level",
            )
        return happened

    async def on_trigger(self, trigger: Trigger) -> str:
        """An SLA warning or breach, or a customer's escalation request."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, SERVICE, trigger.event_id):
                return "duplicate"
            matrix = await self._matrix(conn, trigger.account, trigger.policy)
            known = await store.ticket(conn, trigger.ticket_id)
            if known is not None and trigger.ticket_number is None:
                trigger = replace(trigger, ticket_number=known["number"])
            current = await store.open_for(conn, trigger.ticket_id, trigger.metric)
            if trigger.kind == "sla.warning":
                decision = machine.on_warning(current, trigger, matrix)
            else:
                decision = machine.on_raise(current, trigger, matrix, self._clock())
            happened = await self._apply(conn, decision, trigger.event_id)
        self._on_commit()
        return happened[0].type if happened else "unchanged"

    async def on_end(
        self, event_id: uuid.UUID, ticket_id: str, metric: str | None, why: str, at: datetime
    ) -> str:
        """Met, retracted (one metric) or ticket resolved/closed (every open episode)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, SERVICE, event_id):
                return "duplicate"
            if metric is None:
                episodes = await store.open_of_ticket(conn, ticket_id)
            else:
                found = await store.open_for(conn, ticket_id, metric)
                episodes = [found] if found is not None else []
            ended = 0
            for episode in episodes:
                ended += len(await self._apply(conn, machine.resolve(episode, why, at), event_id))
        if ended:
            self._on_commit()
        return "resolved" if ended else "unchanged"

    async def on_corrected(
        self, event_id: uuid.UUID, ticket_id: str, metric: str, deadline: datetime
    ) -> str:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, SERVICE, event_id):
                return "duplicate"
            found = await store.open_for(conn, ticket_id, metric)
            if found is None:
                return "unchanged"
            await store.save(conn, machine.corrected(found, deadline))
        return "corrected"

    async def on_ticket(self, event_id: uuid.UUID, facts: TicketFacts) -> str:
        """Remember what later triggers need (priority, plan, number) from ticket events."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, SERVICE, event_id):
                return "duplicate"
            await store.remember_ticket(conn, facts)
        return "remembered"

    async def known_ticket(self, ticket_id: str) -> dict[str, str | None] | None:
        """What ticket events told about the ticket: priority, plan, number."""
        async with self._pool.acquire() as conn:
            row = await store.ticket(conn, ticket_id)
        if row is None or not row["priority"]:
            return None
        return {"priority": row["priority"], "plan": row["plan"], "number": row["number"]}

    async def run_due(self, now: datetime, limit: int = 200) -> int:
        """Send deferred first pages and page next levels that are due."""
        async with self._pool.acquire() as conn, conn.transaction():
            episodes = await store.due(conn, now, limit)
            for episode in episodes:
                matrix = await self._matrix(conn, episode.account, episode.policy)
                await self._apply(conn, machine.on_due(episode, matrix, now), None)
        if episodes:
            self._on_commit()
        return len(episodes)

    async def next_due(self) -> datetime | None:
        return await store.next_due(self._pool)

    async def refresh_metrics(self) -> None:
        counts = await store.open_counts(self._pool)
        for status in ("warned", "deferred", "raised", "acknowledged"):
            OPEN.labels(status).set(counts.get(status, 0))
        OUTBOX_PENDING.labels(SERVICE).set(await outbox.pending(self._pool, SERVICE))

    async def acknowledge(
        self, escalation_id: uuid.UUID, by: str, accounts: Sequence[str]
    ) -> Escalation | None:
        """None when there is no such escalation among `accounts` (a 404, never a 403)."""
        async with self._pool.acquire() as conn, conn.transaction():
            found = await store.get(conn, escalation_id, lock=True)
            if found is None or found.account not in accounts:
                return None
            decision = machine.acknowledge(found, by, self._clock())
            await self._apply(conn, decision, None)
        self._on_commit()
        return decision[0]

    async def get(self, escalation_id: uuid.UUID, accounts: Sequence[str]) -> Escalation | None:
        found = await store.get(self._pool, escalation_id)
        return found if found is not None and found.account in accounts else None

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[Escalation]:
        return await store.listing(self._pool, accounts, ticket_id, status, limit)


def _recipients(contacts: dict[int, list[str]], item: Happened) -> list[str]:
    """The contacts of the level paged; a page that skipped levels goes to the highest of
    them that has contacts when its own level has none, so a catch-up page reaches someone."""
    for level in (item.level, *reversed(item.data.get("skipped_levels", ()))):
        if contacts.get(level):
            return contacts[level]
    return []


def _event(
    escalation: Escalation, item: Happened, recipients: list[str], causation: uuid.UUID | None
) -> EscalationEvent:
    return EscalationEvent(
        id=escalation_event_id(escalation.id, item.type, item.level),
        type=item.type,
        escalation_id=escalation.id,
        ticket_id=escalation.ticket_id,
        ticket_number=escalation.ticket_number,
        account=escalation.account,
        policy=escalation.policy,
        priority=escalation.priority,
        metric=escalation.metric,
        trigger=escalation.trigger,
        reason=escalation.reason,
        level=item.level,
        recipients=recipients if item.level > 0 else [],
        critical=escalation.critical,
        deadline=escalation.deadline,
        at=item.at,
        causation_id=causation,
        data=item.data,
    )
