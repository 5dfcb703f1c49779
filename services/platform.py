"""Running the platform on one machine: embedded NATS (unless an external one is named)
and the services, in one process, until told to stop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn

from govchain.bus.embedded import EmbeddedNats, free_port
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.logs import get_logger
from govchain.protocol.merkle import TreeHasher
from govchain.services.analytics.service import run_analytics
from govchain.services.contract.service import run_contract_engine
from govchain.services.gateway.service import EmbeddedServer, run_gateway
from govchain.services.identity.service import run_identity
from govchain.services.ledger.service import run_ledger
from govchain.services.registry.service import run_registry
from govchain.services.witness.folder import WitnessFolder
from govchain.services.witness.service import trusted_logs, witness_app
from govchain.services.witness.store import WitnessStore
from govchain.tasks import cancel_and_wait

SERVICES = (
    ("ledger", run_ledger),
    ("identity", run_identity),
    ("registry", run_registry),
    ("contract", run_contract_engine),
    ("analytics", run_analytics),
    ("gateway", run_gateway),
)
"""Every service of the platform, in start order."""

log = get_logger("govchain.platform")


@asynccontextmanager
async def nats_server(settings: Settings) -> AsyncIterator[str]:
    """Yield the NATS URL: the configured external server, or an embedded one we run."""
    if settings.nats_url:
        yield settings.nats_url
        return
    server = EmbeddedNats(
        DataDir(settings.data_dir).nats_store, port=settings.nats_port, sync_interval=settings.nats_sync_interval
    )
    # Started from this (main) thread on purpose: the server is tied to the thread that forks
    # it (it stops if that thread dies), and a pool thread may end before we do.
    server.start()
    if server.port != settings.nats_port and settings.nats_port != 0:
        log.warning("preferred NATS port taken; using another", preferred=settings.nats_port, port=server.port)
    try:
        yield server.url
    finally:
        server.stop()


async def run_platform(
    settings: Settings,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run NATS and the services until ``stop``; ``on_ready(nats_url)`` once ordering has begun."""
    data = DataDir(settings.data_dir)
    async with nats_server(settings) as url:
        data.write_run_info({"nats_url": url, "pid": os.getpid()})
        services: list[asyncio.Task[None]] = []
        try:
            for name, service in SERVICES:  # in order: the ledger creates the streams
                ready = asyncio.Event()
                services.append(asyncio.create_task(service(settings, url, stop, ready), name=name))
                waiter = asyncio.create_task(ready.wait())
                done, _ = await asyncio.wait({waiter, *services}, return_when=asyncio.FIRST_COMPLETED)
                if waiter not in done:
                    waiter.cancel()
                    break
            else:
                if on_ready is not None:
                    on_ready(url)
            await asyncio.gather(*services)
        finally:
            stop.set()
            await cancel_and_wait(services)
            data.clear_run_info()


class LocalWitness:
    """A checkpoint witness (services/witness) served in this process: for the demo and tests,
    where two witnesses beside the platform stand in for a court's and an audit office's.

    Its folder (key, name, state) is made on first use; :meth:`start` serves it on a free port
    (or ``port``) and returns its URL; :meth:`stop` takes it down (state kept, like a restart)."""

    def __init__(
        self,
        folder: Path,
        name: str,
        log_vkeys: Sequence[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tree: TreeHasher | None = None,
    ) -> None:
        self.folder = WitnessFolder(folder)
        if not self.folder.is_initialised():
            self.folder.init(name)
        self.name = self.folder.name()
        self.vkey = self.folder.signer().verifier.vkey
        self.log_vkeys = list(log_vkeys)
        self.tree = tree
        """The followed log's tree hash (None: SHA-256; a gm chain's suite for its SM3 tree)."""
        self.host = host
        self.port = port or free_port(host)
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._store: WitnessStore | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        app, store = witness_app(self.folder, trusted_logs(self.log_vkeys, tree=self.tree))
        server = EmbeddedServer(
            uvicorn.Config(
                app,
                host=self.host,
                port=self.port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                proxy_headers=False,
            )
        )
        self._server, self._store = server, store
        self._serving = asyncio.create_task(server.serve(), name=f"witness {self.name}")
        while not server.started:
            if self._serving.done():
                store.close()
                self._serving.result()
                raise RuntimeError(f"witness {self.name} did not start")
            await asyncio.sleep(0.02)
        log.info("witness serving", name=self.name, url=self.url)
        return self.url

    async def stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await asyncio.gather(self._serving, return_exceptions=True)
        if self._store is not None:
            self._store.close()
        self._server = self._serving = self._store = None
