"""Production never runs on a placeholder or short secret; development keeps its defaults."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.common.service_settings import MIN_SECRET_CHARS, PLACEHOLDERS, real_secret
from services.intake.settings import IntakeSettings

pytestmark = pytest.mark.unit
BASE = {"DATABASE_URL": "postgresql://x@127.0.0.1/x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}


@pytest.mark.parametrize("value", sorted(PLACEHOLDERS) + ["x" * (MIN_SECRET_CHARS - 1)])
def test_production_refuses_a_placeholder_or_short_secret(value: str) -> None:
    with pytest.raises(ValueError, match="TICKETFLOW_X must be set to a real secret"):
        real_secret("production", SecretStr(value), "TICKETFLOW_X")
    real_secret("development", SecretStr(value), "TICKETFLOW_X")  # a local run may


def test_production_takes_a_real_secret() -> None:
    real_secret("production", SecretStr("x" * MIN_SECRET_CHARS), "TICKETFLOW_X")


def test_intake_names_the_admin_token_it_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**BASE, "TICKETFLOW_ENVIRONMENT": "production"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TICKETFLOW_INTERNAL_TOKEN", "i" * 32)
    monkeypatch.delenv("TICKETFLOW_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="TICKETFLOW_ADMIN_TOKEN"):
        IntakeSettings()
    monkeypatch.setenv("TICKETFLOW_ADMIN_TOKEN", "changeme")
    with pytest.raises(ValidationError, match="TICKETFLOW_ADMIN_TOKEN"):
        IntakeSettings()
    monkeypatch.setenv("TICKETFLOW_ADMIN_TOKEN", "a" * 32)
    assert IntakeSettings().environment == "production"
