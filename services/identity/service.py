"""The identity service process: the identity projection and its query API."""

from __future__ import annotations

import asyncio

from govchain.config import Settings
from govchain.projection.service import hosted_projection, run_until_stopped
from govchain.services.identity.projection import IdentityProjection
from govchain.services.identity.queries import identity_router


async def run_identity(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    async with hosted_projection(
        settings,
        nats_url,
        name="identity",
        database="identity",
        projection=IdentityProjection(),
        routes=lambda hosted: identity_router(hosted.engine, hosted.progress.height, settings.chain_names),
    ) as hosted:
        await run_until_stopped(ready, hosted.runner.run(stop))
