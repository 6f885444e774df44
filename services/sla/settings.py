"""SLA service configuration, from the environment (prefix TICKETFLOW_SLA_ or plain names)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import SLA_STATE

PLACEHOLDERS = {"", "changeme", "change-me", "secret", "internal", "dev-internal-token"}


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
    state_format: Literal["deflated", "plain"] = Field(
        default="deflated",
        description="How states are written to the table and its changelog: deflated "
        "against the codec's preset dictionary (about 120 bytes a ticket), or plain JSON "
        "(about 480), which a release before 2026-12 can read: set plain before rolling back "
        "to one. Both are always read",
    )
    batch_size: int = Field(default=500, ge=1, description="Most ticket events in a batch")
    batch_window_ms: int = Field(
        default=20, ge=1, description="Longest a batch stays open after its first event"
    )
    batch_idle_ms: float = Field(
        default=2.0,
        ge=0,
        description="A batch closes once no further event arrived for this long (the stream "
        "has caught up), so a lone event is not held for the window; 0: batches close only "
        "when full or at the window (Faust's take_events)",
    )
    commit_interval_s: float = Field(default=1.0, gt=0)
    session_timeout_s: float = Field(
        default=10.0,
        ge=6,
        description="Consumer group session: a dead worker's partitions move after this long",
    )

    # The HTTP API (GET /v1/tickets/{id}/sla, /openapi.json; /healthz, /readyz and /metrics
    # stay open for probes and Prometheus).
    internal_token: SecretStr = Field(
        default=SecretStr("dev-internal-token"),
        validation_alias=AliasChoices("TICKETFLOW_INTERNAL_TOKEN", "TICKETFLOW_SLA_INTERNAL_TOKEN"),
        description="Bearer token of the other services (intake): reads any account's ticket, "
        "not rate limited. Refused as a placeholder or under 24 characters in production",
    )
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A verified API key is trusted this long: a revocation takes effect within it",
    )
    rate_limit_per_second: float = Field(
        default=50.0,
        ge=0,
        allow_inf_nan=False,
        description="Requests a second per API key on average, per worker (0: no limit)",
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="Requests per API key at once")
    max_body_bytes: int = Field(
        default=1024,
        ge=0,
        le=1_048_576,
        description="The API is read-only: a request declaring a longer body (or a body of "
        "unknown length, chunked) is refused with 413",
    )
    max_header_bytes: int = Field(
        default=8192,
        ge=256,
        le=65_536,
        description="A request header (name and value) longer than this is refused with 400",
    )
    keep_alive_seconds: float = Field(
        default=10.0,
        gt=0,
        description="An idle connection, or one still sending its request line and headers, "
        "is closed after this long",
    )
    route_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="How long a worker waits for the partition owner it forwards a request to",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> SlaSettings:
        token = self.internal_token.get_secret_value()
        if self.environment == "production" and (token in PLACEHOLDERS or len(token) < 24):
            raise ValueError(
                "TICKETFLOW_INTERNAL_TOKEN must be set to a real secret (24+ characters) "
                "in production"
            )
        return self
