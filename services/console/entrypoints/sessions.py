"""Signed console sessions and CSRF tokens (HMAC-SHA256 with the console secret).

A session names the API key it was opened with (never the key's secret) and when it ends;
each request looks the key up again, so a revoked key ends its sessions. The CSRF token is a
signed double-submit token: a random nonce and its HMAC, in a cookie and in every form; a
POST is refused unless both carry the same, validly signed token."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

SESSION_COOKIE = "tf_console_session"
CSRF_COOKIE = "tf_console_csrf"
TZ_COOKIE = "tf_console_tz"
ADMIN = "admin"
"""The `key` of a session opened with the admin token (API key ids are `tf_<id>_...` ids)."""


@dataclass(frozen=True, slots=True)
class Session:
    key: str
    """The API key id, or ADMIN."""
    expires: int
    """Unix seconds."""

    @property
    def admin(self) -> bool:
        return self.key == ADMIN


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest())

    def session_cookie(self, session: Session) -> str:
        body = _b64(orjson.dumps({"k": session.key, "e": session.expires}))
        return f"{body}.{self._mac('session', body)}"

    def session(self, cookie: str | None, now: float) -> Session | None:
        """The session `cookie` holds, if it is signed by us and not expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            fields = orjson.loads(_unb64(body))
            session = Session(str(fields["k"]), int(fields["e"]))
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        return session if session.expires > now else None

    def csrf_token(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac('csrf', nonce)}"

    def csrf_valid(self, token: str | None) -> bool:
        if not token or token.count(".") != 1:
            return False
        nonce, mac = token.split(".")
        return hmac.compare_digest(mac, self._mac("csrf", nonce))

    def csrf_matches(self, cookie: str | None, submitted: str | None) -> bool:
        """The double-submit check: the form's token is the cookie's, and ours."""
        if not cookie or not submitted or not self.csrf_valid(cookie):
            return False
        return hmac.compare_digest(cookie.encode(), submitted.encode())
