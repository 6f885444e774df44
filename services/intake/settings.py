"""Intake configuration, from the environment (prefix TICKETFLOW_ or the plain names)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.http_settings import HttpSettings
from services.common.service_settings import ServiceSettings


class IntakeSettings(ServiceSettings, HttpSettings):
    """Also the HTTP limits of `HttpSettings` (TICKETFLOW_MAX_BODY_BYTES,
    TICKETFLOW_RATE_LIMIT_PER_SECOND, TICKETFLOW_HEADER_TIMEOUT_SECONDS, ...)."""

    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_", extra="ignore")

    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "TICKETFLOW_DATABASE_URL")
    )
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "TICKETFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    )
    admin_token: SecretStr = SecretStr("dev-admin-token")
    host: str = "127.0.0.1"
    port: int = 8080
    sla_url: str | None = Field(
        default=None, description="Base URL of the SLA service, for GET /v1/tickets/{id}/sla"
    )
    internal_token: SecretStr = Field(
        default=SecretStr("dev-internal-token"),
        validation_alias=AliasChoices("TICKETFLOW_INTERNAL_TOKEN", "TICKETFLOW_SLA_INTERNAL_TOKEN"),
        description="Bearer token intake sends the SLA service (the same value the SLA "
        "service accepts); refused as a placeholder or under 24 characters in production",
    )
    relay_enabled: bool = True
    commands_enabled: bool = True
    commands_group: str = "ticketflow-intake-commands"
    billing_facts_enabled: bool = True
    billing_facts_group: str = "ticketflow-intake-billing"

    # Bad input: a request body over max_body_bytes (HttpSettings) is a 413; a subject over
    # max_subject_chars or any other string in a body (description, comment, note, email body,
    # every string in event `data`) over max_text_chars is a 422 naming the field.
    max_subject_chars: int = Field(default=1_000, ge=1)
    max_text_chars: int = Field(default=65_536, ge=1)
    # The producer refuses records over this (MessageSizeTooLargeError) and the relay
    # quarantines them; keep it at or below the broker's / topic's max.message.bytes.
    kafka_max_record_bytes: int = Field(default=1_048_576, ge=1_024)

    # Outages: the Retry-After of a 503 while the database is unreachable; the backoff of
    # the relay and the command consumer; how long a background task may go without a good
    # pass before /readyz reports it stuck.
    retry_after_seconds: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = Field(default=0.1, gt=0)
    backoff_max_seconds: float = Field(default=5.0, gt=0)
    task_stuck_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> IntakeSettings:
        self.require_real(self.admin_token, "TICKETFLOW_ADMIN_TOKEN")
        self.require_real(self.internal_token, "TICKETFLOW_INTERNAL_TOKEN")
        return self
