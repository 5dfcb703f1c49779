"""One running platform with the demo's data, shared by the API and browser tests: started as
a user would (`govchain demo --data DIR --keep`) and stopped with Ctrl-C at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SUBMIT_LIMIT = "12/minute"
PRIVATE_LIMIT = "40/minute"
MAX_UPLOAD = 64 * 1024


@dataclass(frozen=True)
class Platform:
    data: Path
    url: str
    nats_url: str
    summary: dict[str, Any]


@contextmanager
def demo_platform(data: Path, settings: dict[str, str], *args: str) -> Iterator[dict[str, Any]]:
    """A platform started as a user would (`govchain demo --data DIR --keep --json ARGS`, with
    ``GOVCHAIN_*`` ``settings`` in its environment), its summary line, and Ctrl-C at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "govchain.services.cli", "demo", "--data", str(data), "--keep", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "GOVCHAIN_GATEWAY_TRUST_PROXY": "1", **settings},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise AssertionError(f"the demo platform {' '.join(args)} did not start (exit {process.wait()})")
    try:
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data = tmp_path_factory.mktemp("web") / "node"
    settings = {
        "GOVCHAIN_GATEWAY_RATE_LIMIT": "60/minute",
        "GOVCHAIN_GATEWAY_SUBMIT_RATE_LIMIT": SUBMIT_LIMIT,
        "GOVCHAIN_GATEWAY_PRIVATE_RATE_LIMIT": PRIVATE_LIMIT,
        "GOVCHAIN_GATEWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
    }
    with demo_platform(data, settings) as summary:
        assert summary["ok"], summary
        yield Platform(data, summary["portal_url"], summary["nats_url"], summary)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright, one per test module (skipped where it is missing)."""
    from ._browser import CHROMIUM, launch

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        launched = launch(p)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where browser tests write their screenshots: ``GOVCHAIN_PORTAL_SCREENSHOTS`` (a folder, to
    refresh the README's pictures from a run), else the test's temporary folder."""
    folder = os.environ.get("GOVCHAIN_PORTAL_SCREENSHOTS")
    return Path(folder) if folder else tmp_path
