"""`ticketflow dev` as a subprocess in a temporary var dir: start, read, find its processes, stop.

Only what a user of the stack sees is used: the command, `dev-stack.json`, the process tree and
the services' `/readyz`."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "sla", "escalation", "notify")


def _die_with_us() -> None:
    """In the child: SIGTERM it when the harness dies (then it stops its own children)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class StackError(RuntimeError):
    """The stack did not come up, or went away."""


def _loopback(url: str) -> str:
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    if host not in ("127.0.0.1", "localhost"):
        raise StackError(f"refusing a non-loopback address: {url}")
    return url


@dataclass
class DevStack:
    """One running `ticketflow dev` and what its `dev-stack.json` says."""

    var_dir: Path
    process: subprocess.Popen[bytes]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.var_dir / "dev-stack.json"

    @property
    def database_url(self) -> str:
        return _loopback(str(self.info["postgres"]["url"]))

    @property
    def bootstrap_servers(self) -> str:
        return _loopback(str(self.info["kafka"]["bootstrap_servers"]))

    def url(self, service: str) -> str:
        return _loopback(str(self.info["services"][service]["url"]))

    def alive(self) -> bool:
        return self.process.poll() is None

    def reload(self) -> dict[str, Any]:
        """Read dev-stack.json again (it is replaced atomically); keep the last good copy."""
        try:
            self.info = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            pass
        return self.info

    def mail_messages(self) -> list[dict[str, Any]]:
        messages = self.reload().get("mail", {}).get("messages", [])
        return list(messages) if isinstance(messages, list) else []

    def restarts(self) -> dict[str, Any]:
        """What the stack reports about restarts (absent until it supervises its services)."""
        info = self.reload()
        out: dict[str, Any] = {}
        for name, entry in info.get("services", {}).items():
            if isinstance(entry, dict) and "restarts" in entry:
                out[name] = entry["restarts"]
        for part in ("postgres", "kafka"):
            entry = info.get(part)
            if isinstance(entry, dict) and "restarts" in entry:
                out[part] = entry["restarts"]
        return out

    def service_pids(self) -> dict[str, int]:
        """The four services' pids, found in the process tree (whatever the file says)."""
        found: dict[str, int] = {}
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return found
        for child in children:
            try:
                argv = child.cmdline()
            except psutil.Error:
                continue
            if "services.cli.main" not in argv:
                continue
            rest = argv[argv.index("services.cli.main") + 1 :]
            if rest[:2] == ["sla", "worker"]:
                found["sla"] = child.pid
            elif len(rest) >= 2 and rest[0] in SERVICES and rest[1] == "serve":
                found[rest[0]] = child.pid
        return found

    def owns(self, pid: int) -> bool:
        """Whether `pid` is in this stack's process tree."""
        try:
            return any(c.pid == pid for c in psutil.Process(self.process.pid).children(True))
        except psutil.Error:
            return False

    def ready(self, service: str, timeout: float = 1.0) -> bool:
        try:
            answer = httpx.get(f"{self.url(service)}/readyz", timeout=timeout)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200


def start(var_dir: Path, timeout: float = 120) -> DevStack:
    """Run `ticketflow dev --var-dir VAR` on embedded PostgreSQL and Tansu until it is ready.

    Call it from the main thread: the child's parent-death signal fires when the thread that
    spawned it ends."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env["TICKETFLOW_NO_DOCKER"] = "1"
    var_dir.mkdir(parents=True, exist_ok=True)
    log = open(var_dir / "ticketflow-dev.out", "ab")  # noqa: SIM115 - owned by the child
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "dev", "--var-dir", str(var_dir)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_us,
        )
    finally:
        log.close()
    stack = DevStack(var_dir, process)
    began = time.monotonic()
    try:
        while not stack.state_file.exists():
            if process.poll() is not None:
                raise StackError(
                    f"ticketflow dev exited early ({process.returncode}); {tail(stack)}"
                )
            if time.monotonic() - began > timeout:
                raise StackError(f"ticketflow dev not ready within {timeout:.0f} s; {tail(stack)}")
            time.sleep(0.2)
        while not stack.reload().get("services"):
            if time.monotonic() - began > timeout:
                raise StackError("dev-stack.json never listed the services")
            time.sleep(0.2)
    except BaseException:
        stop(stack)
        raise
    return stack


def tail(stack: DevStack, lines: int = 15) -> str:
    """The end of what `ticketflow dev` printed."""
    try:
        text = (stack.var_dir / "ticketflow-dev.out").read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "output ends: " + " | ".join(text.strip().splitlines()[-lines:])


def stop(stack: DevStack, timeout: float = 60) -> int | None:
    """SIGTERM, then SIGKILL; the services die with it (parent-death signal)."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait(10)
    return stack.process.returncode
