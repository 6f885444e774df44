"""`ticketflow escalation ...`."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="The escalation service: matrices, levels, quiet hours, acknowledgement.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8082,
) -> None:
    """Consume SLA and ticket events, page escalation contacts level by level, serve the API.

    Raises an escalation on an SLA breach or a customer's `ticket.escalation_requested`
    (after a warning to level 1), pages the next level when nobody acknowledges within the
    matrix's hours, waits for the customer's support hours unless the priority is critical,
    and publishes every step on `ticketflow.escalations`. `POST /v1/escalations/{id}/ack`
    stops further levels. Needs DATABASE_URL (the intake database: contacts and accounts)
    and KAFKA_BOOTSTRAP_SERVERS.
    """
    from services.common import logs
    from services.common.serving import serve as serve_api
    from services.escalation.bootstrap import build_app
    from services.escalation.settings import EscalationSettings

    logs.configure("escalation")
    settings = EscalationSettings(host=host, port=port)
    serve_api(build_app(settings), host, port, settings)
