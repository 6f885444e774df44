"""`ticketflow console ...`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(help="The support console: at-risk tickets, live, for support staff.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8085,
) -> None:
    """Project ticket, SLA and escalation events into the console's read model and serve
    its pages: sign in with an account API key (or the admin token) at /signin, the open
    tickets by their next deadline at /at-risk (JSON: /v1/at-risk, live: /events). Needs
    DATABASE_URL (the intake database: API keys) and KAFKA_BOOTSTRAP_SERVERS; in production
    TICKETFLOW_CONSOLE_SECRET and TICKETFLOW_ADMIN_TOKEN.
    """
    from services.common import logs
    from services.common.serving import serve as serve_api
    from services.console.bootstrap import build_app
    from services.console.settings import ConsoleSettings

    logs.configure("console")
    settings = ConsoleSettings(host=host, port=port)
    serve_api(build_app(settings), host, port, settings)


@app.command()
def rebuild() -> None:
    """Drop the console's read model and project ticket-events, sla-events and escalations
    again from their beginning to their current end (read without a consumer group, so the
    running console's offsets stay where they are), printing progress."""
    from services.console.bootstrap import rebuild as rebuild_model
    from services.console.settings import ConsoleSettings

    def progress(read: int, left: int) -> None:
        print(f"{read} records projected, {left} partitions to finish", flush=True)

    result = asyncio.run(rebuild_model(ConsoleSettings(), progress))
    print(f"rebuilt: {result.read} records read, {result.skipped} undecodable skipped")
