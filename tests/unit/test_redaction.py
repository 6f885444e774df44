"""URLs shown in logs and API answers carry no credentials: no userinfo, no query string."""

from __future__ import annotations

import logging

import pytest

from services.common.redaction import redact_logger, redact_url, redact_urls_in


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:pw@hooks.example.com:8443/x?token=abc#frag",
            "https://[redacted]@hooks.example.com:8443/x?[redacted]",
        ),
        ("https://token@hooks.example.com/x", "https://[redacted]@hooks.example.com/x"),
        ("https://hooks.example.com/x?sig=s3cr3t", "https://hooks.example.com/x?[redacted]"),
        ("https://hooks.example.com/x", "https://hooks.example.com/x"),
        ("http://[::1]:8080/hook", "http://[::1]:8080/hook"),
        ("http://u:p@[fd00::1]/hook?k=v", "http://[redacted]@[fd00::1]/hook?[redacted]"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("https://hooks.example.com/x#only-fragment", "https://hooks.example.com/x"),
        ("http://h.example:99999/x?k=v", "[redacted]"),
        ("not a url?token=1", "[redacted]"),
        ("plain text", "plain text"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_secrets_never_survive_redaction() -> None:
    url = "https://alice:hunter2@hooks.example.com/in?api_key=K123&x=1"
    assert not any(s in redact_url(url) for s in ("alice", "hunter2", "K123", "api_key"))


def test_urls_inside_a_text_are_redacted() -> None:
    text = "ConnectError: posting to https://a:b@x.example/y?key=v failed; see http://z.example/"
    assert redact_urls_in(text) == (
        "ConnectError: posting to https://[redacted]@x.example/y?[redacted] failed; "
        "see http://z.example/"
    )


def test_a_logger_can_be_made_to_redact(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    redact_logger("tests.redaction")
    redact_logger("tests.redaction")  # once only
    logger = logging.getLogger("tests.redaction")
    assert len(logger.filters) == 1
    logger.info("HTTP Request: %s %s", "POST", "https://u:pw@h.example/x?t=1")
    assert caplog.messages == ["HTTP Request: POST https://[redacted]@h.example/x?[redacted]"]
