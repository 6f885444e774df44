"""`ticketflow dev --with-prometheus`: a real Prometheus next to the stack, scraping every
service every 5 s and evaluating the shipped rules (`services/deployment/monitoring.py`), so
alerts and dashboards' queries can be tried on a laptop. Only where a `prometheus` binary is
installed (Debian's `prometheus` package); `make run` never needs it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from services.deployment.monitoring import rule_groups
from services.devstack.processes import free_port, spawn, stop, wait_http_ready

READY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class RunningPrometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def scrape_config(services: Mapping[str, str]) -> dict[str, Any]:
    """Prometheus' configuration: a job `ticketflow-<service>` per service URL (the job names
    the alerts and the ServiceMonitors use), the rules file beside it."""
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": ["rules.yaml"],
        "scrape_configs": [
            {
                "job_name": f"ticketflow-{name}",
                "honor_labels": True,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [urlsplit(url).netloc]}],
            }
            for name, url in sorted(services.items())
        ],
    }


def binary() -> str | None:
    return shutil.which("prometheus")


@contextmanager
def prometheus(var_dir: Path, services: Mapping[str, str]) -> Iterator[RunningPrometheus]:
    """Prometheus on a free loopback port until the block ends (RuntimeError when there is no
    binary or it is not ready within 30 s)."""
    found = binary()
    if found is None:
        raise RuntimeError("no `prometheus` binary on PATH (Debian: apt-get install prometheus)")
    home = var_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    (home / "prometheus.yml").write_text(yaml.safe_dump(scrape_config(services), sort_keys=False))
    (home / "rules.yaml").write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    port = free_port()
    log = home / "prometheus.log"
    process = spawn(
        [
            found,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log_path=log,
    )
    running = RunningPrometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_http_ready(process, f"{running.url}/-/ready", "prometheus", log, READY_TIMEOUT_S)
        yield running
    finally:
        stop(process)
