"""The escalation service's use cases, each one unit of work: the state change, the
consumer's tracking row (for messages) and the outgoing events (outbox) commit together."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from prometheus_client import Counter, Gauge

from services.common.ops import OUTBOX_PENDING
from services.escalation.domain import escalation as machine
from services.escalation.domain.escalation import (
    Decision,
    Emitted,
    Escalation,
    TicketFacts,
    Trigger,
)
from services.escalation.domain.matrix import Matrix, UnknownPolicy, matrix_for
from services.escalation.service_layer.ports import EscalationStore, EscalationWork
from shared.events.escalation import EscalationEvent, escalation_event_id
from shared.policy import Policy

log = logging.getLogger("ticketflow.escalation")
SERVICE = "escalation"
EMITTED = Counter("ticketflow_escalation_events_total", "Escalation events emitted", ["type"])
OPEN_GAUGE = Gauge(
    "ticketflow_escalations_open", "Escalations not resolved yet, by status", ["status"]
)


class Escalator:
    """`policies`: the policies by pinned reference (`id@version`); `on_commit`: called after
    a unit of work that published something committed (wakes the outbox and the scheduler)."""

    def __init__(
        self,
        store: EscalationStore,
        policies: Mapping[str, Policy],
        now: Callable[[], datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._policies = policies
        self._now = now
        self._on_commit = on_commit

    async def _matrix(self, work: EscalationWork, account: str, policy_ref: str) -> Matrix:
        policy = self._policies.get(policy_ref)
        if policy is None:
            raise UnknownPolicy(policy_ref)
        override = await work.matrix_override(account)
        try:
            return matrix_for(policy, override)
        except ValueError:
            log.warning("account %s: invalid escalation override ignored", account)
            return matrix_for(policy)

    async def _apply(
        self, work: EscalationWork, decision: Decision, causation: uuid.UUID | None
    ) -> list[Emitted]:
        escalation, happened = decision
        if escalation is None:
            return happened
        await work.save(escalation)
        contacts = await work.contacts_by_level(escalation.account) if happened else {}
        for item in happened:
            event = _event(escalation, item, _recipients(contacts, item), causation)
            await work.publish(event)
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
        async with self._store.transaction() as work:
            if not await work.first_time(trigger.event_id):
                return "duplicate"
            matrix = await self._matrix(work, trigger.account, trigger.policy)
            known = await work.ticket(trigger.ticket_id)
            if known is not None and trigger.ticket_number is None:
                trigger = replace(trigger, ticket_number=known.number)
            current = await work.open_for(trigger.ticket_id, trigger.metric)
            if trigger.kind == "sla.warning":
                decision = machine.on_warning(current, trigger, matrix)
            else:
                decision = machine.on_raise(current, trigger, matrix, self._now())
            happened = await self._apply(work, decision, trigger.event_id)
        self._on_commit()
        return happened[0].type if happened else "unchanged"

    async def on_end(
        self, event_id: uuid.UUID, ticket_id: str, metric: str | None, why: str, at: datetime
    ) -> str:
        """Met, retracted (one metric) or ticket resolved/closed (every open episode)."""
        async with self._store.transaction() as work:
            if not await work.first_time(event_id):
                return "duplicate"
            if metric is None:
                episodes = await work.open_of_ticket(ticket_id)
            else:
                found = await work.open_for(ticket_id, metric)
                episodes = [found] if found is not None else []
            ended = 0
            for episode in episodes:
                ended += len(await self._apply(work, machine.resolve(episode, why, at), event_id))
        if ended:
            self._on_commit()
        return "resolved" if ended else "unchanged"

    async def on_corrected(
        self, event_id: uuid.UUID, ticket_id: str, metric: str, deadline: datetime
    ) -> str:
        """The SLA moved the deadline of an open episode."""
        async with self._store.transaction() as work:
            if not await work.first_time(event_id):
                return "duplicate"
            found = await work.open_for(ticket_id, metric)
            if found is None:
                return "unchanged"
            await work.save(machine.corrected(found, deadline))
        return "corrected"

    async def on_ticket(self, event_id: uuid.UUID, facts: TicketFacts) -> str:
        """Remember what later triggers need (priority, plan, number) from ticket events."""
        async with self._store.transaction() as work:
            if not await work.first_time(event_id):
                return "duplicate"
            await work.remember_ticket(facts)
        return "remembered"

    async def known_ticket(self, ticket_id: str) -> TicketFacts | None:
        """What ticket events told about the ticket; None until one told its priority."""
        known = await self._store.ticket(ticket_id)
        return known if known is not None and known.priority else None

    async def run_due(self, now: datetime, limit: int = 200) -> int:
        """Send deferred first pages and page next levels that are due."""
        async with self._store.transaction() as work:
            episodes = await work.due(now, limit)
            for episode in episodes:
                matrix = await self._matrix(work, episode.account, episode.policy)
                await self._apply(work, machine.on_due(episode, matrix, now), None)
        if episodes:
            self._on_commit()
        return len(episodes)

    async def next_due(self) -> datetime | None:
        return await self._store.next_due()

    async def refresh_metrics(self) -> None:
        counts = await self._store.open_counts()
        for status in ("warned", "deferred", "raised", "acknowledged"):
            OPEN_GAUGE.labels(status).set(counts.get(status, 0))
        OUTBOX_PENDING.labels(SERVICE).set(await self._store.outbox_pending())

    async def acknowledge(
        self, escalation_id: uuid.UUID, by: str, accounts: Sequence[str]
    ) -> Escalation | None:
        """None when there is no such escalation among `accounts` (a 404, never a 403);
        `NotOpen` when it is resolved."""
        async with self._store.transaction() as work:
            found = await work.get(escalation_id)
            if found is None or found.account not in accounts:
                return None
            decision = machine.acknowledge(found, by, self._now())
            await self._apply(work, decision, None)
        self._on_commit()
        return decision[0]

    async def get(self, escalation_id: uuid.UUID, accounts: Sequence[str]) -> Escalation | None:
        found = await self._store.get(escalation_id)
        return found if found is not None and found.account in accounts else None

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[Escalation]:
        return await self._store.listing(accounts, ticket_id, status, limit)


def _recipients(contacts: dict[int, list[str]], item: Emitted) -> list[str]:
    """The contacts of the level paged; a page that skipped levels goes to the highest of
    them that has contacts when its own level has none, so a catch-up page reaches someone."""
    for level in (item.level, *reversed(item.data.get("skipped_levels", ()))):
        if contacts.get(level):
            return contacts[level]
    return []


def _event(
    escalation: Escalation, item: Emitted, recipients: list[str], causation: uuid.UUID | None
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
