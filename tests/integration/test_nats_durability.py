"""The embedded nats-server really fsyncs JetStream writes before acking them (``sync_always``
in its /varz), unless the setting relaxes it, and the platform passes the setting through."""

from __future__ import annotations

import functools
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from govchain.bus.embedded import EmbeddedNats, free_port
from govchain.config import Settings
from govchain.services import platform

NANOSECONDS = 1_000_000_000


def monitored(store: Path, **options: Any) -> tuple[EmbeddedNats, int]:
    """An embedded server with its monitoring port open, for this test only."""
    port = free_port()
    return EmbeddedNats(store, port=0, extra_config=f'http: "127.0.0.1:{port}"', **options), port


def jetstream_config(http_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/varz", timeout=5) as response:
        return dict(json.load(response)["jetstream"]["config"])


def test_the_embedded_server_fsyncs_every_write_by_default(tmp_path: Path) -> None:
    server, http_port = monitored(tmp_path / "nats")
    with server:
        assert jetstream_config(http_port).get("sync_always") is True


def test_a_sync_interval_relaxes_it(tmp_path: Path) -> None:
    server, http_port = monitored(tmp_path / "nats", sync_interval="10s")
    with server:
        config = jetstream_config(http_port)
    assert not config.get("sync_always")
    assert config["sync_interval"] == 10 * NANOSECONDS


@pytest.mark.parametrize("interval", ["always", "10s"])
async def test_the_platform_starts_nats_with_the_configured_sync_interval(
    interval: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_port = free_port()
    with_monitoring = functools.partial(EmbeddedNats, extra_config=f'http: "127.0.0.1:{http_port}"')
    monkeypatch.setattr(platform, "EmbeddedNats", with_monitoring)
    settings = Settings(data_dir=tmp_path, nats_port=0, nats_sync_interval=interval)
    async with platform.nats_server(settings):
        config = jetstream_config(http_port)
    assert config.get("sync_always", False) is (interval == "always")
    if interval != "always":
        assert config["sync_interval"] == 10 * NANOSECONDS
