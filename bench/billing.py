"""Benchmark: ticket events/s through the billing service beside the bare consumer baseline.

Measured in the same run, on loopback (an embedded PostgreSQL and a Tansu broker of its own,
on 127.0.0.1), from the same records of a fresh ticket-events topic (12 partitions, key =
ticket id): a mix of tickets of the five policies (openings, work logs, determinations, ESS
start/stop, fee quotes and their answers, resolutions), every event billing-relevant.

  system    a consumer process wired as `billing` wires it: services.common ConsumerLoop
            (fetch, handle each record, commit the batch) -> BillingConsumer (decode) ->
            Biller on PostgresLedger (tracking row, the ticket's history, charges recomputed,
            assessed/voided, prepaid, TAM, outbox rows; one transaction per event)
  baseline  a bare aiokafka consumer of the same records, same consumer settings: (a) doing
            nothing with them, (b) decoding each (shared.events.codec.from_kafka)
Throughput: draining the backlog already on the topic (first record handled -> last).
Latency: a live phase at a steady rate once the backlog is drained, from the producer's send
(the envelope's recorded_at, set just before it) to the ledger transaction committed (system)
or the record decoded (baseline); also each handle's own time (decode + transaction).
The outbox rows are written, not published (no outbox publisher runs in this bench).

    python bench/billing.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.billing.adapters.postgres import PostgresLedger  # noqa: E402
from services.billing.bootstrap import MIGRATION_LOCK  # noqa: E402
from services.billing.domain.rules import AccountTerms, Money  # noqa: E402
from services.billing.entrypoints.consumer import BillingConsumer  # noqa: E402
from services.billing.service_layer.ledger import RELEVANT, SERVICE, Biller  # noqa: E402
from services.common.consumer import ConsumerLoop  # noqa: E402
from services.common.runtime import migrate_service, open_pool  # noqa: E402
from services.devstack.broker import EmbeddedBroker  # noqa: E402
from services.devstack.postgres import EmbeddedPostgres  # noqa: E402
from services.devstack.provisioning import ensure_database, ensure_topics  # noqa: E402
from shared.events import Envelope  # noqa: E402
from shared.events.codec import from_kafka, to_kafka  # noqa: E402
from shared.policy import policies_by_ref  # noqa: E402
from shared.topics import TICKET_EVENTS, Topic  # noqa: E402

HISTORY_START = datetime(2026, 11, 2, tzinfo=UTC)
ACCOUNTS_PER_POLICY = 10
VOICE1_RATES = {"emergency": Money(Decimal("250"), "USD"), "standard": Money(Decimal("125"), "USD")}
VOICE1_TOP_UP_MINUTES = 600
POLL_TIMEOUT_MS = 200
"""What ConsumerLoop.poll_once waits in getmany; the baseline waits the same."""

Step = tuple[str, int, dict[str, Any]]
"""(event type, minutes after opening, data)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the events -------------------------------------------------------------------------


def _work(start: int, minutes: int, rate: str) -> Step:
    """A work log `minutes` long that began `start` minutes after opening (`started_at` is
    filled in against the opening time)."""
    return (
        "ticket.work_logged",
        start + minutes,
        {"start": start, "minutes": minutes, "rate": rate},
    )


def _hosted_voice(rng: random.Random) -> tuple[str, list[Step]]:
    if rng.random() < 0.6:  # an off-hours P1: billable when the customer is found at fault
        steps = [
            (
                "ticket.opened",
                0,
                {"channel": "phone", "priority": "p1", "flags": ["off_hours_p1_billable_review"]},
            ),
            _work(5, rng.randrange(30, 150), "off_hours"),
            (
                "ticket.determination_recorded",
                200,
                {"fault": rng.choice(["customer", "customer", "provider"])},
            ),
            _work(210, rng.randrange(15, 60), "off_hours"),
            ("ticket.resolved", 300, {}),
            ("ticket.closed", 400, {}),
        ]
    else:  # a P4 feature request with a fee quote
        steps = [
            ("ticket.opened", 0, {"channel": "web", "priority": "p4"}),
            (
                "ticket.fee_quoted",
                60,
                {
                    "quote_id": "q1",
                    "amount": f"{rng.randrange(100, 900)}.00",
                    "currency": "USD",
                    "description": "Portal change",
                },
            ),
            ("ticket.quote_answered", 600, {"quote_id": "q1", "approved": rng.random() < 0.7}),
            _work(700, rng.randrange(60, 240), "standard"),
            ("ticket.resolved", 1000, {}),
        ]
    return "hosted-voice", steps


def _voipster(rng: random.Random) -> tuple[str, list[Step]]:
    steps = [
        ("ticket.opened", 0, {"channel": "phone", "priority": "emergency"}),
        _work(2, rng.randrange(15, 90), "emergency"),
        (
            "ticket.determination_recorded",
            120,
            {"criticality": rng.choice(["not_critical", "critical"])},
        ),
        ("ticket.resolved", 180, {}),
        ("ticket.closed", 240, {}),
    ]
    return "voipster", steps


def _voice1(rng: random.Random) -> tuple[str, list[Step]]:
    steps = [
        (
            "ticket.opened",
            0,
            {"channel": "phone", "priority": "emergency", "flags": ["prepay_required"]},
        ),
        ("ticket.ess_started", 1, {}),
        _work(2, rng.randrange(30, 120), "emergency"),
        ("ticket.ess_stopped", 150, {"reason": rng.choice(["workaround", "customer_stopped"])}),
        _work(200, rng.randrange(30, 90), "standard"),
        (
            "ticket.determination_recorded",
            320,
            {"cause": rng.choice(["other", "other", "other", "sip_trunk_outage"])},
        ),
        ("ticket.resolved", 400, {}),
    ]
    return "voice1", steps


def _voximplant(rng: random.Random) -> tuple[str, list[Step]]:
    plan = rng.choice(["silver", "silver", "gold", "platinum"])
    steps: list[Step] = [
        ("ticket.opened", 0, {"channel": "email", "priority": "sev3", "plan": plan})
    ]
    for index in range(rng.randrange(2, 6)):
        steps.append(_work(10 + index * 120, rng.randrange(30, 120), "tam"))
    steps.append(("ticket.resolved", 800, {}))
    return "voximplant", steps


def _kolmisoft(rng: random.Random) -> tuple[str, list[Step]]:
    opening: dict[str, Any] = {"channel": "web", "priority": rng.choice(["high", "medium", "low"])}
    kind = rng.random()
    if kind < 0.4:
        opening["plan"] = "free"
    elif kind < 0.6:
        opening.update(plan="gold", entitled=False)
    elif kind < 0.8:
        opening["plan"] = "gold"
    steps = [
        ("ticket.opened", 0, opening),
        _work(30, rng.randrange(30, 180), "standard"),
        ("ticket.determination_recorded", 240, {"cause": rng.choice(["bug", "other", "other"])}),
        _work(300, rng.randrange(15, 60), "standard"),
        ("ticket.resolved", 400, {}),
    ]
    return "kolmisoft-mor", steps


SCENARIOS = (_hosted_voice, _voipster, _voice1, _voximplant, _kolmisoft)


def accounts_of(policy_id: str) -> list[str]:
    return [f"{policy_id}-{index:02d}" for index in range(ACCOUNTS_PER_POLICY)]


def ticket_envelopes(
    rng: random.Random, opened_at: datetime, refs: dict[str, str], index: int
) -> list[Envelope]:
    policy_id, steps = SCENARIOS[index % len(SCENARIOS)](rng)
    ticket = str(uuid.uuid4())
    account = rng.choice(accounts_of(policy_id))
    out = []
    for sequence, (kind, minute, data) in enumerate(steps, start=1):
        if kind == "ticket.work_logged":
            started = opened_at + timedelta(minutes=data["start"])
            data = {
                "by": "eng",
                "started_at": started.isoformat(),
                "minutes": data["minutes"],
                "rate": data["rate"],
            }
        at = opened_at + timedelta(minutes=minute)
        out.append(
            Envelope(
                type=kind,
                source="bench",
                subject=ticket,
                time=at,
                recorded_at=at,
                sequence=sequence,
                account=account,
                policy=refs[policy_id],
                data=data,
            )
        )
    return out


def backlog(events: int, seed: int = 18) -> list[Envelope]:
    """Whole ticket histories over two weeks, interleaved in time order (each ticket's events
    in sequence), cut to `events`."""
    rng = random.Random(seed)
    refs = {policy.id: ref for ref, policy in policies_by_ref().items()}
    rows: list[tuple[datetime, int, int, Envelope]] = []
    index = 0
    while len(rows) < events:
        opened = HISTORY_START + timedelta(minutes=rng.randrange(0, 60 * 24 * 14))
        for envelope in ticket_envelopes(rng, opened, refs, index):
            rows.append((envelope.time, index, envelope.sequence, envelope))
        index += 1
    rows.sort(key=lambda row: row[:3])
    kept = [row[3] for row in rows]
    # a ticket cut short is fine; a ticket whose opening was cut off is not (dead letter)
    opened_ids = {e.subject for e in kept[:events] if e.type == "ticket.opened"}
    return [e for e in kept[:events] if e.subject in opened_ids]


def live_tickets(count_events: int, seed: int) -> list[Envelope]:
    """Fresh tickets (opened a day ago, so every event time is in the past), in the order a
    steady producer would send them (eight tickets in flight at once); recorded_at is stamped
    at send time."""
    rng = random.Random(seed)
    refs = {policy.id: ref for ref, policy in policies_by_ref().items()}
    now = datetime.now(UTC)
    queues: list[list[Envelope]] = []
    out: list[Envelope] = []
    index = 0
    while len(out) < count_events:
        while len(queues) < 8:
            queues.append(ticket_envelopes(rng, now - timedelta(days=1), refs, index))
            index += 1
        queue = rng.choice(queues)
        out.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return out


# --- producing ----------------------------------------------------------------------------


async def produce_backlog(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all"
    )
    await producer.start()
    try:
        pending = []
        for envelope in envelopes:
            record = to_kafka(envelope)
            pending.append(
                await producer.send(
                    topic, record.value, key=record.key, headers=list(record.headers)
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def produce_live(bootstrap: str, topic: str, envelopes: list[Envelope], rate: float) -> None:
    """One record at a time at `rate`/s, recorded_at = the moment it is handed to the client."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        began = time.perf_counter()
        for index, envelope in enumerate(envelopes):
            stamped = envelope.model_copy(update={"recorded_at": datetime.now(UTC)})
            record = to_kafka(stamped)
            await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
            await asyncio.sleep(max(0.0, (index + 1) / rate - (time.perf_counter() - began)))
        await producer.flush()
    finally:
        await producer.stop()


# --- the consumer processes ---------------------------------------------------------------


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(payload).decode() + "\n")
    sys.stdout.flush()


def sent_at(message: Any) -> float:
    for name, value in message.headers:
        if name == "ce_recordedat":
            return datetime.fromisoformat(value.decode()).timestamp()
    raise ValueError("no ce_recordedat header")


def consumer_for(bootstrap: str, topics: list[str], group: str) -> AIOKafkaConsumer:
    """As services.common.runtime.Runtime.consumer builds it (PLAINTEXT on loopback)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


class Meter:
    """Counts records and times them: the drain (backlog) and the live phase."""

    def __init__(self, backlog: int, live: int, live_topic: str) -> None:
        self.backlog, self.live, self.live_topic = backlog, live, live_topic
        self.seen = 0
        self.first: float | None = None
        self.last = 0.0
        self.handle_s: list[float] = []
        self.live_handle_s: list[float] = []
        self.latency_s: list[float] = []
        self.outcomes: Counter[str] = Counter()
        self.drained = asyncio.Event()
        self.done = asyncio.Event()
        self.cpu_at_first = 0.0
        self.cpu_at_drained = 0.0
        self.tenth = max(backlog // 10, 1)
        self.marks: list[float] = []
        """perf_counter at the first record and after each tenth of the backlog."""

    def began(self, now: float) -> None:
        if self.first is None:
            self.first = now
            self.marks.append(now)
            self.cpu_at_first = sum(psutil.Process().cpu_times()[:2])

    def count(self, message: Any, took: float) -> None:
        self.seen += 1
        if message.topic == self.live_topic:
            self.live_handle_s.append(took)
            self.latency_s.append(time.time() - sent_at(message))
        else:
            self.handle_s.append(took)
            if self.seen % self.tenth == 0 and len(self.marks) <= 10:
                self.marks.append(time.perf_counter())
        if self.seen == self.backlog:
            self.last = time.perf_counter()
            self.cpu_at_drained = sum(psutil.Process().cpu_times()[:2])
            self.drained.set()
        if self.seen >= self.backlog + self.live:
            self.done.set()

    def drain(self) -> dict[str, Any]:
        assert self.first is not None
        elapsed = self.last - self.first
        return {
            "phase": "drained",
            "events": self.backlog,
            "elapsed_s": elapsed,
            "events_per_s": self.backlog / elapsed,
            "cpu_s": self.cpu_at_drained - self.cpu_at_first,
            "handle_ms": summary(self.handle_s),
            "rss_mb": psutil.Process().memory_info().rss / 2**20,
            "deciles_per_s": [
                round(self.tenth / (after - before))
                for before, after in zip(self.marks, self.marks[1:], strict=False)
            ],
        }


def summary(seconds: list[float]) -> dict[str, float | None]:
    return {"p50": pct(seconds, 0.5), "p99": pct(seconds, 0.99), "max": pct(seconds, 1.0)}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000, 3)


async def phases(
    meter: Meter,
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    timeout: float,
    profile: bool,
) -> None:
    """Run `run(stop)` until the backlog is drained (report it) and the live records are in."""
    stop = asyncio.Event()
    profiler = cProfile.Profile() if profile else None
    task = asyncio.create_task(run(stop))
    deadline = time.monotonic() + timeout
    try:
        if profiler is not None:
            profiler.enable()
        await asyncio.wait_for(meter.drained.wait(), max(deadline - time.monotonic(), 1))
        if profiler is not None:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            log(out.getvalue())
        emit(meter.drain())
        if meter.live:
            await asyncio.wait_for(meter.done.wait(), max(deadline - time.monotonic(), 1))
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    emit(
        {
            "phase": "done",
            "live_events": len(meter.latency_s),
            "latency_ms": summary(meter.latency_s),
            "live_handle_ms": summary(meter.live_handle_s),
            "outcomes": dict(meter.outcomes),
            "rss_mb": psutil.Process().memory_info().rss / 2**20,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


async def service_role(args: argparse.Namespace) -> None:
    """The billing consumer, wired as services.billing.bootstrap wires it (no publisher)."""
    topics = [args.backlog_topic, args.live_topic]
    meter = Meter(args.backlog, args.live, args.live_topic)
    pool = await open_pool(args.database_url)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=2)
    await producer.start()
    consumer = consumer_for(args.bootstrap, topics, args.group)
    await consumer.start()
    try:
        biller = Biller(PostgresLedger(pool), policies_by_ref(), lambda: datetime.now(UTC))
        handle = BillingConsumer(biller).handle

        async def timed(message: Any) -> str:
            began = time.perf_counter()
            meter.began(began)
            outcome = "raised"
            try:
                outcome = await handle(message)
                return outcome
            finally:
                meter.outcomes[outcome] += 1
                meter.count(message, time.perf_counter() - began)

        loop = ConsumerLoop(SERVICE, consumer, producer, timed, parallel_partitions=True)
        await phases(meter, loop.run, args.timeout, args.profile)
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()


async def baseline_role(args: argparse.Namespace) -> None:
    """A bare aiokafka consumer: (a) `--decode` off: count only; on: from_kafka each record."""
    topics = [args.backlog_topic, args.live_topic]
    meter = Meter(args.backlog, args.live, args.live_topic)
    consumer = consumer_for(args.bootstrap, topics, args.group)
    await consumer.start()

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
            for messages in batch.values():
                for message in messages:
                    began = time.perf_counter()
                    meter.began(began)
                    if args.decode:
                        from_kafka(message.key, message.value, message.headers)
                    meter.outcomes["decoded" if args.decode else "read"] += 1
                    meter.count(message, time.perf_counter() - began)

    try:
        await phases(meter, run, args.timeout, False)
    finally:
        await consumer.stop()


# --- the run ------------------------------------------------------------------------------


class Child:
    """A consumer process of this script; its JSON lines read one by one."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, role: str, *options: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--role",
            role,
            *options,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        return cls(process)

    async def line(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"consumer process exited ({await self.process.wait()})")
        found: dict[str, Any] = orjson.loads(raw)
        return found

    async def finish(self, timeout: float = 30) -> None:
        if self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.process.returncode:
            raise RuntimeError(f"consumer process failed ({self.process.returncode})")

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def cpu_of(pid: int) -> float:
    """CPU seconds of a process and its children (PostgreSQL's backends), those it has reaped
    included (asyncpg's pool replaces a connection after 50,000 queries)."""
    parent = psutil.Process(pid)
    reaped = parent.cpu_times()
    total = float(reaped.children_user + reaped.children_system)
    for process in [parent, *parent.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def consumed(
    role: str,
    options: list[str],
    bootstrap: str,
    live_topic: str,
    live: list[Envelope],
    rate: float,
    timeout: float,
    postgres_pid: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any], float | None]:
    """Start a consumer process, wait for its drain, feed the live phase; its two reports and
    the CPU seconds PostgreSQL spent meanwhile."""
    cpu_before = cpu_of(postgres_pid) if postgres_pid else None
    child = await Child.start(role, *options)
    try:
        drained = await child.line(timeout)
        cpu = cpu_of(postgres_pid) - cpu_before if postgres_pid and cpu_before is not None else None
        log(f"  drained {drained['events']:,} events at {drained['events_per_s']:,.0f}/s")
        if live:
            log(f"  live phase: {len(live):,} events at {rate:.0f}/s ...")
            await produce_live(bootstrap, live_topic, live, rate)
        done = await child.line(timeout)
        await child.finish()
    finally:
        child.kill()
    return drained, done, cpu


async def ledger_counts(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        outbox = await conn.fetch(
            "SELECT convert_from(value, 'UTF8')::jsonb->>'type' AS type, count(*) AS n "
            "FROM service_outbox WHERE service = $1 GROUP BY 1 ORDER BY 1",
            SERVICE,
        )
        return {
            "processed_events": await conn.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = $1", SERVICE
            ),
            "billing_events": await conn.fetchval("SELECT count(*) FROM billing_events"),
            "charges_in_force": await conn.fetchval(
                "SELECT count(*) FROM billing_charges WHERE voided_at IS NULL"
            ),
            "charges_voided": await conn.fetchval(
                "SELECT count(*) FROM billing_charges WHERE voided_at IS NOT NULL"
            ),
            "outbox_rows": {row["type"]: row["n"] for row in outbox},
        }
    finally:
        await conn.close()


async def dead_letters(bootstrap: str, topics: list[Topic]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t.dlq, p) for t in topics for p in range(t.partitions)]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def account_terms(database_url: str) -> None:
    """voice1's accounts have a rate card and prepaid time (as an admin would set them)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        ledger = PostgresLedger(pool)
        for account in accounts_of("voice1"):
            await ledger.set_terms(account, AccountTerms(VOICE1_RATES), 60)
            await ledger.top_up(account, VOICE1_TOP_UP_MINUTES)
    finally:
        await pool.close()


async def run(quick: bool, profile: bool) -> dict[str, Any]:
    events = 3_000 if quick else 40_000
    live_count, rate = (300, 100.0) if quick else (3_000, 200.0)
    timeout = 60.0 if quick else 600.0
    load_at_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="bench-billing-"))
    suffix = uuid.uuid4().hex[:6]
    source = Topic(f"bench.ticket-events.{suffix}", TICKET_EVENTS.partitions)
    live_base = Topic(f"bench.ticket-events-live-base.{suffix}", TICKET_EVENTS.partitions)
    live_system = Topic(f"bench.ticket-events-live.{suffix}", TICKET_EVENTS.partitions)
    topics = [source, live_base, live_system]
    broker = EmbeddedBroker(workdir)
    postgres = EmbeddedPostgres(workdir / "postgres")
    try:
        bootstrap = broker.start()
        database_url = await ensure_database(postgres.start(), "bench_billing")
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        assert pool is not None
        try:
            await migrate_service(pool, "services.billing.adapters", MIGRATION_LOCK)
        finally:
            await pool.close()
        await account_terms(database_url)
        await ensure_topics(bootstrap, [*topics, *(Topic(t.dlq, t.partitions) for t in topics)])

        log(f"generating {events:,} ticket events of the five policies ...")
        history = backlog(events)
        mix = Counter(envelope.type for envelope in history)
        assert set(mix) <= RELEVANT, set(mix) - RELEVANT
        tickets = len({envelope.subject for envelope in history})
        log(f"publishing {len(history):,} events of {tickets:,} tickets to {source.name} ...")
        await produce_backlog(bootstrap, source.name, history)
        live_for_base = live_tickets(live_count, seed=1)
        live_for_system = live_tickets(live_count, seed=2)
        common = [
            "--bootstrap",
            bootstrap,
            "--backlog-topic",
            source.name,
            "--backlog",
            str(len(history)),
            "--timeout",
            str(timeout),
        ]

        results: dict[str, tuple[dict[str, Any], dict[str, Any], float | None]] = {}
        log("baseline (a): bare aiokafka consumer, records read only ...")
        results["read"] = await consumed(
            "baseline",
            [
                *common,
                "--group",
                f"bench-read-{suffix}",
                "--live",
                "0",
                "--live-topic",
                live_base.name,
            ],
            bootstrap,
            live_base.name,
            [],
            rate,
            timeout,
        )
        log("baseline (b): bare aiokafka consumer + from_kafka decode ...")
        results["decode"] = await consumed(
            "baseline",
            [
                *common,
                "--decode",
                "--group",
                f"bench-decode-{suffix}",
                "--live",
                str(len(live_for_base)),
                "--live-topic",
                live_base.name,
            ],
            bootstrap,
            live_base.name,
            live_for_base,
            rate,
            timeout,
        )
        log("system: ConsumerLoop + BillingConsumer + Biller on PostgresLedger ...")
        results["system"] = await consumed(
            "service",
            [
                *common,
                "--database-url",
                database_url,
                "--group",
                f"bench-billing-{suffix}",
                "--live",
                str(len(live_for_system)),
                "--live-topic",
                live_system.name,
                *(["--profile"] if profile else []),
            ],
            bootstrap,
            live_system.name,
            live_for_system,
            rate,
            timeout,
            postgres.pid,
        )
        ledger = await ledger_counts(database_url)
        dlq = await dead_letters(bootstrap, topics)
    finally:
        broker.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    drained, done, pg_cpu = results["system"]
    read, read_done, _ = results["read"]
    decoded, decoded_live, _ = results["decode"]
    expected = len(history) + live_count
    assert dlq == 0, f"{dlq} dead letters"
    assert done["outcomes"] == {"recorded": expected}, done["outcomes"]
    assert ledger["processed_events"] == ledger["billing_events"] == expected, ledger
    metrics = {
        "events_per_s": round(drained["events_per_s"]),
        "p50_ms": done["latency_ms"]["p50"],
        "p99_ms": done["latency_ms"]["p99"],
        "handle_p50_ms": drained["handle_ms"]["p50"],
        "handle_p99_ms": drained["handle_ms"]["p99"],
        "live_handle_p50_ms": done["live_handle_ms"]["p50"],
        "live_handle_p99_ms": done["live_handle_ms"]["p99"],
        "rss_mb": round(drained["rss_mb"], 1),
        "peak_rss_mb": round(done["peak_rss_mb"], 1),
        "consumer_cpu_share": round(drained["cpu_s"] / drained["elapsed_s"], 2),
        "postgres_cpu_share": round(pg_cpu / drained["elapsed_s"], 2) if pg_cpu else None,
        "drain_deciles_per_s": drained["deciles_per_s"],
        "live_events_measured": done["live_events"],
    }
    baselines = {
        "bare_consumer_events_per_s": round(read["events_per_s"]),
        "bare_decode_events_per_s": round(decoded["events_per_s"]),
        "bare_decode_p50_ms": decoded_live["latency_ms"]["p50"],
        "bare_decode_p99_ms": decoded_live["latency_ms"]["p99"],
        "bare_consumer_rss_mb": round(read["rss_mb"], 1),
        "bare_consumer_peak_rss_mb": round(read_done["peak_rss_mb"], 1),
    }
    return {
        "bench": "billing",
        "metrics": metrics,
        "baselines": baselines,
        "ratios": {
            "vs_bare_consumer": round(drained["events_per_s"] / read["events_per_s"], 4),
            "vs_bare_decode": round(drained["events_per_s"] / decoded["events_per_s"], 4),
        },
        "ledger": {**ledger, "dead_letters": dlq},
        "params": {
            "events": len(history),
            "tickets": tickets,
            "accounts": ACCOUNTS_PER_POLICY * len(SCENARIOS),
            "mix": dict(sorted(mix.items())),
            "partitions": source.partitions,
            "live_events": live_count,
            "live_rate_per_s": rate,
            "quick": quick,
            "profiled": profile,
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": round(load_at_start, 2),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
            "latency": "p50/p99: producer send (recorded_at stamped just before) -> ledger "
            "transaction committed (handler returned), live phase at a steady rate; "
            "handle_*: one record's decode + ledger transaction, during the drain. Both "
            "consumers keep aiokafka's default fetch_max_wait_ms (500), as the service's does; "
            "on the Tansu broker a fetch waits for it when few records are due, which is most "
            "of both p50s (the service's own share is the difference, or handle_*)",
            "drain_deciles": "events/s of each tenth of the drain, wall clock",
            "rss": "rss_mb: the consumer process when the backlog is drained; peak_rss_mb: "
            "its high-water mark over the run",
            "cpu_share": "CPU seconds per wall second during the drain: the consumer process, "
            "PostgreSQL (all its processes)",
            "note": "outbox rows are written, not published (no outbox publisher runs); "
            "PostgreSQL with its default durability (fsync, synchronous_commit on)",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3k events; well under a minute")
    parser.add_argument("--profile", action="store_true", help="cProfile the system's drain")
    parser.add_argument("--role", choices=["service", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--backlog-topic", help=argparse.SUPPRESS)
    parser.add_argument("--live-topic", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--backlog", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--live", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600, help=argparse.SUPPRESS)
    parser.add_argument("--decode", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "service":
        asyncio.run(service_role(args))
    elif args.role == "baseline":
        asyncio.run(baseline_role(args))
    else:
        print(orjson.dumps(asyncio.run(run(args.quick, args.profile))).decode())


if __name__ == "__main__":
    main()
