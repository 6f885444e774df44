"""The scaling-curve charts: what they draw is what the results say."""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

from bench.curves import CURVES, chart, points
from bench.kit.plot import Chart, Series, _nice_top, svg

SVG = "{http://www.w3.org/2000/svg}"


def test_a_chart_draws_one_line_per_series_and_a_labelled_point_per_figure() -> None:
    drawn = svg(
        Chart(
            title="Memory per timer <held>",
            x_title="timers held",
            y_title="bytes",
            x_labels=("10k", "100k", "1M"),
            x_values=(1e4, 1e5, 1e6),
            series=(
                Series("worker", (410.0, 402.0, 398.0)),
                Series("asyncio", (290.0, None, 288.0)),
            ),
        )
    )
    root = ElementTree.fromstring(drawn)  # well-formed, the title escaped
    assert root.find(f"{SVG}title").text == "Memory per timer <held>"  # type: ignore[union-attr]
    lines = root.findall(f"{SVG}polyline")
    # The second series has no figure at 100k: two one-point stretches, not a line across.
    assert [len(line.get("points", "").split()) for line in lines] == [3, 1, 1]
    assert len(root.findall(f"{SVG}circle")) == 5
    texts = [node.text for node in root.iter(f"{SVG}text")]
    assert {"410", "402", "398", "290", "288", "10k", "1M", "worker", "asyncio"} <= set(texts)
    # Log x axis: 10k -> 100k is as wide as 100k -> 1M.
    xs = [float(p.split(",")[0]) for p in lines[0].get("points", "").split()]
    assert math.isclose(xs[1] - xs[0], xs[2] - xs[1])
    # Equal values sit at equal heights; higher values higher up (smaller y).
    ys = [float(p.split(",")[1]) for p in lines[0].get("points", "").split()]
    assert ys[0] < ys[1] < ys[2]


def test_the_value_axis_starts_at_zero_and_ends_at_a_round_number_above_the_data() -> None:
    assert _nice_top(398) == 500 and _nice_top(0.9) == 1 and _nice_top(2.1) == 2.5
    assert _nice_top(0) == 1.0
    drawn = svg(Chart("t", "x", "y", ("a", "b"), (Series("s", (4.0, 4.1)),), x_values=None))
    assert re.search(r">0</text>", drawn) and re.search(r">5</text>", drawn)


def test_curve_points_read_each_size_in_order_and_per_event_costs_invert_rates() -> None:
    replay = next(curve for curve in CURVES if curve.name == "sla_replay")
    results = [
        {"metrics": {"events_per_s": rate}, "baselines": {"read_decode_events_per_s": 2 * rate}}
        for rate in (100_000.0, 125_000.0, 200_000.0)
    ]
    figures = points(replay, results)
    lines = figures["plots"]["cost"]["lines"]
    assert lines["sla replay (read + fold)"] == [10.0, 8.0, 5.0]
    assert lines["read + decode only"] == [5.0, 4.0, 2.5]
    assert figures["sizes"] == ["100k", "1M", "5M"]
    drawn = chart(replay, replay.plots[0], results)
    assert drawn.x_values == [1e5, 1e6, 5e6]
    # A figure a run did not report is a gap in the line, not a zero.
    timers = next(curve for curve in CURVES if curve.name == "sla_timers")
    assert points(timers, [{"metrics": {}}])["plots"]["memory"]["lines"][
        "ticketflow sla worker"
    ] == [None]


def test_a_memory_curve_reports_what_each_added_timer_costs_between_sizes() -> None:
    from bench.curves import marginal

    # 100 MB more for 900k more timers: about 116.5 bytes each; a missing figure stays None.
    assert marginal(("100000", "1000000"), (200.0, 300.0), 2**20) == [None, 116.5]
    assert marginal(("1", "2", "3"), (1.0, None, 3.0), 1.0) == [None, None, None]
    timers = next(curve for curve in CURVES if curve.name == "sla_timers")
    results = [
        {"metrics": {"rss_mb": mb}, "baselines": {"asyncio_call_at_rss_mb": mb / 2}}
        for mb in (100.0, 109.0, 199.0)
    ]
    added = points(timers, results)["plots"]["memory"]["per_added_unit"]
    assert added["ticketflow sla worker"] == [None, round(9 * 2**20 / 90_000, 1), 104.9]
