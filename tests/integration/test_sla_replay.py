"""`ticketflow sla replay` over a real event store: statuses, policy what-if, live comparison."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.devstack.infrastructure import Infrastructure
from services.devstack.provisioning import ensure_database, ensure_topics
from services.intake.adapters.event_store import EventStore, migrate
from services.intake.domain.tickets import TicketRow
from services.sla.domain import state_codec
from services.sla.domain.processing import apply_event
from services.sla.domain.tracked import Incoming, Tracked
from services.sla.service_layer.replay import ReplayJob, replay
from shared.events import Envelope
from shared.policy import load_policy_file, policies_by_ref
from shared.topics import Topic

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store_url(infra: Infrastructure) -> AsyncIterator[str]:
    url = await ensure_database(infra.database_url, f"replay_{uuid.uuid4().hex[:10]}")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    await migrate(pool)
    await pool.execute(
        "INSERT INTO accounts (id, name, policy_id) VALUES ('vox', 'V', 'voximplant')"
    )
    await pool.close()
    yield url


def _opened(ticket_id: uuid.UUID) -> Envelope:
    return Envelope(
        type="ticket.opened",
        source="test",
        subject=str(ticket_id),
        time=T0,
        sequence=1,
        account="vox",
        policy="voximplant@1",
        data={
            "channel": "web",
            "priority": "sev1",
            "plan": "gold",
            "ticket_number": f"TF-{ticket_id.hex[:10]}",
        },
    )


def _responded(minutes: int):  # type: ignore[no-untyped-def]
    def build(ticket: TicketRow) -> Envelope:
        return Envelope(
            type="ticket.responded",
            source="test",
            subject=str(ticket.ticket_id),
            time=T0 + timedelta(minutes=minutes),
            sequence=ticket.version + 1,
            account=ticket.account_id,
            policy=ticket.policy,
        )

    return build


async def _tickets(url: str) -> dict[str, uuid.UUID]:
    """quick: answered in 10 min; slow: in 50 min; silent: never (target: 60 min)."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    assert pool is not None
    store = EventStore(pool)
    made = {}
    for name, minutes in (("quick", 10), ("slow", 50), ("silent", None)):
        ticket_id = uuid.uuid4()
        await store.open_ticket(_opened(ticket_id))
        if minutes is not None:
            await store.append(ticket_id, _responded(minutes))
        made[name] = ticket_id
    await pool.close()
    return made


async def test_replay_rebuilds_statuses_and_answers_what_a_new_policy_would_flip(
    store_url: str, tmp_path: Path
) -> None:
    made = await _tickets(store_url)
    result = await replay(ReplayJob(store_url, NOW))
    assert result["events"] == 5 and result["tickets"] == 3
    assert result["refused"] == [] and result["unknown_policies"] == {}

    # A stricter candidate: sev1 gold first response within 30 minutes instead of 60.
    text = (REPO / "policies" / "voximplant.yaml").read_text()
    stricter = text.replace(
        "{priorities: [sev1], plans: [gold, platinum], hours: 1}",
        "{priorities: [sev1], plans: [gold, platinum], minutes: 30}",
    ).replace("version: 1", "version: 2", 1)
    assert stricter != text
    candidate_file = tmp_path / "voximplant.yaml"
    candidate_file.write_text(stricter)
    candidate = load_policy_file(candidate_file)
    assert candidate.ref == "voximplant@2"

    # Two processes, tickets split by id: the same answer.
    what_if = await replay(ReplayJob(store_url, NOW, candidate_file=candidate_file), workers=2)
    assert what_if["workers"] == 2 and what_if["tickets"] == 3
    flips = what_if["candidate"]["flips"]
    assert flips == [
        {
            "ticket_id": str(made["slow"]),
            "metric": "first_response",
            "before": "met",
            "after": "breached",
        }
    ]
    assert what_if["candidate"]["met_to_breached"] == 1

    later = await replay(ReplayJob(store_url, NOW, since=NOW))
    assert later["tickets"] == 0


async def test_replay_reports_where_the_live_state_differs(
    store_url: str, infra: Infrastructure
) -> None:
    made = await _tickets(store_url)
    policy = policies_by_ref()["voximplant@1"]
    topic = Topic(f"test.sla-state.{uuid.uuid4().hex[:8]}", 3, compacted=True)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for name, ticket_id in made.items():
            opened = _opened(ticket_id)
            # The live state of "slow" never saw its response (a lost event, say).
            history = [
                Incoming(
                    str(opened.id), opened.type, opened.time, 1, "vox", opened.policy, opened.data
                )
            ]
            if name == "quick":
                history.append(
                    Incoming(
                        str(uuid.uuid4()),
                        "ticket.responded",
                        T0 + timedelta(minutes=10),
                        2,
                        "vox",
                        opened.policy,
                    )
                )
            tracked: Tracked | None = None
            for event in history:
                tracked = apply_event(tracked, event, str(ticket_id), 0, policy).tracked
            assert tracked is not None
            await producer.send_and_wait(
                topic.name, state_codec.encode(tracked), key=str(ticket_id).encode()
            )
    finally:
        await producer.stop()

    result = await replay(
        ReplayJob(store_url, NOW), live=(infra.kafka_bootstrap_servers, topic.name)
    )
    live = result["live"]
    assert live["tickets"] == 3
    assert live["differences"] == [
        {
            "ticket_id": str(made["slow"]),
            "metric": "first_response",
            "live": "breached",
            "replayed": "met",
        }
    ]


async def test_replay_cli_prints_progress_and_one_json_object(store_url: str) -> None:
    import asyncio
    import json
    import sys

    await _tickets(store_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        "sla",
        "replay",
        "--database-url",
        store_url,
        "--now",
        NOW.isoformat(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["events"] == 5 and result["tickets"] == 3
    assert "replayed 5 events of 3 tickets" in err.decode()
    assert result["workers"] >= 1

    bad = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        "sla",
        "replay",
        "--database-url",
        store_url,
        "--since",
        "yesterday",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(bad.communicate(), timeout=60)
    assert bad.returncode == 2
    assert "--since" in err.decode()
