"""The Compliance page's SVG charts: one bar per priority and metric as long as its met %,
no bar where nothing was decided, the first-response percentiles on one scale, and every
figure said in words in the picture's description."""

from __future__ import annotations

import re
from decimal import Decimal

from services.console.domain.compliance import Report, Row
from services.console.domain.compliance_chart import (
    BAR_W,
    first_response_chart,
    met_chart,
    met_words,
    policy_charts,
)


def row(
    priority: str,
    metric: str,
    met: int,
    breached: int,
    running: int = 0,
    p50: str | None = None,
    p90: str | None = None,
    policy: str = "voximplant",
) -> Row:
    decided = met + breached
    percent = None if decided == 0 else (Decimal(100 * met) / decided).quantize(Decimal("0.1"))
    return Row(
        policy=policy,
        priority=priority,
        metric=metric,
        tickets=decided + running,
        met=met,
        breached=breached,
        running=running,
        met_percent=percent,
        first_response_p50_seconds=None if p50 is None else Decimal(p50),
        first_response_p90_seconds=None if p90 is None else Decimal(p90),
    )


def widths(svg: str, css: str) -> list[float]:
    return [float(w) for w in re.findall(rf'<rect class="{css}" [^>]*width="([^"]+)"', svg)]


def test_each_bar_is_as_long_as_its_met_percent_and_undecided_rows_have_none() -> None:
    rows = [
        row("sev1", "first_response", 1, 2, p50="600", p90="7200"),
        row("sev1", "resolution", 3, 1),
        row("sev2", "resolution", 0, 0, running=2),
    ]

    svg = met_chart("voximplant", rows, "2026-11", "met-0")

    assert widths(svg, "met") == [round(BAR_W * 0.333, 2), BAR_W * 0.75]
    assert len(widths(svg, "track")) == 3
    assert 'role="img"' in svg and 'aria-labelledby="met-0-title met-0-desc"' in svg
    desc = svg.split('<desc id="met-0-desc">')[1].split("</desc>")[0]
    assert "sev1 · first response: 33.3 % met (1 of 3 decided)" in desc
    assert "sev2 · resolution: nothing decided yet (2 running)" in desc


def test_the_first_response_chart_scales_to_the_longest_p90() -> None:
    rows = [
        row("sev1", "first_response", 2, 0, p50="600", p90="1200"),
        row("sev2", "first_response", 2, 0, p50="300", p90="2400"),
        row("sev2", "resolution", 2, 0),
    ]

    svg = first_response_chart("voximplant", rows, "2026-11", "frt-0")

    assert svg is not None
    assert widths(svg, "p90") == [BAR_W / 2, BAR_W]
    assert widths(svg, "p50") == [BAR_W / 4, BAR_W / 8]
    assert "sev1: p50 10 min, p90 20 min; sev2: p50 5 min, p90 40 min." in svg
    unanswered = [row("sev1", "first_response", 0, 3)]
    assert first_response_chart("voximplant", unanswered, "2026-11", "x") is None


def test_one_pair_of_charts_per_policy_with_names_escaped() -> None:
    report = Report(
        "2026-11",
        (
            row("p1", "first_response", 1, 0, p50="60", p90="60", policy="a<b>"),
            row("sev1", "resolution", 1, 1, policy="voximplant"),
        ),
        (),
    )

    charts = policy_charts(report)

    assert [c.policy for c in charts] == ["a<b>", "voximplant"]
    assert "policy a&lt;b&gt;, 2026-11" in charts[0].met and "<b>" not in charts[0].met
    assert charts[0].first_response is not None and charts[1].first_response is None
    assert met_words(report.rows[1]) == "50.0 % met (1 of 2 decided)"
