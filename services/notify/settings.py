"""Notify configuration, from the environment (TICKETFLOW_NOTIFY_ prefix, plus the shared
DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and TICKETFLOW_ADMIN_TOKEN)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"", "changeme", "change-me", "admin", "secret", "dev-admin-token"}


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_NOTIFY_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        validation_alias=AliasChoices("TICKETFLOW_ENVIRONMENT", "TICKETFLOW_NOTIFY_ENVIRONMENT"),
    )
    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "TICKETFLOW_DATABASE_URL")
    )
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "TICKETFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    )
    admin_token: SecretStr = Field(
        default=SecretStr("dev-admin-token"),
        validation_alias=AliasChoices("TICKETFLOW_ADMIN_TOKEN", "TICKETFLOW_NOTIFY_ADMIN_TOKEN"),
    )
    host: str = "127.0.0.1"
    port: int = 8083
    group_id: str = "ticketflow-notify"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool | None = Field(
        default=None, description="None: use STARTTLS when the server offers it"
    )
    mail_from: str = "ticketflow <support@ticketflow.invalid>"
    max_attempts: int = Field(default=8, ge=1)
    first_retry_s: float = Field(default=5.0, gt=0)
    max_retry_s: float = Field(default=3600.0, gt=0)
    batch_size: int = Field(default=200, ge=1)
    concurrency: int = Field(default=16, ge=1, description="Deliveries in flight at once")
    max_sleep_s: float = 5.0
    stuck_after_s: float = Field(
        default=60.0, gt=0, description="/readyz: a background task silent this long is stuck"
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> NotifySettings:
        token = self.admin_token.get_secret_value()
        if self.environment == "production" and (token in PLACEHOLDERS or len(token) < 24):
            raise ValueError(
                "TICKETFLOW_ADMIN_TOKEN must be set to a real secret (24+ characters) in production"
            )
        return self
