"""The SLA service's pure rules: state codec, dedup and gaps, timer heap, watermark, outputs."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import pytest

from services.sla.domain import state_codec
from services.sla.domain.outputs import command_for, sla_event
from services.sla.domain.processing import ProcessingError, apply_event, fire_due
from services.sla.domain.timers import TimerHeap
from services.sla.domain.view import sla_view
from services.sla.domain.watermark import eligible_at, lag
from shared.events.sla import SlaEvent
from tests.unit.sla_fakes import ticket_message
from tests.unit.sla_helpers import policies
from tests.unit.sla_tracked import OPEN, T0, TICKET, incoming, track


def test_state_survives_encode_decode_through_pauses_and_severity_changes() -> None:
    policy = policies()["voximplant"]
    tracked = track(
        incoming("opened", 0, 1, **OPEN, target_overrides={"resolution": 8}),
        incoming("awaiting_customer", 10, 2),
        incoming("customer_replied", 70, 3),
        incoming("severity_changed", 80, 4, priority="sev1"),
    )
    assert tracked.sla is not None
    assert tracked.sla.clocks["resolution"].status == "running"
    assert len(tracked.sla.clocks["resolution"].runs) == 2
    raw = state_codec.encode(tracked)
    back = state_codec.decode(raw, policy, TICKET)
    assert back == tracked
    assert state_codec.policy_of(raw) == "voximplant@1"
    due, partition = state_codec.timer_of(raw)
    assert tracked.next_due is not None and due == tracked.next_due.timestamp()
    assert partition == 3


def deflated(text: bytes) -> bytes:
    import zlib

    from services.sla.domain.state_dictionary import DICTIONARY_1

    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_1)
    return packer.compress(text) + packer.flush()


def test_unreadable_state_is_a_clear_error() -> None:
    policy = policies()["voximplant"]
    written = state_codec.encode(track(incoming("opened", 0, 1, **OPEN)))
    unreadable = {
        "not json": b"\x00" * 10 + b"{not json",
        "unknown format": b"\x00" * 10 + b"\x07" + written[11:],
        "truncated": written[:-8],
        "corrupt deflate": written[:11] + b"\xff" * 40,
        "not an object": b"\x00" * 10 + b"[1]",
        "deflated non-object": b"\x00" * 10 + b"\x01" + deflated(b"[1]"),
        "trailing bytes": written + b"\x00",
        "clocks not a map": b"\x00" * 10
        + b"\x01"
        + deflated(
            orjson.dumps(
                {
                    **state_codec.body_of(written),
                    "s": {**state_codec.body_of(written)["s"], "c": []},
                }
            )
        ),
    }
    body = state_codec.body_of(written)
    first = next(iter(body["s"]["c"]))
    for name, change in {
        "an instant as a float": (5, 1.5),  # the due instant
        "an instant as a bool": (4, True),  # not_before
        "a run without its start": (3, [[None, None]]),
        "an instant past year 9999": (5, 10**18),
    }.items():
        row = list(body["s"]["c"][first])
        row[change[0]] = change[1]
        broken = {**body, "s": {**body["s"], "c": {**body["s"]["c"], first: row}}}
        unreadable[name] = b"\x00" * 10 + b"\x01" + deflated(orjson.dumps(broken))
    for name, raw in unreadable.items():
        with pytest.raises(state_codec.StateDecodeError, match="unreadable SLA state"):
            state_codec.decode(raw, policy, TICKET)
        if name not in ("clocks not a map", *SHAPES):  # the version is readable, not a clock
            with pytest.raises(state_codec.StateDecodeError):
                state_codec.version_of(raw)


SHAPES = (
    "an instant as a float",
    "an instant as a bool",
    "a run without its start",
    "an instant past year 9999",
)


def test_states_are_stored_deflated_against_the_frozen_dictionary() -> None:
    # A worker holds a million encoded states: the dictionary is what keeps one near a
    # hundred bytes. Its bytes never change (format 1 states are inflated with them).
    import hashlib
    import zlib

    from services.sla.domain.state_dictionary import DICTIONARY_1

    assert hashlib.sha256(DICTIONARY_1).hexdigest() == (
        "ac134fdbc86541f2f4345c6c90958e9eba4b7bcd6c6c3d1439c8680f8c908847"
    )
    policy = policies()["voximplant"]
    tracked = replace(
        track(incoming("opened", 0, 1, **OPEN, ticket_number="TF-260001")),
        trace="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    raw = state_codec.encode(tracked)
    assert raw[10:11] == state_codec.FORMAT_DEFLATED_1
    plain = orjson.dumps(state_codec.body_of(raw))
    without_dictionary = zlib.compress(plain, 9)
    assert len(raw) < 0.4 * (10 + len(plain)) and len(raw) < 0.7 * len(without_dictionary)
    assert state_codec.decode(raw, policy, TICKET) == tracked


def test_a_state_written_before_bodies_were_deflated_still_decodes() -> None:
    # Format 0: the prefix, then the plain JSON body (what an older worker left in the
    # changelog). An upgraded worker reads it; it writes format 1 from then on.
    policy = policies()["voximplant"]
    tracked = track(
        incoming("opened", 0, 1, **OPEN, ticket_number="TF-260002"),
        incoming("awaiting_customer", 10, 2),
    )
    raw = state_codec.encode(tracked)
    legacy = state_codec.encode(
        tracked, plain=True
    )  # what TICKETFLOW_SLA_STATE_FORMAT=plain writes
    assert legacy == raw[:10] + orjson.dumps(state_codec.body_of(raw))
    assert legacy[10:11] == b"{"
    assert state_codec.decode(legacy, policy, TICKET) == tracked
    assert state_codec.version_of(legacy) == 2
    assert state_codec.policy_of(legacy) == "voximplant@1"
    assert state_codec.timer_of(legacy) == state_codec.timer_of(raw)


def test_redelivered_events_change_nothing() -> None:
    policy = policies()["voximplant"]
    opened = incoming("opened", 0, 1, **OPEN)
    tracked = track(opened)
    again = apply_event(tracked, opened, TICKET, 3, policy)
    assert again.outcome == "duplicate" and again.emitted == [] and again.tracked is tracked


def test_an_event_past_a_gap_waits_then_applies_in_order() -> None:
    policy = policies()["voximplant"]
    tracked = track(incoming("opened", 0, 1, **OPEN))
    held = apply_event(tracked, incoming("customer_replied", 30, 3), TICKET, 3, policy)
    assert held.outcome == "held" and held.tracked.version == 1
    assert [event.sequence for event in held.tracked.held] == [3]
    filled = apply_event(held.tracked, incoming("awaiting_customer", 10, 2), TICKET, 3, policy)
    assert filled.outcome == "applied" and filled.tracked.version == 3
    assert filled.tracked.held == ()
    kinds = [traced.emitted.type for traced in filled.emitted]
    assert kinds == ["sla.met", "sla.clock_started", "sla.met"]  # response, info request, reply


def test_a_history_without_its_opening_is_held_not_guessed() -> None:
    policy = policies()["voximplant"]
    first = apply_event(None, incoming("responded", 5, 2), TICKET, 3, policy)
    assert first.outcome == "held" and first.tracked.sla is None
    opened = apply_event(first.tracked, incoming("opened", 0, 1, **OPEN), TICKET, 3, policy)
    assert opened.tracked.version == 2
    assert opened.tracked.sla is not None
    assert opened.tracked.sla.clocks["first_response"].status == "met"


def test_a_second_opening_is_refused() -> None:
    policy = policies()["voximplant"]
    tracked = track(incoming("opened", 0, 1, **OPEN))
    with pytest.raises(ProcessingError):
        apply_event(tracked, incoming("opened", 5, 2, **OPEN), TICKET, 3, policy)


def test_fire_due_emits_the_breach_stamped_with_the_deadline() -> None:
    policy = policies()["voximplant"]
    tracked = track(incoming("opened", 0, 1, **OPEN))
    due = tracked.next_due
    assert due is not None
    nothing = fire_due(tracked, policy, due - timedelta(seconds=1))
    assert nothing.outcome == "duplicate" or all(
        c.emitted.type != "sla.breached" for c in nothing.emitted
    )
    fired = fire_due(tracked, policy, T0 + timedelta(days=1))
    breaches = [c.emitted for c in fired.emitted if c.emitted.type == "sla.breached"]
    assert [b.metric for b in breaches] == ["first_response"]
    assert breaches[0].at == fired.tracked.sla.clocks["first_response"].breached_at  # type: ignore[union-attr]


def test_sla_events_have_deterministic_ids_and_commands_follow_them() -> None:
    policy = policies()["voximplant"]
    tracked = track(
        incoming("opened", 0, 1, **OPEN),
        incoming("resolved", 30, 2),
        incoming("closure_requested", 31, 3),
    )
    fired = fire_due(tracked, policy, T0 + timedelta(days=3))
    due = [c for c in fired.emitted if c.emitted.type == "sla.close_by_timeout_due"]
    assert len(due) == 1
    first = sla_event(fired.tracked, due[0], T0 + timedelta(days=3))
    second = sla_event(fired.tracked, due[0], T0 + timedelta(days=4))
    assert first["id"] == second["id"]
    # The fast-path body is exactly the published contract.
    model = SlaEvent.model_validate(first)
    assert model.model_dump(mode="json") == SlaEvent.model_validate_json(
        orjson.dumps(first)
    ).model_dump(mode="json")
    assert model.at == T0 + timedelta(minutes=31, hours=48)
    command = command_for(first)
    assert command is not None and command.type == "close_by_timeout"
    assert command.based_on_version == 3 and str(command.id) == first["id"]
    assert command.due_at == T0 + timedelta(minutes=31, hours=48)


def test_timer_heap_keeps_one_live_entry_per_ticket() -> None:
    heap = TimerHeap()
    assert heap.schedule(b"a", 0, 100.0) is True
    assert heap.schedule(b"b", 1, 50.0) is True
    assert heap.schedule(b"a", 0, 200.0) is False  # moved later
    assert heap.schedule(b"c", 1, 150.0) is False
    assert len(heap) == 3 and heap.earliest() == 50.0
    assert heap.pop_due(160.0, 10) == [(b"b", 1, 50.0), (b"c", 1, 150.0)]
    assert heap.earliest() == 200.0
    heap.schedule(b"a", 0, None)
    assert heap.earliest() is None and len(heap) == 0


def test_timer_heap_drops_revoked_partitions() -> None:
    heap = TimerHeap()
    for index in range(10):
        heap.schedule(f"t{index}".encode(), index % 2, float(index))
    heap.drop_partitions([0])
    assert [key for key, _, _ in heap.pop_due(math.inf, 100)] == [
        b"t1",
        b"t3",
        b"t5",
        b"t7",
        b"t9",
    ]


def test_a_deadline_fires_at_its_time_unless_its_ticket_was_logged_after_it() -> None:
    # Ahead of the newest event's store time: exact time.
    assert eligible_at(1_000.0, 900.0, settle=2.0) == 1_000.0
    assert eligible_at(1_000.0, None, settle=2.0) == 1_000.0
    # Already past when the ticket was recorded: the settle window after that record.
    assert eligible_at(1_000.0, 5_000.0, settle=2.0) == 5_002.0


def test_lag_comes_from_the_fetch_highwater_and_the_furthest_position() -> None:
    assert lag(None, 3, 3) is None
    assert lag(10, 6, None) == 4
    assert lag(10, None, 8) == 2
    assert lag(10, 12, None) == 0


def test_view_lists_pauses_and_remaining_business_time() -> None:
    tracked = track(
        incoming("opened", 0, 1, **OPEN),
        incoming("awaiting_customer", 10, 2),
        incoming("customer_replied", 70, 3),
    )
    view = sla_view(tracked, T0 + timedelta(minutes=80))
    metric = view["metrics"]["customer_response"]
    assert metric["status"] == "met"
    resolution = view["metrics"]["first_response"]
    assert resolution["status"] == "met"
    assert view["version"] == 3 and view["waiting_for_sequences"] == []


def test_the_fast_decoder_accepts_what_the_codec_writes_and_refuses_the_rest() -> None:
    from services.sla.adapters.messages import RawMessage, decode_message
    from shared.events.codec import DecodeError

    written = ticket_message("ticket.opened", 1, T0, 0, TICKET, **OPEN)

    def message(**changes: Any) -> RawMessage:
        return replace(written, **changes)

    key, event = decode_message(message())
    assert key == TICKET.encode() and event.type == "ticket.opened"
    assert event.at == T0 and event.sequence == 1 and event.policy == "voximplant@1"
    assert event.data["priority"] == "sev2"

    headers = dict(written.headers)
    bad = {
        "key": message(key=b"another-ticket"),
        "json": message(value=b"{nope"),
        "array": message(value=b"[1]"),
        "type": message(
            headers=[
                *((k, v) for k, v in headers.items() if k != "ce_type"),
                ("ce_type", b"ticket.exploded"),
            ]
        ),
        "time": message(
            headers=[
                *((k, v) for k, v in headers.items() if k != "ce_time"),
                ("ce_time", b"2026-11-17T14:00:00"),
            ]
        ),
        "payload": message(value=b'{"channel": 7}'),
        "policy": message(
            headers=[
                *((k, v) for k, v in headers.items() if k != "ce_policy"),
                ("ce_policy", b"voximplant"),
            ]
        ),
    }
    for name, broken in bad.items():
        with pytest.raises(DecodeError):
            decode_message(broken)
        assert name


def test_replay_shards_cover_the_uuid_space_without_overlap() -> None:

    from services.sla.adapters.event_store_reader import shard_range

    for shards in (1, 2, 3, 7):
        ranges = [shard_range(shard, shards) for shard in range(shards)]
        assert ranges[0][0] == uuid.UUID(int=0) and ranges[-1][1] is None
        for (_, high), (low, _) in zip(ranges, ranges[1:], strict=False):
            assert high == low
        ticket = uuid.uuid4()
        owners = [
            shard
            for shard, (low, high) in enumerate(ranges)
            if low <= ticket and (high is None or ticket < high)
        ]
        assert len(owners) == 1


def test_every_sla_record_names_the_ticket_number_from_its_opening() -> None:
    # Escalation and notify page with the number; they must not depend on having seen the
    # ticket topic first (the two topics race).
    policy = policies()["voximplant"]
    tracked = track(incoming("opened", 0, 1, **OPEN, ticket_number="TF-260001"))
    assert tracked.number == "TF-260001"
    back = state_codec.decode(state_codec.encode(tracked), policy, TICKET)
    assert back.number == "TF-260001"
    fired = fire_due(back, policy, T0 + timedelta(days=1))
    bodies = [sla_event(fired.tracked, traced, T0 + timedelta(days=1)) for traced in fired.emitted]
    assert bodies and all(body["ticket_number"] == "TF-260001" for body in bodies)
    assert SlaEvent.model_validate(bodies[0]).ticket_number == "TF-260001"


def test_a_state_written_before_numbers_were_carried_still_decodes() -> None:
    policy = policies()["voximplant"]
    tracked = track(incoming("opened", 0, 1, **OPEN))
    raw = state_codec.encode(tracked)
    assert "t" not in state_codec.body_of(raw)
    assert state_codec.decode(raw, policy, TICKET).number is None
