"""The replay use case behind `ticketflow sla replay` (its CLI command only translates):
rebuild every ticket's SLA state from the event store with the pure core (no Faust, no broker
per event), then compare it with the live state and/or a candidate policy. Tickets are split
into ranges of their id over worker processes, one per CPU by default.
"""

from __future__ import annotations

import asyncio
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.common.gc_tuning import tune_for_held_state
from services.sla.adapters.changelog_reader import latest_states
from services.sla.adapters.event_store_reader import histories
from services.sla.domain import state_codec
from services.sla.domain.replay import differences, flips, fold_ticket, statuses
from services.sla.service_layer.ports import HistoryReader, StateReader
from shared.policy import Policy, load_policies, load_policy_file
from shared.sla import advance

PROGRESS_EVERY_S = 2.0


@dataclass
class ReplayJob:
    database_url: str
    now: datetime
    since: datetime | None = None
    policy_dir: Path | None = None
    candidate_file: Path | None = None
    shard: int = 0
    shards: int = 1
    progress: bool = False


@dataclass
class ShardResult:
    events: int = 0
    tickets: int = 0
    current: dict[str, dict[str, str]] = field(default_factory=dict)
    proposed: dict[str, dict[str, str]] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    refused: list[dict[str, str]] = field(default_factory=list)


def _policies(job: ReplayJob) -> tuple[dict[str, Policy], Policy | None]:
    pinned = {policy.ref: policy for policy in load_policies(job.policy_dir).values()}
    candidate = load_policy_file(job.candidate_file) if job.candidate_file else None
    return pinned, candidate


async def replay_shard(job: ReplayJob, read: HistoryReader = histories) -> ShardResult:
    policies, candidate = _policies(job)
    out = ShardResult()
    began = last_report = time.perf_counter()
    async for ticket_id, ref, history in read(job.database_url, job.since, job.shard, job.shards):
        out.events += len(history)
        out.tickets += 1
        policy = policies.get(ref)
        if policy is None:
            out.unknown[ref] = out.unknown.get(ref, 0) + 1
            continue
        try:
            out.current[ticket_id] = statuses(fold_ticket(history, policy, job.now))
            if candidate is not None and candidate.id == policy.id:
                out.proposed[ticket_id] = statuses(fold_ticket(history, candidate, job.now))
        except ValueError as exc:
            out.refused.append({"ticket_id": ticket_id, "error": str(exc)})
        if job.progress and time.perf_counter() - last_report >= PROGRESS_EVERY_S:
            last_report = time.perf_counter()
            rate = out.events / (last_report - began)
            sys.stderr.write(
                f"shard {job.shard + 1}/{job.shards}: {out.events:,} events of "
                f"{out.tickets:,} tickets ({rate:,.0f} events/s)\n"
            )
    return out


def _run_shard(job: ReplayJob, read: HistoryReader) -> ShardResult:
    tune_for_held_state()  # a pool process of its own: its settings are its own
    return asyncio.run(replay_shard(job, read))


async def replay(
    job: ReplayJob,
    workers: int = 1,
    live: tuple[str, str] | None = None,
    read: HistoryReader = histories,
    read_live: StateReader = latest_states,
) -> dict[str, Any]:
    """Replay the store (in `workers` processes, each reading with `read`: a module-level
    function, so that it reaches them); `live` = (bootstrap servers, state topic)."""
    began = time.perf_counter()
    if workers <= 1:
        parts = [await replay_shard(job, read)]
    else:
        jobs = [
            ReplayJob(**{**asdict(job), "shard": shard, "shards": workers})
            for shard in range(workers)
        ]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = (loop.run_in_executor(pool, _run_shard, j, read) for j in jobs)
            parts = list(await asyncio.gather(*runs))
    seconds = time.perf_counter() - began
    merged = ShardResult()
    for part in parts:
        merged.events += part.events
        merged.tickets += part.tickets
        merged.current.update(part.current)
        merged.proposed.update(part.proposed)
        merged.refused.extend(part.refused)
        for ref, count in part.unknown.items():
            merged.unknown[ref] = merged.unknown.get(ref, 0) + count
    result: dict[str, Any] = {
        "now": job.now.isoformat(),
        "since": job.since.isoformat() if job.since else None,
        "workers": max(workers, 1),
        "events": merged.events,
        "tickets": merged.tickets,
        "seconds": round(seconds, 3),
        "events_per_s": round(merged.events / seconds) if seconds else None,
        "unknown_policies": merged.unknown,
        "refused": merged.refused,
    }
    policies, candidate = _policies(job)
    if candidate is not None:
        changed = flips(merged.current, merged.proposed)
        result["candidate"] = {
            "policy": candidate.ref,
            "tickets": len(merged.proposed),
            "flips": [asdict(flip) for flip in changed],
            "met_to_breached": sum(1 for flip in changed if flip.after == "breached"),
            "breached_to_met": sum(1 for flip in changed if flip.after == "met"),
        }
    if live is not None:
        result["live"] = await _compare_live(live, policies, merged.current, job.now, read_live)
    return result


async def _compare_live(
    live: tuple[str, str],
    policies: dict[str, Policy],
    replayed: dict[str, dict[str, str]],
    now: datetime,
    read_live: StateReader,
) -> dict[str, Any]:
    raw_states = await read_live(*live)
    live_statuses: dict[str, dict[str, str]] = {}
    unreadable: list[str] = []
    for key, raw in raw_states.items():
        try:
            policy = policies.get(state_codec.policy_of(raw))
            if policy is None:
                continue
            tracked = state_codec.decode(raw, policy, key.decode())
        except state_codec.StateDecodeError:
            unreadable.append(key.decode())  # the worker rebuilds it from the store
            continue
        if tracked.sla is not None:
            # Fire what is due before `now` too, so both sides describe the same instant.
            live_statuses[key.decode()] = statuses(advance(tracked.sla, policy, now).state)
    found = differences(live_statuses, replayed)
    return {
        "tickets": len(live_statuses),
        "differences": [asdict(difference) for difference in found[:1000]],
        "differing": len(found),
        "only_live": sorted(set(live_statuses) - set(replayed))[:1000],
        "unreadable_live": sorted(unreadable)[:1000],
    }
