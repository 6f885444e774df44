"""Benchmark: accepted ticket events/s and latency through the intake API at 32 clients.

Measured in the same run, on the same machine:
  system  POST /v1/tickets/{id}/events on `ticketflow intake serve` (auth, validation, event +
          outbox + read model in one durable transaction, relay running)
  (a)     a bare FastAPI endpoint validating the same body (no database)
  (b)     raw asyncpg transactions writing the same event + outbox rows (no HTTP)
Targets: >= 3,000 events/s, >= 70 % of (b), p99 < 50 ms. The three run in alternation over
`--rounds` (each server stays up, idle while another is measured); rates are pooled over the
rounds and each round's rate is printed too; each side first runs a short uncounted warm-up.

    python bench/intake.py [--quick] [--rounds N] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.devstack.infrastructure import infrastructure  # noqa: E402
from services.devstack.processes import free_port  # noqa: E402
from services.devstack.provisioning import ensure_database, ensure_topics  # noqa: E402
from services.intake.entrypoints.schemas import AppendEventBody, EventAppended  # noqa: E402
from shared.topics import topics_with_dead_letters  # noqa: E402

CLIENTS = 32
WARM_UP_S = 2.0  # each side once before the rounds: caches, prepared statements, pools
BODY = {"type": "ticket.comment_added", "data": {"body": "customer sent a pcap", "public": True}}


def serve_bare(port: int) -> None:
    """Baseline (a): FastAPI validating the same request model, nothing else."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/tickets/{ticket_id}/events", status_code=201)
    async def append(ticket_id: uuid.UUID, body: AppendEventBody) -> EventAppended:
        return EventAppended(
            event_id=uuid.uuid4(),
            ticket_id=ticket_id,
            type=body.type,
            version=2,
            status="open",
            recorded_at=None,
        )

    @app.get("/readyz")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(argv: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{argv} did not become ready")


async def http_load(
    url: str, headers: dict[str, str], tickets: list[str], seconds: float
) -> tuple[int, int, list[float]]:
    """32 clients, each one keep-alive connection, posting back to back (aiohttp: httpx's
    async pool spends more CPU than the servers measured here)."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    payload = orjson.dumps(BODY)
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(
        base_url=url,
        connector=connector,
        headers={**headers, "Content-Type": "application/json"},
    ) as http:

        async def client(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                ticket = rng.choice(tickets)
                t0 = time.perf_counter()
                async with http.post(f"/v1/tickets/{ticket}/events", data=payload) as response:
                    body = await response.read()
                    if response.status == 201:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors += 1
                        if errors == 1:
                            print(f"first error: {response.status} {body[:300]!r}", file=sys.stderr)

        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return len(latencies), errors, latencies


async def raw_asyncpg(
    database_url: str, tickets: list[str], seconds: float
) -> tuple[int, list[float]]:
    """Baseline (b): the same durable writes (event + outbox + version bump), no HTTP."""
    pool = await asyncpg.create_pool(database_url, min_size=CLIENTS, max_size=CLIENTS)
    assert pool is not None
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    envelope = orjson.dumps({"type": BODY["type"], "data": BODY["data"]}).decode()

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            ticket = uuid.UUID(rng.choice(tickets))
            t0 = time.perf_counter()
            async with pool.acquire() as conn, conn.transaction():
                version = await conn.fetchval(
                    "UPDATE tickets SET version = version + 1, updated_at = now() "
                    "WHERE ticket_id = $1 RETURNING version",
                    ticket,
                )
                event_id = uuid.uuid4()
                await conn.execute(
                    "INSERT INTO events (ticket_id, version, event_id, type, occurred_at, "
                    "envelope) VALUES ($1, $2, $3, $4, now(), $5::jsonb)",
                    ticket,
                    version,
                    event_id,
                    BODY["type"],
                    envelope,
                )
                await conn.execute(
                    "INSERT INTO outbox (ticket_id, version, event_id) VALUES ($1, $2, $3)",
                    ticket,
                    version,
                    event_id,
                )
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    await pool.close()
    return len(latencies), latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


async def setup_accounts(url: str, admin: str, count: int) -> tuple[dict[str, str], list[str]]:
    auth = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await http.post(
            "/v1/admin/accounts",
            headers=auth,
            json={"id": "bench", "name": "Bench", "policy": "hosted-voice"},
        )
        await http.post(
            "/v1/admin/accounts/bench/contacts", headers=auth, json={"email": "noc@bench.example"}
        )
        key = (
            await http.post("/v1/admin/api-keys", headers=auth, json={"accounts": ["bench"]})
        ).json()["key"]
        headers = {"Authorization": f"Bearer {key}"}
        tickets = []
        for i in range(count):
            response = await http.post(
                "/v1/tickets",
                headers=headers,
                json={
                    "account": "bench",
                    "contact": "noc@bench.example",
                    "channel": "email",
                    "priority": "p3",
                    "subject": f"bench {i}",
                },
            )
            tickets.append(response.json()["ticket_id"])
    return headers, tickets


@dataclass
class Side:
    """One measured configuration, pooled over the rounds."""

    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    rates: list[int] = field(default_factory=list)

    def add(self, ok: int, errors: int, latencies: list[float], seconds: float) -> None:
        self.ok += ok
        self.errors += errors
        self.seconds += seconds
        self.latencies.extend(latencies)
        self.rates.append(round(ok / seconds))

    @property
    def rate(self) -> int:
        return round(self.ok / self.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="intake API throughput and latency beside its two baselines; the three "
        "are measured in alternation over --rounds, so a slow patch of the machine hits all"
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s per measurement")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, 2 with --quick)")
    parser.add_argument("--workers", type=int, default=1, help="intake worker processes")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = 4.0 if args.quick else 10.0
    system, bare, raw = Side(), Side(), Side()
    with tempfile.TemporaryDirectory() as tmp, infrastructure(Path(tmp)) as infra:
        database_url = asyncio.run(ensure_database(infra.database_url, "bench"))
        asyncio.run(ensure_topics(infra.kafka_bootstrap_servers, topics_with_dead_letters()))
        admin = uuid.uuid4().hex
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TICKETFLOW_ADMIN_TOKEN": admin,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        }
        port, bare_port = free_port(), free_port()
        url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
        print("starting intake and the bare FastAPI baseline ...", file=sys.stderr)
        server = start(
            [
                sys.executable,
                "-m",
                "services.cli.main",
                "intake",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env,
            url,
        )
        bare_server = start(
            [sys.executable, __file__, "--serve-bare", str(bare_port)], env, bare_url
        )
        try:
            headers, tickets = asyncio.run(setup_accounts(url, admin, 500))
            print(f"warm-up: {WARM_UP_S:.0f} s each, not counted ...", file=sys.stderr)
            asyncio.run(http_load(url, headers, tickets, WARM_UP_S))
            asyncio.run(http_load(bare_url, {}, tickets, WARM_UP_S))
            asyncio.run(raw_asyncpg(database_url, tickets, WARM_UP_S))
            for round_ in range(1, rounds + 1):
                label = f"round {round_}/{rounds}"
                print(f"{label} system: {CLIENTS} clients for {seconds:.0f} s ...", file=sys.stderr)
                ok, errors, lat = asyncio.run(http_load(url, headers, tickets, seconds))
                system.add(ok, errors, lat, seconds)
                print(f"{label} baseline (a): bare FastAPI ...", file=sys.stderr)
                ok, errors, lat = asyncio.run(http_load(bare_url, {}, tickets, seconds))
                bare.add(ok, errors, lat, seconds)
                print(f"{label} baseline (b): raw asyncpg ...", file=sys.stderr)
                ok, lat = asyncio.run(raw_asyncpg(database_url, tickets, seconds))
                raw.add(ok, 0, lat, seconds)
                print(
                    f"{label}: system {system.rates[-1]}/s, bare {bare.rates[-1]}/s, "
                    f"raw {raw.rates[-1]}/s",
                    file=sys.stderr,
                )
            server_rss = (
                sum(
                    p.memory_info().rss
                    for p in [
                        psutil.Process(server.pid),
                        *psutil.Process(server.pid).children(recursive=True),
                    ]
                )
                / 2**20
            )
        finally:
            for process in (server, bare_server):
                process.terminate()
                process.wait(30)

    lat = system.latencies
    metrics = {
        "events_per_s": system.rate,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "mean_ms": round(statistics.fmean(lat) * 1000, 2),
        "errors": system.errors,
        "server_rss_mb": round(server_rss, 1),
        "per_round_events_per_s": system.rates,
    }
    baselines = {
        "bare_fastapi_events_per_s": bare.rate,
        "bare_fastapi_p99_ms": pct(bare.latencies, 0.99),
        "bare_fastapi_per_round": bare.rates,
        "raw_asyncpg_events_per_s": raw.rate,
        "raw_asyncpg_p99_ms": pct(raw.latencies, 0.99),
        "raw_asyncpg_per_round": raw.rates,
    }
    ratios = {
        "vs_bare_fastapi": round(system.rate / bare.rate, 3),
        "vs_raw_asyncpg": round(system.rate / raw.rate, 3),
    }
    print(
        orjson.dumps(
            {
                "bench": "intake",
                "metrics": metrics,
                "baselines": baselines,
                "ratios": ratios,
                "params": {
                    "clients": CLIENTS,
                    "rounds": rounds,
                    "seconds_per_round": seconds,
                    "tickets": 500,
                    "quick": args.quick,
                    "workers": args.workers,
                    "targets": {"events_per_s": 3000, "vs_raw_asyncpg": 0.7, "p99_ms": 50},
                },
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
