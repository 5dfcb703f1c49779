"""Killing and restarting: the platform as ``govchain up``, services as ``govchain serve``.

Every kill is SIGKILL (``kill -9``): no handler runs, nothing is flushed by the process,
exactly what a crash or an OOM kill leaves behind. Every restart is the command an operator
(or a supervisor) would run again on the same data folder, with no repair in between.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOVCHAIN = [sys.executable, "-m", "govchain.services.cli"]
SERVE = [sys.executable, "-m", "tests.crash.traced"]
"""What runs the platform and the services: ``govchain``, leaving a traceback when it dies."""
UP_BANNER = "GovChain is up"

HARNESS_SETTINGS = {
    "GOVCHAIN_ACK_WAIT_S": "2",  # events taken by a killed orderer come back after 2 s, not 30
    "GOVCHAIN_LEASE_TTL_S": "2",  # a killed orderer's lease lapses after 2 s, not 6
    "GOVCHAIN_BATCH_MAX_WAIT_MS": "50",
    "GOVCHAIN_GATEWAY_PORT": "0",  # never 8080: another process may hold it
    "GOVCHAIN_LOG_FORMAT": "json",
}
"""Tunables that only make recovery quicker to wait for; none turns a check off."""


def harness_env(**extra: str) -> dict[str, str]:
    """The environment of every process we start: ours without any GOVCHAIN_* of the caller
    (a shared GOVCHAIN_DATABASE_URL, say, would put every store in one database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCHAIN_")}
    return {**env, **HARNESS_SETTINGS, **extra}


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting for a parent to reap it, has died)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def children(pid: int) -> dict[int, str]:
    """Child process ids of ``pid`` with their command names, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if int(rest.split()[1]) == pid:
            found[int(entry.name)] = name
    return found


def wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@dataclass
class PlatformKill:
    """What one SIGKILL of the platform did."""

    platform_pid: int
    nats_pid: int | None
    """The embedded nats-server (None: killed before it was started)."""
    nats_killed_too: bool
    survivors: dict[int, str]
    """Children of ``govchain up`` still running 30 s after it died (they were then killed):
    without its own SIGKILL, the NATS server must stop because its parent died."""


class Platform:
    """``govchain up`` on one data folder, in its own process group; its log is appended to
    ``log`` across restarts."""

    def __init__(self, data: Path, log: Path, env: dict[str, str]) -> None:
        self.data, self.log, self.env = data, log, env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._offset = 0
        self._started = 0.0

    @property
    def nats_url(self) -> str:
        return str(json.loads((self.data / "run.json").read_text())["nats_url"])

    def spawn(self) -> None:
        """Run ``govchain up`` again on the same folder, without waiting for it."""
        self.starts += 1
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        self._started = time.monotonic()
        with open(self.log, "ab") as log:
            log.write(f"\n===== crash harness: start {self.starts} =====\n".encode())
            self.process = subprocess.Popen(
                [*SERVE, "up", "--data", str(self.data), "--nats-port", "0"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=REPO,
                start_new_session=True,  # its own process group: kill -9 reaches all of it at once
            )

    def wait_up(self, timeout: float = 120) -> float:
        """Wait for the banner; the seconds since the spawn. Fails, with the log, if the
        platform exits or stays silent: it must come up by itself."""
        assert self.process is not None
        while time.monotonic() - self._started < timeout:
            if UP_BANNER in self.log.read_text(errors="replace")[self._offset :]:
                return time.monotonic() - self._started
            if self.process.poll() is not None:
                raise AssertionError(
                    f"govchain up exited with {self.process.returncode} on start {self.starts}:\n{tail(self.log)}"
                )
            time.sleep(0.1)
        raise AssertionError(
            f"govchain up did not come up within {timeout:.0f}s on start {self.starts}:\n{tail(self.log)}"
        )

    def start(self, timeout: float = 120) -> float:
        self.spawn()
        return self.wait_up(timeout)

    def alive(self) -> list[str]:
        """Problems: the platform process has exited."""
        if self.process is not None and self.process.poll() is not None:
            return [f"govchain up exited with {self.process.returncode}:\n{tail(self.log)}"]
        return []

    def kill(self, *, nats_too: bool) -> PlatformKill:
        """SIGKILL the process group of ``govchain up``; with ``nats_too`` its NATS server in
        the same instant (the whole machine stops), else NATS must stop because its parent
        died. Any child still running 30 s later is reported, then killed."""
        assert self.process is not None
        pid = self.process.pid
        kids = children(pid)
        nats = [p for p, name in kids.items() if name == "nats-server"]
        os.killpg(pid, signal.SIGKILL)
        if nats_too:
            for child in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
        survivors = {child: name for child, name in kids.items() if not wait_dead(child, timeout=30)}
        for child in survivors:  # leave nothing behind, then report it
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
            wait_dead(child, timeout=10)
        return PlatformKill(pid, nats[0] if nats else None, nats_too, survivors)

    def stop(self) -> int | None:
        """Ctrl-C, as an operator stops it; the exit code (None if it was not running)."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return -9
        finally:
            self.process = None


class Services:
    """``govchain serve <name>`` processes against one NATS (server or cluster)."""

    def __init__(self, data: Path, nats_url: str, logs: Path, env: dict[str, str]) -> None:
        self.data, self.nats_url, self.logs, self.env = data, nats_url, logs, env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, name: str) -> None:
        with open(self.log(name), "ab") as log:
            log.write(f"\n===== crash harness: start {name} =====\n".encode())
            self.processes[name] = subprocess.Popen(
                [*SERVE, "serve", name, "--data", str(self.data), "--nats-url", self.nats_url],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=REPO,
            )

    def kill(self, name: str) -> int:
        """SIGKILL one service; its pid."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return process.pid

    def alive(self) -> list[str]:
        """Problems: services that exited on their own."""
        return [
            f"`govchain serve {name}` exited with {p.returncode}:\n{tail(self.log(name))}"
            for name, p in self.processes.items()
            if p.poll() is not None
        ]

    def stop_all(self) -> dict[str, int]:
        """SIGTERM each (a clean stop); their exit codes."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.processes.clear()
        return codes
