"""Helpers for the SLA service tests: workers of one app id, ticket events in, SLA events out."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.api_keys import KEY_PREFIX, digest
from services.devstack.provisioning import ensure_topics
from services.devstack.services import RunningService, start_sla
from services.intake.adapters.append_rows import envelope_json
from services.intake.adapters.event_store import migrate
from shared.events import Envelope
from shared.events.codec import to_kafka
from shared.events.sla import SlaEvent
from shared.topics import SLA_EVENTS, SLA_STATE, TICKET_EVENTS, Topic, topics_with_dead_letters

# voximplant, sev1 on the gold plan: first response within 60 minutes, 24x7.
FIRST_RESPONSE = timedelta(minutes=60)
OPENED = {
    "channel": "web",
    "priority": "sev1",
    "plan": "gold",
    "contact": "noc@acme.example",
    "subject": "No dial tone",
    "description": "All trunks down",
}
# The workers' internal token (TICKETFLOW_INTERNAL_TOKEN), as intake sends it.
INTERNAL_TOKEN = "sla-test-internal-token-0123456789"
INTERNAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


@dataclass
class SlaApp:
    """One SLA app id (group + its own state changelog) and its workers, over an event store
    (intake's tables in `database_url`) that `publish` writes before the topic, as the relay
    does: the worker checks the store before every breach."""

    var_dir: Path
    bootstrap_servers: str
    database_url: str
    app_id: str = field(default_factory=lambda: f"sla-test-{uuid.uuid4().hex[:8]}")
    workers: list[RunningService] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    """More TICKETFLOW_SLA_* variables for the workers (rate limits, ...)."""

    @property
    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "TICKETFLOW_SLA_APP_ID": self.app_id,
            "TICKETFLOW_SLA_STATE_TOPIC": f"{SLA_STATE.name}.{self.app_id}",
            "TICKETFLOW_SLA_SESSION_TIMEOUT_S": "6",
            "TICKETFLOW_SLA_COMMIT_INTERVAL_S": "0.5",
            "TICKETFLOW_INTERNAL_TOKEN": INTERNAL_TOKEN,
            **self.settings,
        }

    async def provision(self) -> None:
        state = Topic(self.env["TICKETFLOW_SLA_STATE_TOPIC"], SLA_STATE.partitions, compacted=True)
        await ensure_topics(self.bootstrap_servers, [*topics_with_dead_letters(), state])
        pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=2)
        assert pool is not None
        try:
            await migrate(pool)
        finally:
            await pool.close()

    async def publish(self, envelopes: Iterable[Envelope], store: bool = True) -> None:
        """Commit the events to the store (unless `store` is False), then publish them."""
        envelopes = list(envelopes)
        if store:
            await self.store(envelopes)
        await publish(self.bootstrap_servers, envelopes)

    async def store(self, envelopes: Iterable[Envelope]) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.executemany(
                "INSERT INTO events (ticket_id, version, event_id, type, occurred_at, envelope, "
                "recorded_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
                [
                    (
                        uuid.UUID(e.subject),
                        e.sequence,
                        e.id,
                        e.type,
                        e.time,
                        envelope_json(e),
                        e.recorded_at or datetime.now(UTC),
                    )
                    for e in envelopes
                ],
            )
        finally:
            await conn.close()

    async def issue_key(self, *accounts: str) -> str:
        """A new API key of `accounts`, written to the `api_keys` table as intake does."""
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24).replace("_", "-")
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(
                "INSERT INTO api_keys (id, secret_hash, accounts, label) VALUES ($1, $2, $3, $4)",
                key_id,
                digest(secret),
                list(accounts),
                "sla test",
            )
        finally:
            await conn.close()
        return f"{KEY_PREFIX}_{key_id}_{secret}"

    def start(self, wait: bool = True) -> RunningService:
        name = f"{self.app_id}-{len(self.workers)}"
        worker = start_sla(
            self.var_dir, self.bootstrap_servers, name=name, extra_env=self.env, wait=wait
        )
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def opened(ticket: str, due: datetime, **data: Any) -> Envelope:
    """A voximplant sev1 ticket opened so that its first response falls due at `due`."""
    return Envelope(
        type="ticket.opened",
        source="test",
        subject=ticket,
        time=due - FIRST_RESPONSE,
        recorded_at=datetime.now(UTC),
        sequence=1,
        account="acme",
        policy="voximplant@1",
        data={**OPENED, **data},
    )


def following(ticket: str, kind: str, sequence: int, at: datetime, **data: Any) -> Envelope:
    return Envelope(
        type=kind,
        source="test",
        subject=ticket,
        time=at,
        recorded_at=datetime.now(UTC),
        sequence=sequence,
        account="acme",
        policy="voximplant@1",
        data=data,
    )


async def publish(bootstrap_servers: str, envelopes: Iterable[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            record = to_kafka(envelope)
            await producer.send(
                TICKET_EVENTS.name, record.value, key=record.key, headers=list(record.headers)
            )
        await producer.flush()
    finally:
        await producer.stop()


async def publish_raw(
    bootstrap_servers: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TICKET_EVENTS.name, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def collect(
    bootstrap_servers: str,
    tickets: set[str],
    until: Any,
    timeout: float,
    topic: str = SLA_EVENTS.name,
) -> list[Any]:
    """Read `topic` from the start, keep records of `tickets`, until `until(records)` or timeout."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for message in messages:
                    if message.key is not None and message.key.decode() in tickets:
                        found.append(
                            SlaEvent.from_value(message.value)
                            if topic == SLA_EVENTS.name
                            else message
                        )
            if until(found):
                break
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return found


def of_type(events: Iterable[SlaEvent], kind: str, metric: str | None = None) -> list[SlaEvent]:
    return [e for e in events if e.type == kind and (metric is None or e.metric == metric)]
