"""The analytics service process: the analytics projection, the refusal tally and the query API."""

from __future__ import annotations

import asyncio

from govchain.config import Settings
from govchain.projection.service import hosted_projection, run_until_stopped
from govchain.services.analytics.metrics import AnalyticsConfig
from govchain.services.analytics.projection import AnalyticsProjection
from govchain.services.analytics.queries import AnalyticsQueries, analytics_router
from govchain.services.analytics.refusals import RefusalTally


async def run_analytics(
    settings: Settings,
    nats_url: str,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    *,
    config: AnalyticsConfig | None = None,
) -> None:
    """Follow blocks and REJECTED until ``stop``; ``config`` defaults to the targets file named by
    the settings (``GOVCHAIN_ANALYTICS_CONFIG``), or the built-in targets."""
    if config is None:
        config = AnalyticsConfig.load(settings.analytics_config)
    tally: RefusalTally | None = None
    async with hosted_projection(
        settings,
        nats_url,
        name="analytics",
        database="analytics",
        projection=AnalyticsProjection(),
        routes=lambda hosted: analytics_router(
            AnalyticsQueries(
                hosted.engine,
                config,
                height=hosted.progress.height,
                refusals=lambda: tally,
            ),
            settings.chain_names,
        ),
    ) as hosted:
        tally = RefusalTally(
            hosted.broker.connection.jetstream(), hosted.engine, settings.chain_names
        )  # after the runner's migrations
        await run_until_stopped(ready, hosted.runner.run(stop), tally.run(stop))
