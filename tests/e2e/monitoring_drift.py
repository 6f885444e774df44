"""The drift check of the shipped monitoring: every metric an alert, recording rule or
dashboard panel names is served by some service's live `/metrics`."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.deployment import dashboards, monitoring

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "untyped": ("",),
}
PROMETHEUS_OWN = {"up"}  # series Prometheus makes of every scrape
_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", re.MULTILINE)


def served_names(exposition: str) -> set[str]:
    """Every sample name an exposition has or would have (a labelled metric with no child
    yet shows only its `# TYPE`)."""
    names = set(_SAMPLE.findall(exposition))
    for base, kind in _TYPE.findall(exposition):
        stem = base.removesuffix("_total") if kind == "counter" else base
        names.update(stem + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def named_metrics() -> dict[str, set[str]]:
    """Metric name -> where it is named (alert or recording rule, dashboard panel)."""
    named: dict[str, set[str]] = {}
    for source, expressions in (
        ("rules", monitoring.expressions()),
        ("dashboards", dashboards.expressions()),
    ):
        for expression in expressions:
            for name in dashboards.metric_names(expression):
                named.setdefault(name, set()).add(source)
    return named


def every_monitored_metric_is_served(stack: dict[str, Any]) -> None:
    served: set[str] = set(PROMETHEUS_OWN)
    for name, service in stack["services"].items():
        scraped = httpx.get(f"{service['url']}/metrics", timeout=5)
        assert scraped.status_code == 200, (name, scraped.status_code)
        served |= served_names(scraped.text)
    named = named_metrics()
    assert len(named) >= 20, sorted(named)
    missing = {name: sorted(where) for name, where in named.items() if name not in served}
    assert not missing, f"named by the monitoring but served by no service: {missing}"
