"""The *Compliance* page and `GET /v1/reports/compliance`: a month's met % per policy,
priority and metric, from the console's own copy of the ticket events."""

from __future__ import annotations

from fastapi import APIRouter

routes = APIRouter()
