"""The escalation use cases on in-memory fakes of their ports: what each input stores and
publishes, redeliveries, unknown policies and account scoping - without PostgreSQL."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.escalation.domain.escalation import ACTIVE, Escalation, NotOpen, TicketFacts, Trigger
from services.escalation.domain.matrix import UnknownPolicy
from services.escalation.service_layer.escalations import Escalator
from shared.events.escalation import EscalationEvent
from shared.policy import policies_by_ref

POLICIES = policies_by_ref()
# Tuesday 2026-11-24 10:00 in Los Angeles: inside hosted-voice standard hours.
TUESDAY = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
SATURDAY_NIGHT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


class FakeWork:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def first_time(self, event_id: uuid.UUID) -> bool:
        if event_id in self._store.processed:
            return False
        self._store.processed.add(event_id)
        return True

    async def open_for(self, ticket_id: str, metric: str) -> Escalation | None:
        found = [
            e
            for e in self._store.escalations.values()
            if e.ticket_id == ticket_id and e.metric == metric and e.status in ACTIVE
        ]
        return found[0] if found else None

    async def open_of_ticket(self, ticket_id: str) -> list[Escalation]:
        found = [
            e
            for e in self._store.escalations.values()
            if e.ticket_id == ticket_id and e.status in ACTIVE
        ]
        return sorted(found, key=lambda e: e.opened_at)

    async def get(self, escalation_id: uuid.UUID) -> Escalation | None:
        return self._store.escalations.get(escalation_id)

    async def save(self, escalation: Escalation) -> None:
        self._store.escalations[escalation.id] = escalation

    async def due(self, now: datetime, limit: int) -> list[Escalation]:
        found = [
            e
            for e in self._store.escalations.values()
            if e.next_at is not None and e.next_at <= now
        ]
        return sorted(found, key=lambda e: e.next_at or now)[:limit]

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        return self._store.tickets.get(ticket_id)

    async def remember_ticket(self, facts: TicketFacts) -> None:
        known = self._store.tickets.get(facts.ticket_id)
        if known is None:
            self._store.tickets[facts.ticket_id] = facts
            return
        self._store.tickets[facts.ticket_id] = TicketFacts(
            known.ticket_id,
            known.account,
            known.policy,
            facts.priority or known.priority,
            facts.plan or known.plan,
            facts.number or known.number,
        )

    async def contacts_by_level(self, account: str) -> dict[int, list[str]]:
        return self._store.contacts.get(account, {})

    async def matrix_override(self, account: str) -> dict[str, Any]:
        return self._store.overrides.get(account, {})

    async def publish(self, event: EscalationEvent) -> None:
        self._store.published.append(event)


class FakeStore:
    """Rolls back everything a unit of work did when it raises, as a transaction does."""

    def __init__(self) -> None:
        self.processed: set[uuid.UUID] = set()
        self.escalations: dict[uuid.UUID, Escalation] = {}
        self.tickets: dict[str, TicketFacts] = {}
        self.contacts: dict[str, dict[int, list[str]]] = {}
        self.overrides: dict[str, dict[str, Any]] = {}
        self.published: list[EscalationEvent] = []
        self.outbox_unsent = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeWork]:
        saved = copy.deepcopy((self.processed, self.escalations, self.tickets, self.published))
        try:
            yield FakeWork(self)
        except BaseException:
            self.processed, self.escalations, self.tickets, self.published = saved
            raise

    async def ticket(self, ticket_id: str) -> TicketFacts | None:
        return self.tickets.get(ticket_id)

    async def get(self, escalation_id: uuid.UUID) -> Escalation | None:
        return self.escalations.get(escalation_id)

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[Escalation]:
        found = [
            e
            for e in self.escalations.values()
            if e.account in accounts
            and (ticket_id is None or e.ticket_id == ticket_id)
            and (status is None or e.status == status)
        ]
        return sorted(found, key=lambda e: e.opened_at, reverse=True)[:limit]

    async def next_due(self) -> datetime | None:
        return min((e.next_at for e in self.escalations.values() if e.next_at), default=None)

    async def open_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self.escalations.values():
            if e.status != "resolved":
                counts[e.status] = counts.get(e.status, 0) + 1
        return counts

    async def outbox_pending(self) -> int:
        return self.outbox_unsent


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def breach(
    priority: str = "p1",
    *,
    at: datetime = TUESDAY,
    ticket: str = "t-1",
    account: str = "acme",
    policy: str = "hosted-voice@1",
    kind: str = "sla.breached",
    metric: str = "first_response",
    number: str | None = "TF-1",
) -> Trigger:
    return Trigger(
        event_id=uuid.uuid4(),
        kind=kind,
        ticket_id=ticket,
        account=account,
        policy=policy,
        priority=priority,
        metric=metric,
        at=at,
        deadline=at,
        ticket_number=number,
    )


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore()
    fake.contacts["acme"] = {1: ["noc@acme.example"], 2: ["lead@acme.example"]}
    return fake


class Commits:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def escalator(store: FakeStore, at: datetime = TUESDAY) -> tuple[Escalator, Clock, Commits]:
    clock, commits = Clock(at), Commits()
    return Escalator(store, POLICIES, clock, commits), clock, commits


async def test_a_breach_pages_level_one_and_publishes_it_with_its_contacts(
    store: FakeStore,
) -> None:
    use_cases, _, commits = escalator(store)
    assert await use_cases.on_trigger(breach("p1")) == "escalation.raised"
    [saved] = store.escalations.values()
    assert (saved.status, saved.level, saved.critical) == ("raised", 1, True)
    assert saved.next_at == TUESDAY + timedelta(hours=2)
    [event] = store.published
    assert (event.type, event.level, event.recipients) == (
        "escalation.raised",
        1,
        ["noc@acme.example"],
    )
    assert (event.escalation_id, event.ticket_number) == (saved.id, "TF-1")
    assert commits.count == 1


async def test_a_redelivered_trigger_is_a_duplicate_and_publishes_nothing(
    store: FakeStore,
) -> None:
    use_cases, _, _ = escalator(store)
    trigger = breach("p1")
    await use_cases.on_trigger(trigger)
    assert await use_cases.on_trigger(trigger) == "duplicate"
    assert len(store.published) == 1 and len(store.escalations) == 1


async def test_an_unknown_policy_raises_and_leaves_no_tracking_row(store: FakeStore) -> None:
    use_cases, _, commits = escalator(store)
    trigger = breach(policy="nobody@9")
    with pytest.raises(UnknownPolicy):
        await use_cases.on_trigger(trigger)
    assert store.processed == set() and store.published == [] and commits.count == 0


async def test_a_trigger_without_number_takes_the_remembered_ticket_number(
    store: FakeStore,
) -> None:
    use_cases, _, _ = escalator(store)
    facts = TicketFacts("t-1", "acme", "hosted-voice@1", "p1", None, "TF-77")
    assert await use_cases.on_ticket(uuid.uuid4(), facts) == "remembered"
    await use_cases.on_trigger(breach("p1", number=None))
    assert [event.ticket_number for event in store.published] == ["TF-77"]
    assert await use_cases.known_ticket("t-1") == facts


async def test_a_ticket_without_a_known_priority_is_not_known(store: FakeStore) -> None:
    use_cases, _, _ = escalator(store)
    await use_cases.on_ticket(uuid.uuid4(), TicketFacts("t-2", "acme", "hosted-voice@1"))
    assert await use_cases.known_ticket("t-2") is None
    assert await use_cases.known_ticket("t-3") is None


async def test_a_quiet_hours_breach_is_deferred_then_paged_when_due(store: FakeStore) -> None:
    use_cases, _, _ = escalator(store, SATURDAY_NIGHT)
    assert await use_cases.on_trigger(breach("p3", at=SATURDAY_NIGHT)) == "escalation.deferred"
    due = await use_cases.next_due()
    assert due is not None and due > SATURDAY_NIGHT
    assert await use_cases.run_due(due - timedelta(seconds=1)) == 0
    assert await use_cases.run_due(due) == 1
    assert [(e.type, e.level, e.recipients) for e in store.published] == [
        ("escalation.deferred", 0, []),
        ("escalation.raised", 1, ["noc@acme.example"]),
    ]


async def test_the_next_level_is_paged_to_its_own_contacts_when_due(store: FakeStore) -> None:
    use_cases, _, commits = escalator(store)
    await use_cases.on_trigger(breach("p1"))
    assert await use_cases.run_due(TUESDAY + timedelta(hours=2)) == 1
    assert [(e.type, e.level, e.recipients) for e in store.published][-1] == (
        "escalation.level_advanced",
        2,
        ["lead@acme.example"],
    )
    assert commits.count == 2


async def test_a_catch_up_page_goes_to_a_skipped_level_with_contacts(store: FakeStore) -> None:
    store.contacts["acme"] = {2: ["lead@acme.example"]}
    use_cases, _, _ = escalator(store)
    await use_cases.on_trigger(breach("p1"))
    await use_cases.run_due(TUESDAY + timedelta(hours=9))
    last = store.published[-1]
    assert (last.level, last.data, last.recipients) == (
        3,
        {"skipped_levels": [2]},
        ["lead@acme.example"],
    )


async def test_a_ticket_closing_resolves_each_open_episode(store: FakeStore) -> None:
    use_cases, _, _ = escalator(store)
    await use_cases.on_trigger(breach("p1", metric="first_response"))
    await use_cases.on_trigger(breach("p1", metric="resolution"))
    closed = uuid.uuid4()
    assert await use_cases.on_end(closed, "t-1", None, "ticket_closed", TUESDAY) == "resolved"
    assert {e.status for e in store.escalations.values()} == {"resolved"}
    resolved = [e for e in store.published if e.type == "escalation.resolved"]
    assert len(resolved) == 2
    assert all(e.causation_id == closed and e.data == {"why": "ticket_closed"} for e in resolved)
    assert await use_cases.on_end(uuid.uuid4(), "t-1", None, "ticket_closed", TUESDAY) == (
        "unchanged"
    )


async def test_a_met_metric_resolves_only_its_episode(store: FakeStore) -> None:
    use_cases, _, _ = escalator(store)
    await use_cases.on_trigger(breach("p1", metric="first_response"))
    await use_cases.on_trigger(breach("p1", metric="resolution"))
    await use_cases.on_end(uuid.uuid4(), "t-1", "resolution", "met", TUESDAY)
    statuses = {e.metric: e.status for e in store.escalations.values()}
    assert statuses == {"first_response": "raised", "resolution": "resolved"}


async def test_a_correction_moves_the_deadline_and_publishes_nothing(store: FakeStore) -> None:
    use_cases, _, _ = escalator(store)
    await use_cases.on_trigger(breach("p1"))
    later = TUESDAY + timedelta(minutes=30)
    assert await use_cases.on_corrected(uuid.uuid4(), "t-1", "first_response", later) == (
        "corrected"
    )
    [saved] = store.escalations.values()
    assert saved.deadline == later and len(store.published) == 1
    assert await use_cases.on_corrected(uuid.uuid4(), "t-1", "resolution", later) == "unchanged"


async def test_acknowledging_is_scoped_to_the_accounts_and_refused_once_resolved(
    store: FakeStore,
) -> None:
    use_cases, clock, _ = escalator(store)
    await use_cases.on_trigger(breach("p1"))
    [saved] = store.escalations.values()
    assert await use_cases.acknowledge(saved.id, "jane", ["other"]) is None
    assert await use_cases.get(saved.id, ["other"]) is None
    clock.at = TUESDAY + timedelta(minutes=5)
    acked = await use_cases.acknowledge(saved.id, "jane", ["acme"])
    assert acked is not None and (acked.status, acked.acknowledged_by) == ("acknowledged", "jane")
    assert acked.next_at is None
    last = store.published[-1]
    assert (last.type, last.at, last.data) == ("escalation.acknowledged", clock.at, {"by": "jane"})
    await use_cases.on_end(uuid.uuid4(), "t-1", None, "ticket_resolved", clock.at)
    with pytest.raises(NotOpen):
        await use_cases.acknowledge(saved.id, "jane", ["acme"])


async def test_listing_shows_only_the_accounts_escalations(store: FakeStore) -> None:
    use_cases, _, _ = escalator(store)
    await use_cases.on_trigger(breach("p1", ticket="t-1", account="acme"))
    await use_cases.on_trigger(breach("p1", ticket="t-9", account="globex"))
    assert [e.ticket_id for e in await use_cases.listing(["acme"], None, None, 10)] == ["t-1"]
    assert await use_cases.listing(["acme"], "t-9", None, 10) == []


async def test_an_invalid_account_override_falls_back_to_the_policy_matrix(
    store: FakeStore,
) -> None:
    store.overrides["acme"] = {"levels": "not a list"}
    use_cases, _, _ = escalator(store)
    assert await use_cases.on_trigger(breach("p1")) == "escalation.raised"
    [saved] = store.escalations.values()
    assert saved.next_at == TUESDAY + timedelta(hours=2)
