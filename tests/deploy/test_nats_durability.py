"""Every NATS config we ship has JetStream fsync each write before acknowledging it: the
server's own default (every 2 minutes) lets a power cut take back acknowledged events."""

from __future__ import annotations

from pathlib import Path

import pytest

from .compose import REPO
from .natsconf import GENERATED, parse_file

NATS_DIR = REPO / "infra" / "nats"
SHIPPED = sorted(path for path in NATS_DIR.rglob("*.conf") if path.name != GENERATED)


def test_the_shipped_configs_are_the_ones_expected() -> None:
    """So that the check below cannot pass on an empty list or miss a moved file."""
    names = {str(path.relative_to(NATS_DIR)) for path in SHIPPED}
    assert {"nats.conf", "cluster/nats-1.conf", "cluster/nats-2.conf", "cluster/nats-3.conf"} <= names


@pytest.mark.parametrize("config", SHIPPED, ids=[str(c.relative_to(REPO)) for c in SHIPPED])
def test_jetstream_fsyncs_before_every_ack(config: Path) -> None:
    jetstream = parse_file(config).get("jetstream")
    assert isinstance(jetstream, dict), f"{config.relative_to(REPO)}: no jetstream {{ }} block"
    assert jetstream.get("sync_interval") == "always", (
        f"{config.relative_to(REPO)}: jetstream.sync_interval is {jetstream.get('sync_interval')!r}; "
        "set `sync_interval: always` inside jetstream { } so acknowledged messages are on disk"
    )
