"""A notification channel, described once: who it tells (`route`), what it says (`renderer`),
how it goes out (`sender`) and how its sends share the deliverer (`lanes`). `bootstrap.py`
registers every channel (`channels()`); planning and delivery know channels only from there."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.notify.domain.notifications import LaneRule
from services.notify.domain.routing import Route
from services.notify.service_layer.ports import Renderer, Sender
from shared.events.notification import CHANNEL_NAME


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    """Stored with each notification and published in its events (`channel`)."""
    route: Route
    renderer: Renderer
    sender: Sender
    lanes: LaneRule


def by_name(channels: Sequence[ChannelSpec]) -> dict[str, ChannelSpec]:
    """The channels by name, in registration order; a name registered twice, or one that
    the published events do not allow, is refused."""
    out: dict[str, ChannelSpec] = {}
    for channel in channels:
        if not re.fullmatch(CHANNEL_NAME, channel.name):
            raise ValueError(f"channel name {channel.name!r} does not match {CHANNEL_NAME}")
        if channel.name in out:
            raise ValueError(f"channel {channel.name!r} is registered twice")
        out[channel.name] = channel
    return out
