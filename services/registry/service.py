"""The registry service process: the registry projection, the key vault and the query API."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsRouter

from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.privacy.vault import KeyVault
from govchain.projection.service import Hosted, hosted_projection, run_until_stopped
from govchain.services.registry.projection import RegistryProjection
from govchain.services.registry.queries import RegistryQueries, registry_router
from govchain.storage.engine import make_engine


async def run_registry(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    vault_engine = make_engine(settings.database_url_for("registry"))  # the vault lives beside the records
    vault = KeyVault(vault_engine)
    key = DataDir(settings.data_dir).signing_key("registry")

    def routes(hosted: Hosted) -> NatsRouter:
        return registry_router(RegistryQueries(
            hosted.engine, vault, client=lambda: GovChainClient(hosted.broker.connection),
            state=hosted.progress.state, height=hosted.progress.height, key=key,
        ))

    try:
        async with hosted_projection(
            settings, nats_url, name="registry", database="registry", projection=RegistryProjection(vault),
            routes=routes,
        ) as hosted:
            await run_until_stopped(ready, hosted.runner.run(stop))
    finally:
        vault_engine.dispose()
