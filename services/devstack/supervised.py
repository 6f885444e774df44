"""The processes of `ticketflow dev` as supervisor children: the five services, the embedded
PostgreSQL and the embedded Tansu broker, each restarted on the same port.

Decisions for the infrastructure:
- PostgreSQL restarts on the same data directory and port; everything committed survives
  (crash recovery replays its WAL), and the services' pools reconnect by themselves.
- The broker keeps everything in memory, so its death loses every topic, record, committed
  offset and the SLA worker's changelog. It restarts on the same port, every topic is created
  again, and then the five services are restarted so that none keeps clients, offsets or
  group memberships of the lost broker; events still in intake's outbox are published again,
  those already published are not.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.devstack.broker import EmbeddedBroker
from services.devstack.postgres import EmbeddedPostgres
from services.devstack.provisioning import ensure_topics
from services.devstack.services import RunningService
from shared.topics import topics_with_dead_letters


@dataclass
class ServiceChild:
    service: RunningService

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def pid(self) -> int | None:
        return self.service.process.pid

    @property
    def log(self) -> Path:
        return self.service.log

    def returncode(self) -> int | None:
        return self.service.process.poll()

    def restart(self) -> None:
        self.service.respawn()

    def stop(self) -> None:
        self.service.stop()

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.service.url}/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def loss_note(self) -> str:
        return ""


@dataclass
class PostgresChild:
    server: EmbeddedPostgres
    name: str = "postgres"

    @property
    def pid(self) -> int | None:
        return self.server.pid

    @property
    def log(self) -> Path:
        return self.server.data_dir / "postgres.log"

    def returncode(self) -> int | None:
        return self.server.returncode()

    def restart(self) -> None:
        self.server.stop()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def healthy(self) -> bool:
        return self.server.returncode() is None

    def loss_note(self) -> str:
        return f"nothing committed is lost: it restarts on {self.server.data_dir} at the same port"


@dataclass
class BrokerChild:
    broker: EmbeddedBroker
    name: str = "kafka"

    @property
    def pid(self) -> int | None:
        return self.broker.pid

    @property
    def log(self) -> Path:
        return self.broker.log_dir / "broker.log"

    def returncode(self) -> int | None:
        return self.broker.returncode()

    def restart(self) -> None:
        """Same port, then every topic (with its dead-letter topic) created again."""
        self.broker.stop()
        self.broker.start()
        asyncio.run(ensure_topics(self.broker.bootstrap_servers, topics_with_dead_letters()))

    def stop(self) -> None:
        self.broker.stop()

    def healthy(self) -> bool:
        return self.broker.returncode() is None

    def loss_note(self) -> str:
        return (
            "the broker is memory-only, so every topic, record, committed offset and the SLA "
            f"changelog are lost; it comes back on {self.broker.bootstrap_servers} with the "
            "topics re-created (empty), then the services restart"
        )
