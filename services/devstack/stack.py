"""`ticketflow dev`: the whole stack on one machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.devstack.infrastructure import Infrastructure, infrastructure
from services.devstack.provisioning import ensure_database, ensure_topics
from services.devstack.services import (
    RunningService,
    seed_demo_accounts,
    start_intake,
    start_sla,
    wait_ready,
)
from shared.policy import load_policies
from shared.topics import topics_with_dead_letters

log = logging.getLogger("ticketflow.dev")
DATABASE = "ticketflow"


async def provision(infra: Infrastructure) -> dict[str, Any]:
    """Create the application database and every topic (with dead-letter topics)."""
    database_url = await ensure_database(infra.database_url, DATABASE)
    topics = topics_with_dead_letters()
    created = await ensure_topics(infra.kafka_bootstrap_servers, topics)
    return {
        "database_url": database_url,
        "topics": {topic.name: topic.partitions for topic in topics},
        "topics_created": created,
    }


def describe(
    infra: Infrastructure, provisioned: dict[str, Any], started_s: float
) -> dict[str, Any]:
    return {
        "started_at": datetime.now(UTC).isoformat(),
        "startup_seconds": round(started_s, 2),
        "pid": os.getpid(),
        "postgres": {
            "url": provisioned["database_url"],
            "origin": infra.origins["postgres"],
            "pid": infra.pids.get("postgres"),
        },
        "kafka": {
            "bootstrap_servers": infra.kafka_bootstrap_servers,
            "origin": infra.origins["kafka"],
            "pid": infra.pids.get("kafka"),
        },
        "topics": provisioned["topics"],
    }


# What each service's entry in dev-stack.json links to.
PATHS: dict[str, dict[str, str]] = {
    "intake": {"docs": "/docs", "metrics": "/metrics"},
    "sla": {"docs": "/v1/tickets/{ticket_id}/sla", "metrics": "/metrics"},
}


def render_table(stack: dict[str, Any]) -> str:
    rows = [
        ("postgres", stack["postgres"]["url"], stack["postgres"]["origin"]),
        ("kafka", stack["kafka"]["bootstrap_servers"], stack["kafka"]["origin"]),
    ]
    rows += [
        (name, info["url"], f"pid {info['pid']}, {info['docs']}")
        for name, info in stack.get("services", {}).items()
    ]
    width = max(len(row[1]) for row in rows)
    lines = [f"{'component':<10} {'address':<{width}}  from", "-" * (width + 30)]
    lines += [f"{name:<10} {address:<{width}}  {origin}" for name, address, origin in rows]
    lines.append(f"topics: {len(stack['topics'])} (with .dlq), e.g. ticketflow.ticket-events")
    return "\n".join(lines)


def run(var_dir: Path, out: Callable[[str], None]) -> None:
    """Bring everything up, publish `var/dev-stack.json`, and wait for a stop signal."""
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    began = time.monotonic()
    state_file = var_dir / "dev-stack.json"
    try:
        out("starting PostgreSQL and the Kafka-protocol broker ...")
        with infrastructure(var_dir) as infra:
            out("creating the database and topics ...")
            provisioned = asyncio.run(provision(infra))
            admin_token = secrets.token_urlsafe(24)
            running: list[RunningService] = []
            try:
                out("starting the SLA worker and intake ...")
                sla = start_sla(var_dir, infra.kafka_bootstrap_servers, wait=False)
                running.append(sla)
                intake = start_intake(
                    var_dir,
                    provisioned["database_url"],
                    infra.kafka_bootstrap_servers,
                    admin_token,
                    extra_env={"TICKETFLOW_SLA_URL": sla.url},
                )
                running.append(intake)
                wait_ready(sla, timeout=60)
                accounts = seed_demo_accounts(intake.url, admin_token, load_policies())
                stack = describe(infra, provisioned, time.monotonic() - began)
                stack["services"] = {
                    service.name: {
                        "url": service.url,
                        "pid": service.process.pid,
                        "log": str(service.log),
                    }
                    for service in running
                }
                for name, info in stack["services"].items():
                    info.update({key: f"{info['url']}{path}" for key, path in PATHS[name].items()})
                stack["admin_token"] = admin_token
                stack["demo_accounts"] = accounts
                state_file.write_text(json.dumps(stack, indent=2) + "\n")
                out(render_table(stack))
                out(
                    f"ready in {stack['startup_seconds']} s; demo accounts and API keys in "
                    f"{state_file}. Ctrl-C stops."
                )
                while not stop_requested.wait(0.5):
                    exited = [service for service in running if service.process.poll() is not None]
                    if exited:
                        for service in exited:
                            out(
                                f"{service.name} exited ({service.process.returncode}); "
                                f"see {service.log}"
                            )
                        break
                out("stopping ...")
            finally:
                for service in reversed(running):
                    service.stop()
        state_file.unlink(missing_ok=True)
        out("stopped cleanly")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
