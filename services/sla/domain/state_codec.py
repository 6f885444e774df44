"""Tracked ticket <-> bytes, for the state table and its changelog.

Layout: 10 bytes of prefix (big-endian double: epoch seconds of the ticket's earliest pending
timer, NaN for none; unsigned short: the partition), then the body: a compact JSON object,
deflated against a preset dictionary (`state_dictionary`) behind a one-byte format marker. The
prefix lets a worker rebuild its timer heap after a rebalance without decoding a million bodies.
A worker holds a million of these in memory, so every byte counts: instants are integer
microseconds since the epoch (UTC), the ticket id is the record key, not repeated, and the
dictionary shrinks a body from about 480 bytes to about 120 (`bench/sla_timers.py` measures
the worker's memory). A body that starts with `{` is format 0, plain JSON, as written before
compression: a changelog written by an older version stays readable. Targets are stored as
(seconds, calendar name) and resolved against the ticket's pinned policy, so a target means
exactly what it meant when it was set.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson

from services.sla.domain.state_dictionary import DICTIONARY_1
from services.sla.domain.tracked import Incoming, Tracked
from shared.calendar.table import instant_of, micros
from shared.policy import Policy, Target
from shared.sla import Clock, TicketSla
from shared.sla.clock import Phase
from shared.sla.core import timers_of

_PREFIX = struct.Struct(">dH")
NO_TIMER = math.nan
FORMAT_DEFLATED_1 = b"\x01"
_PLAIN_JSON = b"{"
_MAX_BODY = 1 << 20
"""A body inflating past this is not a state this codec wrote (a state is under a kilobyte)."""


class StateDecodeError(ValueError):
    """A stored state that this version cannot read."""


def timer_of(raw: bytes) -> tuple[float | None, int]:
    """(epoch seconds of the earliest timer or None, partition) without decoding the body."""
    due, partition = _PREFIX.unpack_from(raw)
    return (None if math.isnan(due) else due), partition


def encode(tracked: Tracked, plain: bool = False) -> bytes:
    """The stored form of `tracked`: format 1 (deflated), or with `plain` format 0, the
    plain JSON body that releases before format 1 read."""
    due = tracked.next_due_s
    body: dict[str, Any] = {
        "a": tracked.account,
        "p": tracked.policy,
        "n": tracked.partition,
        "s": _encode_sla(tracked.sla) if tracked.sla is not None else None,
    }
    if tracked.held:
        body["h"] = [_encode_incoming(event) for event in tracked.held]
    if tracked.number is not None:
        body["t"] = tracked.number
    if tracked.trace is not None:
        body["x"] = tracked.trace
    prefix = _PREFIX.pack(due if due is not None else NO_TIMER, tracked.partition)
    text = orjson.dumps(body)
    if plain:
        return prefix + text
    deflate = _PRIMED.copy()
    return prefix + FORMAT_DEFLATED_1 + deflate.compress(text) + deflate.flush()


# An 8 KB window holds the whole dictionary (6.9 KB) and any state; with memLevel 6 the
# compressor allocates 64 KB per state instead of the defaults' 384 KB, for the same bytes out.
# Loading the dictionary (hashing its 6.9 KB) was most of a state's cost, so one compressor is
# primed with it and each state deflates in a copy of it: 7 us a state instead of 12, the same
# bytes. -15 inflates any window size.
_PRIMED = zlib.compressobj(9, zlib.DEFLATED, -13, 6, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_1)


def is_deflated(raw: bytes) -> bool:
    """Whether `raw` is in format 1 (what releases before it cannot read)."""
    return raw[_PREFIX.size : _PREFIX.size + 1] == FORMAT_DEFLATED_1


def body_of(raw: bytes) -> dict[str, Any]:
    """The decoded JSON body of an encoded state, in either format; `StateDecodeError` for
    anything else."""
    marker = raw[_PREFIX.size : _PREFIX.size + 1]
    try:
        if marker == _PLAIN_JSON:
            body = orjson.loads(raw[_PREFIX.size :])
        elif marker == FORMAT_DEFLATED_1:
            inflate = zlib.decompressobj(-15, DICTIONARY_1)
            text = inflate.decompress(raw[_PREFIX.size + 1 :], _MAX_BODY)
            if inflate.unconsumed_tail or inflate.unused_data or not inflate.eof:
                raise StateDecodeError("unreadable SLA state: a truncated or oversized body")
            body = orjson.loads(text)
        else:
            raise StateDecodeError(f"unreadable SLA state: unknown body format {marker!r}")
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise StateDecodeError(f"unreadable SLA state: {exc}") from exc
    if not isinstance(body, dict):
        raise StateDecodeError("unreadable SLA state: the body is not an object")
    return body


def decode(raw: bytes, policy: Policy, ticket_id: str) -> Tracked:
    try:
        body = body_of(raw)
        sla = body["s"]
        return Tracked(
            ticket_id=ticket_id,
            account=body["a"],
            policy=body["p"],
            partition=body["n"],
            sla=_decode_sla(sla, policy) if sla is not None else None,
            held=tuple(_decode_incoming(item) for item in body.get("h", ())),
            number=body.get("t"),
            trace=body.get("x"),
        )
    except StateDecodeError:
        raise
    except Exception as exc:  # any shape this codec did not write: unreadable, not a crash
        raise StateDecodeError(f"unreadable SLA state: {type(exc).__name__}: {exc}") from exc


def version_of(raw: bytes) -> int:
    """The ticket version an encoded state reached (0: opening not seen yet)."""
    sla = _field(raw, "s")
    try:
        return int(sla["v"]) if sla is not None else 0
    except (KeyError, TypeError, ValueError) as exc:
        raise StateDecodeError(f"unreadable SLA state: {exc}") from exc


def policy_of(raw: bytes) -> str:
    """The pinned policy ref of an encoded state (to pick the policy before decoding)."""
    return str(_field(raw, "p"))


def _field(raw: bytes, name: str) -> Any:
    try:
        return body_of(raw)[name]
    except StateDecodeError:
        raise
    except (KeyError, TypeError) as exc:
        raise StateDecodeError(f"unreadable SLA state: {exc}") from exc


# --- core state -------------------------------------------------------------------------------


_micros = micros  # the calendar table's exact conversions, as the core's clocks use
_instant = instant_of


def _when(value: datetime | None) -> int | None:
    return _micros(value) if value is not None else None


def _parse(value: int | None) -> datetime | None:
    return _instant(value) if value is not None else None


def _encode_sla(sla: TicketSla) -> dict[str, Any]:
    return {
        "acc": sla.accepted,
        "rej": sla.rejection,
        "fl": list(sla.flags),
        "pr": sla.priority,
        "pl": sla.plan,
        "ch": sla.channel,
        "op": _micros(sla.opened_at),
        "st": sla.status,
        "v": sla.version,
        "ov": sla.overrides,
        "c": {metric: _encode_clock(clock) for metric, clock in sla.clocks.items()},
    }


def _decode_sla(body: dict[str, Any], policy: Policy) -> TicketSla:
    # A decoded state lives in the worker's cache (DECODED_CACHE of them): its names are
    # interned, so ten thousand of them share what they can.
    clocks = {
        intern(metric): _decode_clock(intern(metric), row, policy)
        for metric, row in body["c"].items()
    }
    plan = body["pl"]
    return TicketSla(
        policy=policy.ref,
        accepted=body["acc"],
        rejection=body["rej"],
        flags=tuple(intern(flag) for flag in body["fl"]),
        priority=intern(body["pr"]),
        plan=intern(plan) if plan is not None else None,
        channel=intern(body["ch"]),
        opened_at=_instant(body["op"]),
        status=intern(body["st"]),
        version=body["v"],
        clocks=clocks,
        overrides=body["ov"],
        timers=timers_of(clocks),
    )


intern = sys.intern


def _encode_clock(clock: Clock) -> list[Any]:
    target = clock.target
    return [
        target.duration.total_seconds() if target is not None else None,
        target.calendar.name if target is not None else None,
        clock.phase,
        clock.runs_us,
        clock.not_before_us,
        clock.due_us,
        clock.warn_us,
        clock.warned,
        clock.breached_us,
        clock.met_us,
        clock.warns,
    ]


_FIRST = micros(datetime.min.replace(tzinfo=UTC))
_LAST = micros(datetime.max.replace(tzinfo=UTC))
"""The instants a datetime can hold, in integer microseconds."""


def _decode_clock(metric: str, row: list[Any], policy: Policy) -> Clock:
    seconds, calendar, phase, runs, not_before, due, warn, warned, breached, met, warns = row
    target = (
        policy.memoised(
            ("state_codec.target", seconds, calendar),
            lambda: Target(timedelta(seconds=seconds), policy.calendar(calendar)),
        )
        if seconds is not None
        else None
    )
    spans = tuple((start, end) for start, end in runs)
    for value in (not_before, due, warn, breached, met, *(x for span in spans for x in span)):
        # a bool, a float or an int past the years a datetime holds: never written here
        if value is not None and (type(value) is not int or not _FIRST <= value <= _LAST):
            raise StateDecodeError(f"unreadable SLA state: not an instant: {value!r}")
    if any(start is None for start, _ in spans):
        raise StateDecodeError("unreadable SLA state: a clock run without its start")
    # Every field given, without the frozen dataclass's eleven `object.__setattr__` calls (a
    # third of a decode): the round-trip tests compare decoded clocks field by field.
    clock = object.__new__(Clock)
    clock.__dict__.update(
        metric=metric,
        target=target,
        phase=cast(Phase, intern(phase)),
        runs_us=spans,
        not_before_us=not_before,
        due_us=due,
        warn_us=warn,
        warned=warned,
        breached_us=breached,
        met_us=met,
        warns=warns,
    )
    return clock


def _encode_incoming(event: Incoming) -> list[Any]:
    return [
        event.event_id,
        event.type,
        _micros(event.at),
        event.sequence,
        event.account,
        event.policy,
        event.data,
        _when(event.recorded_at),
    ]


def _decode_incoming(row: list[Any]) -> Incoming:
    event_id, kind, at, sequence, account, policy, data, recorded = row
    return Incoming(
        event_id,
        kind,
        _instant(at),
        sequence,
        account,
        policy,
        data,
        _parse(recorded),
    )
