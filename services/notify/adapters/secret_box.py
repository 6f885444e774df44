"""Webhook signing secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256), keys from
`TICKETFLOW_NOTIFY_SECRET_KEYS` (comma-separated Fernet keys). The first key seals; every key
opens (MultiFernet), so rotating is: put a new key first, restart (startup re-seals every
secret under it, `store.seal_secrets`), and remove the old key at a later restart.

Outside production a missing key falls back to one derived from the admin token, logged as
development only; production settings refuse to start without a key."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger("ticketflow.notify.secrets")
DERIVATION_CONTEXT = b"ticketflow-notify-webhook-secrets-development-only|"


class UnreadableSecret(ValueError):
    """A sealed secret none of the configured keys opens."""


def parse_keys(text: str) -> list[bytes]:
    """`key1,key2` -> Fernet keys; raise ValueError naming the position of a bad one (never
    the key itself)."""
    keys = [part.strip().encode() for part in text.split(",") if part.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"TICKETFLOW_NOTIFY_SECRET_KEYS entry {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None
    return keys


def development_key(admin_token: str) -> bytes:
    """A Fernet key derived from the admin token, for development and tests only."""
    digest = hashlib.sha256(DERIVATION_CONTEXT + admin_token.encode()).digest()
    return base64.urlsafe_b64encode(digest)


class SecretBox:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._primary = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def configured(cls, keys_text: str | None, admin_token: str) -> SecretBox:
        """From the configured keys, or (no key configured) the development fallback."""
        keys = parse_keys(keys_text or "")
        if keys:
            return cls(keys)
        log.warning(
            "TICKETFLOW_NOTIFY_SECRET_KEYS is not set: webhook secrets are sealed with a key "
            "derived from the admin token (development only; production refuses to start "
            "without TICKETFLOW_NOTIFY_SECRET_KEYS)"
        )
        return cls([development_key(admin_token)])

    def seal(self, secret: str) -> str:
        return self._primary.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._all.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret(
                "the webhook signing secret cannot be opened with the configured "
                "TICKETFLOW_NOTIFY_SECRET_KEYS (was the key that sealed it removed?)"
            ) from None

    def is_current(self, sealed: str) -> bool:
        """Sealed under the first (current) key."""
        try:
            self._primary.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The secret sealed again under the first key (`MultiFernet.rotate`)."""
        try:
            return self._all.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret(
                "a webhook signing secret cannot be opened with the configured keys"
            ) from None
