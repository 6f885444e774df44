"""Benchmark: events/s through the pure SLA core (decode + evolve + deadlines).

Baseline, measured in the same run over the same bytes: a plain loop that only decodes the
JSON lines (orjson). Target: the core keeps at least 25 % of the baseline's rate.

Two sizes to scale (`bench/curves.py` runs three of each): `--events` (tickets are a tenth of
them), and `--resolution-target`: every ticket is then a hosted-voice P2 whose resolution
target is that long in the `standard` calendar (weekday hours, US holidays), so the business
time the core computes per event grows from 2 hours to 15 support days.

    python bench/sla_core.py [--quick] [--events N] [--resolution-target 2h|1d|5d|15d]

Prints progress to stderr and, as its last stdout line, one JSON object.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.common.gc_tuning import tune_for_held_state  # noqa: E402
from shared.calendar import BusinessCalendar  # noqa: E402
from shared.events import Envelope  # noqa: E402
from shared.policy import Policy, load_policies  # noqa: E402
from shared.policy.loader import compile_policy  # noqa: E402
from shared.policy.schema import TargetRow  # noqa: E402
from shared.sla import TicketSla, TimelineEvent, evolve  # noqa: E402

OPENINGS: dict[str, list[dict[str, object]]] = {
    "voipster": [{"channel": "web", "priority": p} for p in ("emergency", "high", "normal", "low")],
    "hosted-voice": [{"channel": "email", "priority": p} for p in ("p1", "p2", "p3", "p4")],
    "voximplant": [
        {"channel": "email", "priority": s, "plan": p, "target_overrides": {"resolution": 8}}
        for s in ("sev1", "sev2", "sev3", "sev4")
        for p in ("silver", "gold", "platinum")
    ],
    "kolmisoft-mor": [
        {"channel": "web", "priority": "high", "plan": p} for p in ("platinum", "gold", "bronze")
    ],
    "voice1": [{"channel": "phone", "priority": "emergency"}],
}
FOLLOW_UPS = [
    ("ticket.assigned", {"assignee": "noc-1"}),
    ("ticket.responded", {"by": "noc-1"}),
    ("ticket.comment_added", {"body": "checking the trunk"}),
    ("ticket.awaiting_customer", {"reason": "need a pcap"}),
    ("ticket.customer_replied", {"body": "attached"}),
    ("ticket.comment_added", {"body": "found it"}),
    ("ticket.resolved", {"note": "route fixed"}),
    ("ticket.closure_requested", {}),
    ("ticket.closed", {}),
]


@functools.cache
def _voximplant_ref() -> str:
    return load_policies()["voximplant"].ref


def opening_now(priority: str, account: str = "bench") -> Envelope:
    """A voximplant (gold plan) ticket opened now: the live load of the service benches.
    (The policy is loaded once: loading it is 30 ms, and per event it starved the load
    generator's event loop, which is what `sla_service`'s live latency used to measure.)"""
    now = datetime.now(UTC)
    return Envelope(
        type="ticket.opened",
        source="bench",
        subject=str(uuid.uuid4()),
        time=now,
        recorded_at=now,
        sequence=1,
        account=account,
        policy=_voximplant_ref(),
        data={"channel": "web", "priority": priority, "plan": "gold", "contact": "a@b.c"},
    )


RESOLUTION_TARGETS: dict[str, dict[str, float]] = {
    "2h": {"hours": 2},
    "1d": {"support_days": 1},
    "5d": {"support_days": 5},
    "15d": {"support_days": 15},
}
SWEPT_OPENING = {"hosted-voice": [{"channel": "email", "priority": "p2"}]}


def with_resolution_target(policy: Policy, target: str) -> Policy:
    """`policy` (hosted-voice) with its P2 resolution target set to `target`, compiled."""
    spec = policy.spec
    row = TargetRow.model_validate(
        {"priorities": ["p2"], "calendar": "standard", **RESOLUTION_TARGETS[target]}
    )
    resolution = spec.metrics["resolution"].model_copy(update={"targets": [row]})
    metrics = {**spec.metrics, "resolution": resolution}
    return compile_policy(spec.model_copy(update={"metrics": metrics}))


def make_lines(
    events: int,
    tickets: int,
    seed: int = 7,
    openings: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
) -> list[bytes]:
    """`events` JSON lines over `tickets` tickets, interleaved in time order."""
    rng = random.Random(seed)
    per_ticket = events // tickets
    start = datetime(2026, 11, 2, tzinfo=UTC)
    rows: list[tuple[datetime, int, bytes]] = []
    table = openings if openings is not None else OPENINGS
    policy_ids = list(table)
    for ticket in range(tickets):
        policy_id = policy_ids[ticket % len(policy_ids)]
        at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 14))
        kinds = [("ticket.opened", rng.choice(table[policy_id]))]
        kinds += [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(per_ticket - 1)]
        for sequence, (kind, data) in enumerate(kinds, start=1):
            # stdlib json for generation: orjson's over-allocated output buffers fragment the
            # heap and would inflate the RSS this benchmark reports.
            line = json.dumps(
                {
                    "ticket": f"t{ticket}",
                    "policy": policy_id,
                    "type": kind,
                    "sequence": sequence,
                    "occurred_at": at.isoformat(),
                    "data": data,
                },
                separators=(",", ":"),
            ).encode()
            rows.append((at, ticket, line))
            at += timedelta(minutes=rng.randrange(1, 240))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in rows]


def baseline(lines: list[bytes]) -> tuple[float, list[int]]:
    loads = orjson.loads
    clock = time.perf_counter_ns
    latencies = []
    began = time.perf_counter()
    for line in lines:
        t0 = clock()
        loads(line)
        latencies.append(clock() - t0)
    return time.perf_counter() - began, latencies


def system(lines: list[bytes], policies: dict[str, Policy]) -> tuple[float, list[int], int]:
    """The SLA service's hot path without Kafka: decode, fold into the ticket's state, read
    its pending deadlines. States stay alive (as in the service) until the function returns,
    under the collector thresholds the SLA worker sets (`tune_for_held_state`)."""
    thresholds = gc.get_threshold()
    tune_for_held_state()
    try:
        return _fold_lines(lines, policies)
    finally:
        gc.set_threshold(*thresholds)


def _fold_lines(lines: list[bytes], policies: dict[str, Policy]) -> tuple[float, list[int], int]:
    loads = orjson.loads
    parse = datetime.fromisoformat
    clock = time.perf_counter_ns
    states: dict[str, TicketSla] = {}
    latencies = []
    timers = 0
    began = time.perf_counter()
    for index, line in enumerate(lines):
        t0 = clock()
        body = loads(line)
        policy = policies[body["policy"]]
        ticket = body["ticket"]
        event = TimelineEvent(
            body["type"], parse(body["occurred_at"]), body["data"], body["sequence"]
        )
        state = evolve(states.get(ticket), event, policy).state
        states[ticket] = state
        timers += len(state.timers)
        latencies.append(clock() - t0)
        if index and index % 200_000 == 0:
            print(f"  core: {index:,} events", file=sys.stderr)
    return time.perf_counter() - began, latencies, timers


def shell(lines: list[bytes], policies: dict[str, Policy]) -> float:
    """What the service's hot path would still do in Python if the core were free: the same
    loop with `evolve` replaced by one call that returns its input (a compiled core's
    boundary crossing, at its cheapest). Its rate is the ceiling any faster core can reach."""
    loads = orjson.loads
    parse = datetime.fromisoformat
    states: dict[str, TimelineEvent] = {}
    began = time.perf_counter()
    for line in lines:
        body = loads(line)
        policy = policies[body["policy"]]
        ticket = body["ticket"]
        event = TimelineEvent(
            body["type"], parse(body["occurred_at"]), body["data"], body["sequence"]
        )
        states[ticket] = _free_core(states.get(ticket), event, policy)
    return time.perf_counter() - began


def _free_core(state: TimelineEvent | None, event: TimelineEvent, policy: Policy) -> TimelineEvent:
    return event


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k events over 10k tickets")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternate baseline and system this many times; report each one's best round "
        "(this machine's speed drifts by tens of percent within a run)",
    )
    parser.add_argument(
        "--day-walk",
        action="store_true",
        help="use the day-walking business-time arithmetic the compiled calendar table "
        "replaced (add_by_days/between_by_days), to compare the two",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="events to fold, over a tenth as many tickets (default 1,000,000)",
    )
    parser.add_argument(
        "--resolution-target",
        choices=sorted(RESOLUTION_TARGETS, key=list(RESOLUTION_TARGETS).index),
        help="fold hosted-voice P2 tickets only, with this resolution target in business time",
    )
    args = parser.parse_args()
    if args.day_walk:
        BusinessCalendar.add = BusinessCalendar.add_by_days  # type: ignore[method-assign]
        BusinessCalendar.between = BusinessCalendar.between_by_days  # type: ignore[method-assign]
    events = 100_000 if args.quick else args.events
    tickets = max(1, events // 10)
    print(f"generating {events:,} events over {tickets:,} tickets ...", file=sys.stderr)
    policies = load_policies()
    openings = None
    if args.resolution_target is not None:
        policies = {
            "hosted-voice": with_resolution_target(policies["hosted-voice"], args.resolution_target)
        }
        openings = SWEPT_OPENING
    lines = make_lines(events, tickets, openings=openings)
    process = psutil.Process()
    base_runs: list[tuple[float, list[int]]] = []
    shell_runs: list[float] = []
    sys_runs: list[tuple[float, list[int], int, float, float]] = []
    for round_ in range(1, args.rounds + 1):
        gc.collect()
        print(f"round {round_}/{args.rounds} baseline: decode only ...", file=sys.stderr)
        base_runs.append(baseline(lines))
        gc.collect()
        print(f"round {round_}/{args.rounds} shell: the loop with a free core ...", file=sys.stderr)
        shell_runs.append(shell(lines, policies))
        gc.collect()
        print(
            f"round {round_}/{args.rounds} system: decode + evolve + deadlines ...", file=sys.stderr
        )
        rss_before = process.memory_info().rss
        run = system(lines, policies)
        rss_after = process.memory_info().rss
        sys_runs.append((*run, rss_after / 2**20, (rss_after - rss_before) / 2**20))
    base_s, base_lat = min(base_runs, key=lambda run: run[0])
    sys_s, sys_lat, timers, rss_mb, state_mb = min(sys_runs, key=lambda run: run[0])
    metrics = {
        "events_per_s": round(len(lines) / sys_s),
        "p50_ms": round(percentile(sys_lat, 0.50), 4),
        "p99_ms": round(percentile(sys_lat, 0.99), 4),
        "mean_ms": round(statistics.fmean(sys_lat) / 1e6, 4),
        "rss_mb": round(rss_mb, 1),
        "state_rss_growth_mb": round(state_mb, 1),
        "timers_seen": timers,
    }
    baselines = {
        "events_per_s": round(len(lines) / base_s),
        "p50_ms": round(percentile(base_lat, 0.50), 4),
        "p99_ms": round(percentile(base_lat, 0.99), 4),
    }
    baselines["shell_events_per_s"] = round(len(lines) / min(shell_runs))
    ratios = {
        "events_per_s": round(metrics["events_per_s"] / baselines["events_per_s"], 4),
        "ceiling_with_a_free_core": round(
            baselines["shell_events_per_s"] / baselines["events_per_s"], 4
        ),
        "core_share_of_system_time": round(
            1 - metrics["events_per_s"] / baselines["shell_events_per_s"], 4
        ),
    }
    result = {
        "bench": "sla_core",
        "metrics": metrics,
        "baselines": baselines,
        "ratios": ratios,
        "params": {
            "events": len(lines),
            "tickets": tickets,
            "quick": args.quick,
            "business_time": "day walk" if args.day_walk else "compiled table",
            "resolution_target": args.resolution_target or "each policy's own",
            "target_ratio": 0.25,
            "baseline": "orjson.loads per line",
            "shell": "the same loop with evolve replaced by an identity call (the ceiling of a "
            "compiled core)",
            "rounds": args.rounds,
            "system_events_per_s_by_round": [round(len(lines) / run[0]) for run in sys_runs],
            "baseline_events_per_s_by_round": [round(len(lines) / run[0]) for run in base_runs],
        },
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
