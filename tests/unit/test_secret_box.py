"""Webhook secrets sealed with Fernet: the first key seals, every key opens, re-sealing moves a
secret to the first key, and a missing key is told apart from a wrong one."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from services.notify.adapters.secret_box import (
    SecretBox,
    UnreadableSecret,
    development_key,
    parse_keys,
)


def test_sealing_hides_the_secret_and_opens_again() -> None:
    box = SecretBox([Fernet.generate_key()])
    sealed = box.seal("whsec_abc")
    assert "whsec_abc" not in sealed and sealed != box.seal("whsec_abc")
    assert box.open(sealed) == "whsec_abc" and box.is_current(sealed)


def test_rotation_new_key_first_then_old_key_removed() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed_old = SecretBox([old]).seal("whsec_abc")
    during = SecretBox([new, old])
    assert during.open(sealed_old) == "whsec_abc" and not during.is_current(sealed_old)
    moved = during.reseal(sealed_old)
    assert during.is_current(moved)
    after = SecretBox([new])
    assert after.open(moved) == "whsec_abc"
    with pytest.raises(UnreadableSecret, match="cannot be opened"):
        after.open(sealed_old)
    with pytest.raises(UnreadableSecret):
        after.reseal(sealed_old)


def test_bad_keys_are_named_by_position_not_shown() -> None:
    good = Fernet.generate_key().decode()
    assert len(parse_keys(f" {good} , ")) == 1
    with pytest.raises(ValueError, match="entry 2 is not a Fernet key") as info:
        parse_keys(f"{good},not-a-key-but-secret")
    assert "not-a-key-but-secret" not in str(info.value)


def test_without_keys_the_development_fallback_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    box = SecretBox.configured(None, "dev-admin-token")
    assert "development only" in caplog.text and "dev-admin-token" not in caplog.text
    assert SecretBox([development_key("dev-admin-token")]).open(box.seal("s")) == "s"
    assert development_key("dev-admin-token") != development_key("another-token")
    configured = Fernet.generate_key()
    assert SecretBox([configured]).open(SecretBox.configured(configured.decode(), "t").seal("x"))
