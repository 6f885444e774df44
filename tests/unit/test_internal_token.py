"""The intake -> SLA service token: both sides read the same variable, and production refuses
the development default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from services.sla.settings import SlaSettings

BASE = {"DATABASE_URL": "postgresql://x@127.0.0.1/x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}


def test_intake_and_sla_read_the_same_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**BASE, "TICKETFLOW_INTERNAL_TOKEN": "t" * 32}.items():
        monkeypatch.setenv(name, value)
    assert IntakeSettings().internal_token.get_secret_value() == "t" * 32
    assert SlaSettings().internal_token.get_secret_value() == "t" * 32


def test_production_intake_refuses_the_development_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TICKETFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("TICKETFLOW_ADMIN_TOKEN", "a" * 32)
    monkeypatch.delenv("TICKETFLOW_INTERNAL_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="TICKETFLOW_INTERNAL_TOKEN"):
        IntakeSettings()
    monkeypatch.setenv("TICKETFLOW_INTERNAL_TOKEN", "i" * 32)
    assert IntakeSettings().internal_token.get_secret_value() == "i" * 32
