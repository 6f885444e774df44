"""The HTTP limits every API shares, as fields a service's settings class inherits (so each
reads them under its own prefix: `TICKETFLOW_RATE_LIMIT_PER_SECOND` for intake,
`TICKETFLOW_ESCALATION_RATE_LIMIT_PER_SECOND` for escalation, ...).

Request limits (body, headers), the per-API-key rate limit, the server's timeouts for slow
clients and how long a verified API key is trusted before it is looked up again (the bound
on how late a revocation reaches another replica or service)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseModel):
    max_body_bytes: int = Field(
        default=262_144,
        ge=1_024,
        le=67_108_864,
        description="A request body over this is refused with 413 before it is parsed "
        "(also a chunked body, as soon as it passes the limit)",
    )
    max_header_bytes: int = Field(
        default=8_192,
        ge=256,
        le=1_048_576,
        description="One request header (name and value) over this is refused with 400",
    )
    max_head_bytes: int = Field(
        default=32_768,
        ge=1_024,
        le=4_194_304,
        description="The request line and all headers together over this are refused with 400",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        allow_inf_nan=False,
        description="A client that has not sent a request's complete headers this long after "
        "it started the request (or opened the connection) gets 408 and is disconnected",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3_600,
        allow_inf_nan=False,
        description="A request body not complete this long after its headers gets 408 and the "
        "connection is closed",
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, le=300, description="An idle keep-alive connection is closed after this"
    )
    rate_limit_per_second: float = Field(
        default=0.0,
        ge=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="Requests per second each API key may make on average, per replica "
        "(429 with Retry-After beyond it); 0 turns rate limiting off",
    )
    rate_limit_burst: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Requests an API key may make at once before the rate applies",
    )
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        allow_inf_nan=False,
        description="How long a verified API key is trusted without looking it up again: a "
        "revoked key stops working on every other replica and service within this time (at "
        "once on the intake replica that revoked it); 0 looks every request up",
    )

    @model_validator(mode="after")
    def _head_holds_a_header(self) -> HttpSettings:
        if self.max_head_bytes < self.max_header_bytes:
            raise ValueError("max_head_bytes must be at least max_header_bytes")
        return self

    @classmethod
    def from_env(cls, prefix: str) -> HttpSettings:
        """Just these fields, read from the environment under `prefix` (for a service whose
        settings class does not inherit them)."""

        class FromEnv(BaseSettings, HttpSettings):
            model_config = SettingsConfigDict(env_prefix=prefix, extra="ignore")

        return HttpSettings.model_validate(FromEnv().model_dump())
