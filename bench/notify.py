"""Benchmark: signed webhook deliveries/s through notify's deliverer to a local receiver.

Measured in the same run, on the same machine, against the same receiver process (uvicorn, a
bare ASGI app answering 204):
  system    notify's Deliverer draining a backlog of N logged webhook notifications: claim a
            batch in PostgreSQL (attempt counted, leased), sign (HMAC-SHA256) and POST each
            concurrently, record outcomes + outcome records (outbox) in one transaction
  baseline  a bare httpx loop POSTing the same payloads with the same concurrency and
            connection limit (no database, no signing)
Latency: notifications logged one by one at a steady rate with the scheduler running,
logged -> delivered (system) vs one POST round trip at the same rate (baseline).
Target: throughput >= 70 % of the baseline.

    python bench/notify.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.runtime import migrate_service  # noqa: E402
from services.common.scheduler import DueLoop  # noqa: E402
from services.devstack.infrastructure import infrastructure  # noqa: E402
from services.devstack.processes import free_port  # noqa: E402
from services.devstack.provisioning import ensure_database  # noqa: E402
from services.notify.adapters import store  # noqa: E402
from services.notify.adapters.destination_guard import DestinationGuard  # noqa: E402
from services.notify.adapters.email import EmailSender  # noqa: E402
from services.notify.adapters.secret_box import SecretBox  # noqa: E402
from services.notify.adapters.store import NewNotification  # noqa: E402
from services.notify.adapters.webhooks import WebhookSender  # noqa: E402
from services.notify.bootstrap import PostgresDeliverer as Deliverer  # noqa: E402
from services.notify.domain.destinations import DestinationPolicy  # noqa: E402
from services.notify.domain.retries import RetryPolicy  # noqa: E402

BATCH = 200
BOX = SecretBox([b"YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktISE="])
LOCAL = DestinationGuard(DestinationPolicy(allow_private=True))
CONCURRENCY = 4
"""In flight at once, both sides (httpx's pool slows down with many concurrent requests on
one host; 4 is where this machine's local receiver peaks)."""


def serve_receiver(port: int) -> None:
    import uvicorn

    async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def payload(index: int) -> bytes:
    return orjson.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": "sla.breached",
            "ticket_id": str(uuid.uuid4()),
            "ticket_number": f"TF-{index:04d}-000000",
            "account": "bench",
            "event": {"type": "sla.breached", "metric": "first_response", "priority": "sev2"},
        }
    )


def rows(bodies: list[bytes], subscription: str) -> list[NewNotification]:
    return [
        NewNotification(
            id=uuid.uuid4(),
            ticket_id=str(uuid.uuid4()),
            account="bench",
            channel="webhook",
            recipient=subscription,
            template="sla.breached",
            source_event_id=uuid.uuid4(),
            source_type="sla.breached",
            subject="",
            body=body,
        )
        for body in bodies
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000, 2)


def clock() -> datetime:
    return datetime.now(UTC)


def deliverer_for(pool: asyncpg.Pool, webhooks: WebhookSender) -> Deliverer:
    unused_email = EmailSender("127.0.0.1", 9, "bench@example.invalid")
    retry = RetryPolicy()
    return Deliverer(
        pool, unused_email, webhooks, clock, retry, batch_size=BATCH, concurrency=CONCURRENCY
    )


async def system_throughput(pool: asyncpg.Pool, url: str, bodies: list[bytes]) -> float:
    subscription, _ = await store.create_subscription(pool, "bench", url, ["*"], BOX)
    async with pool.acquire() as conn:
        await store.insert(conn, rows(bodies, subscription), clock())
    webhooks = WebhookSender(BOX, LOCAL, max_connections=CONCURRENCY)
    deliverer = deliverer_for(pool, webhooks)
    began = time.perf_counter()
    while await deliverer.run_due(clock()):
        pass
    elapsed = time.perf_counter() - began
    await webhooks.close()
    delivered = await pool.fetchval("SELECT count(*) FROM notifications WHERE status='delivered'")
    assert delivered == len(bodies), f"only {delivered} of {len(bodies)} delivered"
    return len(bodies) / elapsed


async def baseline_throughput(url: str, bodies: list[bytes]) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    slots = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        headers = {"Content-Type": "application/json"}

        async def post(body: bytes) -> int:
            async with slots:
                return (await client.post(url, content=body, headers=headers)).status_code

        began = time.perf_counter()
        for start in range(0, len(bodies), BATCH):
            answers = await asyncio.gather(*(post(body) for body in bodies[start : start + BATCH]))
            assert all(status == 204 for status in answers)
        return len(bodies) / (time.perf_counter() - began)


async def system_latency(pool: asyncpg.Pool, url: str, count: int, rate: float) -> list[float]:
    """Log notifications one by one (as the planner does) with the scheduler running."""
    await pool.execute("TRUNCATE notifications")
    subscription, _ = await store.create_subscription(pool, "bench", url, ["*"], BOX)
    webhooks = WebhookSender(BOX, LOCAL, max_connections=CONCURRENCY)
    deliverer = deliverer_for(pool, webhooks)
    loop = DueLoop("bench", deliverer.next_due, deliverer.start_due, clock, max_sleep=1.0)
    deliverer.on_capacity = loop.wake
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    for index in range(count):
        async with pool.acquire() as conn:
            await store.insert(conn, rows([payload(index)], subscription), clock())
        loop.wake()
        await asyncio.sleep(1 / rate)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pending = await pool.fetchval("SELECT count(*) FROM notifications WHERE status='pending'")
        if pending == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    await webhooks.close()
    found = await pool.fetch(
        "SELECT extract(epoch FROM delivered_at - created_at) AS s FROM notifications "
        "WHERE status = 'delivered'"
    )
    return [float(row["s"]) for row in found]


async def baseline_latency(url: str, count: int, rate: float) -> list[float]:
    out = []
    async with httpx.AsyncClient(timeout=10) as client:
        for index in range(count):
            began = time.perf_counter()
            answer = await client.post(url, content=payload(index))
            out.append(time.perf_counter() - began)
            assert answer.status_code == 204
            await asyncio.sleep(max(1 / rate - out[-1], 0))
    return out


async def measure(database_url: str, url: str, count: int, trickle: int) -> dict[str, object]:
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=8)
    assert pool is not None
    try:
        await migrate_service(pool, "services.notify.adapters", 1)
        bodies = [payload(index) for index in range(count)]
        print("warming the receiver up ...", file=sys.stderr)
        await baseline_throughput(url, bodies[:1000])
        print(f"baseline: bare httpx, {count} POSTs ...", file=sys.stderr)
        base_rate = await baseline_throughput(url, bodies)
        print(f"system: deliverer draining {count} notifications ...", file=sys.stderr)
        rate = await system_throughput(pool, url, bodies)
        print(f"latency: {trickle} notifications at 100/s ...", file=sys.stderr)
        latencies = await system_latency(pool, url, trickle, 100.0)
        base_latencies = await baseline_latency(url, trickle, 100.0)
    finally:
        await pool.close()
    return {
        "rate": rate,
        "base_rate": base_rate,
        "lat": latencies,
        "base_lat": base_latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="notify webhook delivery throughput")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (< 1 minute)")
    parser.add_argument("--serve-receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return
    count = 2_000 if args.quick else 20_000
    trickle = 200 if args.quick else 1_000
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    receiver = subprocess.Popen([sys.executable, __file__, "--serve-receiver", str(port)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as tmp, infrastructure(Path(tmp)) as infra:
            database_url = asyncio.run(ensure_database(infra.database_url, "bench_notify"))
            result = asyncio.run(measure(database_url, url, count, trickle))
        rss = psutil.Process().memory_info().rss / 2**20
    finally:
        receiver.terminate()
        receiver.wait(10)
    lat, base_lat = result["lat"], result["base_lat"]
    assert isinstance(lat, list) and isinstance(base_lat, list)
    metrics = {
        "deliveries_per_s": round(float(result["rate"])),  # type: ignore[arg-type]
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "mean_ms": round(statistics.fmean(lat) * 1000, 2),
        "rss_mb": round(rss, 1),
    }
    baselines = {
        "bare_httpx_posts_per_s": round(float(result["base_rate"])),  # type: ignore[arg-type]
        "bare_httpx_p50_ms": pct(base_lat, 0.5),
        "bare_httpx_p99_ms": pct(base_lat, 0.99),
    }
    print(
        orjson.dumps(
            {
                "bench": "notify",
                "metrics": metrics,
                "baselines": baselines,
                "ratios": {
                    "vs_bare_httpx": round(
                        metrics["deliveries_per_s"] / baselines["bare_httpx_posts_per_s"], 3
                    )
                },
                "params": {
                    "notifications": count,
                    "batch": BATCH,
                    "concurrency": CONCURRENCY,
                    "latency_samples": trickle,
                    "latency_rate_per_s": 100,
                    "quick": args.quick,
                    "targets": {"vs_bare_httpx": 0.7},
                    "note": "outcome records are written to the outbox, not published (no "
                    "publisher runs in this bench)",
                },
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
