"""The chaos suite (bench/chaos.py): its short run on `ticketflow dev` keeps every promise of
issue 14, and its checks do fail when fed what a broken pipeline produces."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.chaoskit.collect import Facts, Mail, StoredEvent  # noqa: E402
from bench.chaoskit.faults import FaultRecord, Phase  # noqa: E402
from bench.chaoskit.invariants import Checker  # noqa: E402
from bench.chaoskit.load import CRITICAL_TARGET, LoadLog, Request  # noqa: E402
from bench.chaoskit.report import build  # noqa: E402
from bench.chaoskit.topics import Record  # noqa: E402
from shared.events.notification import notification_id  # noqa: E402

MUST_BE_ZERO = (
    "lost_in_store",
    "lost_on_topic",
    "missed_breaches",
    "duplicated_breaches",
    "false_breaches",
    "replay_differences",
)


@pytest.mark.e2e
@pytest.mark.timeout(480)
def test_short_chaos_run_loses_nothing_and_never_pages_falsely(tmp_path: Path) -> None:
    """Every fault once under load: 0 lost, 0 false, 0 duplicated, 0 missed breaches and
    0 replay differences (the numbers per fault kind are in the failure message)."""
    out = tmp_path / "chaos.json"
    done = subprocess.run(
        [sys.executable, "bench/chaos.py", "--quick", "--seed", "14", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=450,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    metrics = result["metrics"]
    context = json.dumps(
        {
            "violations": result["violations"],
            "per_fault": {
                kind: {k: v for k, v in figures.items() if k in MUST_BE_ZERO and v}
                for kind, figures in result["per_fault"].items()
            },
            "faults": [
                {k: f[k] for k in ("kind", "ready_s", "pipeline_s", "note")}
                for f in result["faults"]
            ],
            "examples": result["examples"],
            "error": result["run"].get("error"),
        },
        default=str,
    )[:6000]
    assert not metrics["stack_died"], context
    assert "error" not in result["run"], context
    assert metrics["faults_injected"] == 6 and metrics["faults_not_recovered"] == 0, context
    assert metrics["due_breaches"] > 0 and metrics["accepted_events"] > 0, context
    for name in MUST_BE_ZERO:
        assert metrics[name] == 0, f"{name} = {metrics[name]}: {context}"


# --- the checks themselves, on facts that break each invariant -----------------------------

BASE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
T0 = BASE.timestamp()


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _stored(ticket: str, version: int, kind: str, at: datetime, recorded: datetime) -> StoredEvent:
    data = {"contact": "noc@demo-voximplant.example"} if kind == "ticket.opened" else {}
    return StoredEvent(ticket, version, _uuid(f"{ticket}/{version}"), kind, at, recorded, data)


def _record(topic: str, body: dict[str, Any], offset: int, headers: dict[str, bytes]) -> Record:
    return Record(
        topic, 0, offset, int(T0 * 1000) + offset, None, json.dumps(body).encode(), headers
    )


def _sla(kind: str, ticket: str, at: datetime, emitted: datetime, name: str) -> dict[str, Any]:
    return {
        "id": _uuid(name),
        "type": kind,
        "ticket_id": ticket,
        "metric": "first_response",
        "at": at.isoformat(),
        "emitted_at": emitted.isoformat(),
    }


def _raise(ticket: str, episode: str, name: str) -> dict[str, Any]:
    return {
        "id": _uuid(name),
        "type": "escalation.raised",
        "escalation_id": _uuid(episode),
        "ticket_id": ticket,
        "metric": "first_response",
        "recipients": ["oncall@provider-voximplant.example"],
    }


def _broken_run() -> tuple[LoadLog, Facts, list[Phase]]:
    """Critical tickets and one background ticket, each breaking something:
    A (due, kill_sla phase): breached twice under two ids, paged twice, its confirmation lost;
    B (due, control phase): never breached, never paged;
    C (answered in time, kill_sla phase): breached (then retracted) and paged;
    D (due, control phase): breached once (the record delivered twice), mailed twice, one of
    its events never published; E: a comment answered 201 that the store does not have;
    F, G, H (control phase): see below."""
    phases = [
        Phase(0, 1, "none", T0, T0 + 100),
        Phase(1, 1, "kill_sla", T0 + 100, float("inf")),
    ]
    deadlines = {
        "A": BASE + timedelta(seconds=150),
        "B": BASE + timedelta(seconds=50),
        "C": BASE + timedelta(seconds=160),
        "D": BASE + timedelta(seconds=60),
    }
    tickets = {name: _uuid(f"ticket-{name}") for name in "ABCDE"}
    events: list[StoredEvent] = []
    log = LoadLog(started_at=T0, ended_at=T0 + 200)
    for name, deadline in deadlines.items():
        ticket = tickets[name]
        opened = _stored(
            ticket, 1, "ticket.opened", deadline - CRITICAL_TARGET, deadline - timedelta(seconds=8)
        )
        events.append(opened)
        sent = (deadline - timedelta(seconds=8)).timestamp()
        log.requests.append(
            Request("open", "ticket.opened", "x", sent, sent + 0.01, 201, None, ticket, 1)
        )
        log.critical[ticket] = "answered_in_time" if name == "C" else "unanswered"
    c_answer = deadlines["C"] - timedelta(seconds=2)
    events.append(_stored(tickets["C"], 2, "ticket.responded", c_answer, c_answer))
    # F logged 30 s after its deadline with its on-time response; G and H answered 1 s before
    # the deadline, the response committed 0.5 s after it.
    for name, deadline, logged_late in (
        ("F", BASE + timedelta(seconds=20), True),
        ("G", BASE + timedelta(seconds=30), False),
        ("H", BASE + timedelta(seconds=40), False),
    ):
        deadlines[name] = deadline
        ticket = tickets[name] = _uuid(f"ticket-{name}")
        log.critical[ticket] = "late_logged" if logged_late else "answered_in_time"
        logged = deadline + timedelta(seconds=30 if logged_late else -8)
        answered = deadline - (
            CRITICAL_TARGET - timedelta(minutes=5) if logged_late else timedelta(seconds=1)
        )
        committed = (
            logged + timedelta(milliseconds=100)
            if logged_late
            else deadline + timedelta(milliseconds=500)
        )
        events.append(_stored(ticket, 1, "ticket.opened", deadline - CRITICAL_TARGET, logged))
        events.append(_stored(ticket, 2, "ticket.responded", answered, committed))
    d_comment = _stored(tickets["D"], 2, "ticket.comment_added", BASE, BASE)
    events.append(d_comment)
    events.append(_stored(tickets["E"], 1, "ticket.opened", BASE, BASE))
    log.background.append(tickets["E"])
    for ticket, version, kind in (
        (tickets["C"], 2, "ticket.responded"),
        (tickets["D"], 2, "ticket.comment_added"),
        (tickets["E"], 1, "ticket.opened"),
        (tickets["E"], 2, "ticket.comment_added"),
    ):
        log.requests.append(Request("x", kind, "x", T0 + 1, T0 + 1.01, 201, None, ticket, version))
    log.requests[-4].kind = "append"
    log.requests[-3].kind = "append"
    log.requests[-2].kind = "open"
    log.requests[-1].kind = "append"

    ticket_topic = [
        _record("ticketflow.ticket-events", {}, i, {"ce_id": e.event_id.encode()})
        for i, e in enumerate(events)
        if e is not d_comment
    ]
    late = timedelta(milliseconds=40)
    sla_bodies = [
        _sla("sla.breached", tickets["A"], deadlines["A"], deadlines["A"] + late, "a1"),
        _sla("sla.breached", tickets["A"], deadlines["A"], deadlines["A"] + 2 * late, "a2"),
        _sla("sla.breached", tickets["C"], deadlines["C"], deadlines["C"] + late, "c1"),
        _sla("sla.breach_retracted", tickets["C"], c_answer, deadlines["C"] + 2 * late, "c2"),
        _sla("sla.breached", tickets["D"], deadlines["D"], deadlines["D"] + late, "d1"),
        _sla("sla.breached", tickets["D"], deadlines["D"], deadlines["D"] + 3 * late, "d1"),
        _sla("sla.breached", tickets["F"], deadlines["F"], deadlines["F"] + late, "f1"),
        _sla("sla.breach_retracted", tickets["F"], deadlines["F"], deadlines["F"] + late, "f2"),
        _sla("sla.breached", tickets["G"], deadlines["G"], deadlines["G"] + late, "g1"),
        _sla("sla.breached", tickets["H"], deadlines["H"], deadlines["H"] + late, "h1"),
        _sla("sla.breach_retracted", tickets["H"], deadlines["H"], deadlines["H"] + late, "h2"),
    ]
    raises = [
        _raise(tickets["A"], "ea", "ra1"),
        _raise(tickets["A"], "ea", "ra2"),
        _raise(tickets["C"], "ec", "rc"),
        _raise(tickets["D"], "ed", "rd"),
    ]
    facts = Facts(events=events)
    facts.topics = {
        "ticketflow.ticket-events": ticket_topic,
        "ticketflow.sla-events": [
            _record("ticketflow.sla-events", b, i, {}) for i, b in enumerate(sla_bodies)
        ],
        "ticketflow.escalations": [
            _record("ticketflow.escalations", b, i, {}) for i, b in enumerate(raises)
        ],
    }
    contact = "noc@demo-voximplant.example"
    mailed: list[str] = []
    for event in events:
        if event.type == "ticket.opened" and event.ticket_id != tickets["A"]:
            mailed.append(str(notification_id(uuid.UUID(event.event_id), contact, "email")))
    for body in raises:
        for recipient in body["recipients"]:
            mailed.append(str(notification_id(uuid.UUID(body["id"]), recipient, "email")))
    d_open = next(e for e in events if e.ticket_id == tickets["D"] and e.version == 1)
    mailed.append(str(notification_id(uuid.UUID(d_open.event_id), contact, "email")))
    facts.mails = [
        Mail(f"<{nid}@ticketflow>", T0 + 1, f"{i}.eml", "") for i, nid in enumerate(mailed)
    ]
    facts.replay = {
        "tickets": 5,
        "live": {
            "differing": 1,
            "differences": [{"ticket_id": tickets["A"], "metric": "first_response"}],
            "only_live": [],
        },
    }
    return log, facts, phases


@pytest.mark.unit
def test_the_checks_count_each_broken_invariant_in_the_phase_it_belongs_to() -> None:
    log, facts, phases = _broken_run()
    checker = Checker(log, facts, phases, [])
    checker.run()
    control, kill = checker.by_kind["none"].counts, checker.by_kind["kill_sla"].counts
    assert checker.total.counts["accepted_events"] == 8
    assert checker.total.counts["lost_in_store"] == 1  # E's comment
    assert control["lost_on_topic"] == 1  # D's comment, stored but never published
    assert control["due_breaches"] == 2 and kill["due_breaches"] == 1
    assert control["missed_breaches"] == 1  # B
    assert kill["duplicated_breaches"] == 1  # A: two ids
    assert control["duplicated_breaches"] == 0  # D: one id delivered twice is fine
    assert checker.total.counts["breach_records_redelivered"] == 1
    assert kill["false_breaches"] == 1 and kill["false_breaches_retracted"] == 1  # C
    # F (logged late, retracted) is false; G (committed late, never retracted) is false;
    # H (committed late, retracted) is what the store allowed, corrected.
    assert control["false_breaches"] == 2 and control["false_breaches_retracted"] == 1
    assert control["false_breaches_late_logged"] == 1
    assert control["false_breaches_recorded_late_unretracted"] == 1
    assert control["tickets_recorded_late_breached"] == 2
    assert control["missed_pages"] == 1 and kill["duplicated_pages"] == 1
    assert kill["false_pages"] == 1
    assert kill["emails_missing"] == 1  # A's confirmation
    assert control["emails_duplicated"] == 1  # D's confirmation mailed twice
    assert kill["replay_differences"] == 1
    assert sorted(checker.total.lateness_ms) == pytest.approx([40.0, 40.0])


@pytest.mark.unit
def test_the_report_fails_a_broken_run_and_names_what_broke() -> None:
    log, facts, phases = _broken_run()
    checker = Checker(log, facts, phases, [])
    checker.run()
    fault = FaultRecord("kill_sla", 1, 1, T0 + 100, "sla", ready_s=7.5)
    result = build(checker, log, [fault], {"mode": "test"}, {"stack_died": False})
    assert result["bench"] == "chaos" and result["baselines"] == {} and result["ratios"] == {}
    assert result["metrics"]["passed"] is False
    assert result["metrics"]["must_show_passed"] is False
    assert set(result["violations"]) == {
        *MUST_BE_ZERO,
        "missed_pages",
        "duplicated_pages",
        "false_pages",
        "emails_missing",
        "emails_duplicated",
    }
    assert result["per_fault"]["kill_sla"]["faults"] == 1
    assert result["per_fault"]["kill_sla"]["ready_s"]["max"] == 7.5
    assert result["per_fault"]["kill_sla"]["false_breaches"] == 1
