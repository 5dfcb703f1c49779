"""The identity service process: the identity projection and its query API."""

from __future__ import annotations

import asyncio

from govchain.bus.connect import make_broker
from govchain.config import Settings
from govchain.projection.runner import ProjectionRunner
from govchain.services.identity.projection import IdentityProjection
from govchain.services.identity.queries import identity_router
from govchain.storage.engine import make_engine


async def run_identity(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    engine = make_engine(settings.database_url_for("identity"))
    broker = make_broker(nats_url, settings, name="govchain-identity")
    runner: ProjectionRunner | None = None
    broker.include_router(identity_router(engine, lambda: -1 if runner is None else runner.height))
    await broker.start()
    try:
        runner = ProjectionRunner(
            broker.connection.jetstream(), engine, IdentityProjection(), genesis_hash=settings.genesis_hash
        )
        if ready is not None:
            ready.set()
        await runner.run(stop)
    finally:
        await broker.stop()
        engine.dispose()
