"""Applying a command of the SLA service (close by timeout, downgrade severity) once, and only
at the version it was decided on."""

from __future__ import annotations

from services.intake.domain.commands import event_for
from services.intake.service_layer.ports import CommandLog
from shared.commands import TicketCommand


async def apply_command(log: CommandLog, command: TicketCommand) -> tuple[str, str]:
    """(outcome, detail): `applied`, `superseded` (a newer event moved the ticket first),
    `refused` (the transition no longer makes sense) or `duplicate`; TicketNotFound."""
    return await log.apply_command(
        command.id,
        command.type,
        command.ticket_id,
        command.based_on_version,
        lambda ticket: event_for(command, ticket),
    )
