"""Billing service configuration, from the environment (TICKETFLOW_BILLING_ prefix, plus the
shared DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TICKETFLOW_ENVIRONMENT and
TICKETFLOW_ADMIN_TOKEN)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.http_settings import HttpSettings
from services.common.service_app import ConsumerServiceSettings
from services.common.service_settings import ServiceSettings


class BillingSettings(ServiceSettings, ConsumerServiceSettings, HttpSettings):
    """Also the HTTP limits of `HttpSettings` (TICKETFLOW_BILLING_MAX_BODY_BYTES, ...)."""

    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_BILLING_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        validation_alias=AliasChoices("TICKETFLOW_ENVIRONMENT", "TICKETFLOW_BILLING_ENVIRONMENT"),
    )
    admin_token: SecretStr = Field(
        default=SecretStr("dev-admin-token"),
        validation_alias=AliasChoices("TICKETFLOW_ADMIN_TOKEN", "TICKETFLOW_BILLING_ADMIN_TOKEN"),
        description="Bearer token of the /v1/admin endpoints (account terms, prepaid top-ups)",
    )
    port: int = 8084
    group_id: str = "ticketflow-billing"

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> BillingSettings:
        self.require_real(self.admin_token, "TICKETFLOW_ADMIN_TOKEN")
        return self
