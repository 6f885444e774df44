"""Benchmark: one SLA worker holding 1,000,000 open timers; breach lateness and memory.

  system    `ticketflow sla worker` after consuming N ticket openings (voximplant sev1/gold,
            first response within 60 min, 24x7), then K more whose deadlines fall over the next
            seconds: breach lateness = the SLA event's emit time minus its deadline; resident
            memory of the worker holding every timer.
  baseline  a bare asyncio process holding the same N + K deadlines as `loop.call_at` handles
            (no state, no Kafka), measured the same way in the same run.
Targets at 1M: p99 lateness < 50 ms; worker RSS <= 2.5 x the baseline's. Both sides also
report the memory each timer adds (RSS growth over the idle process, per timer), the figure
the scaling curve (`bench/curves.py`) plots against the number held.

    python bench/sla_timers.py [--held N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kit.event_store import Row, start_event_store, store_rows  # noqa: E402
from bench.sla_core import opening_now  # noqa: E402
from services.devstack.broker import EmbeddedBroker  # noqa: E402
from services.devstack.processes import stop  # noqa: E402
from services.devstack.provisioning import ensure_topics  # noqa: E402
from services.devstack.services import start_sla  # noqa: E402
from services.intake.adapters.append_rows import envelope_json  # noqa: E402
from shared.events.codec import to_kafka  # noqa: E402
from shared.events.sla import SlaEvent  # noqa: E402
from shared.topics import SLA_EVENTS, TICKET_EVENTS, topics_with_dead_letters  # noqa: E402

TARGET = timedelta(minutes=60)  # voximplant sev1 / gold first response, 24x7


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Openings:
    """Kafka records of `ticket.opened`, as the codec writes them, built fast: one template
    envelope through the real codec, then only the per-ticket attributes change."""

    def __init__(self) -> None:
        template = opening_now("sev1")
        self.template_json = envelope_json(template)
        record = to_kafka(template)
        self.value = record.value
        self.fixed = [
            (name, value)
            for name, value in record.headers
            if name not in ("ce_id", "ce_subject", "ce_time", "ce_recordedat")
        ]

    def record(self, due: datetime) -> tuple[bytes, list[tuple[str, bytes]]]:
        ticket = str(uuid.uuid4()).encode()
        now = datetime.now(UTC).isoformat().encode()
        headers = [
            *self.fixed,
            ("ce_id", str(uuid.uuid4()).encode()),
            ("ce_subject", ticket),
            ("ce_time", (due - TARGET).isoformat().encode()),
            ("ce_recordedat", now),
        ]
        return ticket, headers

    def row(self, headers: list[tuple[str, bytes]]) -> Row:
        """The store row of the record with these headers."""
        attrs = {name: value.decode() for name, value in headers}
        envelope = orjson.loads(self.template_json)
        envelope.update(id=attrs["ce_id"], subject=attrs["ce_subject"], time=attrs["ce_time"])
        return (
            uuid.UUID(attrs["ce_subject"]),
            1,
            uuid.UUID(attrs["ce_id"]),
            "ticket.opened",
            datetime.fromisoformat(attrs["ce_time"]),
            orjson.dumps(envelope).decode(),
            datetime.fromisoformat(attrs["ce_recordedat"]),
        )


async def publish(
    bootstrap: str, dues: list[datetime], progress: str, database_url: str | None = None
) -> None:
    """Openings falling due at `dues`; with `database_url`, committed to the event store
    first (the worker confirms every breach there)."""
    openings = Openings()
    if database_url is not None:
        records = [openings.record(due) for due in dues]
        await store_rows(database_url, [openings.row(headers) for _, headers in records])
    else:
        records = [openings.record(due) for due in dues]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    try:
        pending = []
        for index, (key, headers) in enumerate(records, start=1):
            pending.append(
                await producer.send(TICKET_EVENTS.name, openings.value, key=key, headers=headers)
            )
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
            if index % 200_000 == 0:
                log(f"  {progress}: published {index:,}")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def wait_processed(url: str, expected: int, timeout: float) -> float:
    began = time.monotonic()
    last_report = began
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() - began < timeout:
            text = (await http.get(f"{url}/metrics")).text
            done = metric(text, "ticketflow_sla_ticket_events_total")
            if done >= expected:
                return time.monotonic() - began
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                rate = done / (last_report - began)
                log(f"  worker processed {done:,.0f} / {expected:,} ({rate:,.0f}/s)")
            await asyncio.sleep(0.5)
    raise RuntimeError(f"worker processed fewer than {expected} events in {timeout:.0f} s")


async def breach_lateness(bootstrap: str, tickets: int, window_s: float) -> list[float]:
    consumer = AIOKafkaConsumer(
        SLA_EVENTS.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        group_id=None,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=1000)
    until = time.monotonic() + window_s
    lateness: list[float] = []
    try:
        while len(lateness) < tickets and time.monotonic() < until:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for message in messages:
                    event = SlaEvent.from_value(message.value)
                    if event.type == "sla.breached":
                        lateness.append((event.emitted_at - event.at).total_seconds())
    finally:
        await consumer.stop()
    return lateness


BASELINE = r"""
import asyncio, json, sys, time, os, psutil
held, due_from, due_span, due_count = (float(a) for a in sys.argv[1:5])
async def main():
    idle = psutil.Process().memory_info().rss
    loop = asyncio.get_running_loop()
    late = []
    offset = time.time() - loop.time()
    def fire(at):
        late.append(time.time() - at)
    far = time.time() + 3600
    for index in range(int(held)):
        at = far + index * 0.01
        loop.call_at(at - offset, fire, at)
    for index in range(int(due_count)):
        at = due_from + index * due_span / due_count
        loop.call_at(at - offset, fire, at)
    rss = psutil.Process().memory_info().rss
    while len(late) < due_count:
        await asyncio.sleep(0.05)
    print(json.dumps({"late": late, "rss": rss, "idle_rss": idle}))
asyncio.run(main())
"""


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def run(held: int, quick: bool) -> dict[str, Any]:
    due_count, span = (500, 10.0) if quick else (2_000, 20.0)
    workdir = Path(tempfile.mkdtemp(prefix="bench-timers-"))
    broker = EmbeddedBroker(workdir)
    bootstrap = broker.start()
    postgres, database_url = await start_event_store(workdir)
    worker = None
    try:
        await ensure_topics(bootstrap, topics_with_dead_letters())
        service = start_sla(
            workdir,
            bootstrap,
            extra_env={
                "TICKETFLOW_SLA_APP_ID": f"bench-timers-{uuid.uuid4().hex[:6]}",
                "DATABASE_URL": database_url,
            },
            wait=False,
        )
        worker, url = service.process, service.url
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(600):
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        process = psutil.Process(worker.pid)
        idle_rss_mb = process.memory_info().rss / 2**20

        log(f"publishing {held:,} openings with deadlines 1-8 h ahead ...")
        now = datetime.now(UTC)
        far = [now + timedelta(hours=1, seconds=index * 25_000 / held) for index in range(held)]
        await publish(bootstrap, far, "held")
        load_s = await wait_processed(url, held, timeout=3600)
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"{url}/metrics")).text
        timers_held = metric(text, "ticketflow_sla_timers_held")
        rss_mb = process.memory_info().rss / 2**20
        log(f"worker holds {timers_held:,.0f} timers, RSS {rss_mb:,.0f} MB")

        log(f"{due_count:,} more openings falling due over the next {span:.0f} s ...")
        due_from = datetime.now(UTC) + timedelta(seconds=8)
        dues = [due_from + timedelta(seconds=i * span / due_count) for i in range(due_count)]
        collector = asyncio.create_task(breach_lateness(bootstrap, due_count, span + 60))
        await asyncio.sleep(1.5)
        await publish(bootstrap, dues, "due", database_url)
        lateness = await collector
        peak_rss_mb = process.memory_info().rss / 2**20
    finally:
        if worker is not None:
            stop(worker)
        broker.stop()
        postgres.stop()

    log("baseline: the same deadlines as bare asyncio call_at handles ...")
    started = time.time() + 5
    baseline_out = subprocess.run(
        [sys.executable, "-c", BASELINE, str(held), str(started), str(span), str(due_count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    baseline = json.loads(baseline_out.stdout)
    metrics = {
        "timers_held": int(timers_held),
        "lateness_p50_ms": pct(lateness, 0.50),
        "lateness_p99_ms": pct(lateness, 0.99),
        "lateness_max_ms": pct(lateness, 1.0),
        "breaches_measured": len(lateness),
        "rss_mb": round(rss_mb, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "idle_rss_mb": round(idle_rss_mb, 1),
        "bytes_per_timer": round((rss_mb - idle_rss_mb) * 2**20 / held),
        "load_events_per_s": round(held / load_s),
    }
    baselines = {
        "asyncio_call_at_lateness_p50_ms": pct(baseline["late"], 0.50),
        "asyncio_call_at_lateness_p99_ms": pct(baseline["late"], 0.99),
        "asyncio_call_at_rss_mb": round(baseline["rss"] / 2**20, 1),
        "asyncio_call_at_bytes_per_timer": round((baseline["rss"] - baseline["idle_rss"]) / held),
    }
    ratios = {
        "rss_vs_call_at": round(rss_mb / baselines["asyncio_call_at_rss_mb"], 2),
    }
    return {
        "bench": "sla_timers",
        "metrics": metrics,
        "baselines": baselines,
        "ratios": ratios,
        "params": {
            "held": held,
            "due": due_count,
            "due_span_s": span,
            "quick": quick,
            "targets": {"lateness_p99_ms": 50, "rss_vs_call_at": 2.5},
            "lateness": "SLA event emitted_at minus its deadline (the worker's clock)",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--held",
        type=int,
        default=1_000_000,
        help="timers the worker holds while the measured ones fall due (default 1,000,000; "
        "the 1M load takes about five minutes)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="50k held timers, 500 measured; about a minute"
    )
    args = parser.parse_args()
    held = 50_000 if args.quick else args.held
    print(orjson.dumps(asyncio.run(run(held, args.quick))).decode())


if __name__ == "__main__":
    main()
