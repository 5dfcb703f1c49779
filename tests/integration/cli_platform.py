"""``govchain up`` as a subprocess, for the tests that drive the command line as a user would."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

GOVCHAIN = [sys.executable, "-m", "govchain.services.cli"]


@contextlib.contextmanager
def govchain_up(data: Path, nats_port: int, env: dict[str, str], *, timeout_s: float = 90) -> Iterator[None]:
    """Run ``govchain up --data DATA --nats-port PORT`` until it says it is up; stop it with
    Ctrl-C (SIGINT) on exit and require a clean exit."""
    process = subprocess.Popen(
        [*GOVCHAIN, "up", "--data", str(data), "--nats-port", str(nats_port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    deadline, seen = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if "GovChain is up" in line:
            break
        if not line and process.poll() is not None:
            raise AssertionError("govchain up exited: " + "".join(seen))
    else:
        process.kill()
        raise AssertionError("govchain up did not come up: " + "".join(seen))
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
