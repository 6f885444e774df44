"""`ticketflow billing ...`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
import typer

app = typer.Typer(
    help="The billing service: charges by each document's rules, statements, prepaid time, "
    "TAM hours."
)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        help="The database of intake's event store and billing's tables. Default: DATABASE_URL.",
    ),
]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8084,
) -> None:
    """Consume ticket events, keep each account's ledger, serve charges and statements.

    Every work log, determination, ESS start or stop and fee quote recomputes the ticket's
    charges under its pinned policy; what changed is published on `ticketflow.billing`
    (`charge.assessed`, `charge.voided`, `prepaid.low`, `prepaid.exhausted`,
    `tam.budget_warning`, `tam.budget_exhausted`). Needs DATABASE_URL (the intake database)
    and KAFKA_BOOTSTRAP_SERVERS.
    """
    from services.billing.bootstrap import build_app
    from services.billing.settings import BillingSettings
    from services.common import logs
    from services.common.serving import serve as serve_api

    logs.configure("billing")
    settings = BillingSettings(host=host, port=port)
    serve_api(build_app(settings), host, port, settings)


def _need(database_url: str | None) -> str:
    if not database_url:
        typer.echo("error: --database-url (or DATABASE_URL) is required", err=True)
        raise typer.Exit(2)
    return database_url


def _month(value: str) -> str:
    if not MONTH.match(value):
        raise typer.BadParameter(f"{value!r}: give the month as YYYY-MM, e.g. 2026-11")
    return value


async def _rebuild(
    database_url: str, account: str | None, then: Callable[[Any, Any], Awaitable[T]]
) -> T:
    """Recompute the ledgers (of `account`, or all) from the event store, then `then(rebuilt,
    the service's ledger)` while the database is still open."""
    import asyncpg

    from services.billing.adapters.event_history import recorded_events
    from services.billing.adapters.postgres import PostgresLedger
    from services.billing.service_layer.ledger import RELEVANT
    from services.billing.service_layer.replay import TopUp, rebuild
    from shared.policy import policies_by_ref

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        stored = PostgresLedger(pool)
        try:
            rates, low_at = await stored.account_terms()
            top_ups = [TopUp(*row) for row in await stored.top_ups()]
        except asyncpg.UndefinedTableError:  # billing never ran on this database
            rates, low_at, top_ups = {}, {}, []
        if account is not None:
            top_ups = [t for t in top_ups if t.account == account]

        def progress(done: int) -> None:
            typer.echo(f"... {done:,} events", err=True)

        found = await rebuild(
            recorded_events(pool, RELEVANT, account),
            policies_by_ref(),
            rates,
            top_ups,
            low_at,
            lambda: datetime.now(UTC),
            progress,
        )
        return await then(found, stored)
    finally:
        await pool.close()


@app.command()
def statement(
    account: Annotated[str, typer.Option(help="The account.")],
    month: Annotated[str, typer.Option(help="YYYY-MM (UTC).", callback=_month)],
    database_url: DatabaseUrl = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON.")] = False,
) -> None:
    """Print an account's monthly statement, recomputed offline from the event store.

    The same rules and the same order as the live service: the result equals the service's
    statement unless the ledger has drifted (`billing replay` says where). Rate cards and
    prepaid top-ups come from billing's tables when they exist.
    """
    from services.billing.domain.statement import Statement, to_csv
    from services.billing.domain.statement import statement as build

    async def month_of(found: Any, _: Any) -> Statement:
        return build(account, month, await found.ledger.charges(account, month))

    result = asyncio.run(_rebuild(_need(database_url), account, month_of))
    if csv:
        typer.echo(to_csv(result), nl=False)
        return
    body = {
        "account": account,
        "month": month,
        "charges": [
            {
                "charge_id": str(e.charge_id),
                "ticket_id": e.ticket_id,
                "rule": e.charge.rule,
                "basis": e.charge.basis.value,
                "billed_minutes": e.charge.billed_minutes,
                "prepaid_minutes": e.charge.prepaid_minutes,
                "amount": None if e.charge.amount is None else str(e.charge.amount),
                "currency": e.charge.currency,
            }
            for e in result.lines
        ],
        "totals": {currency: str(total) for currency, total in result.totals.items()},
        "unpriced": result.unpriced,
    }
    typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


@app.command()
def replay(database_url: DatabaseUrl = None) -> None:
    """Recompute every account's ledger from the event store and compare it with billing's.

    Prints progress to stderr and one JSON object to stdout: events, tickets, events_per_s,
    refused (events the service dead-letters too) and `differences`, the charges in force
    that history and the ledger disagree on. Exits 1 when there is a difference.
    """
    from services.billing.service_layer.replay import differences

    async def compare(found: Any, stored: Any) -> dict[str, Any]:
        diffs: list[dict[str, object]] = []
        for account in sorted(set(found.ledger.accounts()) | set(await stored.accounts())):
            diffs += differences(
                await found.ledger.charges(account, None), await stored.charges(account, None)
            )
        seconds = max(found.seconds, 1e-9)
        return {
            "events": found.events,
            "tickets": len(found.tickets),
            "events_per_s": round(found.events / seconds),
            "refused": len(found.refused),
            "differences": diffs,
        }

    report = asyncio.run(_rebuild(_need(database_url), None, compare))
    typer.echo(orjson.dumps(report).decode())
    if report["differences"]:
        raise typer.Exit(1)
