"""Which topics and consumer groups each service uses: the source of the Strimzi KafkaUser
ACLs and the KEDA triggers. Read lists come from the consumers themselves."""

from __future__ import annotations

from dataclasses import dataclass

from services.billing.entrypoints.consumer import TOPICS as BILLING_READS
from services.billing.settings import BillingSettings
from services.console.entrypoints.consumer import TOPICS as CONSOLE_READS
from services.console.settings import ConsoleSettings
from services.escalation.entrypoints.consumer import TOPICS as ESCALATION_READS
from services.escalation.settings import EscalationSettings
from services.intake.settings import IntakeSettings
from services.notify.entrypoints.consumer import TOPICS as NOTIFY_READS
from services.notify.settings import NotifySettings
from services.sla.settings import SlaSettings
from shared.topics import (
    BILLING,
    ESCALATIONS,
    NOTIFICATIONS,
    SLA_EVENTS,
    SLA_STATE,
    TICKET_COMMANDS,
    TICKET_EVENTS,
)


def _default(settings: type, field: str) -> str:
    value = settings.model_fields[field].default  # type: ignore[attr-defined]
    assert isinstance(value, str)
    return value


@dataclass(frozen=True, slots=True)
class Access:
    service: str
    group: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    lag_scaled: bool
    """Scaled on its consumer group's lag (KEDA); otherwise on CPU (HPA)."""
    prefixes: tuple[str, ...] = ()
    """Topic and group name prefixes the service owns entirely (Faust's internal topics)."""
    other_groups: tuple[str, ...] = ()
    """Consumer groups of the service's other, smaller consumers (not lag-scaled)."""

    @property
    def user(self) -> str:
        return f"ticketflow-{self.service}"

    @property
    def lag_topics(self) -> tuple[str, ...]:
        """The topics whose lag measures the backlog (not a changelog read on recovery)."""
        return tuple(topic for topic in self.reads if topic != SLA_STATE.name)


def _dlqs(topics: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{topic}.dlq" for topic in topics)


SLA_APP = _default(SlaSettings, "app_id")

ACCESS: tuple[Access, ...] = (
    Access(
        "intake",
        _default(IntakeSettings, "commands_group"),
        reads=(TICKET_COMMANDS.name, BILLING.name),
        writes=(TICKET_EVENTS.name, *_dlqs((TICKET_COMMANDS.name, BILLING.name))),
        lag_scaled=False,
        other_groups=(_default(IntakeSettings, "billing_facts_group"),),
    ),
    Access(
        "sla",
        SLA_APP,
        reads=(TICKET_EVENTS.name, SLA_STATE.name),
        writes=(
            SLA_EVENTS.name,
            TICKET_COMMANDS.name,
            SLA_STATE.name,
            *_dlqs((TICKET_EVENTS.name,)),
        ),
        lag_scaled=True,
        prefixes=(f"{SLA_APP}-",),
    ),
    Access(
        "escalation",
        _default(EscalationSettings, "group_id"),
        reads=tuple(ESCALATION_READS),
        writes=(ESCALATIONS.name, *_dlqs(tuple(ESCALATION_READS))),
        lag_scaled=True,
    ),
    Access(
        "notify",
        _default(NotifySettings, "group_id"),
        reads=tuple(NOTIFY_READS),
        writes=(NOTIFICATIONS.name, *_dlqs(tuple(NOTIFY_READS))),
        lag_scaled=True,
    ),
    Access(
        "billing",
        _default(BillingSettings, "group_id"),
        reads=tuple(BILLING_READS),
        # its outbox publishes to ticketflow.billing; the consumer loop dead-letters to
        # ticketflow.ticket-events.dlq
        writes=(BILLING.name, *_dlqs(tuple(BILLING_READS))),
        lag_scaled=True,
    ),
    Access(
        "console",
        _default(ConsoleSettings, "group_id"),
        reads=tuple(CONSOLE_READS),
        # a read model: it publishes nothing; the consumer loop dead-letters what does not
        # decode to <topic>.dlq
        writes=_dlqs(tuple(CONSOLE_READS)),
        # Lag, not CPU: the projection is bound by PostgreSQL round trips (a CPU target would
        # not see a backlog) and a stale at-risk page is the console's failure; the page and
        # /events load grows with support staff, not with events, and the minimum replicas
        # carry it. Bounded by the widest topic it reads (12 partitions).
        lag_scaled=True,
    ),
)
