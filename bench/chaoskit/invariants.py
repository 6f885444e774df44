"""The invariants, checked on what was collected, counted per fault kind.

A violation is attributed to the phase of the run it belongs to (a critical ticket: the phase
its deadline falls in; an accepted request: the phase it was sent in), and so to that phase's
fault kind (`none` is the control phase of each round, with no fault)."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.chaoskit.collect import Facts, StoredEvent
from bench.chaoskit.faults import FaultRecord, Phase, phase_of
from bench.chaoskit.load import CRITICAL_TARGET, LoadLog
from shared.events.notification import notification_id

FIRST_RESPONSE = "first_response"
ESCALATION_EMAILS = ("escalation.warned", "escalation.raised", "escalation.level_advanced")
COUNTERS = (
    "accepted_events",
    "lost_in_store",
    "lost_on_topic",
    "due_breaches",
    "missed_breaches",
    "duplicated_breaches",
    "false_breaches",
    "false_breaches_retracted",
    "wrong_retractions",
    "wrong_deadline_breaches",
    "escalation_episodes",
    "missed_pages",
    "duplicated_pages",
    "false_pages",
    "emails_expected",
    "emails_missing",
    "emails_duplicated",
    "replay_differences",
)
EXAMPLES = 5
LATE_MS = 5000
# The SLA worker holds a deadline already past when a ticket is logged this long for the rest
# of its backfill (TICKETFLOW_SLA_SETTLE_MS, services/sla/settings.py: default 2000 ms).
LATE_LOG_SETTLE = timedelta(milliseconds=2000)
RESEND_GRACE_S = 5.0


def _json(value: bytes | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        body = json.loads(value)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _instant(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    lateness_ms: list[float] = field(default_factory=list)
    examples: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, n: int = 1, example: Any = None) -> None:
        self.counts[name] += n
        if example is not None and n and len(self.examples[name]) < EXAMPLES:
            self.examples[name].append(example)


@dataclass
class Ticket:
    """A critical ticket as the store says it went (not as it was planned)."""

    ticket_id: str
    planned: str
    opened_at: datetime
    deadline: datetime
    outcome: str
    """`due`: never answered, or answered at or after the deadline: must breach once.
    `answered_in_time`: the response was in the store before the deadline: must not breach.
    `late_logged`: the ticket was logged after its deadline had passed, with the response given
    before it and committed within the SLA worker's settle window of the opening (issue 14,
    item 1): must not breach either.
    `late_logged_slow`: the same, but the response committed later than the settle window
    after the opening: a breach may fire in between; it must be retracted.
    `recorded_late`: answered live before the deadline, but the store committed the response
    after it: a breach at the deadline is what the store said then; it must be retracted."""
    opened_recorded_at: datetime | None = None
    responded_at: datetime | None = None
    response_recorded_at: datetime | None = None

    def facts(self) -> dict[str, Any]:
        def ms(at: datetime | None) -> float | None:
            return round((at - self.deadline).total_seconds() * 1000, 1) if at else None

        return {
            "opened_recorded_ms": ms(self.opened_recorded_at),
            "responded_ms": ms(self.responded_at),
            "response_recorded_ms": ms(self.response_recorded_at),
        }


def classify(ticket_id: str, planned: str, history: list[StoredEvent]) -> Ticket | None:
    opened = next((e for e in history if e.version == 1 and e.type == "ticket.opened"), None)
    if opened is None:
        return None
    deadline = opened.occurred_at + CRITICAL_TARGET
    response = min(
        (e for e in history if e.type == "ticket.responded"), key=lambda e: e.version, default=None
    )
    if response is None or response.occurred_at >= deadline:
        outcome = "due"
    elif response.recorded_at < deadline:
        outcome = "answered_in_time"
    elif opened.recorded_at >= deadline:
        slow = response.recorded_at - opened.recorded_at > LATE_LOG_SETTLE
        outcome = "late_logged_slow" if slow else "late_logged"
    else:
        outcome = "recorded_late"
    return Ticket(
        ticket_id,
        planned,
        opened.occurred_at,
        deadline,
        outcome,
        opened.recorded_at,
        response.occurred_at if response else None,
        response.recorded_at if response else None,
    )


class Checker:
    def __init__(
        self, load: LoadLog, facts: Facts, phases: list[Phase], faults: list[FaultRecord]
    ) -> None:
        self.load = load
        self.facts = facts
        self.phases = phases
        self.faults = faults
        self.by_kind: dict[str, Tally] = defaultdict(Tally)
        self.total = Tally()
        self.ticket_phase: dict[str, Phase | None] = {}
        self.history: dict[str, list[StoredEvent]] = defaultdict(list)
        for event in facts.events:
            self.history[event.ticket_id].append(event)
        self.sla = [
            b for b in (_json(r.value) for r in facts.topics.get("ticketflow.sla-events", [])) if b
        ]
        self.escalations = [
            b for b in (_json(r.value) for r in facts.topics.get("ticketflow.escalations", [])) if b
        ]

    def _kind(self, phase: Phase | None) -> str:
        return phase.kind if phase is not None else "outside"

    def add(self, phase: Phase | None, name: str, n: int = 1, example: Any = None) -> None:
        if n == 0:
            return
        self.by_kind[self._kind(phase)].add(name, n, example)
        self.total.add(name, n, example)

    # --- every accepted event is in the store and on the topic --------------------------
    def accepted_events(self) -> None:
        stored = {(e.ticket_id, e.version): e for e in self.facts.events}
        on_topic: set[str] = set()
        for record in self.facts.topics.get("ticketflow.ticket-events", []):
            event_id = record.header("ce_id")
            if event_id:
                on_topic.add(event_id)
        for req in self.load.accepted():
            assert req.ticket_id is not None and req.version is not None
            phase = phase_of(self.phases, req.sent_at)
            if req.kind == "open":
                self.ticket_phase.setdefault(req.ticket_id, phase)
            self.add(phase, "accepted_events")
            event = stored.get((req.ticket_id, req.version))
            where = {"ticket": req.ticket_id, "version": req.version, "type": req.event_type}
            if (
                event is None
                or event.type != req.event_type
                or (req.event_id is not None and event.event_id != req.event_id)
            ):
                self.add(phase, "lost_in_store", example=where)
                continue
            if event.event_id not in on_topic:
                self.add(phase, "lost_on_topic", example={**where, "event_id": event.event_id})
        # Beyond what the harness was told: whatever the store holds must be published.
        unpublished = [e for e in self.facts.events if e.event_id not in on_topic]
        self.total.counts["store_events_not_on_topic"] = len(unpublished)

    # --- breaches: every due one exactly once, no false one ------------------------------
    def breaches(self) -> dict[str, Ticket]:
        breached: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        retracted: dict[str, set[str]] = defaultdict(set)
        redelivered = 0
        for body in self.sla:
            subject, kind = str(body.get("ticket_id")), body.get("type")
            if kind == "sla.breached" and body.get("metric") == FIRST_RESPONSE:
                first = breached[subject].get(str(body.get("id")))
                if first is None or str(body.get("emitted_at")) < str(first.get("emitted_at")):
                    if first is not None:
                        redelivered += 1
                    breached[subject][str(body.get("id"))] = body
                else:
                    redelivered += 1
            elif kind == "sla.breached":
                breached[subject].setdefault(f"other:{body.get('id')}", body)
            elif kind == "sla.breach_retracted":
                retracted[subject].add(str(body.get("metric")))
        self.total.counts["breach_records_redelivered"] = redelivered
        tickets: dict[str, Ticket] = {}
        for ticket_id, planned in self.load.critical.items():
            ticket = classify(ticket_id, planned, self.history.get(ticket_id, []))
            if ticket is None:
                continue  # lost in the store: counted there
            tickets[ticket_id] = ticket
            phase = phase_of(self.phases, ticket.deadline.timestamp())
            self.ticket_phase[ticket_id] = phase
            ids = {
                k: v for k, v in breached.get(ticket_id, {}).items() if not k.startswith("other:")
            }
            was_retracted = FIRST_RESPONSE in retracted.get(ticket_id, set())
            where = {
                "ticket": ticket_id,
                "planned": planned,
                "outcome": ticket.outcome,
                "deadline": ticket.deadline.isoformat(),
                "breaches": len(ids),
                **ticket.facts(),
            }
            if ticket.outcome == "due":
                self.add(phase, "due_breaches")
                if not ids:
                    self.add(phase, "missed_breaches", example=where)
                    continue
                self.add(phase, "duplicated_breaches", len(ids) - 1, example=where)
                if was_retracted:
                    self.add(phase, "wrong_retractions", example=where)
                first = min(ids.values(), key=lambda b: str(b.get("emitted_at")))
                at, emitted = _instant(first.get("at")), _instant(first.get("emitted_at"))
                if at is not None and abs(at - ticket.deadline) > timedelta(milliseconds=1):
                    self.add(phase, "wrong_deadline_breaches", example={**where, "at": str(at)})
                if emitted is not None:
                    # From when the breach was knowable: the deadline, or the ticket's logging
                    # when it was logged after its deadline had passed.
                    knowable = max(ticket.deadline, ticket.opened_recorded_at or ticket.deadline)
                    late = (emitted - knowable).total_seconds() * 1000
                    self.by_kind[self._kind(phase)].lateness_ms.append(late)
                    self.total.lateness_ms.append(late)
                    if late > LATE_MS:
                        self.add(
                            phase,
                            f"breaches_later_than_{LATE_MS // 1000}s",
                            example={
                                **where,
                                "late_ms": round(late),
                                "emitted_at": first.get("emitted_at"),
                                "based_on_version": first.get("based_on_version"),
                                "data": first.get("data"),
                            },
                        )
                if (first.get("data") or {}).get("provisional"):
                    self.add(phase, "provisional_breaches")
            elif ticket.outcome in ("recorded_late", "late_logged_slow"):
                self.add(phase, f"tickets_{ticket.outcome}_breached", 1 if ids else 0)
                if ids and not was_retracted:
                    self.add(phase, "false_breaches", example={**where, "retracted": False})
                    self.add(phase, f"false_breaches_{ticket.outcome}_unretracted")
            elif ids:
                self.add(phase, "false_breaches", example={**where, "retracted": was_retracted})
                self.add(phase, f"false_breaches_{ticket.outcome}")
                if was_retracted:
                    self.add(phase, "false_breaches_retracted")
        # No ticket of the background load is anywhere near a deadline.
        for ticket_id in self.load.background:
            if breached.get(ticket_id):
                phase = self.ticket_phase.get(ticket_id)
                self.add(phase, "false_breaches", example={"ticket": ticket_id, "background": True})
                self.add(phase, "false_breaches_background")
        return tickets

    # --- one raise per escalation episode --------------------------------------------------
    def pages(self, tickets: dict[str, Ticket]) -> None:
        raised: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for body in self.escalations:
            if body.get("type") == "escalation.raised" and body.get("metric") == FIRST_RESPONSE:
                raised[str(body.get("ticket_id"))][str(body.get("escalation_id"))].add(
                    str(body.get("id"))
                )
        for ticket_id, ticket in tickets.items():
            phase = self.ticket_phase.get(ticket_id)
            episodes = raised.get(ticket_id, {})
            ids = sum(len(v) for v in episodes.values())
            where = {
                "ticket": ticket_id,
                "outcome": ticket.outcome,
                "episodes": len(episodes),
                "raises": ids,
            }
            if ticket.outcome == "due":
                self.add(phase, "escalation_episodes")
                if not episodes:
                    self.add(phase, "missed_pages", example=where)
                else:
                    self.add(phase, "duplicated_pages", ids - 1, example=where)
            elif ticket.outcome in ("recorded_late", "late_logged_slow"):
                self.add(phase, f"pages_{ticket.outcome}", 1 if episodes else 0)
            elif episodes:
                self.add(phase, "false_pages", example=where)
        for ticket_id in self.load.background:
            if raised.get(ticket_id):
                self.add(
                    self.ticket_phase.get(ticket_id), "false_pages", example={"ticket": ticket_id}
                )

    # --- no Message-ID mailed twice, none missing ------------------------------------------
    def emails(self) -> None:
        expected: dict[str, str] = {}  # notification id -> ticket
        for event in self.facts.events:
            contact = event.data.get("contact")
            if event.type == "ticket.opened" and isinstance(contact, str) and contact:
                confirmation = notification_id(uuid.UUID(event.event_id), contact.lower(), "email")
                expected[str(confirmation)] = event.ticket_id
        seen: set[str] = set()
        for body in self.escalations:
            if body.get("type") not in ESCALATION_EMAILS or str(body.get("id")) in seen:
                continue
            seen.add(str(body.get("id")))
            for recipient in {str(r).lower() for r in body.get("recipients") or []}:
                page = notification_id(uuid.UUID(str(body["id"])), recipient, "email")
                expected[str(page)] = str(body.get("ticket_id"))
        logged_only = 0
        for row in self.facts.notifications:
            if row.get("channel") == "email" and row["id"] not in expected:
                expected[row["id"]] = str(row.get("ticket_id"))
                logged_only += 1
        attempts = {str(row["id"]): row.get("attempts") for row in self.facts.notifications}
        mailed: Counter[str] = Counter()
        copies: dict[str, list[Any]] = defaultdict(list)
        for mail in self.facts.mails:
            if mail.message_id:
                nid = mail.message_id.strip("<>").split("@", 1)[0]
                mailed[nid] += 1
                copies[nid].append(mail)
        for nid, ticket in expected.items():
            phase = self.ticket_phase.get(ticket)
            self.add(phase, "emails_expected")
            if mailed[nid] == 0:
                self.add(phase, "emails_missing", example={"notification": nid, "ticket": ticket})
            elif mailed[nid] > 1:
                # A copy sent again is the fault of what happened right after the first one
                # was sent (before it was recorded as sent): the phase a few seconds on (the
                # sink notes a message a little after the sender finished it).
                arrived = sorted(copies[nid], key=lambda m: m.received_at or 0.0)
                when = arrived[0].received_at
                self.add(
                    phase_of(self.phases, when + RESEND_GRACE_S) if when is not None else phase,
                    "emails_duplicated",
                    mailed[nid] - 1,
                    example={
                        "notification": nid,
                        "ticket": ticket,
                        "attempts_logged": attempts.get(nid),
                        "subject": arrived[0].subject,
                        "received_at": [m.received_at for m in arrived],
                        "files": [Path(m.file).name for m in arrived],
                    },
                )
        dead = sum(1 for row in self.facts.notifications if row.get("status") == "dead")
        self.total.counts["emails_mailed"] = sum(mailed.values())
        self.total.counts["emails_unexpected"] = len(set(mailed) - set(expected))
        self.total.counts["emails_expected_from_log_only"] = logged_only
        self.total.counts["notifications_dead"] = dead
        self.total.counts["mails_without_message_id"] = sum(
            1 for m in self.facts.mails if not m.message_id
        )

    # --- sla replay --live -----------------------------------------------------------------
    def replay(self) -> None:
        result = self.facts.replay
        live = result.get("live")
        if not isinstance(live, dict):
            self.add(None, "replay_differences", 1, example={"error": result.get("error")})
            self.total.counts["replay_failed"] = 1
            return
        listed = live.get("differences", [])
        for diff in listed:
            ticket = str(diff.get("ticket_id"))
            self.add(self.ticket_phase.get(ticket), "replay_differences", example=diff)
        extra = int(live.get("differing", 0)) - len(listed)
        if extra > 0:
            self.add(None, "replay_differences", extra)
        self.total.counts["replay_only_live"] = len(live.get("only_live", []))
        # The CLI reads the state changelog only up to end_offsets(); a complete read tells
        # whether it saw every ticket's state.
        latest: dict[bytes, bytes | None] = {}
        for record in self.facts.topics.get("ticketflow.sla-state", []):
            if record.key is not None:
                latest[record.key] = record.value
        self.total.counts["sla_state_keys"] = sum(1 for v in latest.values() if v)
        self.total.counts["replay_live_tickets"] = int(live.get("tickets", 0))
        self.total.counts["replay_tickets"] = int(result.get("tickets", 0))

    # --- recovery per fault -----------------------------------------------------------------
    def recovery(self) -> None:
        accepted = sorted(r.done_at for r in self.load.accepted())
        sla_emits = sorted(
            t.timestamp() for t in (_instant(b.get("emitted_at")) for b in self.sla) if t
        )
        escalation_ts = sorted(
            r.timestamp_ms / 1000 for r in self.facts.topics.get("ticketflow.escalations", [])
        )
        mails = sorted(m.received_at for m in self.facts.mails if m.received_at is not None)
        signal: dict[str, list[float]] = {
            "kill_intake": accepted,
            "pg_stop": accepted,
            "kill_sla": sla_emits,
            "sigstop_sla": sla_emits,
            "kill_escalation": escalation_ts,
            "kill_notify": mails,
        }
        for fault in self.faults:
            after = next((t for t in signal.get(fault.kind, []) if t > fault.at), None)
            fault.pipeline_s = round(after - fault.at, 3) if after is not None else None
            fault.extra["pipeline_signal_at"] = after

    def run(self) -> None:
        self.accepted_events()
        tickets = self.breaches()
        self.pages(tickets)
        self.emails()
        self.replay()
        self.recovery()
        outcomes = Counter(t.outcome for t in tickets.values())
        self.total.counts.update({f"tickets_{k}": v for k, v in outcomes.items()})
