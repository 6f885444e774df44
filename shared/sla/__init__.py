"""The pure SLA core: a ticket's event history plus its policy -> clocks, deadlines, derived
events. No I/O, no clock reads: time comes in with the events and as `now`."""

from shared.sla.clock import Clock, Deadline
from shared.sla.core import Decision, TicketSla, advance, evolve, replay
from shared.sla.intake import Acceptance, decide_acceptance
from shared.sla.timeline import Emitted, TimelineEvent

__all__ = [
    "Acceptance",
    "Clock",
    "Deadline",
    "Emitted",
    "Decision",
    "TicketSla",
    "TimelineEvent",
    "advance",
    "decide_acceptance",
    "evolve",
    "replay",
]
