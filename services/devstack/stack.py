"""`ticketflow dev`: the whole stack on one machine until Ctrl-C or SIGTERM; a process of it
that dies meanwhile is restarted (see `supervisor.py`, and `supervised.py` for the broker and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
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
from urllib.parse import urlencode

from services.devstack.infrastructure import Infrastructure, infrastructure
from services.devstack.mail_sink import mail_sink
from services.devstack.provisioning import ensure_database, ensure_topics
from services.devstack.services import (
    RunningService,
    seed_demo_accounts,
    start_service,
    start_sla,
    wait_ready,
)
from services.devstack.supervised import BrokerChild, PostgresChild, ServiceChild
from services.devstack.supervisor import Child, Supervisor
from shared.policy import load_policies
from shared.topics import topics_with_dead_letters

log = logging.getLogger("ticketflow.dev")
DATABASE = "ticketflow"
# What dev-stack.json says about each supervised process before anything died.
NO_RESTARTS: dict[str, Any] = {"restarts": 0, "last_exit": None, "last_restart_at": None}


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
            **NO_RESTARTS,
        },
        "kafka": {
            "bootstrap_servers": infra.kafka_bootstrap_servers,
            "origin": infra.origins["kafka"],
            "pid": infra.pids.get("kafka"),
            **NO_RESTARTS,
        },
        "topics": provisioned["topics"],
    }


# What each service's entry in dev-stack.json links to.
PATHS: dict[str, dict[str, str]] = {
    "intake": {"docs": "/docs", "metrics": "/metrics"},
    "sla": {"docs": "/v1/tickets/{ticket_id}/sla", "metrics": "/metrics"},
    "escalation": {"docs": "/docs", "metrics": "/metrics"},
    "notify": {"docs": "/docs", "metrics": "/metrics"},
    "billing": {"docs": "/docs", "metrics": "/metrics"},
    "console": {"docs": "/signin", "metrics": "/metrics"},
}


def _entry(service: RunningService) -> dict[str, Any]:
    links = {key: f"{service.url}{path}" for key, path in PATHS[service.name].items()}
    return {
        "url": service.url,
        "pid": service.process.pid,
        "log": str(service.log),
        **links,
        **NO_RESTARTS,
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
    if stack.get("prometheus"):
        lines.append(f"prometheus: {stack['prometheus']['url']} (the shipped alert rules loaded)")
    console = stack.get("services", {}).get("console")
    if console is not None:
        lines.append(f"console: {console['url']}/signin")
        accounts = stack.get("demo_accounts", [])
        if accounts:
            lines.append("sign in to the console as a demo account (open the link):")
            lines += [f"  {a['account']:<20} {a['console_signin']}" for a in accounts]
    return "\n".join(lines)


def signin_link(console_url: str, api_key: str) -> str:
    """A console link that signs in with `api_key`: the key rides in the URL fragment, which
    the browser never sends (so it reaches no server or access log); the sign-in page's
    script submits it with the form and clears the fragment from the address bar."""
    return f"{console_url}/signin#{urlencode({'key': api_key})}"


class StackFile:
    """dev-stack.json, written atomically (readers never see half a file); the mail sink
    adds each message it receives."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stack: dict[str, Any] | None = None
        self._messages: list[dict[str, Any]] = []

    def _write(self) -> None:
        if self._stack is None:
            return
        self._stack["mail"]["messages"] = self._messages
        partial = self._path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self._stack, indent=2) + "\n")
        partial.replace(self._path)

    def publish(self, stack: dict[str, Any]) -> None:
        with self._lock:
            self._stack = stack
            self._write()

    def merge(self, section: tuple[str, ...], values: dict[str, Any]) -> None:
        """Update the object at `section` (e.g. `("services", "notify")`) with `values`."""
        with self._lock:
            if self._stack is None:
                return
            target = self._stack
            for key in section:
                target = target[key]
            target.update(values)
            self._write()

    def mail_received(self, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            self._messages = messages
            self._write()


def start_services(
    var_dir: Path,
    infra: Infrastructure,
    provisioned: dict[str, Any],
    admin_token: str,
    smtp_port: int,
    out: Callable[[str], None],
) -> list[RunningService]:
    """The services, each waited for; on failure the ones started are stopped."""
    database_url = provisioned["database_url"]
    bootstrap = infra.kafka_bootstrap_servers
    running: list[RunningService] = []
    try:
        out("starting the SLA worker, intake, escalation, notify, billing and the console ...")
        # The worker reads intake's event store (read-only) to confirm breaches and repair gaps.
        running.append(
            start_sla(var_dir, bootstrap, extra_env={"DATABASE_URL": database_url}, wait=False)
        )
        running.append(
            start_service(
                var_dir,
                "intake",
                database_url,
                bootstrap,
                admin_token,
                {"TICKETFLOW_SLA_URL": running[0].url},
            )
        )
        running.append(
            start_service(var_dir, "escalation", database_url, bootstrap, admin_token, wait=False)
        )
        notify_env = {
            "TICKETFLOW_NOTIFY_SMTP_PORT": str(smtp_port),
            "TICKETFLOW_NOTIFY_SMTP_START_TLS": "false",
            # Local webhook receivers listen on loopback; production refuses this setting.
            "TICKETFLOW_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
        }
        running.append(
            start_service(
                var_dir, "notify", database_url, bootstrap, admin_token, notify_env, wait=False
            )
        )
        running.append(
            start_service(var_dir, "billing", database_url, bootstrap, admin_token, wait=False)
        )
        # The console's ack buttons call the escalation API (running[2]).
        console_env = {"TICKETFLOW_CONSOLE_ESCALATION_URL": running[2].url}
        running.append(
            start_service(
                var_dir, "console", database_url, bootstrap, admin_token, console_env, wait=False
            )
        )
        for service in running:
            wait_ready(service, timeout=60)
    except BaseException:
        for service in reversed(running):
            service.stop()
        raise
    return running


def supervisor_for(
    infra: Infrastructure,
    running: list[RunningService],
    stack_file: StackFile,
    stop_requested: threading.Event,
    out: Callable[[str], None],
    since: float,
) -> Supervisor:
    """Watches the services and the servers this run started (not ones given by env vars or
    testcontainers); each change of a restart count lands in dev-stack.json."""
    children: list[Child] = [ServiceChild(service) for service in running]
    if infra.embedded_postgres is not None:
        children.append(PostgresChild(infra.embedded_postgres))
    if infra.embedded_broker is not None:
        children.append(BrokerChild(infra.embedded_broker))

    def on_change(name: str, record: dict[str, Any]) -> None:
        section = (name,) if name in ("postgres", "kafka") else ("services", name)
        stack_file.merge(section, record)

    return Supervisor(
        children,
        out=out,
        on_change=on_change,
        dependents={"kafka": [service.name for service in running]},
        stopping=stop_requested.is_set,
        since=since,
    )


def supervise_until_stopped(
    stop_requested: threading.Event, supervisor: Supervisor, poll_s: float = 0.2
) -> None:
    """Until Ctrl-C/SIGTERM; a process that dies meanwhile is restarted (never once stopping)."""
    while not stop_requested.wait(poll_s):
        supervisor.tick()


def _prometheus(
    extras: contextlib.ExitStack,
    var_dir: Path,
    running: list[RunningService],
    out: Callable[[str], None],
) -> dict[str, Any] | None:
    """Prometheus over the services until the stack stops, or None (said) when there is no
    binary or it does not start: the stack runs without it."""
    from services.devstack import prometheus

    if prometheus.binary() is None:
        out("--with-prometheus: no `prometheus` binary (Debian: apt-get install prometheus); "
            "running without it")  # fmt: skip
        return None
    out("starting Prometheus over the services ...")
    try:
        found = extras.enter_context(
            prometheus.prometheus(var_dir, {service.name: service.url for service in running})
        )
    except RuntimeError as exc:
        out(f"--with-prometheus: {exc}; running without it")
        return None
    return {"url": found.url, "pid": found.process.pid, "log": str(found.log)}


def run(var_dir: Path, out: Callable[[str], None], with_prometheus: bool = False) -> None:
    """Bring everything up, publish `var/dev-stack.json`, and wait for a stop signal. With
    `with_prometheus`, a Prometheus scraping the services too, where one is installed."""
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
            stack_file = StackFile(state_file)
            try:
                with (
                    mail_sink(var_dir / "mail", stack_file.mail_received) as smtp_port,
                    contextlib.ExitStack() as extras,
                ):
                    running += start_services(
                        var_dir, infra, provisioned, admin_token, smtp_port, out
                    )
                    intake = next(service for service in running if service.name == "intake")
                    console = next(service for service in running if service.name == "console")
                    accounts = seed_demo_accounts(intake.url, admin_token, load_policies())
                    for account in accounts:
                        account["console_signin"] = signin_link(console.url, account["api_key"])
                    stack = describe(infra, provisioned, time.monotonic() - began)
                    stack["services"] = {service.name: _entry(service) for service in running}
                    stack["admin_token"] = admin_token
                    stack["demo_accounts"] = accounts
                    stack["mail"] = {"smtp": f"127.0.0.1:{smtp_port}", "messages": []}
                    if with_prometheus:
                        stack["prometheus"] = _prometheus(extras, var_dir, running, out)
                    stack_file.publish(stack)
                    out(render_table(stack))
                    out(
                        f"ready in {stack['startup_seconds']} s; demo accounts and API keys in "
                        f"{state_file}; mail notify sends lands in {var_dir / 'mail'}. "
                        "Ctrl-C stops."
                    )
                    supervisor = supervisor_for(
                        infra, running, stack_file, stop_requested, out, since=began
                    )
                    supervise_until_stopped(stop_requested, supervisor)
                    out("stopping ...")
            finally:
                for service in reversed(running):
                    service.stop()
        state_file.unlink(missing_ok=True)
        out("stopped cleanly")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
