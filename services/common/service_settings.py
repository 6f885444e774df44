"""What every service's settings share: the environment it runs in, and the rule that a
production deployment never runs on a placeholder secret."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings

PLACEHOLDERS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "admin",
        "secret",
        "internal",
        "dev-admin-token",
        "dev-internal-token",
        "dev-console-secret",
    }
)
"""Values a secret never has in production: empty, the documented dev defaults, and the
usual stand-ins."""
MIN_SECRET_CHARS = 24


def real_secret(environment: str, secret: SecretStr, variable: str) -> None:
    """ValueError naming `variable` when `environment` is production and `secret` is a
    placeholder or shorter than MIN_SECRET_CHARS; nothing otherwise."""
    value = secret.get_secret_value()
    if environment == "production" and (value in PLACEHOLDERS or len(value) < MIN_SECRET_CHARS):
        raise ValueError(
            f"{variable} must be set to a real secret ({MIN_SECRET_CHARS}+ characters) in "
            "production"
        )


class ServiceSettings(BaseSettings):
    """The base of each service's settings class (each adds its own prefix and fields)."""

    environment: Literal["development", "test", "production"] = "development"

    def require_real(self, secret: SecretStr, variable: str) -> None:
        real_secret(self.environment, secret, variable)
