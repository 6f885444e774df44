"""Faust agent, timer task and HTTP pages of the SLA service."""
