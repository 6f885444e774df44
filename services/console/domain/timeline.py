"""A ticket's SLA clocks as a picture: one timeline per metric, drawn as a self-contained SVG.

Each metric gets a horizontal time axis from the ticket's opening to the latest of the view's
`as_of`, the due time and the last marker. On it: the clock's running spans (solid), its paused
spans on the customer's side (hatched, dashed outline), the closed time of the metric's policy
calendar (nights, weekends, holidays) shaded behind, and labelled markers for the warning, due,
breach and met instants and for the events the caller gives (escalation pages and acks,
notifications sent, severity changes). `timeline_facts` is the same content as text, for the
page to show beside the picture; the SVG's `<desc>` carries it too.

Pure: the picture depends only on the arguments (no clock reads, no fonts or styles fetched),
so the same input gives the same string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from services.console.domain.svg import num as _num
from services.console.domain.svg import text as _text
from services.console.domain.why_due import (
    as_zone,
    clock_time,
    day_name,
    dual_label,
    skipped_holidays,
    spell_duration,
)
from shared.calendar import BusinessCalendar
from shared.policy import METRICS, Policy
from shared.sla.view_model import MetricView, SlaView

EventMarker = tuple[datetime, str, str]
"""(instant, kind, label): kind is `page`, `ack`, `notification`, `severity` or another word."""

WIDTH = 960
LEFT = 24
PLOT_WIDTH = 912  # 38 px per hour over a 24-hour axis
LANE_TOP = 34
LANE_HEIGHT = 28
BAR_TOP = 40
BAR_HEIGHT = 16
AXIS_Y = LANE_TOP + LANE_HEIGHT
ROW_HEIGHT = 14
CHAR_WIDTH = 6.2  # an estimate of the 11 px sans-serif average advance, for label placement
LEGEND_HEIGHT = 44
MAX_TICKS = 8
TICK_STEPS_MINUTES = (15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)

# Colours, checked against WCAG AA in the tests: text 4.5:1 on white, shapes 3:1 on white and
# on the closed-time shading.
BACKGROUND = "#ffffff"
HALO = f'stroke="{BACKGROUND}" stroke-width="3" paint-order="stroke"'
TEXT = "#1a1a1a"
MUTED = "#4a4a4a"
RUN = "#1f4e79"
PAUSE = "#a04a00"
CLOSED = "#d6d6d6"
MARKER_COLOURS = {
    "warning": "#8a5300",
    "due": "#1a1a1a",
    "breach": "#b00020",
    "met": "#1e6b24",
    "as_of": "#4a4a4a",
    "page": "#5b2a86",
    "ack": "#1e6b24",
    "notification": "#0b5563",
    "severity": "#8a1c5b",
}
EVENT_COLOUR = "#5b2a86"
MARKER_ORDER = {"warning": 0, "due": 1, "breach": 2, "met": 3, "as_of": 5}
"""How markers at one instant are listed: the clock's own first, the view's `as_of` last."""
METRIC_TITLES = {
    "first_response": "First response",
    "resolution": "Resolution",
    "rfo": "Reason for outage (RFO)",
    "closure_confirmation": "Closure confirmation",
    "customer_response": "Customer response",
}
# Characters XML 1.0 cannot carry, even escaped.


@dataclass(frozen=True, slots=True)
class Scale:
    """Instants to x positions: `start` at `left`, `end` at `left + width`."""

    start: datetime
    end: datetime
    left: float = LEFT
    width: float = PLOT_WIDTH

    def x(self, instant: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        share = (instant - self.start).total_seconds() / span
        return round(self.left + min(max(share, 0.0), 1.0) * self.width, 2)


@dataclass(frozen=True, slots=True)
class Marker:
    at: datetime
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class ClosedSpan:
    start: datetime
    end: datetime
    holidays: tuple[tuple[date, str], ...]


@dataclass(frozen=True, slots=True)
class MetricChart:
    """What one metric's timeline shows, before any drawing."""

    metric: str
    title: str
    status: str
    scale: Scale
    calendar: BusinessCalendar | None
    target: timedelta | None
    runs: tuple[tuple[datetime, datetime], ...]
    pauses: tuple[tuple[datetime, datetime], ...]
    closed: tuple[ClosedSpan, ...]
    markers: tuple[Marker, ...]


@dataclass(frozen=True, slots=True)
class MetricFacts:
    """The text alternative of one metric's timeline: a heading and its facts, in order."""

    metric: str
    heading: str
    facts: tuple[str, ...]


# --- what to draw ----------------------------------------------------------------------------


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: the timeline needs aware instants")
    return instant.astimezone(UTC)


def _as_view(view: SlaView | Mapping[str, Any]) -> SlaView:
    return view if isinstance(view, SlaView) else SlaView.model_validate(view)


def _metric_order(metric: str) -> tuple[int, str]:
    known = list(METRICS)
    return (known.index(metric), metric) if metric in known else (len(known), metric)


def _spans(spans: Sequence[Any] | None, as_of: datetime) -> tuple[tuple[datetime, datetime], ...]:
    result = []
    for span in spans or ():
        start = _aware(span.start)
        end = _aware(span.end) if span.end is not None else max(start, as_of)
        result.append((start, end))
    return tuple(result)


def closed_spans(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[ClosedSpan]:
    """The calendar's closed time within [start, end), with the holidays in each span."""
    if calendar.always or end <= start:
        return []
    spans: list[ClosedSpan] = []
    cursor = start
    first = start.astimezone(calendar.zone).toordinal() - 1
    last = end.astimezone(calendar.zone).toordinal() + 1
    for day in range(first, last + 1):
        for opens, closes in calendar.intervals(day):
            if opens > cursor and cursor < end:
                low, high = cursor, min(opens, end)
                spans.append(ClosedSpan(low, high, skipped_holidays(calendar, low, high)))
            cursor = max(cursor, closes)
    if cursor < end:
        spans.append(ClosedSpan(cursor, end, skipped_holidays(calendar, cursor, end)))
    return spans


def _clock_markers(metric: MetricView) -> list[Marker]:
    markers = []
    for at, kind, label in (
        (metric.warn_at, "warning", "Warning"),
        (metric.due_at, "due", "Due"),
        (metric.breached_at, "breach", "Breached"),
        (metric.met_at, "met", "Met"),
    ):
        if at is not None:
            markers.append(Marker(_aware(at), kind, label))
    return markers


def _chart(
    name: str, metric: MetricView, view: SlaView, policy: Policy, events: Sequence[Marker]
) -> MetricChart:
    as_of = _aware(view.as_of)
    runs = _spans(metric.runs, as_of)
    pauses = _spans(metric.pauses, as_of)
    clock = _clock_markers(metric)
    markers = sorted(
        [*clock, *events, Marker(as_of, "as_of", "As of")],
        key=lambda marker: (marker.at, MARKER_ORDER.get(marker.kind, 4), marker.kind, marker.label),
    )
    opened = _aware(view.opened_at) if view.opened_at is not None else None
    starts = [start for start, _ in runs] + [marker.at for marker in markers]
    start = opened if opened is not None else min(starts)
    end = max([as_of, *(marker.at for marker in markers), *(e for _, e in (*runs, *pauses))])
    if end <= start:
        end = start + timedelta(hours=1)
    calendar = policy.calendar(metric.target.calendar) if metric.target is not None else None
    target = timedelta(seconds=metric.target.seconds) if metric.target is not None else None
    closed = closed_spans(calendar, start, end) if calendar is not None else []
    return MetricChart(
        metric=name,
        title=METRIC_TITLES.get(name, name.replace("_", " ").capitalize()),
        status=metric.status,
        scale=Scale(start, end),
        calendar=calendar,
        target=target,
        runs=runs,
        pauses=pauses,
        closed=tuple(closed),
        markers=tuple(markers),
    )


def _charts(
    view: SlaView | Mapping[str, Any], policy: Policy, events: Sequence[EventMarker]
) -> tuple[SlaView, list[MetricChart]]:
    model = _as_view(view)
    given = [Marker(_aware(at), kind, label) for at, kind, label in events]
    charts = [
        _chart(name, model.metrics[name], model, policy, given)
        for name in sorted(model.metrics, key=_metric_order)
    ]
    return model, charts


# --- the text alternative --------------------------------------------------------------------


def _heading(chart: MetricChart) -> str:
    if chart.target is None or chart.calendar is None:
        return f"{chart.title}: {chart.status}, no target"
    where = (
        "around the clock"
        if chart.calendar.always
        else f"of business time, calendar {chart.calendar.name} ({chart.calendar.zone})"
    )
    return f"{chart.title}: {chart.status}, target {spell_duration(chart.target)} {where}"


def _chart_facts(chart: MetricChart, viewer: tzinfo) -> MetricFacts:
    calendar_zone = chart.calendar.zone if chart.calendar and not chart.calendar.always else None

    def label(instant: datetime) -> str:
        return dual_label(instant, viewer, calendar_zone, with_date=True)

    dated: list[tuple[datetime, int, str]] = []
    for start, end in chart.runs:
        dated.append((start, 0, f"Clock ran {label(start)} to {label(end)}"))
    for start, end in chart.pauses:
        dated.append((start, 1, f"Paused on the customer's side {label(start)} to {label(end)}"))
    for span in chart.closed:
        holidays = "".join(f", {name}" for _, name in span.holidays)
        text = f"Closed (outside business hours{holidays}) {label(span.start)} to {label(span.end)}"
        dated.append((span.start, 2, text))
    for marker in chart.markers:
        dated.append((marker.at, 3, f"{marker.label} {label(marker.at)}"))
    dated.sort(key=lambda item: (item[0], item[1], item[2]))
    return MetricFacts(chart.metric, _heading(chart), tuple(text for _, _, text in dated))


def timeline_facts(
    view: SlaView | Mapping[str, Any],
    policy: Policy,
    events: Sequence[EventMarker],
    tz: str | tzinfo,
) -> tuple[MetricFacts, ...]:
    """The timelines' content as text, per metric: what the page lists beside the picture.
    Times are in the viewer's zone, with the metric calendar's after them where it differs."""
    viewer = as_zone(tz)
    _, charts = _charts(view, policy, events)
    return tuple(_chart_facts(chart, viewer) for chart in charts)


# --- drawing ---------------------------------------------------------------------------------


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _short(instant: datetime, zone: tzinfo, with_date: bool) -> str:
    local = instant.astimezone(zone)
    return f"{day_name(local.date(), with_date=with_date, short=True)} {clock_time(local)}"


def _tick_step(scale: Scale) -> int:
    minutes = (scale.end - scale.start).total_seconds() / 60
    for step in TICK_STEPS_MINUTES:
        if minutes / step <= MAX_TICKS:
            return step
    weeks = int(minutes // (10080 * MAX_TICKS)) + 1
    return 10080 * weeks


def ticks(scale: Scale, zone: tzinfo) -> list[datetime]:
    """Round local times of `zone` on the axis: every step minutes, or every n local days."""
    step = _tick_step(scale)
    first = scale.start.astimezone(zone).date()
    last = scale.end.astimezone(zone).date()
    found: set[datetime] = set()
    day = first
    while day <= last:
        if step < 1440:
            times = [time(minute // 60, minute % 60) for minute in range(0, 1440, step)]
        else:
            times = [time(0)] if (day.toordinal() - 1) % (step // 1440) == 0 else []
        for moment in times:
            instant = datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
            if scale.start <= instant <= scale.end:
                found.add(instant)
        day += timedelta(days=1)
    return sorted(found)


def _place(items: Sequence[tuple[float, str]]) -> list[tuple[int, str]]:
    """A row and an anchor per label, so that labels in one row do not overlap."""
    row_ends: list[float] = []
    placed = []
    for x, label in items:
        width = len(label) * CHAR_WIDTH
        anchor, low, high = "start", x, x + width
        if high > WIDTH - 4:
            anchor, low, high = "end", x - width, x
        for row, row_end in enumerate(row_ends):
            if low >= row_end + 6:
                row_ends[row] = high
                break
        else:
            row = len(row_ends)
            row_ends.append(high)
        placed.append((row, anchor))
    return placed


def _rect(css: str, x0: float, x1: float, y: float, height: float, attrs: str) -> str:
    return (
        f'<rect class="{css}" x="{_num(x0)}" y="{_num(y)}" width="{_num(max(x1 - x0, 0.5))}" '
        f'height="{_num(height)}" {attrs}'
    )


def _span_element(
    css: str, start: datetime, end: datetime, scale: Scale, y: float, height: float, style: str
) -> str:
    x0, x1 = scale.x(start), scale.x(end)
    return (
        _rect(css, x0, x1, y, height, style) + f' data-from="{_iso(start)}" data-to="{_iso(end)}">'
    )


def _marker_shape(kind: str, x: float, colour: str) -> str:
    top = LANE_TOP - 6
    if kind == "warning":
        points = f"{_num(x - 5)},{top - 8} {_num(x + 5)},{top - 8} {_num(x)},{top}"
        return f'<polygon points="{points}" fill="{colour}"/>'
    if kind in ("due", "breach"):
        corners = ((x, top - 9), (x + 5, top - 4), (x, top + 1), (x - 5, top - 4))
        points = " ".join(f"{_num(cx)},{_num(cy)}" for cx, cy in corners)
        fill = colour if kind == "breach" else BACKGROUND
        return f'<polygon points="{points}" fill="{fill}" stroke="{colour}" stroke-width="2"/>'
    return f'<circle cx="{_num(x)}" cy="{top - 4}" r="4" fill="{colour}"/>'


def _draw_chart(chart: MetricChart, viewer: tzinfo, top: int, ids: str) -> tuple[str, int, bool]:
    """One metric's band at `top`; returns the SVG, the band's height and whether its ticks
    have a second row in the calendar's zone."""
    scale = chart.scale
    with_date = (scale.end - scale.start) >= timedelta(days=6)
    calendar_zone = chart.calendar.zone if chart.calendar and not chart.calendar.always else None
    parts = [
        f'<g class="metric" data-metric="{_text(chart.metric)}" transform="translate(0,{top})">',
        f'<text class="heading" x="{LEFT}" y="12" fill="{TEXT}" font-weight="bold">'
        f"{_text(_heading(chart))}</text>",
        f'<rect class="lane" x="{LEFT}" y="{LANE_TOP}" width="{PLOT_WIDTH}" '
        f'height="{LANE_HEIGHT}" fill="{BACKGROUND}" stroke="{MUTED}" stroke-width="0.5"/>',
    ]
    for span in chart.closed:
        holidays = "".join(f", {name}" for _, name in span.holidays)
        title = (
            f"Closed (outside business hours{holidays}): "
            f"{_short(span.start, viewer, True)} to {_short(span.end, viewer, True)}"
        )
        parts.append(
            _span_element(
                "closed", span.start, span.end, scale, LANE_TOP, LANE_HEIGHT, f'fill="{CLOSED}"'
            )
            + f"<title>{_text(title)}</title></rect>"
        )
    for start, end in chart.runs:
        parts.append(
            _span_element("run", start, end, scale, BAR_TOP, BAR_HEIGHT, f'fill="{RUN}"')
            + f"<title>Clock ran {_text(_short(start, viewer, True))} to "
            f"{_text(_short(end, viewer, True))}</title></rect>"
        )
    for start, end in chart.pauses:
        style = (
            f'fill="url(#{ids}-paused)" stroke="{PAUSE}" stroke-width="1.5" stroke-dasharray="4 2"'
        )
        parts.append(
            _span_element("pause", start, end, scale, BAR_TOP, BAR_HEIGHT, style)
            + f"<title>Paused on the customer's side {_text(_short(start, viewer, True))} to "
            f"{_text(_short(end, viewer, True))}</title></rect>"
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{AXIS_Y}" x2="{LEFT + PLOT_WIDTH}" y2="{AXIS_Y}" '
        f'stroke="{TEXT}" stroke-width="1"/>'
    )
    tick_labels, zone_row = _draw_ticks(scale, viewer, calendar_zone, with_date)
    label_top = AXIS_Y + (40 if zone_row else 28)
    labels = [
        (scale.x(marker.at), f"{marker.label} {_short(marker.at, viewer, with_date)}")
        for marker in chart.markers
    ]
    placement = _place(labels)
    drawn = sorted(zip(chart.markers, labels, placement, strict=True), key=lambda item: -item[2][0])
    # Lowest row first: a marker's line runs down past the rows above its label, and the
    # haloed labels drawn later stay readable over it.
    for marker, (x, label), (row, anchor) in drawn:
        colour = MARKER_COLOURS.get(marker.kind, EVENT_COLOUR)
        y = label_top + row * ROW_HEIGHT
        dash = ' stroke-dasharray="2 2"' if marker.kind == "as_of" else ""
        parts.append(
            f'<g class="marker" data-kind="{_text(marker.kind)}" data-at="{_iso(marker.at)}">'
            f"<title>{_text(label)}</title>"
            f'<line x1="{_num(x)}" y1="{LANE_TOP - 6}" x2="{_num(x)}" y2="{y - 9}" '
            f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            + _marker_shape(marker.kind, x, colour)
            + f'<text x="{_num(x)}" y="{y}" text-anchor="{anchor}" fill="{colour}" {HALO}>'
            f"{_text(label)}</text></g>"
        )
    parts.extend(tick_labels)  # after the markers: their haloed text stays readable over lines
    parts.append("</g>")
    rows = max((row for row, _ in placement), default=-1) + 1
    return "".join(parts), label_top + rows * ROW_HEIGHT + 16, zone_row


def _draw_ticks(
    scale: Scale, viewer: tzinfo, calendar_zone: tzinfo | None, with_date: bool
) -> tuple[list[str], bool]:
    day_ticks = _tick_step(scale) >= 1440
    parts = []
    zone_row = False
    for instant in ticks(scale, viewer):
        x = _num(scale.x(instant))
        local = instant.astimezone(viewer)
        text = (
            day_name(local.date(), with_date=True, short=True)
            if day_ticks
            else _short(instant, viewer, with_date)
        )
        at = scale.x(instant)
        anchor = "start" if at < LEFT + 30 else "end" if at > LEFT + PLOT_WIDTH - 30 else "middle"
        parts.append(
            f'<g class="tick" data-at="{_iso(instant)}">'
            f'<line x1="{x}" y1="{AXIS_Y}" x2="{x}" y2="{AXIS_Y + 4}" stroke="{TEXT}"/>'
            f'<text x="{x}" y="{AXIS_Y + 14}" text-anchor="{anchor}" fill="{TEXT}" {HALO}>'
            f"{_text(text)}</text>"
        )
        if calendar_zone is not None:
            there = _short(instant, calendar_zone, with_date or day_ticks)
            if there != _short(instant, viewer, with_date or day_ticks):
                zone_row = True
                parts.append(
                    f'<text class="calendar-time" x="{x}" y="{AXIS_Y + 26}" '
                    f'text-anchor="{anchor}" fill="{MUTED}" {HALO}>{_text(there)}</text>'
                )
        parts.append("</g>")
    return parts, zone_row


def _legend(viewer: tzinfo, ids: str, zone_row: bool) -> str:
    items = [
        (f'<rect x="0" y="-9" width="18" height="10" fill="{RUN}"/>', "Clock running"),
        (
            f'<rect x="0" y="-9" width="18" height="10" fill="url(#{ids}-paused)" '
            f'stroke="{PAUSE}" stroke-width="1.5" stroke-dasharray="4 2"/>',
            "Paused (customer's side)",
        ),
        (
            f'<rect x="0" y="-9" width="18" height="10" fill="{CLOSED}"/>',
            "Closed (outside business hours)",
        ),
    ]
    parts = [f'<g class="legend" transform="translate({LEFT},16)">']
    x = 0.0
    for swatch, label in items:
        parts.append(
            f'<g transform="translate({_num(x)},0)">{swatch}'
            f'<text x="24" y="0" fill="{TEXT}">{_text(label)}</text></g>'
        )
        x += 24 + len(label) * CHAR_WIDTH + 24
    note = f"Times in {viewer}" + (
        "; grey second row: the policy calendar's zone" if zone_row else ""
    )
    parts.append(f'<text x="0" y="16" fill="{MUTED}">{_text(note)}</text></g>')
    return "".join(parts)


def timeline_svg(
    view: SlaView | Mapping[str, Any],
    policy: Policy,
    events: Sequence[EventMarker],
    tz: str | tzinfo,
    *,
    element_id: str = "sla-timeline",
) -> str:
    """The ticket's timeline chart, one band per metric, as a standalone SVG document.

    `view` is the ticket's SLA view (the model or its JSON), `policy` the policy it pinned,
    `events` the markers to add ((instant, kind, label)), `tz` the viewer's zone.
    `element_id` prefixes the ids inside, for a page that shows more than one.
    """
    viewer = as_zone(tz)
    model, charts = _charts(view, policy, events)
    ids = re.sub(r"[^A-Za-z0-9_-]", "-", element_id) or "sla-timeline"
    facts = [_chart_facts(chart, viewer) for chart in charts]
    title = f"SLA timeline of ticket {model.ticket_id} ({model.policy})"
    desc = (
        " ".join(f"{item.heading}. {'; '.join(item.facts)}." for item in facts) or "No SLA clocks."
    )
    bands = []
    zone_rows = False
    top = LEGEND_HEIGHT
    for chart in charts:
        band, height, zone_row = _draw_chart(chart, viewer, top, ids)
        bands.append(band)
        zone_rows = zone_rows or zone_row
        top += height
    height = top + 8
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" id="{ids}" role="img" '
            f'aria-labelledby="{ids}-title {ids}-desc" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
            f'<title id="{ids}-title">{_text(title)}</title>',
            f'<desc id="{ids}-desc">{_text(desc)}</desc>',
            f'<defs><pattern id="{ids}-paused" width="6" height="6" '
            'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<rect width="6" height="6" fill="{BACKGROUND}"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{PAUSE}" stroke-width="3"/>'
            "</pattern></defs>",
            f'<rect class="background" width="{WIDTH}" height="{height}" fill="{BACKGROUND}"/>',
            _legend(viewer, ids, zone_rows),
            *bands,
            "</svg>",
        ]
    )
