"""Sealed console sessions and signed CSRF tokens, both keyed by the console secret.

A session names the API key it was opened with and when it ends; each request looks the key
up again, so a revoked key ends its sessions. It also carries the key itself, for the calls
the console makes on the viewer's behalf (an ack goes to the escalation API with the viewer's
own key, so that service checks the account): the cookie is therefore encrypted, not just
signed (Fernet: AES-128-CBC and HMAC-SHA256, with keys derived from the console secret by
HKDF), and HttpOnly. The CSRF token is a signed double-submit token: a random nonce and its
HMAC, in a cookie and in every form; a POST is refused unless both carry the same, validly
signed token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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
    credential: str | None = None
    """The API key presented at sign-in (None for the admin token: the console never sends
    the admin token anywhere)."""

    @property
    def admin(self) -> bool:
        return self.key == ADMIN


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _session_key(secret: bytes) -> bytes:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ticketflow console session"
    ).derive(secret)
    return base64.urlsafe_b64encode(derived)


class Signer:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._sealer = Fernet(_session_key(self._secret))

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest())

    def session_cookie(self, session: Session) -> str:
        fields = {"k": session.key, "e": session.expires, "c": session.credential}
        return self._sealer.encrypt(orjson.dumps(fields)).decode()

    def session(self, cookie: str | None, now: float) -> Session | None:
        """The session `cookie` holds, if we sealed it and it has not expired."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            fields = orjson.loads(self._sealer.decrypt(cookie.encode()))
            credential = fields.get("c")
            session = Session(
                str(fields["k"]),
                int(fields["e"]),
                credential if isinstance(credential, str) else None,
            )
        except (InvalidToken, ValueError, KeyError, TypeError, AttributeError):
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
