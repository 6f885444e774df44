"""Time zones as policies name them: IANA names or fixed offsets such as `GMT+2`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FIXED = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_zone(name: str) -> tzinfo:
    """`America/New_York` -> ZoneInfo; `GMT+2`, `UTC-05:30`, `+02:00` -> a fixed offset.

    Note the POSIX trap: the IANA name `Etc/GMT+2` means UTC-2. Policies write the offset the
    way people read it (`GMT+2` = two hours ahead of UTC), so we parse those ourselves.
    """
    text = name.strip()
    if text.upper() in {"UTC", "GMT", "Z"}:
        return UTC
    match = _FIXED.match(text)
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset > timedelta(hours=14):
            raise ValueError(f"offset out of range in time zone {name!r}")
        return timezone(-offset if sign == "-" else offset, name=text)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (IANA name or offset like GMT+2)") from exc


def month_of(at: datetime, zone: str) -> str:
    """`YYYY-MM` of an aware instant in `zone` (an IANA name or a fixed offset, as policies
    write them): the calendar month a per-month budget or statement counts it in."""
    if at.tzinfo is None:
        raise ValueError("month_of needs an aware instant")
    local = at.astimezone(parse_zone(zone))
    return f"{local.year:04d}-{local.month:02d}"
