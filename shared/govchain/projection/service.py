"""Hosting a projection as a service: its store, its runner, its query API on one connection.

Every read-model service (identity, registry, contract engine, analytics) is the same shape:
follow the blocks into a database and answer questions over NATS. The query handlers are
registered before the runner exists (a broker takes its routes before it connects), so they
read the projection's progress through a :class:`Progress`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.nats import NatsBroker, NatsRouter
from sqlalchemy import Engine

from govchain.bus.connect import make_broker
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.projection.runner import Projection, ProjectionRunner
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.state import ChainState
from govchain.storage.engine import make_engine
from govchain.tasks import cancel_and_wait


class Progress:
    """How far the projection has got: -1 (and no chain state) until its runner starts."""

    def __init__(self) -> None:
        self.runner: ProjectionRunner | None = None

    def height(self) -> int:
        return -1 if self.runner is None else self.runner.height

    def state(self) -> ChainState | None:
        return None if self.runner is None else self.runner.verifier.state


@dataclass(frozen=True)
class Hosted:
    engine: Engine
    broker: NatsBroker
    progress: Progress

    @property
    def runner(self) -> ProjectionRunner:
        assert self.progress.runner is not None
        return self.progress.runner


@asynccontextmanager
async def hosted_projection(
    settings: Settings,
    nats_url: str,
    *,
    name: str,
    database: str,
    projection: Projection,
    routes: Callable[[Hosted], NatsRouter],
) -> AsyncIterator[Hosted]:
    """Connect, serve the query API from ``routes``, and yield with the runner ready to run."""
    if settings.chain is not None:  # a named chain: its streams are this genesis's, or nobody's
        settings.chain_names.require(genesis_payload(DataDir(settings.data_dir).genesis()).chain_id)
    engine = make_engine(settings.database_url_for(database))
    hosted = Hosted(engine, make_broker(nats_url, settings, name=f"govchain-{name}"), Progress())
    hosted.broker.include_router(routes(hosted))
    await hosted.broker.start()
    try:
        hosted.progress.runner = ProjectionRunner(
            hosted.broker.connection.jetstream(),
            engine,
            projection,
            genesis_hash=settings.genesis_hash,
            names=settings.chain_names,
        )
        yield hosted
    finally:
        await hosted.broker.stop()
        engine.dispose()


async def run_until_stopped(ready: asyncio.Event | None, *work: Awaitable[object]) -> None:
    """Signal ready, then run the service's loops together; if one fails, stop the others."""
    tasks = [asyncio.ensure_future(job) for job in work]
    if ready is not None:
        ready.set()
    try:
        await asyncio.gather(*tasks)
    finally:
        await cancel_and_wait(tasks)
