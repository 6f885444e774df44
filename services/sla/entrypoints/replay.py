"""`ticketflow sla replay`: rebuild every ticket's SLA state from the event store with the pure
core (no Faust, no broker per event), then compare it with the live state and/or a candidate
policy."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from services.sla.adapters.changelog_reader import latest_states
from services.sla.adapters.event_store_reader import histories
from services.sla.domain import state_codec
from services.sla.domain.replay import differences, flips, fold_ticket, statuses
from shared.policy import Policy
from shared.sla import advance

Progress = Callable[[int, int, float], None]
PROGRESS_EVERY_S = 1.0


async def replay(
    database_url: str,
    policies: Mapping[str, Policy],
    now: datetime,
    since: datetime | None = None,
    candidate: Policy | None = None,
    live: tuple[str, str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay the store; `live` = (bootstrap servers, state topic) to compare with."""
    began = time.perf_counter()
    last_report = began
    current: dict[str, dict[str, str]] = {}
    proposed: dict[str, dict[str, str]] = {}
    unknown: dict[str, int] = {}
    refused: list[dict[str, str]] = []
    events = tickets = 0
    async for ticket_id, history in histories(database_url, since):
        events += len(history)
        tickets += 1
        ref = history[0].policy
        policy = policies.get(ref)
        if policy is None:
            unknown[ref] = unknown.get(ref, 0) + 1
            continue
        try:
            current[ticket_id] = statuses(fold_ticket(history, policy, now))
            if candidate is not None and candidate.id == policy.id:
                proposed[ticket_id] = statuses(fold_ticket(history, candidate, now))
        except ValueError as exc:
            refused.append({"ticket_id": ticket_id, "error": str(exc)})
        if progress is not None and time.perf_counter() - last_report >= PROGRESS_EVERY_S:
            last_report = time.perf_counter()
            progress(events, tickets, last_report - began)
    seconds = time.perf_counter() - began
    result: dict[str, Any] = {
        "now": now.isoformat(),
        "since": since.isoformat() if since else None,
        "events": events,
        "tickets": tickets,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds) if seconds else None,
        "unknown_policies": unknown,
        "refused": refused,
    }
    if progress is not None:
        progress(events, tickets, seconds)
    if candidate is not None:
        changed = flips(current, proposed)
        result["candidate"] = {
            "policy": candidate.ref,
            "tickets": len(proposed),
            "flips": [asdict(flip) for flip in changed],
            "met_to_breached": sum(1 for flip in changed if flip.after == "breached"),
            "breached_to_met": sum(1 for flip in changed if flip.after == "met"),
        }
    if live is not None:
        result["live"] = await _compare_live(live, policies, current, now)
    return result


async def _compare_live(
    live: tuple[str, str],
    policies: Mapping[str, Policy],
    replayed: dict[str, dict[str, str]],
    now: datetime,
) -> dict[str, Any]:
    raw_states = await latest_states(*live)
    live_statuses: dict[str, dict[str, str]] = {}
    for key, raw in raw_states.items():
        policy = policies.get(state_codec.policy_of(raw))
        if policy is None:
            continue
        tracked = state_codec.decode(raw, policy, key.decode())
        if tracked.sla is not None:
            # Fire what is due before `now` too, so both sides describe the same instant.
            live_statuses[key.decode()] = statuses(advance(tracked.sla, policy, now).state)
    found = differences(live_statuses, replayed)
    return {
        "tickets": len(live_statuses),
        "differences": [asdict(difference) for difference in found[:1000]],
        "differing": len(found),
        "only_live": sorted(set(live_statuses) - set(replayed))[:1000],
    }
