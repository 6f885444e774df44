"""`ticketflow report ...`: reports recomputed offline from intake's event store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from services.console.domain.compliance import Tally

app = typer.Typer(
    help="Reports recomputed offline from intake's event store, with the same functions as "
    "the support console's pages."
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        help="The database of intake's event store. Default: DATABASE_URL.",
    ),
]


@app.callback()
def main() -> None:
    """Reports recomputed offline from intake's event store."""


def _month(value: str) -> str:
    from services.console.domain.compliance import month_bounds

    try:
        month_bounds(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: give the month as YYYY-MM, e.g. 2026-11") from None
    return value


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: an ISO 8601 instant with an offset") from None
    if instant.tzinfo is None:
        raise typer.BadParameter(f"{value!r}: give the offset, e.g. 2026-12-01T00:00:00Z")
    return instant


async def _outcomes(database_url: str, as_of: datetime) -> Tally:
    """Every ticket's outcomes as of `as_of`, and the tickets skipped (by reason)."""
    import asyncpg

    from services.console.adapters.event_store import ticket_histories
    from services.console.domain.compliance import Tally
    from shared.policy import policies_by_ref

    tally = Tally(as_of, policies_by_ref())
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=1,
        server_settings={"default_transaction_read_only": "on"},
    )
    try:
        async for history in ticket_histories(pool):
            tally.add(history.ticket_id, history.policy, history.events)
    finally:
        await pool.close()
    return tally


@app.command()
def compliance(
    month: Annotated[str, typer.Option(help="YYYY-MM (a UTC month).", callback=_month)],
    database_url: DatabaseUrl = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON.")] = False,
    breaches: Annotated[
        bool, typer.Option("--breaches", help="With --csv: the list of breaches instead.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Read the clocks at this instant if it is before the month's end "
            "(ISO 8601 with an offset). Default: now.",
        ),
    ] = None,
) -> None:
    """Print a month's SLA compliance, recomputed from every ticket's history.

    Per policy, priority and metric: the clocks with a target whose deadline fell in the
    month (a breach at its breach instant, others at their due time), how many were met,
    breached and are still running, the met % (met / (met + breached), one decimal, rounded
    half up) and, for first response, p50/p90 wall-clock seconds from opening to the first
    response; then every breach (ticket, metric, due, breached at). Each ticket is replayed
    through the SLA core as of the month's end, or now (or --as-of) if earlier: a month
    that is over reads the same whenever it is asked. JSON by default (the console's
    `GET /v1/reports/compliance` export), CSV with --csv. Tickets whose policy is unknown or
    whose history cannot be replayed are skipped and counted on stderr.
    """
    from services.console.domain.compliance import (
        breaches_to_csv,
        evaluation_instant,
        to_csv,
        to_json,
    )
    from services.console.domain.compliance import compliance as build

    if not database_url:
        typer.echo("error: --database-url (or DATABASE_URL) is required", err=True)
        raise typer.Exit(2)
    now = _instant(as_of) or datetime.now(UTC)
    instant = evaluation_instant(month, now)
    tally = asyncio.run(_outcomes(database_url, instant))
    for reason, count in sorted(tally.skipped.items()):
        typer.echo(f"skipped {count} ticket(s): {reason}", err=True)
    typer.echo(f"clocks as of {instant.astimezone(UTC).isoformat()}", err=True)
    report = build(tally.outcomes, month)
    if csv:
        typer.echo(breaches_to_csv(report) if breaches else to_csv(report), nl=False)
        return
    typer.echo(to_json(report), nl=False)
