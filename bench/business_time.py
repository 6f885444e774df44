"""Benchmark: business-time arithmetic on a real support calendar (hosted-voice's `standard`:
weekday hours in its zone, US holidays), `add` and `between` per second for targets from 2 h
to 15 support days, through the compiled table (`shared/calendar/table.py`).

Baseline, measured in the same run over the same random starts: the day-walking arithmetic
the table replaced (`add_by_days`, `between_by_days`), whose cost grows with the days walked.
The table's cost should stay flat as the target grows.

    python bench/business_time.py [--quick]

Prints progress to stderr and, as its last stdout line, one JSON object.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.calendar import BusinessCalendar  # noqa: E402
from shared.policy import load_policies  # noqa: E402

TARGETS = {"2h": 2.0, "1 support day": 1, "5 support days": 5, "15 support days": 15}


def starts(count: int, seed: int = 7) -> list[datetime]:
    rng = random.Random(seed)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    return [origin + timedelta(seconds=rng.randrange(0, 365 * 86400)) for _ in range(count)]


def rate(operation: Callable[[datetime], object], instants: list[datetime]) -> int:
    began = time.perf_counter()
    for instant in instants:
        operation(instant)
    return round(len(instants) / (time.perf_counter() - began))


def main() -> None:
    parser = argparse.ArgumentParser(
        description="add/between per second through the compiled calendar table beside the "
        "day-walking arithmetic, for targets from 2 h to 15 support days"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 starts instead of 20,000")
    args = parser.parse_args()
    count = 2_000 if args.quick else 20_000
    policy = next(p for p in load_policies().values() if p.id == "hosted-voice")
    calendar: BusinessCalendar = policy.calendar("standard")
    support_day = calendar.support_day or timedelta(hours=10)
    instants = starts(count)
    rows = []
    for name, amount in TARGETS.items():
        target = timedelta(hours=amount) if name.endswith("h") else support_day * amount
        print(f"{name}: {count} starts ...", file=sys.stderr)
        for instant in instants:  # warm-up, not counted: the table built, the day cache full
            calendar.add(instant, target)
            calendar.add_by_days(instant, target)
        table_add = rate(lambda t, d=target: calendar.add(t, d), instants)
        walk_add = rate(lambda t, d=target: calendar.add_by_days(t, d), instants)
        ends = {t: calendar.add(t, target) for t in instants}
        table_between = rate(lambda t, e=ends: calendar.between(t, e[t]), instants)
        walk_between = rate(lambda t, e=ends: calendar.between_by_days(t, e[t]), instants)
        rows.append(
            {
                "target": name,
                "add_per_s": table_add,
                "between_per_s": table_between,
                "day_walk_add_per_s": walk_add,
                "day_walk_between_per_s": walk_between,
                "add_speedup": round(table_add / walk_add, 2),
                "between_speedup": round(table_between / walk_between, 2),
            }
        )
        print(f"  add {table_add}/s (day walk {walk_add}/s)", file=sys.stderr)
    flat = round(rows[-1]["add_per_s"] / rows[0]["add_per_s"], 3)
    print(
        orjson.dumps(
            {
                "bench": "business_time",
                "metrics": {
                    "add_per_s_by_target": {r["target"]: r["add_per_s"] for r in rows},
                    "between_per_s_by_target": {r["target"]: r["between_per_s"] for r in rows},
                    "add_15_days_vs_2h": flat,
                },
                "baselines": {
                    "day_walk_add_per_s_by_target": {
                        r["target"]: r["day_walk_add_per_s"] for r in rows
                    },
                    "day_walk_between_per_s_by_target": {
                        r["target"]: r["day_walk_between_per_s"] for r in rows
                    },
                },
                "ratios": {r["target"]: r["add_speedup"] for r in rows},
                "rows": rows,
                "params": {
                    "starts": count,
                    "calendar": "hosted-voice standard",
                    "quick": args.quick,
                },
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
