"""The ledger service process: the orderer plus its query API, on one NATS connection."""

from __future__ import annotations

import asyncio

from govchain.bus.connect import make_broker
from govchain.bus.lease import Lease
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.services.ledger.orderer import Orderer
from govchain.services.ledger.queries import ledger_router
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine


async def run_ledger(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    data = DataDir(settings.data_dir)
    store = LedgerStore(make_engine(settings.database_url_for("ledger")))
    broker = make_broker(nats_url, settings, name="govchain-ledger")
    broker.include_router(ledger_router(store, lambda: broker.connection.jetstream()))
    await broker.start()
    try:
        orderer = Orderer(
            broker.connection,
            store,
            data.signing_key("orderer", settings.orderer_key),
            data.genesis(),
            settings.batch_limits,
            genesis_hash=settings.genesis_hash,
            ack_wait_s=settings.ack_wait_s,
            stream_replicas=settings.stream_replicas,
        )
        lease = Lease(broker.connection.jetstream(), name="orderer", holder=settings.instance_id,
                      ttl_s=settings.lease_ttl_s, replicas=settings.stream_replicas)
        await orderer.run(stop, ready=ready, lease=lease)
    finally:
        await broker.stop()
        store.engine.dispose()
