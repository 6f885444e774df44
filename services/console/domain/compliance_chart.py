"""The Compliance page's charts, drawn as SVG on the server from a month's `Report`: per
policy, the met % of each priority and metric as a bar on a 0-100 % scale, and the time to
first response (p50 and p90) per priority on a shared scale.

Each chart is one `role="img"` picture with a `<title>` and a `<desc>` that say in words what
it draws (every bar's figure), so a screen reader reads the same numbers the eye does; the
page puts the same figures in a table beside it. Colours pass WCAG AA contrast on white."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from services.console.domain.compliance import FIRST_RESPONSE, Report, Row
from services.console.domain.svg import num as _num
from services.console.domain.svg import text as _text
from services.console.domain.why_due import spell_duration

WIDTH = 860
LABEL_W = 230
BAR_X = LABEL_W + 10
BAR_W = 330
ROW_H = 26
BAR_H = 16
TOP = 8


@dataclass(frozen=True, slots=True)
class PolicyCharts:
    """The charts of one policy: met % per priority and metric, and the first-response
    percentiles (None when no first response was answered in the month)."""

    policy: str
    met: str
    first_response: str | None


def metric_label(metric: str) -> str:
    """`first_response` -> `first response`."""
    return metric.replace("_", " ")


def met_words(row: Row) -> str:
    """`96.7 % met (29 of 30 decided, 1 running)`, or why there is no percentage."""
    running = f", {row.running} running" if row.running else ""
    if row.met_percent is None:
        return f"nothing decided yet ({row.running} running)"
    decided = row.met + row.breached
    return f"{row.met_percent} % met ({row.met} of {decided} decided{running})"


def wait_words(value: Decimal | None) -> str:
    return "—" if value is None else spell_duration(timedelta(seconds=float(value)))


def _frame(body: str, height: int, ids: str, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="compliance-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{ids}-title {ids}-desc" focusable="false">'
        f'<title id="{ids}-title">{_text(title)}</title>'
        f'<desc id="{ids}-desc">{_text(desc)}</desc>{body}</svg>'
    )


def met_chart(policy: str, rows: Sequence[Row], month: str, ids: str) -> str:
    """One bar per priority and metric: its met % of the clocks decided in the month."""
    parts: list[str] = []
    words: list[str] = []
    for index, row in enumerate(rows):
        y = TOP + index * ROW_H
        label = f"{row.priority} · {metric_label(row.metric)}"
        said = met_words(row)
        words.append(f"{label}: {said}")
        percent = "" if row.met_percent is None else str(row.met_percent)
        parts.append(
            f'<g class="bar" data-priority="{_text(row.priority)}" '
            f'data-metric="{_text(row.metric)}" data-met-percent="{percent}">'
            f'<text x="{LABEL_W}" y="{y + 12}" text-anchor="end" class="label">'
            f"{_text(label)}</text>"
            f'<rect class="track" x="{BAR_X}" y="{y}" width="{BAR_W}" height="{BAR_H}"/>'
        )
        if row.met_percent is not None:
            filled = BAR_W * float(row.met_percent) / 100
            parts.append(
                f'<rect class="met" x="{BAR_X}" y="{y}" width="{_num(filled)}" height="{BAR_H}"/>'
            )
        parts.append(
            f'<text x="{BAR_X + BAR_W + 8}" y="{y + 12}" class="value">{_text(said)}</text></g>'
        )
    axis_y = TOP + len(rows) * ROW_H
    for tick in (0, 50, 100):
        x = BAR_X + BAR_W * tick / 100
        parts.append(
            f'<line class="tick" x1="{_num(x)}" x2="{_num(x)}" y1="{TOP - 4}" y2="{axis_y}"/>'
            f'<text x="{_num(x)}" y="{axis_y + 14}" text-anchor="middle" class="axis">'
            f"{tick} %</text>"
        )
    title = f"Met % per priority and metric, policy {policy}, {month}"
    return _frame("".join(parts), axis_y + 22, ids, title, "; ".join(words) + ".")


def first_response_chart(policy: str, rows: Sequence[Row], month: str, ids: str) -> str | None:
    """Per priority, p50 and p90 time from opening to first response, on one scale."""
    answered = [
        row
        for row in rows
        if row.metric == FIRST_RESPONSE and row.first_response_p90_seconds is not None
    ]
    if not answered:
        return None
    longest = max(float(row.first_response_p90_seconds or 0) for row in answered) or 1.0
    parts: list[str] = []
    words: list[str] = []
    y = TOP
    for row in answered:
        words.append(
            f"{row.priority}: p50 {wait_words(row.first_response_p50_seconds)}, "
            f"p90 {wait_words(row.first_response_p90_seconds)}"
        )
        parts.append(
            f'<g class="waits" data-priority="{_text(row.priority)}">'
            f'<text x="{LABEL_W}" y="{y + 12}" text-anchor="end" class="label">'
            f"{_text(row.priority)}</text>"
        )
        for name, value in (
            ("p50", row.first_response_p50_seconds),
            ("p90", row.first_response_p90_seconds),
        ):
            width = BAR_W * float(value or 0) / longest
            parts.append(
                f'<rect class="{name}" x="{BAR_X}" y="{y}" width="{_num(width)}" '
                f'height="{BAR_H - 4}" data-seconds="{value if value is not None else ""}"/>'
                f'<text x="{BAR_X + BAR_W + 8}" y="{y + 11}" class="value">'
                f"{name} {_text(wait_words(value))}</text>"
            )
            y += BAR_H
        parts.append("</g>")
        y += ROW_H - BAR_H
    title = f"Time to first response, p50 and p90, policy {policy}, {month}"
    return _frame("".join(parts), y + 4, ids, title, "; ".join(words) + ".")


def policy_charts(report: Report) -> list[PolicyCharts]:
    """The charts of every policy in the report, in its row order."""
    by_policy: dict[str, list[Row]] = {}
    for row in report.rows:
        by_policy.setdefault(row.policy, []).append(row)
    return [
        PolicyCharts(
            policy=policy,
            met=met_chart(policy, rows, report.month, f"met-{index}"),
            first_response=first_response_chart(policy, rows, report.month, f"frt-{index}"),
        )
        for index, (policy, rows) in enumerate(by_policy.items())
    ]
