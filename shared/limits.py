"""Bounds every service applies to integers read from records and requests."""

MAX_VERSION = 2**31 - 1
"""A ticket's version (`sequence`) is a PostgreSQL `int` in the event store."""
