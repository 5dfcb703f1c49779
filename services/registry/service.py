"""The registry service process: the registry projection, the key vault and the query API."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsRouter

from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.privacy.custody import open_vault
from govchain.projection.service import Hosted, hosted_projection, run_until_stopped
from govchain.services.registry.projection import RegistryProjection
from govchain.services.registry.queries import RegistryQueries, registry_router
from govchain.storage.engine import make_engine


async def run_registry(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    data = DataDir(settings.data_dir)
    key = data.signing_key("registry")
    vault_engine = make_engine(settings.database_url_for("registry"))  # the vault lives beside the records
    try:
        # Its KEK does not: it stays in keys/ (or a secret store), so the database alone opens nothing.
        vault = open_vault(vault_engine, data.keys, settings.vault_kek)

        def routes(hosted: Hosted) -> NatsRouter:
            return registry_router(
                RegistryQueries(
                    hosted.engine,
                    vault,
                    client=lambda: GovChainClient(hosted.broker.connection, names=settings.chain_names),
                    state=hosted.progress.state,
                    height=hosted.progress.height,
                    key=key,
                    names=settings.chain_names,
                )
            )

        async with hosted_projection(
            settings,
            nats_url,
            name="registry",
            database="registry",
            projection=RegistryProjection(vault),
            routes=routes,
        ) as hosted:
            await run_until_stopped(ready, hosted.runner.run(stop))
    finally:
        vault_engine.dispose()
