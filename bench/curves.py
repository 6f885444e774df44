"""Scaling curves: the SLA benchmarks at three (or four) sizes each, cost per unit against size.

  sla_timers          10k, 100k, 1M timers held: resident memory, breach lateness p99
  sla_replay          100k, 1M, 5M events in the store: microseconds per event replayed
  sla_core            100k, 1M, 3M events: microseconds per event folded
  sla_core-targets    resolution targets of 2 h, 1, 5 and 15 support days (300k events):
                      microseconds per event folded
  business_time       one run: microseconds per `add`, table against the day walk, 2 h to 15
                      support days

Every run's JSON goes to `bench/results/sizes/<curve>@<size>.json`; the run at a benchmark's
default size is also its `bench/results/<bench>.json` (the figure the README's table quotes).
Each curve's points go to `bench/results/<curve>-curve.json` and its charts to
`bench/results/<curve>-<chart>.svg`, each line beside its baseline measured in the same run.
A flat line is the promise: the cost of one unit does not grow with the work.

    python bench/curves.py [--only CURVE ...] [--replot]

About 45 minutes in all (the 1M-timer and 5M-event sizes are most of it). Progress goes to
stderr; the last stdout line is a JSON summary of every point.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kit.plot import Chart, Series, svg  # noqa: E402

RESULTS = ROOT / "bench" / "results"
Result = dict[str, Any]
Reading = Callable[[Result], float | None]


def per_event_us(rate: float | None) -> float | None:
    return round(1e6 / rate, 3) if rate else None


@dataclass(frozen=True)
class Line:
    name: str
    read: Reading


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    y_title: str
    lines: Sequence[Line]
    marginal_scale: float | None = None
    """For a total (memory): also report what each added unit costs between sizes, the
    figure in y units times this scale (MB -> bytes: 2**20)."""


@dataclass(frozen=True)
class Curve:
    name: str
    bench: str
    x_title: str
    sizes: Sequence[str]
    """The values passed to `flag`, in order (an empty flag: one run, points from its rows)."""
    plots: Sequence[Plot]
    flag: str = ""
    extra: Sequence[str] = ()
    default: str | None = None
    """The size whose result is also the benchmark's own `bench/results/<bench>.json`."""
    numeric: bool = True
    from_rows: Callable[[Result], list[Result]] | None = field(default=None)
    names: Sequence[str] = ()
    """The sizes as the charts name them; numeric sizes name themselves (10000 -> 10k)."""

    @property
    def labels(self) -> list[str]:
        return list(self.names) if self.names else [_short_count(size) for size in self.sizes]


def _short_count(size: str) -> str:
    count = int(size)
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if count >= scale and count % scale == 0:
            return f"{count // scale}{unit}"
    return f"{count:,}"


def _metric(*path: str) -> Reading:
    def read(result: Result) -> float | None:
        value: Any = result
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value) if value is not None else None

    return read


def _us_per(*path: str) -> Reading:
    rate = _metric(*path)
    return lambda result: per_event_us(rate(result))


def _cost(title: str, unit: str, system: Line, baseline: Line) -> tuple[Plot]:
    """The one chart of a cost curve: microseconds per `unit`, the system beside its baseline."""
    return (Plot("cost", title, f"microseconds per {unit}", (system, baseline)),)


TARGET_NAMES = ("2 h", "1 support day", "5 support days", "15 support days")
CORE_LINES = (
    Line("decode + evolve + deadlines", _us_per("metrics", "events_per_s")),
    Line("decode only", _us_per("baselines", "events_per_s")),
)

CURVES: tuple[Curve, ...] = (
    Curve(
        name="sla_timers",
        bench="sla_timers",
        x_title="timers held by one worker",
        flag="--held",
        sizes=("10000", "100000", "1000000"),
        default="1000000",
        plots=(
            Plot(
                "memory",
                "Resident memory against timers held",
                "RSS, MB",
                marginal_scale=2**20,
                lines=(
                    Line("ticketflow sla worker", _metric("metrics", "rss_mb")),
                    Line("bare asyncio call_at", _metric("baselines", "asyncio_call_at_rss_mb")),
                ),
            ),
            Plot(
                "lateness",
                "Breach lateness p99 while the timers are held",
                "milliseconds",
                (
                    Line("ticketflow sla worker", _metric("metrics", "lateness_p99_ms")),
                    Line(
                        "bare asyncio call_at",
                        _metric("baselines", "asyncio_call_at_lateness_p99_ms"),
                    ),
                ),
            ),
        ),
    ),
    Curve(
        name="sla_replay",
        bench="sla_replay",
        x_title="events in the event store (a tenth as many tickets)",
        flag="--events",
        sizes=("100000", "1000000", "5000000"),
        default="1000000",
        plots=_cost(
            "ticketflow sla replay: cost per event",
            "event",
            Line("sla replay (read + fold)", _us_per("metrics", "events_per_s")),
            Line("read + decode only", _us_per("baselines", "read_decode_events_per_s")),
        ),
    ),
    Curve(
        name="sla_core",
        bench="sla_core",
        x_title="events folded (a tenth as many tickets, all held)",
        flag="--events",
        sizes=("100000", "1000000", "3000000"),
        default="1000000",
        plots=_cost("SLA core: cost per event", "event", *CORE_LINES),
    ),
    Curve(
        name="sla_core-targets",
        bench="sla_core",
        x_title="resolution target in business time (hosted-voice standard calendar)",
        flag="--resolution-target",
        extra=("--events", "300000"),
        sizes=("2h", "1d", "5d", "15d"),
        names=TARGET_NAMES,
        numeric=False,
        plots=_cost("SLA core: cost per event as the target grows", "event", *CORE_LINES),
    ),
    Curve(
        name="business_time",
        bench="business_time",
        x_title="target in business time (hosted-voice standard calendar)",
        sizes=("2h", "1 support day", "5 support days", "15 support days"),
        names=TARGET_NAMES,
        numeric=False,
        default="",
        from_rows=lambda result: list(result["rows"]),
        plots=_cost(
            "BusinessCalendar.add: cost per call",
            "call",
            Line("compiled table", _us_per("add_per_s")),
            Line("day walk (the replaced arithmetic)", _us_per("day_walk_add_per_s")),
        ),
    ),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_bench(curve: Curve, size: str) -> Result:
    command = [sys.executable, str(ROOT / "bench" / f"{curve.bench}.py")]
    if curve.flag:
        command += [curve.flag, size, *curve.extra]
    log(f"== {curve.name} {size or ''}: {' '.join(command[1:])}")
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{curve.bench} printed no result")
    result: Result = orjson.loads(lines[-1])
    return result


def sized_path(curve: Curve, size: str) -> Path:
    return RESULTS / "sizes" / (f"{curve.name}@{size}.json" if size else f"{curve.name}.json")


def collect(curve: Curve, replot: bool) -> list[Result]:
    """The results behind the curve's points, one per size (run now, or read back)."""
    runs = curve.sizes if curve.flag else ("",)
    results: dict[str, Result] = {}
    for size in runs:
        path = sized_path(curve, size)
        if replot:
            results[size] = orjson.loads(path.read_bytes())
            continue
        result = run_bench(curve, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(result) + b"\n")
        if size == curve.default:
            (RESULTS / f"{curve.bench}.json").write_bytes(orjson.dumps(result) + b"\n")
        results[size] = result
    if curve.from_rows is not None:
        return curve.from_rows(results[""])
    return [results[size] for size in curve.sizes]


def points(curve: Curve, results: Sequence[Result]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "curve": curve.name,
        "bench": curve.bench,
        "x": curve.x_title,
        "sizes": curve.labels,
        "plots": {},
    }
    for plot in curve.plots:
        lines = {line.name: [line.read(r) for r in results] for line in plot.lines}
        entry: dict[str, Any] = {"title": plot.title, "y": plot.y_title, "lines": lines}
        if plot.marginal_scale is not None and curve.numeric:
            entry["per_added_unit"] = {
                name: marginal(curve.sizes, values, plot.marginal_scale)
                for name, values in lines.items()
            }
        figures["plots"][plot.key] = entry
    return figures


def marginal(
    sizes: Sequence[str], values: Sequence[float | None], scale: float
) -> list[float | None]:
    """(value[i] - value[i-1]) / (size[i] - size[i-1]) x scale; None for the first size."""
    out: list[float | None] = [None]
    for index in range(1, len(values)):
        low, high = values[index - 1], values[index]
        if low is None or high is None:
            out.append(None)
            continue
        added = float(sizes[index]) - float(sizes[index - 1])
        out.append(round((high - low) * scale / added, 1))
    return out


def chart(curve: Curve, plot: Plot, results: Sequence[Result]) -> Chart:
    x_values = [float(size) for size in curve.sizes] if curve.numeric else None
    return Chart(
        title=plot.title,
        x_title=curve.x_title,
        y_title=plot.y_title,
        x_labels=curve.labels,
        x_values=x_values,
        series=[Series(line.name, [line.read(r) for r in results]) for line in plot.lines],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[curve.name for curve in CURVES],
        help="run only these curves",
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="run nothing: redraw the charts from the results saved in bench/results/sizes",
    )
    parser.add_argument(
        "--out", type=Path, help="also write the summary JSON here (make bench: curves.json)"
    )
    args = parser.parse_args(argv)
    summary = []
    for curve in CURVES:
        if args.only and curve.name not in args.only:
            continue
        results = collect(curve, args.replot)
        figures = points(curve, results)
        (RESULTS / f"{curve.name}-curve.json").write_bytes(
            orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n"
        )
        for plot in curve.plots:
            path = RESULTS / f"{curve.name}-{plot.key}.svg"
            path.write_text(svg(chart(curve, plot, results)))
            log(f"   wrote {path.relative_to(ROOT)}")
        summary.append(figures)
    text = orjson.dumps({"bench": "curves", "curves": summary})
    if args.out is not None:
        args.out.write_bytes(text + b"\n")
    print(text.decode())


if __name__ == "__main__":
    main()
