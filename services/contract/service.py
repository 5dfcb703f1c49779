"""The contract engine process: its projection, the outbox publisher, the clock and its API.

Results are signed by the engine's own key only when they leave the outbox; their ids and
times come from the chain, and Ed25519 is deterministic, so a result published twice is the
same event twice, which the ledger orders once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import Engine, select, update

from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.logs import get_logger
from govchain.projection.service import hosted_projection, run_until_stopped
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.services.contract import tables as t
from govchain.services.contract.projection import ContractEngineProjection, all_definitions
from govchain.services.contract.queries import contract_router

log = get_logger("govchain.contract")

PUBLISH_POLL_S = 0.1


class Publisher:
    """Drains the outbox: signs each result with the engine's key and publishes it."""

    def __init__(self, engine: Engine, client: GovChainClient, key: SigningKey) -> None:
        self.engine = engine
        self.client = client
        self.key = key

    def pending(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(select(t.outbox).where(t.outbox.c.published == 0).order_by(t.outbox.c.height)).all()
            )

    async def drain(self) -> int:
        rows = await asyncio.to_thread(self.pending)
        for row in rows:
            event = make_event(
                self.key,
                source=CONTRACT_ENGINE,
                type=row.type,
                data=json.loads(row.data),
                event_id=row.event_id,
                time=row.time,
            )
            await self.client.publish(event)
            await asyncio.to_thread(self._mark, row.event_id)
        return len(rows)

    def _mark(self, event_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.outbox).where(t.outbox.c.event_id == event_id).values(published=1))

    def open_deadline_cases(self) -> bool:
        """Whether some case waits on a deadline (then the clock must keep ticking)."""
        with self.engine.connect() as conn:
            for definition in all_definitions(conn):
                states = [d.state for d in definition.deadlines]
                if (
                    states
                    and conn.execute(
                        select(t.cases.c.case_key)
                        .where(t.cases.c.contract_id == definition.contract_id, t.cases.c.state.in_(states))
                        .limit(1)
                    ).first()
                ):
                    return True
        return False


async def run_contract_engine(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    async with hosted_projection(
        settings,
        nats_url,
        name="contract-engine",
        database="contract",
        projection=ContractEngineProjection(),
        routes=lambda hosted: contract_router(hosted.engine, hosted.progress.height, settings.chain_names),
    ) as hosted:
        publisher = Publisher(
            hosted.engine,
            GovChainClient(hosted.broker.connection, names=settings.chain_names),
            DataDir(settings.data_dir).signing_key(CONTRACT_ENGINE),
        )
        # Subscribing only queues the SUB: a PING round trip makes sure the server has it, so a
        # query sent the moment we report ready finds a responder (not "no responders").
        await hosted.broker.connection.flush()
        await run_until_stopped(
            ready, hosted.runner.run(stop), _publish_loop(publisher, stop, settings.contract_tick_s)
        )


async def _publish_loop(publisher: Publisher, stop: asyncio.Event, tick_s: float) -> None:
    """Publish results as they appear; tick the clock while deadlines are pending."""
    last_tick = time.monotonic()
    while not stop.is_set():
        try:
            await publisher.drain()
            if time.monotonic() - last_tick >= tick_s:
                last_tick = time.monotonic()
                if await asyncio.to_thread(publisher.open_deadline_cases):
                    await publisher.client.publish(
                        make_event(publisher.key, source=CONTRACT_ENGINE, type="clock.tick", data={})
                    )
        except Exception:  # NATS hiccups: results stay in the outbox and go out next round
            log.exception("publishing contract results failed; retrying")
        try:
            await asyncio.wait_for(stop.wait(), PUBLISH_POLL_S)
        except TimeoutError:
            pass
