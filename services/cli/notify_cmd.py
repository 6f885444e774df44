"""`ticketflow notify ...`."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

app = typer.Typer(help="The notify service: email, signed webhooks, delivery log, dead letters.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8083,
) -> None:
    """Consume ticket, SLA, escalation and billing events; email contacts and escalation
    levels (and an account's approved contacts when its prepaid time runs low or out or its
    TAM hours are used up), post signed webhooks to subscribers; retry with exponential
    backoff, then dead-letter.

    Needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS; SMTP via TICKETFLOW_NOTIFY_SMTP_HOST /
    _SMTP_PORT / _SMTP_USERNAME / _SMTP_PASSWORD and the sender TICKETFLOW_NOTIFY_MAIL_FROM;
    TICKETFLOW_ADMIN_TOKEN guards the admin endpoints.
    """
    from services.common import logs
    from services.common.http_settings import HttpSettings
    from services.common.serving import serve as serve_api
    from services.notify.bootstrap import build_app
    from services.notify.settings import NotifySettings

    logs.configure("notify")
    settings = NotifySettings(host=host, port=port)
    serve_api(build_app(settings), host, port, HttpSettings.from_env("TICKETFLOW_NOTIFY_"))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        typer.echo("error: DATABASE_URL is not set (the notify database)", err=True)
        raise typer.Exit(2)
    return url


@app.command()
def dead(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
) -> None:
    """List dead-lettered notifications (newest first): id, channel, recipient, last error."""
    import asyncpg

    from services.notify.adapters import store

    async def run() -> list[asyncpg.Record]:
        pool = await asyncpg.create_pool(_database_url(), min_size=1, max_size=2)
        assert pool is not None
        try:
            accounts = [account] if account else await store.all_accounts(pool)
            return await store.listing(pool, accounts, None, "dead", limit)
        finally:
            await pool.close()

    rows = asyncio.run(run())
    for row in rows:
        typer.echo(
            f"{row['id']}  {row['channel']:<7} {row['recipient']:<32} {row['source_type']:<26} "
            f"attempts={row['attempts']}  {row['last_error']}"
        )
    typer.echo(f"{len(rows)} dead notification(s)", err=True)


@app.command()
def redeliver(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Notification ids (from `ticketflow notify dead`).")
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Every dead notification.")] = False,
) -> None:
    """Queue dead notifications again, attempts reset; a running notify sends them within its
    scheduler's longest sleep (5 s by default)."""
    import asyncpg

    from services.notify.adapters import store

    if not ids and not all_dead:
        typer.echo("error: give notification ids, or --all", err=True)
        raise typer.Exit(2)
    try:
        parsed = None if all_dead else [uuid.UUID(value) for value in ids or []]
    except ValueError as exc:
        typer.echo(f"error: ids: {exc}", err=True)
        raise typer.Exit(2) from None

    async def run() -> int:
        pool = await asyncpg.create_pool(_database_url(), min_size=1, max_size=2)
        assert pool is not None
        try:
            return await store.redeliver(pool, parsed, datetime.now(UTC))
        finally:
            await pool.close()

    typer.echo(f"requeued {asyncio.run(run())} notification(s)")
