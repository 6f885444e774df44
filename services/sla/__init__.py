"""The SLA service: replays ticket events into SLA clocks and fires exact-time timers."""
