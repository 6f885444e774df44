"""Benchmark: ticket events/s through the SLA service (Faust worker), same run, same events:

  system  `ticketflow sla worker`: decode, dedup, fold with the core, SLA events out (acked),
          state to the table + changelog, timers
  (a)     a bare Faust agent that only decodes the same events (bench/faust_decode_agent.py)
  (b)     raw aiokafka consume + decode, no Faust
Throughput: draining a backlog already on the topic. Latency: a live phase at a modest rate,
from the event's store time to (system) the SLA event received by a consumer, (a) the decode.
Targets (issue 20): system >= 0.8 of (a); live p50 and p99 <= 2x (a)'s. The worker's own
stage figures (/metrics) over the drain and the live phase say where its time goes.

    python bench/sla_service.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kit.event_store import envelope_row, start_event_store, store_rows  # noqa: E402
from bench.sla_core import FOLLOW_UPS, OPENINGS, opening_now  # noqa: E402
from services.devstack.broker import EmbeddedBroker  # noqa: E402
from services.devstack.processes import free_port, spawn, stop  # noqa: E402
from services.devstack.provisioning import ensure_topics  # noqa: E402
from services.devstack.services import start_sla  # noqa: E402
from shared.events import Envelope  # noqa: E402
from shared.events.codec import from_kafka, to_kafka  # noqa: E402
from shared.events.sla import SlaEvent  # noqa: E402
from shared.policy import load_policies  # noqa: E402
from shared.topics import SLA_EVENTS, TICKET_EVENTS, topics_with_dead_letters  # noqa: E402

HISTORY_START = datetime(2026, 11, 2, tzinfo=UTC)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def envelopes(events: int, tickets: int, seed: int = 11) -> list[Envelope]:
    """Ticket histories (opened, then the follow-ups), interleaved in time order."""
    rng = random.Random(seed)
    refs = {policy_id: policy.ref for policy_id, policy in load_policies().items()}
    rows: list[tuple[datetime, int, Envelope]] = []
    per_ticket = events // tickets
    for index in range(tickets):
        policy_id = list(OPENINGS)[index % len(OPENINGS)]
        ticket = str(uuid.uuid4())
        at = HISTORY_START + timedelta(minutes=rng.randrange(0, 60 * 24 * 14))
        opening = {
            **rng.choice(OPENINGS[policy_id]),
            "contact": "noc@acme.example",
            "subject": "No audio",
        }
        kinds = [("ticket.opened", opening)]
        kinds += [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(per_ticket - 1)]
        for sequence, (kind, data) in enumerate(kinds, start=1):
            envelope = Envelope(
                type=kind,
                source="bench",
                subject=ticket,
                time=at,
                recorded_at=at,
                sequence=sequence,
                account="bench",
                policy=refs[policy_id],
                data=data,
            )
            rows.append((at, index, envelope))
            at += timedelta(minutes=rng.randrange(1, 240))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in rows]


async def produce(bootstrap: str, batch: list[Envelope]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all"
    )
    await producer.start()
    try:
        pending = []
        for envelope in batch:
            record = to_kafka(envelope)
            pending.append(
                await producer.send(
                    TICKET_EVENTS.name, record.value, key=record.key, headers=list(record.headers)
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw_aiokafka(bootstrap: str, expected: int) -> float:
    """Baseline (b): events/s of plain consume + decode."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(TICKET_EVENTS.name, p) for p in range(TICKET_EVENTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        began = time.perf_counter()
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batch.values():
                for message in messages:
                    from_kafka(message.key, message.value, message.headers)
                    seen += 1
        return expected / (time.perf_counter() - began)
    finally:
        await consumer.stop()


# Both drains are watched at the same modest rate: every poll costs the process polled (a
# scrape of the worker's whole /metrics exposition at 50 Hz took ~6 % of its CPU in a
# profile), and 0.2 s is < 1 % of a full drain.
POLL_S = 0.2


def events_counted(metrics_text: str, metric: str = "ticketflow_sla_ticket_events_total") -> int:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(metric + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


STAGES = ("record_wait", "lock", "fold", "publish", "state")


def stage_totals(metrics_text: str) -> dict[str, tuple[float, float]]:
    """(sum of seconds, count) of the worker's stage histograms: the record wait
    (`ticketflow_sla_record_wait_seconds`, per record) and each batch stage
    (`ticketflow_sla_batch_stage_seconds{stage=...}`, per batch)."""
    totals = {stage: [0.0, 0.0] for stage in STAGES}
    for line in metrics_text.splitlines():
        name, _, value = line.rpartition(" ")
        for part, index in (("_sum", 0), ("_count", 1)):
            if name == f"ticketflow_sla_record_wait_seconds{part}":
                totals["record_wait"][index] = float(value)
            elif name.startswith(f"ticketflow_sla_batch_stage_seconds{part}{{"):
                stage = name.split('stage="', 1)[1].split('"', 1)[0]
                totals[stage][index] = float(value)
    return {stage: (total[0], total[1]) for stage, total in totals.items()}


def stage_means_ms(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float | None]:
    """Mean milliseconds per record (record_wait) or per batch (the stages) between two
    scrapes, and the batches' count."""
    means: dict[str, float | None] = {}
    for stage in STAGES:
        seconds = after[stage][0] - before[stage][0]
        count = after[stage][1] - before[stage][1]
        means[stage] = round(seconds / count * 1000, 2) if count else None
    means["batches"] = after["fold"][1] - before["fold"][1]
    return means


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"{url}/metrics")).text


async def settle(bootstrap: str, url: str, quiet_s: float = 1.0, timeout: float = 180) -> int:
    """Bring the worker to the present before measuring live latency: the backlog's event
    times are in the past, so the first event stamped now moves the watermark over every
    timer still pending and the worker emits them all at once. Publish one such event and
    wait until the worker's emitted count stays still for `quiet_s`; returns how many SLA
    events that burst was."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        record = to_kafka(live_envelopes(1)[0])
        await producer.send_and_wait(
            TICKET_EVENTS.name, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()
    emitted = "ticketflow_sla_emitted_total"
    async with httpx.AsyncClient(timeout=5) as http:
        start = last = events_counted((await http.get(f"{url}/metrics")).text, emitted)
        still_since = time.monotonic()
        deadline = still_since + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            count = events_counted((await http.get(f"{url}/metrics")).text, emitted)
            if count != last:
                last, still_since = count, time.monotonic()
            elif count > start and time.monotonic() - still_since >= quiet_s:
                break
    return last - start


async def wait_ready(url: str, path: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{url}{path}")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


async def drain_rate_service(url: str, expected: int) -> float:
    """Poll the worker's counter; rate between the first counted event and the last."""
    first = None
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            count = events_counted((await http.get(f"{url}/metrics")).text)
            now = time.perf_counter()
            if count and first is None:
                first = (now, count)
            if count >= expected and first is not None:
                return (count - first[1]) / max(now - first[0], 1e-9)
            await asyncio.sleep(POLL_S)


async def drain_rate_bare(url: str, expected: int) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            seen = (await http.get(f"{url}/count")).json()
            if seen["count"] >= expected:
                return seen["count"] / max(seen["last"] - seen["first"], 1e-9)
            await asyncio.sleep(POLL_S)


def live_envelopes(count: int) -> list[Envelope]:
    return [opening_now("sev2") for _ in range(count)]


LOOP_LAGS: list[float] = []
"""How late the benchmark's own event loop woke from 5 ms sleeps during the live phase: the
load generator and the measuring consumer share it, so a busy loop would delay both the
events sent and the SLA events received (it once did: see `opening_now`)."""


async def watch_loop(lags: list[float], period: float = 0.005) -> None:
    while True:
        began = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - began - period)


async def live_phase(
    bootstrap: str, count: int, rate: float
) -> tuple[list[float], list[float], set[str]]:
    """Publish `count` fresh openings at `rate`/s; latency store time -> SLA event received,
    and store time -> the SLA event's record timestamp (when the worker sent it)."""
    consumer = AIOKafkaConsumer(
        SLA_EVENTS.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        group_id=None,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=500)  # position at the end before publishing
    recorded: dict[str, float] = {}
    latencies: list[float] = []
    sent: list[float] = []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()

    async def publish() -> None:
        for index in range(count):
            envelope = live_envelopes(1)[0]
            recorded[str(envelope.id)] = envelope.recorded_at.timestamp()  # type: ignore[union-attr]
            record = to_kafka(envelope)
            await producer.send(
                TICKET_EVENTS.name, record.value, key=record.key, headers=list(record.headers)
            )
            await asyncio.sleep(max(0.0, (index + 1) / rate - (time.perf_counter() - began)))

    began = time.perf_counter()
    sender = asyncio.create_task(publish())
    watch = asyncio.create_task(watch_loop(LOOP_LAGS))
    deadline = time.monotonic() + count / rate + 20
    while len(latencies) < count and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        received = time.time()
        for messages in batch.values():
            for message in messages:
                event = SlaEvent.from_value(message.value)
                cause = str(event.causation_id)
                if event.type == "sla.ticket_accepted" and cause in recorded:
                    latencies.append(received - recorded[cause])
                    sent.append(message.timestamp / 1000 - recorded[cause])
    await sender
    watch.cancel()
    await producer.stop()
    await consumer.stop()
    return latencies, sent, set(recorded)


async def start_bare_agent(bootstrap: str, log_path: Path) -> tuple[Any, str]:
    """Baseline (a) in a process of its own, ready; returns (process, its URL)."""
    port = free_port()
    process = spawn(
        [
            sys.executable,
            str(ROOT / "bench" / "faust_decode_agent.py"),
            bootstrap,
            str(port),
            f"bench-bare-{uuid.uuid4().hex[:6]}",
        ],
        log_path=log_path,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, "/count")
    return process, url


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


async def run(quick: bool) -> dict[str, Any]:
    events, tickets = (30_000, 3_000) if quick else (200_000, 20_000)
    live_count, live_rate = (300, 100.0) if quick else (2_000, 200.0)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sla-"))
    broker = EmbeddedBroker(workdir)
    bootstrap = broker.start()
    postgres, database_url = await start_event_store(workdir)
    processes: list[Any] = []
    try:
        await ensure_topics(bootstrap, topics_with_dead_letters())
        log(f"generating {events:,} events over {tickets:,} tickets ...")
        history = envelopes(events, tickets)
        log("committing the backlog to the event store, then publishing it ...")
        await store_rows(database_url, [envelope_row(envelope) for envelope in history])
        await produce(bootstrap, history)

        log("baseline (b): raw aiokafka consume + decode ...")
        raw_rate = await raw_aiokafka(bootstrap, len(history))

        log("baseline (a): bare Faust decode agent ...")
        bare, bare_url = await start_bare_agent(bootstrap, workdir / "bare.log")
        processes.append(bare)
        bare_rate = await drain_rate_bare(bare_url, len(history))
        stop(bare)

        log("system: ticketflow sla worker ...")
        service = start_sla(
            workdir,
            bootstrap,
            extra_env={
                "TICKETFLOW_SLA_APP_ID": f"bench-sla-{uuid.uuid4().hex[:6]}",
                "DATABASE_URL": database_url,
            },
            wait=False,
        )
        worker, url = service.process, service.url
        processes.append(worker)
        await wait_ready(url, "/healthz")
        drain_before = stage_totals(await scrape(url))
        system_rate = await drain_rate_service(url, len(history))
        drain_stages = stage_means_ms(drain_before, stage_totals(await scrape(url)))
        log(f"  drain stages (mean ms): {drain_stages}")
        await wait_ready(url, "/readyz")
        rss_mb = psutil.Process(worker.pid).memory_info().rss / 2**20

        log("bringing the worker to the present (timers the backlog left pending) ...")
        burst = await settle(bootstrap, url)
        log(f"  {burst:,} SLA events emitted as the watermark reached now")
        log(f"live phase: {live_count} openings at {live_rate:.0f}/s ...")
        before = stage_totals(await scrape(url))
        latencies, sent, _ = await live_phase(bootstrap, live_count, live_rate)
        stages = stage_means_ms(before, stage_totals(await scrape(url)))
        log(f"  live stages (mean ms): {stages}")

        stop(worker)  # the bare agent's live phase gets the machine to itself too
        log("live phase for the bare agent ...")
        bare2, bare2_url = await start_bare_agent(bootstrap, workdir / "bare2.log")
        processes.append(bare2)
        total = len(history) + live_count
        await drain_rate_bare(bare2_url, total)  # catch up with everything so far
        live_began = time.time()
        await produce_live_for_bare(bootstrap, live_count, live_rate)
        async with httpx.AsyncClient(timeout=5) as http:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                seen = (await http.get(f"{bare2_url}/count")).json()
                if seen["count"] >= total + live_count:
                    break
                await asyncio.sleep(0.1)
        bare_latencies = [late for stored, late in seen["latencies"] if stored >= live_began]
    finally:
        for process in processes:
            stop(process)
        broker.stop()
        postgres.stop()

    metrics = {
        "events_per_s": round(system_rate),
        "p50_ms": pct(latencies, 0.50),
        "p99_ms": pct(latencies, 0.99),
        "rss_mb": round(rss_mb, 1),
        "live_events_measured": len(latencies),
        "settle_burst_sla_events": burst,
        "live_stage_means_ms": stages,
        "drain_stage_means_ms": drain_stages,
        "bench_loop_lag_p99_ms": pct(LOOP_LAGS, 0.99),
        "store_to_sla_record_p50_ms": pct(sent, 0.50),
        "store_to_sla_record_p99_ms": pct(sent, 0.99),
    }
    baselines = {
        "bare_faust_decode_events_per_s": round(bare_rate),
        "bare_faust_p50_ms": pct(bare_latencies, 0.50),
        "bare_faust_p99_ms": pct(bare_latencies, 0.99),
        "raw_aiokafka_decode_events_per_s": round(raw_rate),
    }
    ratios = {
        "vs_bare_faust": round(system_rate / bare_rate, 3),
        "vs_raw_aiokafka": round(system_rate / raw_rate, 3),
    }
    return {
        "bench": "sla_service",
        "metrics": metrics,
        "baselines": baselines,
        "ratios": ratios,
        "params": {
            "events": events,
            "tickets": tickets,
            "partitions": TICKET_EVENTS.partitions,
            "live_events": live_count,
            "live_rate_per_s": live_rate,
            "quick": quick,
            "target_ratio_vs_bare_faust": 0.8,
            "target_latency_vs_bare_faust": 2.0,
            "latency": "store time -> SLA event received by a consumer (system); "
            "store time -> decoded (bare agent)",
            "live_stage_means_ms": "the worker's own figures over the live phase "
            "(/metrics): record_wait per record, from its broker timestamp to its batch's "
            "start; lock, fold, publish (effects acked), state (changelog acked) per batch",
        },
    }


async def produce_live_for_bare(bootstrap: str, count: int, rate: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    began = time.perf_counter()
    try:
        for index, envelope in enumerate(live_envelopes(count)):
            envelope = envelope.model_copy(update={"recorded_at": datetime.now(UTC)})
            record = to_kafka(envelope)
            await producer.send(
                TICKET_EVENTS.name, record.value, key=record.key, headers=list(record.headers)
            )
            await asyncio.sleep(max(0.0, (index + 1) / rate - (time.perf_counter() - began)))
        await producer.flush()
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30k events; under a minute")
    args = parser.parse_args()
    result = asyncio.run(run(args.quick))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
