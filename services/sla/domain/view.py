"""The read model behind `GET /v1/tickets/{id}/sla`: the view of the state the service
tracks for a ticket (`shared.sla.view`, which the console also uses), as of `now`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.sla.domain.tracked import Tracked
from shared.sla import view


def sla_view(tracked: Tracked, now: datetime) -> dict[str, Any]:
    return view.sla_view(
        ticket_id=tracked.ticket_id,
        account=tracked.account,
        policy=tracked.policy,
        sla=tracked.sla,
        now=now,
        version=tracked.version,
        waiting_for=[event.sequence for event in tracked.held],
    )
