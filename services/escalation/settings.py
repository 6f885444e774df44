"""Escalation service configuration, from the environment (TICKETFLOW_ESCALATION_ prefix,
plus the shared DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.http_settings import HttpSettings
from services.common.service_app import ConsumerServiceSettings


class EscalationSettings(BaseSettings, ConsumerServiceSettings, HttpSettings):
    """Also the HTTP limits of `HttpSettings` (TICKETFLOW_ESCALATION_MAX_BODY_BYTES,
    TICKETFLOW_ESCALATION_RATE_LIMIT_PER_SECOND, ..._HEADER_TIMEOUT_SECONDS, ...)."""

    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_ESCALATION_", extra="ignore")

    port: int = 8082
    group_id: str = "ticketflow-escalation"
    max_sleep_s: float = Field(
        default=5.0, description="Longest scheduler sleep (picks up other replicas' rows)"
    )
