"""The ledger service process: the orderer, its query API and the checkpoint publisher, on one
NATS connection. The publisher (witnessed checkpoints) is a task of its own beside the
orderer: it reads what the orderer committed and never holds it up."""

from __future__ import annotations

import asyncio

from govchain.bus.connect import make_broker
from govchain.bus.lease import Lease
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol.genesis import genesis_suite
from govchain.services.ledger.checkpoints import checkpoint_publishers, run_publishers
from govchain.services.ledger.orderer import Orderer
from govchain.services.ledger.queries import ledger_router
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine
from govchain.tasks import cancel_and_wait


async def run_ledger(
    settings: Settings, nats_url: str, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    data = DataDir(settings.data_dir)
    store = LedgerStore(make_engine(settings.database_url_for("ledger")), genesis_suite(data.genesis()))
    names = settings.chain_names
    broker = make_broker(nats_url, settings, name="govchain-ledger")
    broker.include_router(ledger_router(store, lambda: broker.connection.jetstream(), names))
    await broker.start()
    publishing: asyncio.Task[None] | None = None
    try:
        key = data.signing_key("orderer", settings.orderer_key)
        orderer = Orderer(
            broker.connection,
            store,
            key,
            data.genesis(),
            settings.batch_limits,
            genesis_hash=settings.genesis_hash,
            ack_wait_s=settings.ack_wait_s,
            stream_replicas=settings.stream_replicas,
            names=names,
        )
        lease = Lease(
            broker.connection.jetstream(),
            name=names.orderer_lease,
            bucket=names.lease_bucket,
            holder=settings.instance_id,
            ttl_s=settings.lease_ttl_s,
            replicas=settings.stream_replicas,
        )
        publishers = checkpoint_publishers(  # on a gm chain, its SHA-256 tree's too
            broker.connection.jetstream(),
            store,
            # Ed25519 (C2SP): the orderer's, or a gm chain's own (GOVCHAIN_CHECKPOINT_KEY or its file)
            data.checkpoint_key(settings.orderer_key, settings.checkpoint_key),
            interval_s=settings.checkpoint_interval_ms / 1000,
            timeout_s=settings.witness_timeout_s,
            url_overrides=settings.witness_url_overrides,
            lease=lease,
            names=names,
        )
        publishing = asyncio.create_task(run_publishers(publishers, stop), name="checkpoints")
        await orderer.run(stop, ready=ready, lease=lease)
    finally:
        if publishing is not None:
            await cancel_and_wait([publishing])
        await broker.stop()
        store.engine.dispose()
