"""A running ledger service on a real NATS server, and helpers to publish to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from govchain.bus.connect import connect
from govchain.bus.embedded import EmbeddedNats
from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.services.ledger.service import run_ledger


@dataclass
class Ledger:
    """Handle on a running ledger service and a client connection to it."""

    settings: Settings
    data: DataDir
    nats_url: str
    nc: Client
    client: GovChainClient
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    department_keys: dict[str, SigningKey] = field(default_factory=dict)

    @property
    def root(self) -> SigningKey:
        return self.data.signing_key("root")

    async def start(self) -> None:
        self.stop = asyncio.Event()
        ready = asyncio.Event()
        self.task = asyncio.create_task(run_ledger(self.settings, self.nats_url, self.stop, ready))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            waiter.cancel()
            failed, self.task = self.task, None
            failed.result()
        assert waiter in done, "ledger did not become ready"

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 20)
            self.task = None

    async def submit(self, envelope: Envelope, timeout: float = 20) -> dict[str, Any]:
        return await self.client.submit(envelope, timeout)

    def new_key(self) -> SigningKey:
        """A fresh key of the chain's crypto suite."""
        return SigningKey.generate(self.data.crypto_suite())

    async def register_department(self, department: str) -> SigningKey:
        key = self.new_key()
        receipt = await self.submit(
            make_event(
                self.root,
                source=ev.ROOT,
                type="department.registered",
                data={"department_id": department, "name": department.title(), "public_key": key.public.hex},
            )
        )
        assert receipt["status"] == "committed", receipt
        self.department_keys[department] = key
        return key

    def document(self, department: str, n: int, **overrides: Any) -> Envelope:
        data = {"document_id": f"{department}-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"}
        return make_event(
            self.department_keys[department],
            source=department,
            type="document.registered",
            data={**data, **overrides},
        )


def ledger_settings(data: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data, "batch_max_wait_ms": 50, "ack_wait_s": 2.0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def chain_dir(tmp_path: Path, crypto_profile: str) -> DataDir:
    """A data folder with a new chain of the test's crypto profile (intl unless parametrized)."""
    data = DataDir(tmp_path / "node")
    data.init("test-chain", crypto=crypto_profile)
    return data


@pytest.fixture
async def ledger(
    chain_dir: DataDir, nats_server: EmbeddedNats, request: pytest.FixtureRequest
) -> AsyncIterator[Ledger]:
    overrides = getattr(request, "param", {}) or {}
    settings = ledger_settings(chain_dir.root, **overrides)
    nc = await connect(nats_server.url, name="test-client")
    handle = Ledger(settings, chain_dir, nats_server.url, nc, GovChainClient(nc))
    await handle.start()
    try:
        yield handle
    finally:
        await handle.shutdown()
        await nc.drain()
