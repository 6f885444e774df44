"""Escalation service configuration, from the environment (TICKETFLOW_ESCALATION_ prefix,
plus the shared DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.http_settings import HttpSettings


class EscalationSettings(BaseSettings, HttpSettings):
    """Also the HTTP limits of `HttpSettings` (TICKETFLOW_ESCALATION_MAX_BODY_BYTES,
    TICKETFLOW_ESCALATION_RATE_LIMIT_PER_SECOND, ..._HEADER_TIMEOUT_SECONDS, ...)."""

    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_ESCALATION_", extra="ignore")

    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "TICKETFLOW_DATABASE_URL")
    )
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "TICKETFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    )
    host: str = "127.0.0.1"
    port: int = 8082
    group_id: str = "ticketflow-escalation"
    max_sleep_s: float = Field(
        default=5.0, description="Longest scheduler sleep (picks up other replicas' rows)"
    )
    stuck_after_s: float = Field(
        default=60.0, gt=0, description="/readyz: a background task silent this long is stuck"
    )
