"""The generated Grafana dashboards: well-formed models, sane layout, honest queries."""

from __future__ import annotations

import json
import re
from itertools import combinations

import pytest
import yaml

from services.deployment.dashboards import (
    DASHBOARDS,
    Dashboard,
    Panel,
    Query,
    config_maps,
    dashboard_json,
    dashboards_yaml,
    expressions,
    metric_names,
)
from services.deployment.manifests import HEADER


def _models() -> list[dict[str, object]]:
    return [dashboard_json(dashboard) for dashboard in DASHBOARDS]


def test_there_are_three_dashboards_with_panels() -> None:
    assert [dashboard.name for dashboard in DASHBOARDS] == [
        "ticketflow pipeline overview",
        "ticketflow SLA outcomes",
        "ticketflow notify delivery",
    ]
    assert all(dashboard.panels for dashboard in DASHBOARDS)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.slug)
def test_panels_have_unique_ids_and_titles(dashboard: Dashboard) -> None:
    panels = dashboard_json(dashboard)["panels"]
    ids = [panel["id"] for panel in panels]
    titles = [panel["title"] for panel in panels]
    assert len(set(ids)) == len(ids) == len(dashboard.panels)
    assert len(set(titles)) == len(titles)


def _cells(grid: dict[str, int]) -> set[tuple[int, int]]:
    return {
        (x, y)
        for x in range(grid["x"], grid["x"] + grid["w"])
        for y in range(grid["y"], grid["y"] + grid["h"])
    }


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.slug)
def test_panels_do_not_overlap_and_sit_two_per_row(dashboard: Dashboard) -> None:
    grids = [panel["gridPos"] for panel in dashboard_json(dashboard)["panels"]]
    for grid in grids:
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
    for first, second in combinations(grids, 2):
        assert not _cells(first) & _cells(second), (first, second)
    rows: dict[int, list[int]] = {}
    for grid in grids:
        rows.setdefault(grid["y"], []).append(grid["x"])
    *full, last = [rows[y] for y in sorted(rows)]
    assert all(columns == [0, 12] for columns in full), rows
    assert last in ([0], [0, 12]), rows


def test_overlap_check_would_catch_a_collision() -> None:
    assert _cells({"x": 0, "y": 0, "w": 12, "h": 8}) & _cells({"x": 11, "y": 7, "w": 12, "h": 8})
    assert not _cells({"x": 0, "y": 0, "w": 12, "h": 8}) & _cells(
        {"x": 12, "y": 0, "w": 12, "h": 8}
    )


@pytest.mark.parametrize("model", _models(), ids=lambda m: str(m["uid"]))
def test_the_model_is_a_templated_prometheus_dashboard(model: dict[str, object]) -> None:
    assert model["schemaVersion"] == 39
    assert model["refresh"] == "30s"
    assert model["tags"] == ["ticketflow"]
    (variable,) = model["templating"]["list"]  # type: ignore[index]
    assert variable["name"] == "datasource"
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    for panel in model["panels"]:  # type: ignore[attr-defined]
        assert panel["type"] == "timeseries"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["fieldConfig"]["defaults"]["unit"]
        assert panel["targets"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids)
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["expr"]


def test_every_expression_names_a_ticketflow_metric() -> None:
    exprs = expressions()
    panel_queries = sum(len(p.queries) for d in DASHBOARDS for p in d.panels)
    assert len(exprs) == panel_queries
    for expr in exprs:
        assert metric_names(expr), expr


def test_every_expression_has_balanced_brackets() -> None:
    for expr in expressions():
        for opening, closing in ("()", "{}", "[]"):
            assert expr.count(opening) == expr.count(closing), expr


def test_histogram_quantiles_read_buckets_grouped_by_le() -> None:
    quantiles = [expr for expr in expressions() if "histogram_quantile" in expr]
    assert len(quantiles) >= 4
    for expr in quantiles:
        names = metric_names(expr)
        assert names and all(name.endswith("_bucket") for name in names), expr
        groupings = re.findall(r"\bby\s*\(([^)]*)\)", expr)
        assert any("le" in [label.strip() for label in g.split(",")] for g in groupings), expr
        assert "rate(" in expr


def test_counters_are_read_through_rate() -> None:
    for expr in expressions():
        for name in metric_names(expr):
            if name.endswith(("_total", "_bucket")):
                assert re.search(rf"rate\(\s*{name}\b", expr), expr


def test_every_metric_is_declared_by_a_service() -> None:
    """The names exist in the code's own registries (the live drift test checks /metrics)."""
    from prometheus_client import REGISTRY, CollectorRegistry

    import services.common.consumer
    import services.common.dead_letters
    import services.common.health
    import services.common.ops
    import services.escalation.service_layer.escalations
    import services.notify.adapters.templates
    import services.notify.service_layer.admin
    import services.notify.service_layer.delivery
    import services.notify.service_layer.planning  # noqa: F401
    from services.intake.entrypoints.metrics import Metrics
    from services.sla.adapters.metrics import SlaMetrics

    def exported(registry: CollectorRegistry) -> set[str]:
        names: set[str] = set()
        for family in registry.collect():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names |= {f"{family.name}_{part}" for part in ("bucket", "sum", "count")}
            else:
                names.add(family.name)
        return names

    known = exported(REGISTRY) | exported(SlaMetrics().registry) | exported(Metrics().registry)
    used = set().union(*(metric_names(expr) for expr in expressions()))
    assert used - known == set()


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("sum by (le) (rate(ticketflow_x_bucket[5m]))", {"ticketflow_x_bucket"}),
        ('foo{service="ticketflow_a"}', set()),
        ("foo{service='ticketflow_a'}", set()),
        ('label_replace(up, "x", "ticketflow_b", "job", ".*")', set()),
        ('ticketflow_a{job="ticketflow_b"} / ticketflow_c', {"ticketflow_a", "ticketflow_c"}),
        (r'ticketflow_a{path="x\"ticketflow_b\""}', {"ticketflow_a"}),
        ("sum by (ticketflow_label) (ticketflow_y)", {"ticketflow_y"}),
        (
            "ticketflow_a * on (instance) group_left (ticketflow_l) ticketflow_b",
            {
                "ticketflow_a",
                "ticketflow_b",
            },
        ),
        ("my_ticketflow_z + ticketflow_z:rate5m", {"ticketflow_z:rate5m"}),
        ("up", set()),
    ],
)
def test_metric_names(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names


def test_uids_are_stable_distinct_and_valid() -> None:
    first = [model["uid"] for model in _models()]
    again = [model["uid"] for model in _models()]
    assert first == again
    assert len(set(first)) == len(first)
    for uid in first:
        assert isinstance(uid, str) and re.fullmatch(r"[a-z0-9-]{1,40}", uid)


def test_uid_depends_only_on_the_name() -> None:
    panel = Panel("p", (Query("ticketflow_a"),))
    one = Dashboard("ticketflow Some Thing", "one", (panel,))
    other = Dashboard("ticketflow Some Thing", "other", (panel, panel))
    assert dashboard_json(one)["uid"] == dashboard_json(other)["uid"] == "ticketflow-some-thing"


def test_a_name_too_long_for_a_uid_is_refused() -> None:
    long = Dashboard("ticketflow " + "x" * 40, "", (Panel("p", (Query("ticketflow_a"),)),))
    with pytest.raises(ValueError, match="uid"):
        dashboard_json(long)


def test_config_maps_carry_the_sidecar_label_and_round_trip() -> None:
    maps = config_maps()
    assert len(maps) == len(DASHBOARDS)
    names = [config_map["metadata"]["name"] for config_map in maps]
    assert len(set(names)) == len(names)
    for config_map, dashboard in zip(maps, DASHBOARDS, strict=True):
        assert config_map["apiVersion"] == "v1" and config_map["kind"] == "ConfigMap"
        metadata = config_map["metadata"]
        assert metadata["name"] == f"ticketflow-dashboard-{dashboard.slug}"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", metadata["name"])
        assert metadata["labels"] == {"grafana_dashboard": "1"}
        assert metadata["annotations"] == {"grafana_folder": "ticketflow"}
        (key,) = config_map["data"]
        assert key == f"{dashboard.slug}.json"
        text = config_map["data"][key]
        assert text.endswith("\n")
        assert json.loads(text) == dashboard_json(dashboard)


def test_the_yaml_file_has_the_header_and_the_config_maps() -> None:
    text = dashboards_yaml()
    assert text.startswith(HEADER)
    assert text.splitlines()[0] == (
        "# Generated by `ticketflow deploy generate` from the code; do not edit by hand."
    )
    documents = list(yaml.safe_load_all(text))
    assert documents == config_maps()
    assert dashboards_yaml() == text
