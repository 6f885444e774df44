"""`ticketflow sla ...`"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from services.cli.policy_cmd import load_one
from shared.events.types import TicketEventType

app = typer.Typer(help="SLA clocks: simulate what a policy does with a ticket's timeline.")


class TimelineError(ValueError):
    pass


def parse_instant(text: str, what: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise TimelineError(f"{what}: not an ISO-8601 date-time: {text!r}") from exc
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise TimelineError(f"{what}: {text!r} needs a UTC offset (e.g. +02:00 or Z)")
    return instant


def read_timeline(path: Path) -> list[Any]:
    """Timeline lines -> core events, with errors naming the line and the field."""
    from shared.sla import TimelineEvent

    events: list[TimelineEvent] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TimelineError(f"{path}: cannot read: {exc.strerror}") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            event = _timeline_event(line, f"{path.name} line {number}", len(events) + 1)
            if events and event.arrived_at < events[-1].arrived_at:
                raise TimelineError(
                    f"{path.name} line {number}: recorded at {event.arrived_at.isoformat()}, "
                    "before the line above it: list lines in the order they were recorded "
                    "(give recorded_at to a line that was logged late)"
                )
            events.append(event)
    if not events:
        raise TimelineError(f"{path}: no events")
    if events[0].type != TicketEventType.OPENED:
        raise TimelineError(f"{path}: the first event must be ticket.opened")
    return events


def _timeline_event(line: str, where: str, sequence: int) -> Any:
    """One timeline line -> its core event; `where` names the line in errors."""
    from shared.events.types import parse_data
    from shared.sla import TimelineEvent

    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise TimelineError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise TimelineError(f"{where}: expected a JSON object")
    for key in ("type", "occurred_at"):
        if not isinstance(body.get(key), str):
            raise TimelineError(f"{where}: {key}: required string")
    at = parse_instant(body["occurred_at"], f"{where}: occurred_at")
    data = body.get("data") or {}
    try:
        parse_data(body["type"], data)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise TimelineError(f"{where}: data: {' '.join(first[:3])}") from exc
    recorded = _recorded_at(body, at, where)
    return TimelineEvent(body["type"], at, data, sequence=sequence, recorded_at=recorded)


def _recorded_at(body: dict[str, Any], at: datetime, where: str) -> datetime | None:
    if body.get("recorded_at") is None:
        return None
    if not isinstance(body["recorded_at"], str):
        raise TimelineError(f"{where}: recorded_at: an ISO-8601 string")
    recorded = parse_instant(body["recorded_at"], f"{where}: recorded_at")
    if recorded < at:
        raise TimelineError(f"{where}: recorded_at is earlier than occurred_at")
    return recorded


@app.command()
def simulate(
    timeline: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines, one event a line, in the order they were recorded: "
            '{"type": "ticket.opened", "occurred_at": "2026-03-06T16:30:00-08:00", '
            '"data": {"channel": "email", "priority": "p2"}}. A line may carry "recorded_at" '
            "(when it reached the store, default occurred_at): a response logged after its "
            "deadline arrives after the breach and retracts it"
        ),
    ],
    policy: Annotated[
        str,
        typer.Option(
            "--policy", "-p", help="Policy id (voipster, hosted-voice, ...) or a YAML file."
        ),
    ],
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Evaluate the clocks as of this ISO-8601 instant (with offset). "
            "Lines recorded after it have not arrived yet. Default: the current time.",
        ),
    ] = None,
) -> None:
    """Replay a ticket's timeline against a policy and print its SLA clocks as JSON.

    Prints one object: `accepted` (with `rejection` when refused), `metrics` (first_response,
    resolution, rfo, closure_confirmation, customer_response: `due_at` in UTC, `status`
    running|paused|met|breached|none, `breached_at`) and the derived SLA `events` in the
    order the SLA service would publish them. Lines are taken in arrival order and timers
    fire by the clock in between, as in the live service: a line whose `recorded_at` is after
    a deadline it precedes arrives after the breach, which it then retracts
    (`sla.breach_retracted`, `sla.corrected`); such events carry `emitted_at`. Timers due
    before NOW have fired and lines recorded after NOW are ignored. Exit code 2 on bad input,
    naming line and field.
    """
    from shared.sla.report import simulate as run_simulation

    try:
        chosen = load_one(policy)
        events = read_timeline(timeline)
        instant = parse_instant(now, "--now") if now else datetime.now(UTC)
        result = run_simulation(chosen, events, instant)
    except (TimelineError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


@app.command()
def worker(
    host: Annotated[str, typer.Option(help="Interface the HTTP pages bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the HTTP pages.")] = 8081,
    policy_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory of policy YAML files. Default: TICKETFLOW_POLICY_DIR or ./policies."
        ),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Intake's event store, read-only (default: DATABASE_URL). Every breach is "
            "checked against it, gaps are repaired from it, and the state is reconciled with "
            "it when partitions are assigned."
        ),
    ] = None,
) -> None:
    """Run an SLA worker: consume ticket events, keep SLA state, fire timers at their deadline.

    Reads ticketflow.ticket-events; writes ticketflow.sla-events (clock changes, warnings,
    breaches, retractions), ticketflow.ticket-commands (close-by-timeout, severity-downgrade)
    and ticketflow.ticket-events.dlq for bad messages. Needs KAFKA_BOOTSTRAP_SERVERS and
    DATABASE_URL (read-only: events, and api_keys to check API keys). Serves
    GET /v1/tickets/{id}/sla (an API key of the ticket's account, or the internal token
    TICKETFLOW_INTERNAL_TOKEN, as a bearer), /openapi.json, and, open, /healthz, /readyz
    (state recovered) and /metrics. Run several with the same TICKETFLOW_SLA_APP_ID to share
    the partitions.
    """
    from services.sla.bootstrap import run_worker
    from services.sla.settings import SlaSettings

    overrides = {"database_url": database_url} if database_url else {}
    settings = SlaSettings(host=host, port=port, **overrides)  # type: ignore[arg-type]
    run_worker(settings, policy_dir, loglevel)


@app.command("openapi")
def openapi_command() -> None:
    """Print the SLA worker's OpenAPI 3.1 document (the one it serves at /openapi.json)."""
    from services.sla.entrypoints.openapi import document

    typer.echo(orjson.dumps(document(), option=orjson.OPT_INDENT_2).decode())


@app.command("replay")
def replay_command(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="DATABASE_URL",
            help="Event store to replay (intake's database). Default: DATABASE_URL.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only tickets opened at or after this ISO-8601 instant."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="A candidate policy YAML: report which tickets of its policy id would flip "
            "between met and breached under it.",
        ),
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="Evaluate clocks as of this instant. Default: now.")
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--no-live",
            help="Compare with the live SLA state (the state changelog topic on "
            "KAFKA_BOOTSTRAP_SERVERS).",
        ),
    ] = False,
    state_topic: Annotated[
        str, typer.Option(help="The SLA state changelog topic.")
    ] = "ticketflow.sla-state",
    policy_dir: Annotated[
        Path | None, typer.Option(help="Directory of the pinned policies. Default: ./policies.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Processes to replay in (tickets split by id). Default: CPUs."),
    ] = max(os.cpu_count() or 1, 1),
) -> None:
    """Rebuild SLA state from the event store with the pure core, at full speed.

    Prints progress to stderr and one JSON object to stdout: events, tickets, events_per_s;
    with --live the tickets whose live state differs from the history; with --policy the
    tickets that would flip between met and breached (`met_to_breached`, `breached_to_met`).
    """
    import asyncio

    from services.sla.service_layer.replay import ReplayJob, replay

    if not database_url:
        typer.echo("error: --database-url (or DATABASE_URL) is required", err=True)
        raise typer.Exit(2)
    live_source = None
    if live:
        servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not servers:
            typer.echo("error: --live needs KAFKA_BOOTSTRAP_SERVERS", err=True)
            raise typer.Exit(2)
        live_source = (servers, state_topic)
    try:
        job = ReplayJob(
            database_url=database_url,
            now=parse_instant(now, "--now") if now else datetime.now(UTC),
            since=parse_instant(since, "--since") if since else None,
            policy_dir=policy_dir,
            candidate_file=policy,
            progress=True,
        )
        if policy is not None:
            load_one(str(policy))  # a bad candidate is refused before any work
    except (TimelineError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    from services.common.gc_tuning import tune_for_held_state

    tune_for_held_state()  # this process folds too when --workers is 1
    result = asyncio.run(replay(job, workers, live_source))
    typer.echo(
        f"replayed {result['events']:,} events of {result['tickets']:,} tickets in "
        f"{result['seconds']} s ({result['events_per_s'] or 0:,} events/s, "
        f"{result['workers']} process(es))",
        err=True,
    )
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
