"""Intake configuration, from the environment (prefix TICKETFLOW_ or the plain names)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"", "changeme", "change-me", "admin", "secret", "dev-admin-token"}


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
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
    relay_enabled: bool = True
    commands_enabled: bool = True
    commands_group: str = "ticketflow-intake-commands"

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> IntakeSettings:
        if self.environment == "production" and (
            self.admin_token.get_secret_value() in PLACEHOLDERS
            or len(self.admin_token.get_secret_value()) < 24
        ):
            raise ValueError(
                "TICKETFLOW_ADMIN_TOKEN must be set to a real secret (24+ characters) in production"
            )
        return self
