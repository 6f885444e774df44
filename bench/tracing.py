"""Benchmark: what tracing costs on the hottest path, intake's `POST /v1/tickets/{id}/events`
at 32 clients (auth, validation, event + outbox + read model in one durable transaction,
relay running), with tracing off and on, measured in the same run.

  system    intake with OTEL_EXPORTER_OTLP_ENDPOINT set: every request sampled, spans for the
            request, the event store append and the relay's publish, exported over OTLP/HTTP
            to a sink in this process that accepts and discards them
  baseline  the same intake with the variable unset (no span recorded, nothing exported)

The two servers (each with a database of its own) run side by side and are measured in
alternation over `--rounds`, after an uncounted warm-up each.

    python bench/tracing.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import CLIENTS, WARM_UP_S, Side, http_load, pct, setup_accounts, start  # noqa: E402

from services.devstack.infrastructure import infrastructure  # noqa: E402
from services.devstack.processes import free_port  # noqa: E402
from services.devstack.provisioning import ensure_database, ensure_topics  # noqa: E402
from shared.topics import topics_with_dead_letters  # noqa: E402


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that counts what it is sent and answers 200 with an empty
    ExportTraceServiceResponse."""

    received = 0
    bytes_received = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        Sink.received += 1
        Sink.bytes_received += length
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return round(
        sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20, 1
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description="intake throughput and latency with tracing on (every request sampled, "
        "exported over OTLP/HTTP) beside tracing off, measured in alternation"
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s per measurement")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, 2 with --quick)")
    parser.add_argument(
        "--sample",
        type=float,
        default=1.0,
        help="the traced server's sampling ratio (OTEL_TRACES_SAMPLER=parentbased_traceidratio); "
        "default 1: every request",
    )
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = 4.0 if args.quick else 10.0
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}"
    on, off = Side(), Side()
    with tempfile.TemporaryDirectory() as tmp, infrastructure(Path(tmp)) as infra:
        asyncio.run(ensure_topics(infra.kafka_bootstrap_servers, topics_with_dead_letters()))
        admin = uuid.uuid4().hex
        base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | {
            "TICKETFLOW_ADMIN_TOKEN": admin,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        }
        servers = {}
        traced = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(args.sample),
        }
        for name, extra in (("on", traced), ("off", {})):
            database_url = asyncio.run(ensure_database(infra.database_url, f"bench_{name}"))
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            print(f"starting intake with tracing {name} ...", file=sys.stderr)
            argv = [
                sys.executable,
                "-m",
                "services.cli.main",
                "intake",
                "serve",
                "--port",
                str(port),
            ]
            servers[name] = (url, start(argv, {**base, **extra, "DATABASE_URL": database_url}, url))
        try:
            loads = {
                name: asyncio.run(setup_accounts(url, admin, 500))
                for name, (url, _) in servers.items()
            }
            print(f"warm-up: {WARM_UP_S:.0f} s each, not counted ...", file=sys.stderr)
            for name, (url, _) in servers.items():
                asyncio.run(http_load(url, *loads[name], WARM_UP_S))
            exported_before = Sink.received
            for round_ in range(1, rounds + 1):
                for name, side in (("on", on), ("off", off)):
                    url, _ = servers[name]
                    print(
                        f"round {round_}/{rounds} tracing {name}: "
                        f"{CLIENTS} clients for {seconds:.0f} s ...",
                        file=sys.stderr,
                    )
                    ok, errors, lat = asyncio.run(http_load(url, *loads[name], seconds))
                    side.add(ok, errors, lat, seconds)
                print(
                    f"round {round_}: on {on.rates[-1]}/s, off {off.rates[-1]}/s", file=sys.stderr
                )
            rss = {name: rss_mb(process.pid) for name, (_, process) in servers.items()}
        finally:
            for _, process in servers.values():
                process.terminate()
                process.wait(30)
    sink.shutdown()
    print(
        orjson.dumps(
            {
                "bench": "tracing",
                "metrics": {
                    "events_per_s": on.rate,
                    "p50_ms": pct(on.latencies, 0.5),
                    "p99_ms": pct(on.latencies, 0.99),
                    "errors": on.errors,
                    "server_rss_mb": rss["on"],
                    "per_round_events_per_s": on.rates,
                    "otlp_exports_during_rounds": Sink.received - exported_before,
                    "otlp_bytes_total": Sink.bytes_received,
                },
                "baselines": {
                    "tracing_off_events_per_s": off.rate,
                    "tracing_off_p50_ms": pct(off.latencies, 0.5),
                    "tracing_off_p99_ms": pct(off.latencies, 0.99),
                    "tracing_off_errors": off.errors,
                    "tracing_off_server_rss_mb": rss["off"],
                    "tracing_off_per_round": off.rates,
                },
                "ratios": {"on_vs_off": round(on.rate / off.rate, 3)},
                "params": {
                    "clients": CLIENTS,
                    "rounds": rounds,
                    "seconds_per_round": seconds,
                    "tickets": 500,
                    "quick": args.quick,
                    "sampling_ratio": args.sample,
                },
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
