"""The ticket page's timeline chart: the SVG parsed back, shapes at hand-derived x positions
(the plot is 912 px wide from x = 24), the accessibility parts, contrast, determinism."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from services.console.domain import timeline
from services.console.domain.timeline import timeline_facts, timeline_svg
from shared.policy import load_policies
from shared.sla.view_model import SlaView

POLICIES = load_policies()
NS = {"svg": "http://www.w3.org/2000/svg"}
TICKET = "00000000-0000-0000-0000-000000000019"


def sla_view(policy: str, opened: str, as_of: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticket_id": TICKET,
        "account": "acme",
        "policy": policy,
        "as_of": as_of,
        "version": 4,
        "waiting_for_sequences": [],
        "accepted": True,
        "opened_at": opened,
        "metrics": metrics,
    }


# VoIPster, normal priority (2 h in NOC hours, 09:00-22:00 New York). Opened Fri 13 Feb 2026
# at 09:00 EST (14:00Z); the customer held it 14:30Z-16:00Z, so it was due 17:30Z, breached
# then, paged 17:31Z and acked 17:45Z. As of Sat 14:00Z: the axis is exactly 24 h, 38 px/h.
VOIPSTER_VIEW = sla_view(
    "voipster@1",
    "2026-02-13T14:00:00Z",
    "2026-02-14T14:00:00Z",
    {
        "first_response": {
            "status": "breached",
            "phase": "running",
            "due_at": "2026-02-13T17:30:00Z",
            "warn_at": "2026-02-13T17:06:00Z",
            "breached_at": "2026-02-13T17:30:00Z",
            "target": {"seconds": 7200, "calendar": "noc"},
            "runs": [
                {"from": "2026-02-13T14:00:00Z", "to": "2026-02-13T14:30:00Z"},
                {"from": "2026-02-13T16:00:00Z", "to": None},
            ],
            "pauses": [{"from": "2026-02-13T14:30:00Z", "to": "2026-02-13T16:00:00Z"}],
        }
    },
)
VOIPSTER_EVENTS = [
    (datetime(2026, 2, 13, 17, 45, tzinfo=UTC), "ack", "Acked by Ann"),
    (datetime(2026, 2, 13, 17, 31, tzinfo=UTC), "page", "Paged level 1"),
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def band(root: ET.Element, metric: str) -> ET.Element:
    found = root.find(f"svg:g[@class='metric'][@data-metric='{metric}']", NS)
    assert found is not None
    return found


def rects(group: ET.Element, css: str) -> list[tuple[float, float]]:
    return [
        (float(r.attrib["x"]), float(r.attrib["width"]))
        for r in group.findall(f"svg:rect[@class='{css}']", NS)
    ]


def marker_x(group: ET.Element) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for marker in group.findall("svg:g[@class='marker']", NS):
        line = marker.find("svg:line", NS)
        assert line is not None
        found.setdefault(marker.attrib["data-kind"], []).append(float(line.attrib["x1"]))
    return found


def marker_texts(group: ET.Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for marker in group.findall("svg:g[@class='marker']", NS):
        text = marker.find("svg:text", NS)
        assert text is not None and text.text
        found.setdefault(marker.attrib["data-kind"], []).append(text.text)
    return found


def test_voipster_spans_and_markers_sit_where_the_clock_says() -> None:
    svg = timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], VOIPSTER_EVENTS, "America/New_York")
    first = band(parse(svg), "first_response")
    # Closed: NOC closes 22:00 EST = Sat 03:00Z (13 h in) until the axis ends (Sat 14:00Z).
    assert rects(first, "closed") == [(24 + 13 * 38, 11 * 38)]
    # Paused 14:30Z-16:00Z: 0.5 h in, 1.5 h wide.
    assert rects(first, "pause") == [(24 + 19, 57)]
    # Ran 14:00Z-14:30Z, then from 16:00Z until as_of.
    assert rects(first, "run") == [(24, 19), (24 + 2 * 38, 22 * 38)]
    assert marker_x(first) == {
        "warning": [24 + 3.1 * 38],
        "due": [24 + 3.5 * 38],
        "breach": [24 + 3.5 * 38],
        "page": [round(24 + (3.5 + 1 / 60) * 38, 2)],
        "ack": [24 + 3.75 * 38],
        "as_of": [24 + 24 * 38],
    }
    assert marker_texts(first) == {
        "warning": ["Warning Fri 12:06"],
        "due": ["Due Fri 12:30"],
        "breach": ["Breached Fri 12:30"],
        "page": ["Paged level 1 Fri 12:31"],
        "ack": ["Acked by Ann Fri 12:45"],
        "as_of": ["As of Sat 09:00"],
    }


def test_pause_is_drawn_differently_from_runs() -> None:
    svg = timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], [], "America/New_York")
    first = band(parse(svg), "first_response")
    (run, *_) = first.findall("svg:rect[@class='run']", NS)
    (pause,) = first.findall("svg:rect[@class='pause']", NS)
    assert pause.attrib["fill"].startswith("url(#")
    assert "stroke-dasharray" in pause.attrib
    assert run.attrib["fill"] != pause.attrib["fill"] and "stroke-dasharray" not in run.attrib
    assert pause.attrib["data-from"] == "2026-02-13T14:30:00Z"
    assert pause.attrib["data-to"] == "2026-02-13T16:00:00Z"


def test_ticks_read_in_the_viewers_zone_and_the_calendars() -> None:
    svg = timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], [], "America/Los_Angeles")
    first = band(parse(svg), "first_response")
    ticks = first.findall("svg:g[@class='tick']", NS)
    assert ticks
    # 24 h axis: 180-minute ticks on Los Angeles wall time, first at Fri 06:00 PST = 14:00Z.
    assert ticks[0].attrib["data-at"] == "2026-02-13T14:00:00Z"
    labels = [[t.text for t in tick.findall("svg:text", NS)] for tick in ticks]
    assert labels[0] == ["Fri 06:00", "Fri 09:00"]  # PST, then the NOC's EST
    assert len(ticks) == 9  # Fri 06:00 to Sat 06:00 PST, both ends
    # A New York viewer reads the same clock as the NOC: no second row.
    same = band(
        parse(timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], [], "America/New_York")),
        "first_response",
    )
    assert not same.findall("svg:g[@class='tick']/svg:text[@class='calendar-time']", NS)


def test_hosted_voice_holiday_closure_is_one_shaded_span_named() -> None:
    # P2 (8 h, standard hours 08:00-18:00 Los Angeles) opened Fri 13 Feb 17:30 PST (01:30Z
    # Sat): 30 min Friday, Presidents Day Monday, 7 h 30 min Tuesday: due Tue 15:30 PST
    # (23:30Z), the end of a 94 h axis. Closed Fri 18:00 PST (0.5 h in) to Tue 08:00 PST
    # (86.5 h in).
    view = sla_view(
        "hosted-voice@1",
        "2026-02-14T01:30:00Z",
        "2026-02-17T20:00:00Z",
        {
            "first_response": {
                "status": "running",
                "due_at": "2026-02-17T23:30:00Z",
                "breached_at": None,
                "warn_at": "2026-02-17T21:54:00Z",
                "target": {"seconds": 28800, "calendar": "standard"},
                "runs": [{"from": "2026-02-14T01:30:00Z", "to": None}],
                "pauses": [],
            },
            "rfo": {"status": "none", "due_at": None, "breached_at": None},
        },
    )
    root = parse(timeline_svg(view, POLICIES["hosted-voice"], [], "America/Los_Angeles"))
    first = band(root, "first_response")
    scale = 912 / 94
    assert rects(first, "closed") == [
        (round(24 + 0.5 * scale, 2), round(24 + 86.5 * scale, 2) - round(24 + 0.5 * scale, 2))
    ]
    assert rects(first, "closed")[0][0] == 28.85
    (closed,) = first.findall("svg:rect[@class='closed']", NS)
    title = closed.find("svg:title", NS)
    assert title is not None and title.text is not None and "Presidents Day" in title.text
    assert marker_x(first)["due"] == [24 + 912]
    # A metric without a target is listed, unshaded.
    rfo = band(root, "rfo")
    assert rects(rfo, "closed") == [] and rects(rfo, "run") == []
    facts = {
        item.metric: item
        for item in timeline_facts(view, POLICIES["hosted-voice"], [], "America/Los_Angeles")
    }
    assert facts["rfo"].heading == "Reason for outage (RFO): none, no target"
    assert (
        "Closed (outside business hours, Presidents Day) Fri 13 Feb 18:00 PST "
        "to Tue 17 Feb 08:00 PST"
    ) in facts["first_response"].facts


# Kolmisoft, gold (3 h in working hours 09:00-18:00 at a fixed GMT+2). Opened Fri 4 Dec 2026
# 17:00 GMT+2 (15:00Z): 1 h Friday, 2 h Monday: due Mon 11:00 GMT+2 (09:00Z); 66 h axis.
KOLMISOFT_VIEW = sla_view(
    "kolmisoft-mor@1",
    "2026-12-04T15:00:00Z",
    "2026-12-07T08:00:00Z",
    {
        "first_response": {
            "status": "running",
            "due_at": "2026-12-07T09:00:00Z",
            "breached_at": None,
            "warn_at": "2026-12-07T08:24:00Z",
            "target": {"seconds": 10800, "calendar": "working"},
            "runs": [{"from": "2026-12-04T15:00:00Z", "to": None}],
            "pauses": [],
        }
    },
)


def test_kolmisoft_fixed_offset_weekend() -> None:
    svg = timeline_svg(KOLMISOFT_VIEW, POLICIES["kolmisoft-mor"], [], "GMT+2")
    first = band(parse(svg), "first_response")
    # Closed Fri 18:00 GMT+2 (1 h in) to Mon 09:00 GMT+2 (64 h in).
    x0 = round(24 + 1 / 66 * 912, 2)
    x1 = round(24 + 64 / 66 * 912, 2)
    assert (x0, x1) == (37.82, 908.36)
    ((x, width),) = rects(first, "closed")
    assert x == x0 and width == pytest.approx(x1 - x0, abs=0.01)
    assert marker_x(first) == {
        "as_of": [round(24 + 65 / 66 * 912, 2)],
        "warning": [round(24 + 65.4 / 66 * 912, 2)],
        "due": [24 + 912],
    }
    # 66 h: 12-hour ticks at GMT+2 midnights and noons.
    ticks = [tick.attrib["data-at"] for tick in first.findall("svg:g[@class='tick']", NS)]
    assert ticks[0] == "2026-12-04T22:00:00Z"
    facts = timeline_facts(KOLMISOFT_VIEW, POLICIES["kolmisoft-mor"], [], "GMT+2")
    assert facts[0].heading == (
        "First response: running, target 3 h of business time, calendar working (GMT+2)"
    )
    assert facts[0].facts[:2] == (
        "Clock ran Fri 4 Dec 17:00 GMT+2 to Mon 7 Dec 10:00 GMT+2",
        "Closed (outside business hours) Fri 4 Dec 18:00 GMT+2 to Mon 7 Dec 09:00 GMT+2",
    )


def test_accessibility_elements() -> None:
    svg = timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], VOIPSTER_EVENTS, "America/New_York")
    root = parse(svg)
    assert root.attrib["role"] == "img"
    title_id, desc_id = root.attrib["aria-labelledby"].split()
    title, desc = root[0], root[1]
    assert title.tag == "{http://www.w3.org/2000/svg}title" and title.attrib["id"] == title_id
    assert desc.tag == "{http://www.w3.org/2000/svg}desc" and desc.attrib["id"] == desc_id
    assert title.text == f"SLA timeline of ticket {TICKET} (voipster@1)"
    assert desc.text is not None
    for fact in ("Paused on the customer's side", "Breached", "Paged level 1", "Acked by Ann"):
        assert fact in desc.text
    # Every marker has a visible text label and a title; the legend names the span styles.
    for marker in root.iter("{http://www.w3.org/2000/svg}g"):
        if marker.attrib.get("class") == "marker":
            assert marker.find("svg:text", NS) is not None
            assert marker.find("svg:title", NS) is not None
    legend = root.find("svg:g[@class='legend']", NS)
    assert legend is not None
    words = " ".join(t.text or "" for t in legend.iter("{http://www.w3.org/2000/svg}text"))
    assert "Paused (customer's side)" in words and "Closed (outside business hours)" in words
    # The text alternative lists the same facts.
    (facts,) = timeline_facts(
        VOIPSTER_VIEW, POLICIES["voipster"], VOIPSTER_EVENTS, "America/New_York"
    )
    assert "; ".join(facts.facts) in desc.text


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_meets_wcag_aa() -> None:
    svg = timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], VOIPSTER_EVENTS, "America/Los_Angeles")
    root = parse(svg)
    text_colours = {t.attrib["fill"] for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert text_colours
    for colour in text_colours | set(timeline.MARKER_COLOURS.values()):
        assert contrast(colour, timeline.BACKGROUND) >= 4.5, colour
    for shape in (timeline.RUN, timeline.PAUSE):
        assert contrast(shape, timeline.BACKGROUND) >= 3
        assert contrast(shape, timeline.CLOSED) >= 3


def test_deterministic_and_self_contained() -> None:
    policy = POLICIES["voipster"]
    one = timeline_svg(VOIPSTER_VIEW, policy, VOIPSTER_EVENTS, "America/New_York")
    again = timeline_svg(VOIPSTER_VIEW, policy, list(reversed(VOIPSTER_EVENTS)), "America/New_York")
    model = timeline_svg(
        SlaView.model_validate(VOIPSTER_VIEW), policy, VOIPSTER_EVENTS, "America/New_York"
    )
    assert one == again == model
    assert "<script" not in one and "<style" not in one and "@import" not in one
    assert re.findall(r"https?://[^\"']+", one) == ["http://www.w3.org/2000/svg"]
    assert "href" not in one


def test_labels_are_escaped() -> None:
    nasty = '<script>alert(1)</script> & "co" \x07'
    events = [(datetime(2026, 2, 13, 17, 31, tzinfo=UTC), "notification", nasty)]
    svg = timeline_svg(VOIPSTER_VIEW, POLICIES["voipster"], events, "America/New_York")
    assert "<script>" not in svg
    texts = marker_texts(band(parse(svg), "first_response"))
    assert texts["notification"] == ['<script>alert(1)</script> & "co" \ufffd Fri 12:31']


def test_naive_event_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        timeline_svg(
            VOIPSTER_VIEW, POLICIES["voipster"], [(datetime(2026, 2, 13), "ack", "x")], "UTC"
        )


def test_ids_follow_the_element_id() -> None:
    svg = timeline_svg(
        VOIPSTER_VIEW, POLICIES["voipster"], [], "UTC", element_id=f"t-{uuid.UUID(TICKET)}"
    )
    root = parse(svg)
    assert root.attrib["id"] == f"t-{TICKET}"
    assert root.attrib["aria-labelledby"] == f"t-{TICKET}-title t-{TICKET}-desc"
    assert f"url(#t-{TICKET}-paused)" in svg


def test_an_open_pause_runs_to_as_of_and_an_empty_view_still_describes_itself() -> None:
    # Paused since 15:00Z, as of 16:00Z: the axis is 2 h (456 px per hour), no due time.
    view = sla_view(
        "voipster@1",
        "2026-02-13T14:00:00Z",
        "2026-02-13T16:00:00Z",
        {
            "first_response": {
                "status": "paused",
                "due_at": None,
                "breached_at": None,
                "target": {"seconds": 7200, "calendar": "noc"},
                "runs": [{"from": "2026-02-13T14:00:00Z", "to": "2026-02-13T15:00:00Z"}],
                "pauses": [{"from": "2026-02-13T15:00:00Z", "to": None}],
            }
        },
    )
    first = band(parse(timeline_svg(view, POLICIES["voipster"], [], "UTC")), "first_response")
    assert rects(first, "pause") == [(24 + 456, 456)]
    assert rects(first, "closed") == []
    empty = sla_view("voipster@1", "2026-02-13T14:00:00Z", "2026-02-13T14:00:00Z", {})
    root = parse(timeline_svg({**empty, "accepted": None}, POLICIES["voipster"], [], "UTC"))
    assert root[1].text == "No SLA clocks."
