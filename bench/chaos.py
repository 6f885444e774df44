"""Chaos suite: the whole stack under steady load while its parts are killed, frozen and cut off.

  system    `ticketflow dev` (embedded PostgreSQL, Tansu broker, SMTP sink, the four services)
            in a temporary var dir, driven over loopback HTTP at ~25 requests/s: critical
            tickets backdated so that their first-response deadline falls during the run (some
            answered just before it, some never, some logged late with an on-time response,
            some answered after it) and background tickets with comments.
  faults    kill -9 of intake, the SLA worker, escalation and notify; SIGSTOP of the SLA worker
            for a few seconds; PostgreSQL stopped with `pg_ctl stop -m immediate`. Each round
            has a control phase without a fault, then every fault (twice in a full run).
  checks    every accepted event in the store and on ticketflow.ticket-events; every due breach
            emitted exactly once (by id), none for a ticket answered in time; one escalation
            raise per episode; no email Message-ID missing or mailed twice; `ticketflow sla
            replay --live` finds no difference; breach lateness; recovery time per fault.
            Violations are counted per fault kind (the phase a ticket's deadline falls in).

    python bench/chaos.py [--quick] [--rounds N] [--seed S] [--keep]

Progress goes to stderr; the last stdout line is the JSON result. Exit status 0 either way
(the JSON's `metrics.must_show_passed` says whether issue 14's "Must show" held: 0 lost,
0 false, 0 duplicated, 0 missed breaches, 0 replay differences; `metrics.passed` whether every
invariant did, pages and emails included; `violations` lists what did not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chaoskit import collect, report  # noqa: E402
from bench.chaoskit import stack as devstack  # noqa: E402
from bench.chaoskit.faults import FAULT_KINDS, FaultRecord, Injector, plan  # noqa: E402
from bench.chaoskit.invariants import Checker  # noqa: E402
from bench.chaoskit.load import Load, LoadLog, LoadShape  # noqa: E402
from bench.chaoskit.postgres_ctl import EmbeddedCluster  # noqa: E402


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        return {
            "mode": "quick",
            "rounds": args.rounds or 1,
            "per_round": 1,
            "phase_s": 12.0,
            "after_recovery_s": 4.0,
            "shape": LoadShape(
                seconds=240,
                critical_per_s=2.0,
                background_per_s=0.8,
                comments_per_s=18.0,
                lead_s=(4.0, 9.0),
                answer_after_s=(1.0, 2.5),
            ),
            "settle_timeout_s": 60.0,
        }
    return {
        "mode": "full",
        "rounds": args.rounds or 2,
        "per_round": 2,
        "phase_s": 20.0,
        "after_recovery_s": 5.0,
        "shape": LoadShape(seconds=900),
        "settle_timeout_s": 120.0,
    }


async def watch(stack: devstack.DevStack, stop: asyncio.Event, run: dict[str, Any]) -> None:
    """Stop everything when `ticketflow dev` itself goes away."""
    while not stop.is_set():
        if not stack.alive():
            run["stack_died"] = True
            run["stack_died_at"] = time.time()
            run["stack_exit"] = stack.process.returncode
            run["stack_output"] = devstack.tail(stack)
            log(f"ticketflow dev exited ({stack.process.returncode}); stopping the run")
            stop.set()
            return
        await asyncio.sleep(0.5)


async def drive(
    stack: devstack.DevStack, conf: dict[str, Any], rng: random.Random, run: dict[str, Any]
) -> tuple[LoadLog, Injector]:
    cluster = EmbeddedCluster.of(stack.var_dir, stack.database_url)
    accounts = {a["account"]: a for a in stack.info["demo_accounts"]}
    kinds = list(conf["kinds"])
    planned = plan(kinds, conf["rounds"], conf["per_round"], rng)
    run["plan"] = [kind for _round, kind in planned]
    stop, wind_down = asyncio.Event(), asyncio.Event()
    load = Load(stack.url("intake"), accounts, conf["shape"], rng, stop)
    injector = Injector(stack, cluster, log=log)
    watcher = asyncio.create_task(watch(stack, stop, run))

    async def faults_then_wind_down() -> None:
        try:
            await injector.run(planned, conf["phase_s"], conf["after_recovery_s"], stop)
        finally:
            wind_down.set()

    log(f"load and {len(planned) - conf['rounds']} faults over {len(planned)} phases")
    try:
        await asyncio.gather(load.run(wind_down), faults_then_wind_down())
    finally:
        injector.resume_all()
        stop.set()
        await watcher
        run["harness_started_postgres"] = injector.harness_started_postgres
    return load.log, injector


async def chaos(args: argparse.Namespace) -> dict[str, Any]:
    conf = settings(args)
    conf["kinds"] = [k for k in args.faults.split(",") if k] if args.faults else list(FAULT_KINDS)
    unknown = set(conf["kinds"]) - set(FAULT_KINDS)
    if unknown:
        raise SystemExit(f"unknown fault kinds: {sorted(unknown)}; known: {FAULT_KINDS}")
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    params: dict[str, Any] = {
        "mode": conf["mode"],
        "rounds": conf["rounds"],
        "faults_per_kind_per_round": conf["per_round"],
        "seed": seed,
        "phase_s": conf["phase_s"],
        "load": asdict(conf["shape"]),
        "fault_kinds": conf["kinds"],
    }
    run: dict[str, Any] = {"stack_died": False}
    began = time.monotonic()
    var_dir = Path(tempfile.mkdtemp(prefix="ticketflow-chaos-"))
    stack: devstack.DevStack | None = None
    load_log, faults = LoadLog(), list[FaultRecord]()
    checker: Checker | None = None
    try:
        log(f"starting ticketflow dev in {var_dir}")
        stack = devstack.start(var_dir)  # in the main thread (see its parent-death signal)
        run["startup_s"] = round(time.monotonic() - began, 1)
        log(f"stack ready in {run['startup_s']} s")
        load_log, injector = await drive(stack, conf, rng, run)
        faults = injector.records
        phases = injector.phases
        log(
            f"load done: {len(load_log.requests)} requests, "
            f"{len(load_log.accepted())} accepted, {len(faults)} faults"
        )
        if stack.alive():
            settled = await collect.settle(
                stack, load_log.ended_at + 2, conf["settle_timeout_s"], 5.0, log
            )
            run["settle"] = settled
            log(f"settle: {settled}")
            facts = await collect.gather(stack, 180, log)
            run["topic_reads"] = facts.topic_reads
            run["replay"] = {k: v for k, v in facts.replay.items() if k not in ("live", "refused")}
            run["restarts"] = stack.restarts()
            checker = Checker(load_log, facts, phases, faults)
            checker.run()
        run["phases"] = [
            {"index": p.index, "round": p.round, "kind": p.kind, "start": round(p.start, 3)}
            for p in phases
        ]
    except Exception as exc:  # the run is reported whatever broke it
        run["error"] = f"{type(exc).__name__}: {exc}"
        run["traceback"] = traceback.format_exc()[-2000:]
        log(f"run failed: {run['error']}")
    finally:
        if stack is not None:
            log("stopping ticketflow dev")
            run["stack_exit"] = await asyncio.to_thread(devstack.stop, stack)
            cluster = EmbeddedCluster.of(var_dir, stack.database_url)
            if cluster.postmaster_pid() is not None:
                # A postmaster started by this harness (pg_ctl) is not the stack's to stop.
                run["postgres_stopped_by_harness"] = await asyncio.to_thread(cluster.stop_fast)
        if args.keep:
            log(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    run["seconds"] = round(time.monotonic() - began, 1)
    if "error" in run and checker is None:
        run.setdefault("stack_died", False)
    result = report.build(checker, load_log, faults, params, run)
    if "error" in run:
        result["metrics"]["passed"] = result["metrics"]["must_show_passed"] = False
        result["violations"]["error"] = run["error"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", "--short", action="store_true", help="one round, ~3 min")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of every fault")
    parser.add_argument("--seed", type=int, default=None, help="seed of the load and order")
    parser.add_argument(
        "--faults",
        default=None,
        help=f"comma-separated subset of {','.join(FAULT_KINDS)} (default: all; '' = none)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the var dir (logs, mail)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = asyncio.run(chaos(args))
    line = json.dumps(result, default=str)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(line + "\n")
    m = result["metrics"]
    log(
        f"done in {result['run'].get('seconds')} s: passed={m.get('passed')} "
        f"must_show_passed={m.get('must_show_passed')} "
        f"violations={result['violations']}"
    )
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
