"""The read model behind `GET /v1/tickets/{id}/sla`: clocks, due times, remaining business time
and the pauses each clock went through, as of `now`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.sla.domain.tracked import Tracked
from shared.sla import Clock
from shared.sla.report import metrics_json, utc_z


def _spans(clock: Clock) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    runs = [{"from": utc_z(start), "to": utc_z(end)} for start, end in clock.runs]
    pauses = []
    for (_, end), (following, _) in zip(clock.runs, clock.runs[1:], strict=False):
        pauses.append({"from": utc_z(end), "to": utc_z(following)})
    if clock.phase == "paused" and clock.runs and clock.runs[-1][1] is not None:
        pauses.append({"from": utc_z(clock.runs[-1][1]), "to": None})
    return runs, pauses


def sla_view(tracked: Tracked, now: datetime) -> dict[str, Any]:
    sla = tracked.sla
    body: dict[str, Any] = {
        "ticket_id": tracked.ticket_id,
        "account": tracked.account,
        "policy": tracked.policy,
        "as_of": utc_z(now),
        "version": tracked.version,
        "waiting_for_sequences": [event.sequence for event in tracked.held],
    }
    if sla is None:
        body.update({"accepted": None, "metrics": {}})
        return body
    metrics = metrics_json(sla, now)
    for metric, row in metrics.items():
        clock = sla.clock(metric)
        if clock is None:
            continue
        row["phase"] = clock.phase
        row["warn_at"] = utc_z(clock.warn_at)
        if clock.target is not None and clock.phase not in ("idle",):
            row["elapsed_business_seconds"] = clock.elapsed(now).total_seconds()
        row["runs"], row["pauses"] = _spans(clock)
    body.update(
        {
            "accepted": sla.accepted,
            "rejection": sla.rejection,
            "flags": list(sla.flags),
            "priority": sla.priority,
            "plan": sla.plan,
            "ticket_status": sla.status,
            "opened_at": utc_z(sla.opened_at),
            "metrics": metrics,
        }
    )
    return body
