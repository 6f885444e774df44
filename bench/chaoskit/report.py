"""The benchmark-format JSON of one chaos run."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.chaoskit.faults import FAULT_KINDS, NO_FAULT, FaultRecord
from bench.chaoskit.invariants import COUNTERS, Checker, Tally, percentile
from bench.chaoskit.load import LoadLog

# What must be zero for the run to pass (the "Must show").
MUST_BE_ZERO = (
    "lost_in_store",
    "lost_on_topic",
    "missed_breaches",
    "duplicated_breaches",
    "false_breaches",
    "replay_differences",
)
# The suite's other invariants: reported as violations too, and in `passed`.
ALSO_ZERO = (
    "missed_pages",
    "duplicated_pages",
    "false_pages",
    "emails_missing",
    "emails_duplicated",
    "faults_not_recovered",
)


def _lateness(tally: Tally) -> dict[str, float | None]:
    values = tally.lateness_ms
    rounded = {
        "lateness_p50_ms": percentile(values, 0.50),
        "lateness_p99_ms": percentile(values, 0.99),
        "lateness_max_ms": max(values) if values else None,
    }
    return {k: round(v, 1) if v is not None else None for k, v in rounded.items()}


def _spread(values: list[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    return {
        "max": max(known) if known else None,
        "p50": percentile(known, 0.5),
        "never": len(values) - len(known),
    }


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def requests_summary(load: LoadLog) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    for req in load.requests:
        statuses[str(req.status) if req.status is not None else (req.error or "no answer")] += 1
    seconds = max(load.ended_at - load.started_at, 1e-9)
    accepted = load.accepted()
    latency = [(r.done_at - r.sent_at) * 1000 for r in accepted]
    queued = [(r.sent_at - r.queued_at) * 1000 for r in accepted if r.queued_at]
    return {
        "accepted_latency_ms": {
            "p50": _ms(percentile(latency, 0.5)),
            "p99": _ms(percentile(latency, 0.99)),
            "max": _ms(max(latency, default=None)),
        },
        "client_queue_ms_max": _ms(max(queued, default=None)),
        "requests": len(load.requests),
        "requests_per_s": round(len(load.requests) / seconds, 1),
        "by_status": dict(sorted(statuses.items())),
        "critical_tickets": len(load.critical),
        "background_tickets": len(load.background),
    }


def build(
    checker: Checker | None,
    load: LoadLog,
    faults: list[FaultRecord],
    params: dict[str, Any],
    run: dict[str, Any],
) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    per_fault: dict[str, Any] = {}
    if checker is not None:
        metrics.update({name: checker.total.counts.get(name, 0) for name in COUNTERS})
        metrics.update(_lateness(checker.total))
        for kind in (NO_FAULT, *FAULT_KINDS, "outside"):
            tally = checker.by_kind.get(kind)
            mine = [f for f in faults if f.kind == kind]
            if tally is None and not mine:
                continue
            tally = tally or Tally()
            per_fault[kind] = {
                "faults": len(mine),
                **{name: tally.counts.get(name, 0) for name in COUNTERS},
                **{k: v for k, v in tally.counts.items() if k not in COUNTERS},
                **_lateness(tally),
                "examples": {k: v[:3] for k, v in tally.examples.items()},
                "ready_s": _spread([f.ready_s for f in mine]),
                "pipeline_s": _spread([f.pipeline_s for f in mine]),
            }
        extras = {k: v for k, v in checker.total.counts.items() if k not in COUNTERS}
        metrics.update(extras)
    else:
        metrics.update(dict.fromkeys(COUNTERS))
    ready = [f.ready_s for f in faults]
    metrics["faults_injected"] = len(faults)
    metrics["faults_not_recovered"] = sum(1 for r in ready if r is None)
    metrics["recovery_max_s"] = max((r for r in ready if r is not None), default=None)
    pipeline = [f.pipeline_s for f in faults if f.pipeline_s is not None]
    metrics["pipeline_recovery_max_s"] = max(pipeline, default=None)
    metrics["stack_died"] = bool(run.get("stack_died"))
    summary = requests_summary(load)
    metrics["requests"] = summary["requests"]
    metrics["requests_per_s"] = summary["requests_per_s"]
    required = {name: metrics.get(name) for name in MUST_BE_ZERO if metrics.get(name) != 0}
    if metrics["stack_died"]:
        required["stack_died"] = True
    violations = {
        **required,
        **{name: metrics.get(name) for name in ALSO_ZERO if metrics.get(name) not in (0, None)},
    }
    metrics["must_show_passed"] = not required
    metrics["passed"] = not violations
    return {
        "bench": "chaos",
        "metrics": metrics,
        "baselines": {},
        "ratios": {},
        "params": params,
        "violations": violations,
        "per_fault": per_fault,
        "faults": [f.as_json() for f in faults],
        "requests": summary,
        "examples": dict(checker.total.examples) if checker is not None else {},
        "run": run,
    }
