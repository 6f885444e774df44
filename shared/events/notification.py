"""What the notify service publishes on `ticketflow.notifications`: delivery outcomes.

`notification_id` is deterministic (source event id + recipient + channel): the same event
never produces two notifications to one recipient on one channel. Key = ticket id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NOTIFICATION_NAMESPACE = uuid.UUID("c3a9e0d4-51b7-4e2f-9f08-6d2e4b1a7c35")

CHANNEL_NAME = r"^[a-z][a-z0-9_]*$"
"""What a channel's name looks like (notify registers its channels by name)."""

NotificationEventType = Literal[
    "notification.delivered", "notification.failed", "notification.dead"
]


def notification_id(source_event_id: uuid.UUID, recipient: str, channel: str) -> uuid.UUID:
    return uuid.uuid5(NOTIFICATION_NAMESPACE, f"{source_event_id}|{recipient}|{channel}")


class NotificationEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(description="Deterministic: notification id, type and attempt")
    type: NotificationEventType
    notification_id: uuid.UUID
    ticket_id: str
    account: str
    channel: str = Field(
        pattern=CHANNEL_NAME,
        description="The channel's registered name: email, webhook; notify may add channels",
        examples=["email", "webhook"],
    )
    recipient: str = Field(description="Email address, or webhook subscription id")
    template: str
    source_event_id: uuid.UUID
    source_type: str
    attempt: int = Field(ge=1)
    at: datetime
    error: str | None = None
