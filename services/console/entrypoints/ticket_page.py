"""The *Ticket* page: a ticket's event history, its SLA timeline per metric and why each
clock is due when it is."""

from __future__ import annotations

from fastapi import APIRouter

routes = APIRouter()
