"""Console service configuration, from the environment (TICKETFLOW_CONSOLE_ prefix, plus the
shared DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TICKETFLOW_ENVIRONMENT and
TICKETFLOW_ADMIN_TOKEN)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.http_settings import HttpSettings
from services.common.service_app import ConsumerServiceSettings
from services.common.service_settings import ServiceSettings


class ConsoleSettings(ServiceSettings, ConsumerServiceSettings, HttpSettings):
    """Also the HTTP limits of `HttpSettings` (TICKETFLOW_CONSOLE_MAX_BODY_BYTES, ...)."""

    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_CONSOLE_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        validation_alias=AliasChoices("TICKETFLOW_ENVIRONMENT", "TICKETFLOW_CONSOLE_ENVIRONMENT"),
    )
    admin_token: SecretStr = Field(
        default=SecretStr("dev-admin-token"),
        validation_alias=AliasChoices("TICKETFLOW_ADMIN_TOKEN", "TICKETFLOW_CONSOLE_ADMIN_TOKEN"),
        description="Signs in to the console seeing every account",
    )
    secret: SecretStr = Field(
        default=SecretStr("dev-console-secret"),
        description="Signs the session cookies and CSRF tokens (HMAC-SHA256)",
    )
    escalation_url: str = Field(
        default="http://127.0.0.1:8082",
        description="The escalation API the Escalations page's ack buttons call",
    )
    session_hours: float = Field(default=8.0, gt=0, description="How long a sign-in lasts")
    port: int = 8085
    group_id: str = "ticketflow-console"
    events_every_s: float = Field(
        default=2.0, gt=0, description="/events: how often the read model is checked for changes"
    )
    events_stream_s: float = Field(
        default=300.0,
        gt=0,
        description="/events: a stream ends after this long (the browser reconnects)",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> ConsoleSettings:
        self.require_real(self.admin_token, "TICKETFLOW_ADMIN_TOKEN")
        self.require_real(self.secret, "TICKETFLOW_CONSOLE_SECRET")
        return self
