"""Billing: what support costs, from the ticket events staff record (work logs, determinations,
ESS sessions, fee quotes) and each provider document's charge rules."""
