"""An account's monthly statement: the charges in force assessed that month, totals per
currency, and the lines still to price (no rate on the account's rate card). The same from
the service's ledger and, offline, from the event store (`ticketflow billing statement`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.billing.domain.accounts import LedgerCharge


@dataclass(frozen=True, slots=True)
class Statement:
    account: str
    month: str
    lines: tuple[LedgerCharge, ...]
    totals: dict[str, Decimal]
    unpriced: int


def statement(account: str, month: str, entries: Sequence[LedgerCharge]) -> Statement:
    lines = tuple(
        sorted(
            (e for e in entries if e.month == month and e.voided_at is None),
            key=lambda e: (e.assessed_at, e.ticket_id, e.charge.key),
        )
    )
    totals: dict[str, Decimal] = {}
    for entry in lines:
        charge = entry.charge
        if charge.amount is not None and charge.currency is not None:
            totals[charge.currency] = totals.get(charge.currency, Decimal("0.00")) + charge.amount
    unpriced = sum(1 for entry in lines if entry.charge.amount is None)
    return Statement(account, month, lines, dict(sorted(totals.items())), unpriced)


CSV_COLUMNS = (
    "charge_id",
    "ticket_id",
    "rule",
    "basis",
    "worked_minutes",
    "billed_minutes",
    "prepaid_minutes",
    "rate",
    "amount",
    "currency",
    "assessed_at",
)


def to_csv(found: Statement) -> str:
    """One row a charge, then one `total` row a currency (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in found.lines:
        charge = entry.charge
        writer.writerow(
            [
                entry.charge_id,
                entry.ticket_id,
                charge.rule,
                charge.basis.value,
                charge.worked_minutes,
                charge.billed_minutes,
                charge.prepaid_minutes,
                "" if charge.rate is None else charge.rate,
                "" if charge.amount is None else charge.amount,
                charge.currency or "",
                entry.assessed_at.isoformat(),
            ]
        )
    for currency, total in found.totals.items():
        writer.writerow(["total", "", "", "", "", "", "", "", total, currency, ""])
    return out.getvalue()
