"""The *Escalations* page: open escalations of the viewer's accounts, each with an ack
button that calls the escalation API."""

from __future__ import annotations

from fastapi import APIRouter

routes = APIRouter()
