"""Account templates: the immutable sandbox, validation against sample contexts, the CPU-time
budget and output caps (in killable worker processes, the event loop free meanwhile), and the
fallback to the default template at send time."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.notify.adapters.render_pool import WorkerPool, WorkerTimeout
from services.notify.adapters.templates import Rendered, TemplateError, Templates
from services.notify.domain.routing import TEMPLATES
from services.notify.domain.template_samples import (
    ESCALATION_EVENT_OF,
    TICKET_EVENT_OF,
    sample_context,
)
from shared.events import Envelope
from shared.events.escalation import EscalationEvent
from shared.events.types import EVENT_TYPES

NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
RUNAWAY = "{% for a in range(20000) %}{% for b in range(20000) %}{% endfor %}{% endfor %}"
FLOOD = "{% for a in range(20000) %}{% for b in range(20000) %}x{% endfor %}{% endfor %}"
FORGE = '{% set _ = event.update({"subject": "FORGED BY TEMPLATE"}) %}'


@pytest.fixture
async def templates() -> AsyncIterator[Templates]:
    templates = Templates()
    try:
        yield templates
    finally:
        await templates.aclose()


def failures(template: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "ticketflow_notify_template_failures_total", {"template": template, "reason": reason}
    )
    return value or 0.0


def real_contexts() -> dict[str, dict[str, Any]]:
    """Contexts as the consumer and planner build them from real events (escalations about a
    ticket notify never saw open: `ticket` is empty)."""
    ticket = {
        "ticket_id": "t-1",
        "account": "acme",
        "number": "TF-1",
        "contact": "noc@customer.example",
        "subject": None,
        "priority": "sev2",
    }
    data = {
        "ticket.opened": {"channel": "email", "priority": "sev2", "contact": "noc@c.example"},
        "ticket.closure_requested": {},
        "ticket.closed_by_timeout": {"based_on_version": 4},
        "ticket.severity_changed": {"priority": "sev3"},
    }
    contexts: dict[str, dict[str, Any]] = {}
    for name, event_type in TICKET_EVENT_OF.items():
        envelope = Envelope(
            type=event_type,
            source="sla" if name == "severity_downgraded" else "intake",
            subject="t-1",
            time=NOW,
            sequence=2,
            account="acme",
            policy="voximplant@1",
            data=data[event_type],
        )
        event = envelope.model_dump(mode="json", exclude_none=True)
        contexts[name] = {"ticket": ticket, "event": event, "account": "acme"}
    for name, event_type in ESCALATION_EVENT_OF.items():
        escalation = EscalationEvent(
            id=uuid.uuid4(),
            type=event_type,  # type: ignore[arg-type]
            escalation_id=uuid.uuid4(),
            ticket_id="t-2",
            account="acme",
            policy="voximplant@1",
            priority="sev2",
            metric="first_response",
            trigger="sla.breached",
            level=1,
            critical=False,
            at=NOW,
        )
        contexts[name] = {
            "ticket": {},
            "event": escalation.model_dump(mode="json"),
            "account": "acme",
        }
    return contexts


# --- the immutable sandbox and a context the template cannot change ---------------------------


async def test_validate_refuses_a_template_that_changes_the_event(templates: Templates) -> None:
    with pytest.raises(TemplateError) as refused:
        await templates.validate("escalation_raised", "Hi", FORGE)
    assert str(refused.value) == (
        "body, line 1: access to attribute 'update' of 'dict' object is unsafe"
    )
    with pytest.raises(TemplateError, match="access to attribute 'append' of 'list'"):
        await templates.validate("escalation_raised", "{{ event.recipients.append('x') }}", "b")


async def test_a_template_changing_the_event_leaves_the_callers_context_as_it_was(
    templates: Templates,
) -> None:
    context = sample_context("escalation_raised")
    before = repr(context)
    rendered = await templates.render("escalation_raised", context, ("S", FORGE))
    assert repr(context) == before
    assert "FORGED" not in rendered.subject + rendered.body
    assert rendered.subject.startswith("[TF-4821-93] ESCALATION level 1")


# --- validation against sample contexts --------------------------------------------------------


async def test_validate_refuses_an_undefined_variable_with_part_and_line(
    templates: Templates,
) -> None:
    with pytest.raises(TemplateError) as refused:
        await templates.validate(
            "ticket_opened", "Ticket {{ ticket.number }}", "Hi\n{{ tikcet.number.upper() }}"
        )
    assert str(refused.value) == "body, line 2: 'tikcet' is undefined"
    assert refused.value.reason == "undefined"
    with pytest.raises(TemplateError, match=r"^subject, line 1: .* no attribute 'metirc'"):
        await templates.validate("escalation_raised", "{{ event.metirc }}", "b")


async def test_validate_refuses_what_fails_when_optional_fields_are_unset(
    templates: Templates,
) -> None:
    with pytest.raises(TemplateError) as refused:
        await templates.validate("escalation_raised", "s", "{{ event.reason.upper() }}")
    assert "body, line 1:" in str(refused.value)
    assert "with the optional fields unset" in str(refused.value)
    guarded = "{% if event.reason %}{{ event.reason.upper() }}{% endif %}"
    await templates.validate("escalation_raised", "s", guarded)


async def test_validate_reports_a_syntax_error(templates: Templates) -> None:
    with pytest.raises(TemplateError, match=r"^subject, line 1: "):
        await templates.validate("ticket_opened", "{{ broken", "x")


async def test_every_default_template_validates(templates: Templates) -> None:
    assert sorted(TEMPLATES) == templates.names
    for name in TEMPLATES:
        await templates.validate(name, *templates.default(name))


async def test_every_default_template_renders_real_contexts_without_falling_back(
    templates: Templates,
) -> None:
    for name, context in real_contexts().items():
        before = sum(failures(name, reason) for reason in ("default_undefined", "default_error"))
        rendered = await templates.render(name, context)
        assert rendered.subject and rendered.body, name
        assert "TF-1" in rendered.subject or "t-2" in rendered.subject, (name, rendered.subject)
        after = sum(failures(name, reason) for reason in ("default_undefined", "default_error"))
        assert after == before, name


def test_the_sample_events_are_events_of_their_type_with_every_field_set() -> None:
    for name, event_type in TICKET_EVENT_OF.items():
        event = sample_context(name)["event"]
        assert set(event) == set(Envelope.model_fields), name
        assert set(event["data"]) == set(EVENT_TYPES[event_type].model.model_fields), name
        Envelope.model_validate(event)
        Envelope.model_validate(sample_context(name, complete=False)["event"])
    for name in ESCALATION_EVENT_OF:
        event = sample_context(name)["event"]
        assert set(event) == set(EscalationEvent.model_fields), name
        assert all(value is not None for value in event.values()), name
        EscalationEvent.model_validate(event)
        EscalationEvent.model_validate(sample_context(name, complete=False)["event"])
    assert set(sample_context("ticket_opened")) == {"ticket", "event", "account"}


# --- the time budget, off the event loop -------------------------------------------------------


async def test_a_runaway_template_is_stopped_at_the_budget_while_the_loop_stays_responsive(
    templates: Templates,
) -> None:
    await templates.validate("ticket_opened", "warm", "up")  # the worker is started lazily
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            stalls.append(now - last)
            last = now

    watch = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        with pytest.raises(TemplateError) as stopped:
            await templates.validate("ticket_opened", "s", RUNAWAY)
    finally:
        done.set()
        await watch
    elapsed = time.monotonic() - started
    assert str(stopped.value) == "body: exceeded the 1.0 s time budget"
    assert stopped.value.reason == "time_budget"
    assert 0.9 < elapsed < 3.0, elapsed
    assert len(stalls) > 20 and max(stalls) < 0.2, max(stalls)
    await templates.validate("ticket_opened", "still", "works")


async def test_a_worker_past_its_deadline_is_killed_and_replaced(tmp_path: Path) -> None:
    """The wall-clock deadline: a worker that stops answering (stuck in C code) is killed."""
    script = tmp_path / "stuck-worker"
    script.write_text("#!/bin/sh\necho '{\"ready\": true}'\nexec sleep 60\n")
    script.chmod(0o755)
    pool = WorkerPool(1, python=str(script))
    try:
        with pytest.raises(WorkerTimeout):
            await pool.run({"job": 1}, 0.3)
        assert pool.pids == [] and pool.started == 1
        with pytest.raises(WorkerTimeout):
            await pool.run({"job": 2}, 0.3)
        assert pool.started == 2
    finally:
        await pool.aclose()


async def test_workers_get_no_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETFLOW_ADMIN_TOKEN", "s3cret-admin-token")
    script = tmp_path / "env-worker"
    script.write_text(
        "#!/bin/sh\necho '{\"ready\": true}'\nread job\n"
        'printf \'{"subject": "%s", "body": "%s"}\\n\' "$TICKETFLOW_ADMIN_TOKEN" "$PYTHONPATH"\n'
    )
    script.chmod(0o755)
    pool = WorkerPool(1, python=str(script))
    try:
        reply = await pool.run({}, 5)
    finally:
        await pool.aclose()
    assert reply["subject"] == ""
    assert reply["body"]


async def test_a_runaway_render_does_not_hold_up_another_one(templates: Templates) -> None:
    await asyncio.gather(*(templates.validate("ticket_opened", "warm", "up") for _ in range(2)))
    runaway = asyncio.create_task(templates.validate("ticket_opened", "s", RUNAWAY))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    rendered = await templates.render("ticket_opened", sample_context("ticket_opened"), ("A", "B"))
    assert rendered == Rendered("A", "B")
    assert time.monotonic() - started < 0.5
    assert not runaway.done()
    with pytest.raises(TemplateError, match="time budget"):
        await runaway


async def test_aclose_stops_the_workers() -> None:
    templates = Templates(workers=2)
    pool = templates._pool  # the test watches the processes
    assert pool.pids == [], "workers start lazily"
    await asyncio.gather(*(templates.validate("ticket_opened", "a", "b") for _ in range(2)))
    pids = pool.pids
    assert len(pids) == 2
    await templates.aclose()
    assert pool.pids == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --- output caps -------------------------------------------------------------------------------


async def test_output_past_the_cap_is_refused_as_soon_as_it_passes(templates: Templates) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError) as refused:
        await templates.validate("ticket_opened", "s", FLOOD)
    assert str(refused.value) == "body: output over 65536 characters"
    assert time.monotonic() - started < 0.9, "stopped at the cap, not by the time budget"


async def test_a_long_subject_is_cut_to_one_line_of_250_characters(templates: Templates) -> None:
    rendered = await templates.render(
        "ticket_opened",
        sample_context("ticket_opened"),
        ("{% for i in range(100000) %}ab\n{% endfor %}", "b"),
    )
    assert len(rendered.subject) == 250 and "\n" not in rendered.subject


async def test_a_huge_string_is_refused_before_it_is_built(templates: Templates) -> None:
    with pytest.raises(TemplateError, match="body, line 1: the result of '\\*' would exceed"):
        await templates.validate("ticket_opened", "s", "{{ 'x' * 1000000000 }}")
    with pytest.raises(TemplateError, match="body, line 1: exceeded the memory limit"):
        await templates.validate("ticket_opened", "s", "{{ 'x' | center(1000000000) }}")
    await templates.validate("ticket_opened", "still", "works")


# --- send time: fall back, count, log, never lose the notification -----------------------------


async def test_a_failing_override_falls_back_to_the_default_and_is_counted(
    templates: Templates, caplog: pytest.LogCaptureFixture
) -> None:
    context = sample_context("ticket_opened")
    default = await templates.render("ticket_opened", context)
    before = failures("ticket_opened", "undefined")
    with caplog.at_level(logging.WARNING, logger="ticketflow.notify"):
        rendered = await templates.render(
            "ticket_opened", context, ("S", "secret-source {{ tikcet.number.upper() }}")
        )
    assert rendered == default
    assert failures("ticket_opened", "undefined") == before + 1
    (record,) = [r for r in caplog.records if "ticket_opened" in r.getMessage()]
    message = record.getMessage()
    assert "acme" in message and "undefined" in message
    assert "secret-source" not in message and "tikcet" not in message
    assert "noc@customer.example" not in message


async def test_a_runaway_override_at_send_time_is_sent_with_the_default(
    templates: Templates,
) -> None:
    before = failures("closure_requested", "time_budget")
    context = sample_context("closure_requested")
    rendered = await templates.render("closure_requested", context, ("S", RUNAWAY))
    assert rendered == await templates.render("closure_requested", context)
    assert failures("closure_requested", "time_budget") == before + 1


async def test_a_failing_default_sends_a_plain_message(templates: Templates) -> None:
    before = failures("severity_downgraded", "default_undefined")
    rendered = await templates.render(
        "severity_downgraded", {"ticket": {"number": "TF-9"}, "event": {}, "account": "acme"}
    )
    assert rendered.subject == "[TF-9] severity downgraded"
    assert "TF-9" in rendered.body
    assert failures("severity_downgraded", "default_undefined") == before + 1


def test_check_still_compiles_only() -> None:
    templates = Templates()
    templates.check("Ticket {{ ticket.number }}", "{{ tikcet }}")
    with pytest.raises(TemplateError, match=r"^subject, line 1: "):
        templates.check("{{ broken", "x")


async def test_an_unknown_template_name_sends_a_plain_message(templates: Templates) -> None:
    context = {"ticket": {}, "event": {"ticket_id": "t-7"}, "account": "acme"}
    rendered = await templates.render("no_such_template", context)
    assert rendered.subject == "[t-7] no such template"
