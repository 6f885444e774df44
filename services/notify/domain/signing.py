"""Webhook signatures: HMAC-SHA256 over `<unix timestamp>.<raw body>` with the subscriber's
secret, sent as

    Ticketflow-Signature: t=1732280400,v1=<hex digest>

A receiver recomputes the digest over the raw body and rejects the request when it differs or
when the timestamp is outside its replay window (default 5 minutes): a captured request
cannot be replayed later. Deliveries also carry `Ticketflow-Delivery: <notification id>`
(the same on every retry) so a receiver can drop a retry it already processed."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Ticketflow-Signature"
DELIVERY_HEADER = "Ticketflow-Delivery"
EVENT_HEADER = "Ticketflow-Event"
REPLAY_WINDOW_S = 300


class BadSignature(ValueError):
    pass


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Ticketflow-Signature` header value."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: int, window_s: int = REPLAY_WINDOW_S
) -> None:
    """Raise `BadSignature` unless `header` signs `body` with `secret` within the window."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
        presented = parts["v1"]
    except (KeyError, ValueError) as exc:
        raise BadSignature("malformed signature header") from exc
    if abs(now - timestamp) > window_s:
        raise BadSignature("timestamp outside the replay window")
    if not hmac.compare_digest(presented, _digest(secret, timestamp, body)):
        raise BadSignature("signature does not match the body")
