"""Intake's use cases: open a ticket, append an event, take an inbound email, manage
accounts. They take ports (`ports.py`), decide with the domain, and raise the domain's errors
(`domain/errors.py`); the HTTP entrypoints only translate requests and errors."""
