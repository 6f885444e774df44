"""The request headers intake reads itself (`If-Match`, `Idempotency-Key`), checked before
use: a value that cannot be what the header means is a 400 naming the header."""

from __future__ import annotations

import re

from services.common.problems import Problem
from shared.limits import MAX_VERSION

MAX_IDEMPOTENCY_KEY_CHARS = 255
"""The primary key of `idempotency_keys` is a btree index, whose entries must stay well under
a page (about 2.7 KB); a UUID or a request id fits many times over."""

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_VERSION = re.compile(r"[0-9]{1,10}")


def parse_if_match(value: str | None) -> int | None:
    """The ticket version of `If-Match: 3`, `"3"` or `W/"3"`: ASCII digits, 0..MAX_VERSION."""
    if value is None:
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    if _VERSION.fullmatch(cleaned) is None or int(cleaned) > MAX_VERSION:
        raise Problem(
            400,
            "Bad If-Match",
            f"If-Match must be a ticket version (0 to {MAX_VERSION}), got {value!r}",
            header="If-Match",
        )
    return int(cleaned)


def parse_idempotency_key(value: str | None) -> str | None:
    """The key as sent: 1 to 255 visible ASCII characters (no spaces)."""
    if value is None:
        return None
    if len(value) > MAX_IDEMPOTENCY_KEY_CHARS or _VISIBLE_ASCII.fullmatch(value) is None:
        raise Problem(
            400,
            "Bad Idempotency-Key",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters "
            f"(no spaces); got {len(value)} characters",
            header="Idempotency-Key",
        )
    return value
