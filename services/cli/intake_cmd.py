"""`ticketflow intake ...` (serve, quarantine list|retry|drop), `ticketflow db ...`,
`ticketflow openapi`."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from services.intake.adapters.quarantine import QuarantineStore

T = TypeVar("T")

app = typer.Typer(help="The intake service: HTTP API, event store, outbox relay.")
db_app = typer.Typer(help="The event store database.")
quarantine_app = typer.Typer(
    help="Outbox records the broker refused for good (too large, invalid), held out of the "
    "relay's way. While a ticket has an open entry, its later events wait in the outbox. "
    "Needs DATABASE_URL.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    no_relay: Annotated[
        bool, typer.Option("--no-relay", help="Do not run the outbox relay in this process.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. Each runs the API; one at a time holds the outbox relay "
            "(advisory lock) and the command consumers share the topic's partitions.",
        ),
    ] = 1,
) -> None:
    """Serve the intake API (and its outbox relay) until SIGINT/SIGTERM.

    Needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS; TICKETFLOW_ADMIN_TOKEN guards the admin
    endpoints (must be a real secret when TICKETFLOW_ENVIRONMENT=production).
    """
    from services.common import logs
    from services.common.serving import serve as serve_api
    from services.intake.bootstrap import build_app
    from services.intake.settings import IntakeSettings

    logs.configure("intake")
    settings = IntakeSettings(host=host, port=port, relay_enabled=not no_relay)
    if workers == 1:
        serve_api(build_app(settings), host, port, settings)
        return
    # Worker processes import the app themselves: pass the options through the environment.
    os.environ["TICKETFLOW_RELAY_ENABLED"] = "false" if no_relay else "true"
    serve_api(
        "services.intake.bootstrap:app_from_environment",
        host,
        port,
        settings,
        factory=True,
        workers=workers,
    )


@db_app.command()
def migrate() -> None:
    """Apply the migrations of intake (event store, accounts), escalation, notify, billing and
    the console to DATABASE_URL (safe to run repeatedly; the Kubernetes migration Job runs
    this)."""
    import asyncpg

    from services.billing.bootstrap import MIGRATION_LOCK as BILLING_LOCK
    from services.common.runtime import migrate_service
    from services.console.bootstrap import MIGRATION_LOCK as CONSOLE_LOCK
    from services.escalation.bootstrap import MIGRATION_LOCK as ESCALATION_LOCK
    from services.intake.adapters.event_store import migrate as apply
    from services.notify.bootstrap import MIGRATION_LOCK as NOTIFY_LOCK

    url = os.environ.get("DATABASE_URL")
    if not url:
        typer.echo("error: DATABASE_URL is not set", err=True)
        raise typer.Exit(2)

    async def run() -> list[str]:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        assert pool is not None
        try:
            names = [f"intake/{name}" for name in await apply(pool)]
            for package, lock, label in (
                ("services.escalation.adapters", ESCALATION_LOCK, "escalation"),
                ("services.notify.adapters", NOTIFY_LOCK, "notify"),
                ("services.billing.adapters", BILLING_LOCK, "billing"),
                ("services.console.adapters", CONSOLE_LOCK, "console"),
            ):
                names += [f"{label}/{name}" for name in await migrate_service(pool, package, lock)]
            return names
        finally:
            await pool.close()

    for name in asyncio.run(run()):
        typer.echo(f"applied {name}")


def openapi() -> None:
    """Print the intake API's OpenAPI document (JSON)."""
    from services.intake.entrypoints.api import create_app
    from services.intake.entrypoints.deps import IntakeDeps

    document = create_app(IntakeDeps.__new__(IntakeDeps)).openapi()
    typer.echo(json.dumps(document, indent=2))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        typer.echo("error: DATABASE_URL is not set", err=True)
        raise typer.Exit(2)
    return url


def _with_quarantine(work: Callable[[QuarantineStore], Awaitable[T]]) -> T:
    import asyncpg

    from services.intake.adapters.quarantine import QuarantineStore

    async def run() -> T:
        pool = await asyncpg.create_pool(_database_url(), min_size=1, max_size=2)
        assert pool is not None
        try:
            return await work(QuarantineStore(pool))
        finally:
            await pool.close()

    return asyncio.run(run())


@quarantine_app.command("list")
def quarantine_list(
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Also entries already retried or dropped.")
    ] = False,
) -> None:
    """Print one JSON object per entry, oldest first: id, ticket, version, event id, the
    broker's error, the record's size, and how many later events of the ticket it holds."""

    async def entries(store: QuarantineStore) -> list[dict[str, object]]:
        return [e.as_json() for e in await store.entries(include_resolved=include_resolved)]

    for entry in _with_quarantine(entries):
        typer.echo(json.dumps(entry))


@quarantine_app.command("retry")
def quarantine_retry(
    entry_id: Annotated[int, typer.Argument(help="The entry's id (from `list`).")],
) -> None:
    """Let the relay send the record again, then its ticket's held events in order (do it
    once the cause is fixed, e.g. the topic's max.message.bytes raised; a record refused
    again comes back as a new entry)."""
    _resolve(entry_id, "retry")


@quarantine_app.command("drop")
def quarantine_drop(
    entry_id: Annotated[int, typer.Argument(help="The entry's id (from `list`).")],
) -> None:
    """Give up on the record: it stays in the event store but is never published; its
    ticket's held events flow again (consumers see a gap in `ce_sequence` and can read the
    missing event from the store or the history API)."""
    _resolve(entry_id, "drop")


def _resolve(entry_id: int, action: str) -> None:
    from services.intake.adapters.quarantine import NotQuarantined

    async def resolve(store: QuarantineStore) -> dict[str, object]:
        entry = await (store.retry(entry_id) if action == "retry" else store.drop(entry_id))
        return entry.as_json()

    try:
        typer.echo(json.dumps(_with_quarantine(resolve)))
    except NotQuarantined:
        typer.echo(f"error: no open quarantine entry {entry_id}", err=True)
        raise typer.Exit(1) from None
