"""Notify configuration, from the environment (TICKETFLOW_NOTIFY_ prefix, plus the shared
DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and TICKETFLOW_ADMIN_TOKEN)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.service_app import ConsumerServiceSettings
from services.common.service_settings import real_secret
from services.notify.adapters.secret_box import parse_keys
from services.notify.domain.destinations import DestinationPolicy, parse_networks


class NotifySettings(BaseSettings, ConsumerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_NOTIFY_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        validation_alias=AliasChoices("TICKETFLOW_ENVIRONMENT", "TICKETFLOW_NOTIFY_ENVIRONMENT"),
    )
    admin_token: SecretStr = Field(
        default=SecretStr("dev-admin-token"),
        validation_alias=AliasChoices("TICKETFLOW_ADMIN_TOKEN", "TICKETFLOW_NOTIFY_ADMIN_TOKEN"),
    )
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
    concurrency: int = Field(
        default=64, ge=1, description="Webhook deliveries in flight at once, all subscriptions"
    )
    webhook_concurrency_per_subscription: int = Field(
        default=4, ge=1, description="Deliveries in flight at once to one webhook subscription"
    )
    email_concurrency: int = Field(default=8, ge=1, description="Emails in flight at once")
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    webhook_connect_timeout_s: float = Field(default=5.0, gt=0)
    webhook_read_timeout_s: float = Field(default=10.0, gt=0)
    webhook_total_timeout_s: float = Field(
        default=10.0, gt=0, description="One delivery, connecting to the last byte"
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow loopback, private and link-local webhook destinations (local "
        "development and tests only; refused in production)",
    )
    webhook_allowed_networks: str = Field(
        default="",
        description="Comma-separated CIDRs allowed as webhook destinations although private "
        "(an operator's own receivers), e.g. `10.20.0.0/16,fd00:1::/64`",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys sealing webhook secrets; the first seals, "
        "all open. Required in production",
    )
    max_sleep_s: float = 5.0
    template_budget_s: float = Field(
        default=1.0, gt=0, le=10, description="CPU seconds an account template may use a render"
    )
    template_workers: int = Field(
        default=2, ge=1, le=32, description="Worker processes rendering account templates"
    )
    template_memory_mb: int = Field(
        default=256, ge=64, le=4096, description="Address-space cap of each template worker"
    )
    template_body_chars: int = Field(
        default=65_536,
        ge=1_024,
        le=1_048_576,
        description="Largest email body: longer output is refused at PUT, falls back at send",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> NotifySettings:
        real_secret(self.environment, self.admin_token, "TICKETFLOW_ADMIN_TOKEN")
        production = self.environment == "production"
        keys = self.secret_keys.get_secret_value() if self.secret_keys else ""
        parse_keys(keys)
        if production and not keys.strip():
            raise ValueError(
                "TICKETFLOW_NOTIFY_SECRET_KEYS must be set in production: comma-separated "
                "Fernet keys that seal webhook signing secrets (the first seals, all open)"
            )
        if production and self.webhook_allow_private:
            raise ValueError(
                "TICKETFLOW_NOTIFY_WEBHOOK_ALLOW_PRIVATE is for development and tests; in "
                "production list your own receivers' networks in "
                "TICKETFLOW_NOTIFY_WEBHOOK_ALLOWED_NETWORKS"
            )
        try:
            parse_networks(self.webhook_allowed_networks)
        except ValueError as exc:
            raise ValueError(f"TICKETFLOW_NOTIFY_WEBHOOK_ALLOWED_NETWORKS: {exc}") from None
        return self

    def destination_policy(self) -> DestinationPolicy:
        return DestinationPolicy(
            allow_private=self.webhook_allow_private,
            allowed=parse_networks(self.webhook_allowed_networks),
            https_only=self.environment == "production",
        )
