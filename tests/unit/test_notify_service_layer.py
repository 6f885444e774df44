"""notify's use cases on in-memory fakes of their ports: what planning an event logs (and
renders, and remembers), and what delivering records and publishes for each outcome; the
channels are bootstrap's (`channels()`), and a channel registered here alone works too."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter as Tally
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services.notify.adapters import store as delivery_log
from services.notify.adapters.renderers import EmailRenderer, WebhookRenderer
from services.notify.bootstrap import DEFAULT_LANES, channels
from services.notify.domain.destinations import DestinationRefused
from services.notify.domain.notifications import (
    Attempted,
    Capacity,
    Content,
    LaneRule,
    NewNotification,
    Notification,
    Override,
)
from services.notify.domain.retries import Outcome, RetryPolicy
from services.notify.domain.routing import (
    PlannedNotification,
    Source,
    Subscription,
    UnknownTemplate,
    to_people,
)
from services.notify.domain.templating import Rendered, TemplateError
from services.notify.service_layer.admin import NotifyAdmin
from services.notify.service_layer.channels import ChannelSpec
from services.notify.service_layer.delivery import Deliverer
from services.notify.service_layer.planning import Planner
from shared.events.notification import NotificationEvent

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Commits:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


# -- planning ---------------------------------------------------------------------------


class FakePlanning:
    """Reads and writes of planning; a transaction that raises leaves nothing behind."""

    def __init__(self) -> None:
        self.processed: set[uuid.UUID] = set()
        self.tickets: dict[str, dict[str, Any]] = {}
        self.subs: dict[str, list[Subscription]] = {}
        self.overrides: dict[tuple[str, str], Override] = {}
        self.contacts: dict[str, list[str]] = {}
        """Each account's approved contacts."""
        self.contact_reads: list[str] = []
        self.logged: dict[uuid.UUID, tuple[NewNotification, datetime]] = {}
        self.tracked_meanwhile: set[uuid.UUID] = set()
        """Events another replica records between this one's reading and writing."""

    # PlanningReads
    async def seen(self, event_id: uuid.UUID) -> bool:
        return event_id in self.processed

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.tickets.get(ticket_id, {}))

    async def subscriptions(self, account: str) -> list[Subscription]:
        return self.subs.get(account, [])

    async def account_contacts(self, account: str) -> list[str]:
        self.contact_reads.append(account)
        return list(self.contacts.get(account, []))

    async def template_override(self, account: str, name: str) -> Override | None:
        return self.overrides.get((account, name))

    # PlanningWrites
    async def first_time(self, event_id: uuid.UUID) -> bool:
        if event_id in self.processed or event_id in self.tracked_meanwhile:
            return False
        self.processed.add(event_id)
        return True

    async def remember_ticket(
        self,
        ticket_id: str,
        account: str,
        number: str | None,
        contact: str | None,
        subject: str | None,
        priority: str | None,
    ) -> None:
        row = self.tickets.setdefault(ticket_id, {"ticket_id": ticket_id, "account": account})
        given = {"number": number, "contact": contact, "subject": subject, "priority": priority}
        for key, value in given.items():
            if value is not None or key not in row:
                row[key] = value if value is not None else row.get(key)

    async def insert(self, rows: Sequence[NewNotification], now: datetime) -> int:
        new = [row for row in rows if row.id not in self.logged]
        for row in new:
            self.logged[row.id] = (row, now)
        return len(new)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[FakePlanning]:
        yield self

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakePlanning]:
        yield self


class FakeTemplates:
    """Renders `name` as text naming the ticket number; records each render."""

    def __init__(self) -> None:
        self.renders: list[tuple[str, Override | None]] = []

    async def render(
        self, name: str, context: Mapping[str, Any], override: Override | None = None
    ) -> Rendered:
        self.renders.append((name, override))
        number = context["ticket"].get("number")
        subject = override[0] if override else f"[{number}] {name}"
        return Rendered(subject, f"{name} for {context['account']} ({number})")


def planner(store: FakePlanning, *extra: ChannelSpec) -> tuple[Planner, FakeTemplates, Commits]:
    """A planner with bootstrap's channels, and `extra` ones."""
    templates, commits = FakeTemplates(), Commits()
    registered = channels(templates, FakeSender(), FakeSender(), DEFAULT_LANES)  # type: ignore[arg-type]
    return Planner(store, [*registered, *extra], Clock(NOW), commits), templates, commits


def opened_source(ticket: str = "t-1") -> Source:
    return Source(uuid.uuid4(), "ticket.opened", ticket, "acme", {"type": "ticket.opened"})


OPENED = {
    "ticket_number": "TF-100001",
    "contact": "Jane@Acme.Example",
    "subject": "No dial tone",
    "priority": "p2",
}


async def test_an_opening_emails_the_contact_and_remembers_the_ticket() -> None:
    store = FakePlanning()
    use_case, templates, commits = planner(store)
    source = opened_source()
    assert await use_case.on_event(source, opened=OPENED) == "planned"
    [(row, logged_at)] = store.logged.values()
    assert (row.channel, row.recipient, row.template) == (
        "email",
        "jane@acme.example",
        "ticket_opened",
    )
    assert (row.subject, row.body) == (
        "[TF-100001] ticket_opened",
        b"ticket_opened for acme (TF-100001)",
    )
    assert (row.source_event_id, row.source_type, logged_at) == (source.event_id, source.type, NOW)
    assert store.tickets["t-1"]["contact"] == "Jane@Acme.Example"
    assert store.tickets["t-1"]["number"] == "TF-100001"
    assert source.event_id in store.processed
    assert templates.renders == [("ticket_opened", None)] and commits.count == 1


async def test_a_redelivered_event_is_a_duplicate_before_anything_is_rendered() -> None:
    store = FakePlanning()
    use_case, templates, commits = planner(store)
    source = opened_source()
    await use_case.on_event(source, opened=OPENED)
    assert await use_case.on_event(source, opened=OPENED) == "duplicate"
    assert len(store.logged) == 1 and len(templates.renders) == 1 and commits.count == 1


async def test_a_racing_redelivery_stops_at_the_tracking_row_and_logs_nothing() -> None:
    store = FakePlanning()
    use_case, _, commits = planner(store)
    source = opened_source()
    store.tracked_meanwhile.add(source.event_id)
    assert await use_case.on_event(source, opened=OPENED) == "duplicate"
    assert store.logged == {} and store.tickets == {} and commits.count == 0


async def test_an_escalation_page_renders_its_template_once_for_every_recipient() -> None:
    store = FakePlanning()
    store.overrides[("acme", "escalation_raised")] = ("ACME page", "{{ ticket.number }}")
    use_case, templates, _ = planner(store)
    source = Source(
        uuid.uuid4(),
        "escalation.raised",
        "t-1",
        "acme",
        {"type": "escalation.raised", "ticket_number": "TF-7"},
        "escalation",
    )
    assert await use_case.on_event(source, recipients=["b@acme.example", "A@acme.example"]) == (
        "planned"
    )
    rows = sorted((row for row, _ in store.logged.values()), key=lambda r: r.recipient)
    assert [(r.recipient, r.subject) for r in rows] == [
        ("a@acme.example", "ACME page"),
        ("b@acme.example", "ACME page"),
    ]
    assert rows[0].body == b"escalation_raised for acme (TF-7)"
    assert templates.renders == [("escalation_raised", ("ACME page", "{{ ticket.number }}"))]


async def test_a_subscribed_breach_logs_the_signed_webhook_payload() -> None:
    store = FakePlanning()
    store.subs["acme"] = [
        Subscription("wh_1", "acme", frozenset({"sla.breached"})),
        Subscription("wh_2", "acme", frozenset({"escalation.*"})),
    ]
    store.tickets["t-1"] = {"ticket_id": "t-1", "account": "acme", "number": "TF-9"}
    use_case, templates, _ = planner(store)
    body = {"type": "sla.breached", "metric": "first_response"}
    source = Source(uuid.uuid4(), "sla.breached", "t-1", "acme", body, "sla")
    assert await use_case.on_event(source) == "planned"
    [(row, _)] = store.logged.values()
    assert (row.channel, row.recipient, row.template, row.subject) == (
        "webhook",
        "wh_1",
        "sla.breached",
        "",
    )
    assert orjson.loads(row.body) == {
        "id": str(row.id),
        "type": "sla.breached",
        "ticket_id": "t-1",
        "ticket_number": "TF-9",
        "account": "acme",
        "event": body,
    }
    assert templates.renders == []


async def test_an_event_nobody_is_told_about_logs_nothing_but_is_tracked() -> None:
    store = FakePlanning()
    use_case, _, commits = planner(store)
    source = Source(uuid.uuid4(), "ticket.comment_added", "t-1", "acme", {})
    assert await use_case.on_event(source) == "nothing_to_send"
    assert store.logged == {} and source.event_id in store.processed and commits.count == 0


# -- delivery ---------------------------------------------------------------------------


@dataclass
class Row:
    notification: Notification
    status: str = "pending"
    due: datetime | None = NOW
    error: str | None = None


class FakeDelivery:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Row] = {}
        self.events: list[NotificationEvent] = []
        self.released: list[uuid.UUID] = []
        self.capacities: list[Capacity] = []

    def add(self, notification: Notification) -> None:
        self.rows[notification.id] = Row(notification)

    async def claim(
        self, now: datetime, lease_until: datetime, limit: int, capacity: Capacity
    ) -> list[Notification]:
        self.capacities.append(capacity)
        out: list[Notification] = []
        for row in self.rows.values():
            due = row.due
            if row.status != "pending" or due is None or due > now or len(out) >= limit:
                continue
            if row.notification.id in capacity.in_flight:
                continue
            row.notification = replace(row.notification, attempts=row.notification.attempts + 1)
            row.due = lease_until
            out.append(row.notification)
        return out

    async def release(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        self.released.extend(ids)

    async def record(
        self,
        results: Sequence[Attempted],
        events: Sequence[NotificationEvent],
        now: datetime,
        traces: Sequence[str | None] = (),
    ) -> None:
        for result in results:
            row = self.rows[result.id]
            row.status, row.due, row.error = result.status, result.next_attempt_at, result.error
        self.events.extend(events)

    async def next_due(self, capacity: Capacity) -> datetime | None:
        pending = [r.due for r in self.rows.values() if r.status == "pending" and r.due]
        return min(pending, default=None)


class FakeSender:
    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> Outcome:
        self.sent.append(notification)
        return self.outcomes.pop(0) if self.outcomes else Outcome(True)


def notification(channel: str = "email", recipient: str = "jane@acme.example") -> Notification:
    return Notification(
        id=uuid.uuid4(),
        ticket_id="t-1",
        account="acme",
        channel=channel,
        recipient=recipient,
        template="ticket_opened",
        source_event_id=uuid.uuid4(),
        source_type="ticket.opened",
        subject="Ticket logged",
        body=b"hello",
        attempts=0,
        created_at=NOW - timedelta(seconds=3),
        url="https://hooks.example/x" if channel == "webhook" else None,
        secret_sealed="sealed" if channel == "webhook" else None,
    )


RETRY = RetryPolicy(max_attempts=2, first_delay=timedelta(seconds=5))


def deliverer(
    store: FakeDelivery, clock: Clock, *extra: ChannelSpec, **senders: FakeSender
) -> tuple[Deliverer, Commits]:
    """A deliverer with those of bootstrap's channels given a sender, and `extra` ones."""
    commits = Commits()
    registered = [
        replace(channel, sender=senders[channel.name])
        for channel in channels(FakeTemplates(), FakeSender(), FakeSender(), DEFAULT_LANES)  # type: ignore[arg-type]
        if channel.name in senders
    ]
    return Deliverer(store, [*registered, *extra], clock, RETRY, on_commit=commits), commits


async def test_a_delivered_email_is_recorded_and_published() -> None:
    store, email = FakeDelivery(), FakeSender(Outcome(True))
    item = notification()
    store.add(item)
    use_case, commits = deliverer(store, Clock(NOW), email=email)
    assert await use_case.run_due(NOW) == 1
    assert [(n.id, n.recipient, n.attempts, n.at) for n in email.sent] == [
        (item.id, "jane@acme.example", 1, NOW)
    ]
    assert store.rows[item.id].status == "delivered" and store.rows[item.id].due is None
    [event] = store.events
    assert (event.type, event.notification_id, event.attempt, event.error) == (
        "notification.delivered",
        item.id,
        1,
        None,
    )
    assert use_case.in_flight == 0 and commits.count == 1


async def test_a_failed_send_is_retried_after_the_backoff_then_dead_when_attempts_run_out() -> None:
    store = FakeDelivery()
    email = FakeSender(Outcome(False, "SMTP 451: busy"), Outcome(False, "SMTP 451: busy"))
    item = notification()
    store.add(item)
    clock = Clock(NOW)
    use_case, _ = deliverer(store, clock, email=email)
    await use_case.run_due(NOW)
    row = store.rows[item.id]
    assert (row.status, row.due, row.error) == (
        "pending",
        NOW + timedelta(seconds=5),
        "SMTP 451: busy",
    )
    assert await use_case.next_due() == NOW + timedelta(seconds=5)
    clock.at = NOW + timedelta(seconds=5)
    assert await use_case.run_due(clock.at) == 1
    assert (row.status, row.due) == ("dead", None)
    assert [(e.type, e.attempt) for e in store.events] == [
        ("notification.failed", 1),
        ("notification.dead", 2),
    ]


async def test_a_permanent_failure_is_dead_at_once() -> None:
    store, email = FakeDelivery(), FakeSender(Outcome(False, "recipient refused", permanent=True))
    item = notification()
    store.add(item)
    use_case, _ = deliverer(store, Clock(NOW), email=email)
    await use_case.run_due(NOW)
    assert store.rows[item.id].status == "dead"
    assert [e.type for e in store.events] == ["notification.dead"]


async def test_each_channel_goes_to_its_own_sender_at_the_attempts_time() -> None:
    store, email, webhook = FakeDelivery(), FakeSender(), FakeSender()
    mail, hook = notification(), notification("webhook", "wh_1")
    store.add(mail)
    store.add(hook)
    use_case, _ = deliverer(store, Clock(NOW), email=email, webhook=webhook)
    assert await use_case.run_due(NOW) == 2
    assert [n.id for n in email.sent] == [mail.id]
    assert [(n.id, n.url, n.secret_sealed, n.at) for n in webhook.sent] == [
        (hook.id, "https://hooks.example/x", "sealed", NOW)
    ]
    assert {store.rows[mail.id].status, store.rows[hook.id].status} == {"delivered"}


async def test_a_channel_without_a_sender_is_dead_naming_the_channel() -> None:
    store = FakeDelivery()
    item = notification("webhook", "wh_1")
    store.add(item)
    use_case, _ = deliverer(store, Clock(NOW), email=FakeSender())
    await use_case.run_due(NOW)
    row = store.rows[item.id]
    assert (row.status, row.error) == ("dead", "no sender for channel webhook")


async def test_nothing_due_sends_nothing_and_records_nothing() -> None:
    store, email = FakeDelivery(), FakeSender()
    item = notification()
    store.add(item)
    store.rows[item.id].due = NOW + timedelta(minutes=1)
    use_case, commits = deliverer(store, Clock(NOW), email=email)
    assert await use_case.run_due(NOW) == 0
    assert email.sent == [] and store.events == [] and commits.count == 0


def test_the_renderers_content_types() -> None:
    """A webhook has no templates to override; an email's are its planned templates."""
    source = Source(uuid.uuid4(), "ticket.opened", "t-1", "acme", {})
    planned = [PlannedNotification(uuid.uuid4(), "email", "a@b.example", "ticket_opened", source)]
    assert WebhookRenderer().templates(planned) == set()
    assert EmailRenderer(FakeTemplates()).templates(planned) == {"ticket_opened"}  # type: ignore[arg-type]


# -- a channel registered here alone --------------------------------------------------


class LogRenderer:
    """A test-only channel's content: the template as subject, a line naming the ticket."""

    def templates(self, planned: Sequence[PlannedNotification]) -> set[str]:
        return set()

    async def render(
        self,
        planned: Sequence[PlannedNotification],
        ticket: Mapping[str, Any],
        overrides: Mapping[str, Override | None],
    ) -> dict[uuid.UUID, Content]:
        return {
            item.id: (item.template, f"{item.source.type} on {ticket.get('number')}".encode())
            for item in planned
        }


class LogSender:
    """A test-only channel's delivery: appends a line; counts the sends in flight."""

    def __init__(self, pause_s: float = 0.0) -> None:
        self.lines: list[str] = []
        self.pause_s = pause_s
        self.busy: Tally[str] = Tally()
        self.most: Tally[str] = Tally()
        """The most sends in flight at once, per recipient and in all (`*`)."""

    async def send(self, notification: Notification) -> Outcome:
        for key in (notification.recipient, "*"):
            self.busy[key] += 1
            self.most[key] = max(self.most[key], self.busy[key])
        await asyncio.sleep(self.pause_s)
        for key in (notification.recipient, "*"):
            self.busy[key] -= 1
        self.lines.append(f"{notification.recipient}: {notification.body.decode()}")
        return Outcome(True)


def claimed(row: NewNotification) -> Notification:
    """A logged notification as the delivery log hands it out."""
    given = {f.name: getattr(row, f.name) for f in fields(NewNotification)}
    return Notification(**given, attempts=0, created_at=NOW)


async def test_a_channel_registered_alone_is_planned_and_delivered_in_its_own_lane() -> None:
    sender = LogSender()
    log = ChannelSpec("log", to_people, LogRenderer(), sender, LaneRule(slots=2))
    store = FakePlanning()
    use_case, _, _ = planner(store, log)
    assert await use_case.on_event(opened_source(), opened=OPENED) == "planned"
    rows = {row.channel: row for row, _ in store.logged.values()}
    assert sorted(rows) == ["email", "log"]
    assert (rows["log"].recipient, rows["log"].subject, rows["log"].body) == (
        "jane@acme.example",
        "ticket_opened",
        b"ticket.opened on TF-100001",
    )
    assert rows["log"].id != rows["email"].id

    delivery, email = FakeDelivery(), FakeSender()
    for row in rows.values():
        delivery.add(claimed(row))
    deliver, _ = deliverer(delivery, Clock(NOW), log, email=email)
    assert await deliver.run_due(NOW) == 2
    assert sender.lines == ["jane@acme.example: ticket.opened on TF-100001"]
    assert [n.channel for n in email.sent] == ["email"]
    assert sorted((e.channel, e.type) for e in delivery.events) == [
        ("email", "notification.delivered"),
        ("log", "notification.delivered"),
    ]
    capacity = delivery.capacities[0]
    assert capacity.slots == {"email": DEFAULT_LANES.email * 4, "log": 2 * 4}
    assert capacity.channel_free == {}


async def test_a_registered_channel_gets_a_lane_per_recipient_and_a_cap_on_them_all() -> None:
    sender = LogSender(pause_s=0.02)
    rule = LaneRule(slots=1, per_recipient=True, together=2)
    log = ChannelSpec("log", to_people, LogRenderer(), sender, rule)
    delivery = FakeDelivery()
    for recipient in ("a", "b", "c"):
        for _ in range(2):
            delivery.add(notification("log", recipient))
    deliver, _ = deliverer(delivery, Clock(NOW), log)
    assert await deliver.run_due(NOW) == 6
    assert len(sender.lines) == 6
    assert sender.most == {"a": 1, "b": 1, "c": 1, "*": 2}
    capacity = delivery.capacities[0]
    assert (capacity.slots, capacity.recipient_slots, capacity.channel_free) == (
        {},
        4,
        {"log": 8},
    )


def test_a_channel_registered_twice_or_misnamed_is_refused() -> None:
    log = ChannelSpec("log", to_people, LogRenderer(), LogSender(), LaneRule(slots=1))
    with pytest.raises(ValueError, match="'log' is registered twice"):
        Deliverer(FakeDelivery(), [log, log], Clock(NOW), RETRY)
    with pytest.raises(ValueError, match="'Log!' does not match"):
        Planner(FakePlanning(), [replace(log, name="Log!")], Clock(NOW))


def test_the_delivery_log_refuses_lanes_its_lane_index_does_not_compute() -> None:
    """A one-lane channel needs nothing of the PostgreSQL log; one with a lane per recipient
    does (its lane index), so bootstrap refuses it until the log knows it."""
    lanes = {
        channel.name: channel.lanes
        for channel in channels(FakeTemplates(), FakeSender(), FakeSender(), DEFAULT_LANES)
    }  # type: ignore[arg-type]
    delivery_log.check_lanes({**lanes, "log": LaneRule(slots=2)})
    with pytest.raises(ValueError, match="'sms' has one lane per recipient"):
        delivery_log.check_lanes({**lanes, "sms": LaneRule(slots=1, per_recipient=True)})
    with pytest.raises(ValueError, match="'webhook' has one lane,"):
        delivery_log.check_lanes({"webhook": LaneRule(slots=4)})


# -- the admin API's use cases ----------------------------------------------------------


class FakeLog:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.templates: dict[tuple[str, str], tuple[str, str]] = {}
        self.redelivered: list[tuple[Sequence[uuid.UUID] | None, datetime]] = []

    async def listing(
        self, accounts: Sequence[str], ticket_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        found = [
            row
            for row in self.rows
            if row["account"] in accounts
            and (ticket_id is None or row["ticket_id"] == ticket_id)
            and (status is None or row["status"] == status)
        ]
        return found[:limit]

    async def all_accounts(self) -> list[str]:
        return sorted({row["account"] for row in self.rows})

    async def redeliver(self, ids: Sequence[uuid.UUID] | None, now: datetime) -> int:
        self.redelivered.append((ids, now))
        return sum(1 for row in self.rows if row["status"] == "dead")

    async def create_subscription(
        self, account: str, url: str, events: Sequence[str]
    ) -> tuple[str, str]:
        sub_id = f"wh_{len(self.subscriptions)}"
        self.subscriptions[sub_id] = {"id": sub_id, "account": account, "url": url}
        return sub_id, "whsec_x"

    async def list_subscriptions(self, account: str | None) -> list[dict[str, Any]]:
        return [s for s in self.subscriptions.values() if account in (None, s["account"])]

    async def disable_subscription(self, subscription_id: str) -> bool:
        return self.subscriptions.pop(subscription_id, None) is not None

    async def put_template(self, account: str, name: str, subject: str, body: str) -> None:
        self.templates[(account, name)] = (subject, body)

    async def status_counts(self) -> dict[str, int]:
        return {}

    async def outbox_pending(self) -> int:
        return 0


class Refusing:
    """Refuses what it is told to (templates by subject, destinations by URL)."""

    def __init__(self, refused: str = "") -> None:
        self.refused = refused

    async def validate(self, name: str, subject: str, body: str) -> None:
        if subject == self.refused:
            raise TemplateError(f"subject: {subject!r} refused", "subject", "syntax")

    async def check_url(self, url: str) -> None:
        if url == self.refused:
            raise DestinationRefused(f"{url} is private")


def admin(log: FakeLog, refused: str = "") -> tuple[NotifyAdmin, Commits]:
    wake = Commits()
    return NotifyAdmin(log, Refusing(refused), Refusing(refused), Clock(NOW), wake), wake


async def test_a_refused_destination_is_never_subscribed() -> None:
    log = FakeLog()
    use_case, _ = admin(log, refused="http://10.0.0.1/hook")
    with pytest.raises(DestinationRefused):
        await use_case.subscribe("acme", "http://10.0.0.1/hook", ["*"])
    assert log.subscriptions == {}
    assert await use_case.subscribe("acme", "https://hooks.example/a", ["*"]) == (
        "wh_0",
        "whsec_x",
    )
    assert [s["url"] for s in await use_case.subscriptions("acme")] == ["https://hooks.example/a"]
    assert await use_case.unsubscribe("wh_0") is True
    assert await use_case.unsubscribe("wh_0") is False


async def test_a_template_is_stored_only_when_known_and_valid() -> None:
    log = FakeLog()
    use_case, _ = admin(log, refused="{{ broken")
    with pytest.raises(UnknownTemplate):
        await use_case.put_template("acme", "no_such_template", "s", "b")
    with pytest.raises(TemplateError):
        await use_case.put_template("acme", "ticket_opened", "{{ broken", "b")
    assert log.templates == {}
    await use_case.put_template("acme", "ticket_opened", "Logged", "Thanks")
    assert log.templates == {("acme", "ticket_opened"): ("Logged", "Thanks")}


async def test_dead_letters_of_every_account_and_redelivery_wakes_the_loop() -> None:
    log = FakeLog()
    log.rows = [
        {"account": "acme", "ticket_id": "t-1", "status": "dead"},
        {"account": "globex", "ticket_id": "t-2", "status": "dead"},
        {"account": "globex", "ticket_id": "t-3", "status": "delivered"},
    ]
    use_case, wake = admin(log)
    assert [r["ticket_id"] for r in await use_case.dead_letters(None, 10)] == ["t-1", "t-2"]
    assert [r["ticket_id"] for r in await use_case.dead_letters("globex", 10)] == ["t-2"]
    assert [r["ticket_id"] for r in await use_case.notifications(["globex"], None, None, 10)] == [
        "t-2",
        "t-3",
    ]
    assert await use_case.redeliver(None) == 2
    assert log.redelivered == [(None, NOW)] and wake.count == 1
