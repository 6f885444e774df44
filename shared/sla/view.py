"""A ticket's SLA view as plain JSON (the `SlaView` contract of `shared.sla.view_model`):
clocks, due times, remaining business time and the spans each clock ran and paused, as of
`now`. Pure: the SLA service builds it from the state it tracks (`GET /v1/tickets/{id}/sla`)
and the console from a history it replays, so both read the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.sla.clock import Clock
from shared.sla.core import TicketSla
from shared.sla.report import metrics_json, utc_z


def clock_spans(clock: Clock) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The clock's runs, and the pauses between them (an open pause while it is paused)."""
    runs = [{"from": utc_z(start), "to": utc_z(end)} for start, end in clock.runs]
    pauses = []
    for (_, end), (following, _) in zip(clock.runs, clock.runs[1:], strict=False):
        pauses.append({"from": utc_z(end), "to": utc_z(following)})
    if clock.phase == "paused" and clock.runs and clock.runs[-1][1] is not None:
        pauses.append({"from": utc_z(clock.runs[-1][1]), "to": None})
    return runs, pauses


def sla_view(
    *,
    ticket_id: str,
    account: str,
    policy: str,
    sla: TicketSla | None,
    now: datetime,
    version: int,
    waiting_for: Sequence[int] = (),
) -> dict[str, Any]:
    """The view of `sla` (None: the opening has not been processed yet) as of `now`."""
    body: dict[str, Any] = {
        "ticket_id": ticket_id,
        "account": account,
        "policy": policy,
        "as_of": utc_z(now),
        "version": version,
        "waiting_for_sequences": list(waiting_for),
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
        row["runs"], row["pauses"] = clock_spans(clock)
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
