"""Kafka client security settings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.kafka_security import KafkaSecurity


def test_plaintext_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    security = KafkaSecurity()
    assert security.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert security.faust_credentials() is None


def test_scram_over_tls_like_a_strimzi_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ticketflow-sla")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    kwargs = KafkaSecurity().client_kwargs()
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "ticketflow-sla"
    assert kwargs["sasl_plain_password"] == "s3cret"
    assert kwargs["ssl_context"] is not None
    assert "s3cret" not in repr(KafkaSecurity())


def test_sasl_without_a_password_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.delenv("KAFKA_SASL_PASSWORD", raising=False)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "u")
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD"):
        KafkaSecurity()
