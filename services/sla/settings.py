"""SLA service configuration, from the environment (prefix TICKETFLOW_SLA_ or plain names)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import SLA_STATE


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_SLA_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        validation_alias=AliasChoices("TICKETFLOW_ENVIRONMENT", "TICKETFLOW_SLA_ENVIRONMENT"),
    )
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "TICKETFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    )
    app_id: str = "ticketflow-sla"
    state_topic: str = Field(
        default=SLA_STATE.name,
        description="Changelog of the state table (compacted, partitioned like ticket-events)",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds")
    port: int = 8081
    advertised_host: str | None = Field(
        default=None,
        description="Host other workers use to reach this one (table routing); default: host",
    )
    data_dir: Path = Path("var/sla")
    replication_factor: int = Field(default=1, ge=1)
    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "TICKETFLOW_SLA_DATABASE_URL"),
        description="Intake's event store, read-only: the truth the worker checks before a "
        "breach, repairs gaps from and reconciles with on assignment",
    )
    settle_ms: int = Field(
        default=2000,
        ge=0,
        description="A deadline already past when its ticket's newest event was recorded "
        "(a ticket logged late) waits this long after that event before it fires",
    )
    max_delay_s: float = Field(
        default=120.0,
        gt=0,
        description="A breach the event store cannot confirm this long after its deadline "
        "(database down, a writer stuck) fires anyway, flagged provisional",
    )
    batch_size: int = Field(default=500, ge=1)
    batch_window_ms: int = Field(default=20, ge=1)
    commit_interval_s: float = Field(default=1.0, gt=0)
    session_timeout_s: float = Field(
        default=10.0,
        ge=6,
        description="Consumer group session: a dead worker's partitions move after this long",
    )
