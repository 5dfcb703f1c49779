"""The registry service process: the registry projection, the key vault and the query API."""

from __future__ import annotations

import asyncio

from govchain.bus.connect import make_broker
from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.privacy.vault import KeyVault
from govchain.projection.runner import ProjectionRunner
from govchain.services.registry.projection import RegistryProjection
from govchain.services.registry.queries import RegistryQueries, registry_router
from govchain.storage.engine import make_engine


async def run_registry(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    engine = make_engine(settings.database_url_for("registry"))
    vault = KeyVault(engine)
    broker = make_broker(nats_url, settings, name="govchain-registry")
    runner: ProjectionRunner | None = None
    queries = RegistryQueries(
        engine,
        vault,
        client=lambda: GovChainClient(broker.connection),
        state=lambda: None if runner is None else runner.verifier.state,
        height=lambda: -1 if runner is None else runner.height,
        key=DataDir(settings.data_dir).signing_key("registry"),
    )
    broker.include_router(registry_router(queries))
    await broker.start()
    try:
        runner = ProjectionRunner(
            broker.connection.jetstream(), engine, RegistryProjection(vault), genesis_hash=settings.genesis_hash
        )
        if ready is not None:
            ready.set()
        await runner.run(stop)
    finally:
        await broker.stop()
        engine.dispose()
