"""Failure paths on purpose: a racing orderer, crashes mid-commit, tampered blocks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.connect import connect
from govchain.bus.embedded import EmbeddedNats
from govchain.client import GovChainClient
from govchain.datadir import DataDir
from govchain.projection.runner import ProjectionHalted, ProjectionRunner
from govchain.protocol import events as ev
from govchain.protocol.block import Block, block_msg_id, seal_block
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash
from govchain.protocol.verify import VerifiedBlock
from govchain.services.ledger.orderer import Orderer, OrdererFenced, OrdererKeyRevoked
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine

from .conftest import Ledger, ledger_settings
from .test_ordering import read_chain


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler in the orderer catches it."""


class CrashAfterAppend(Orderer):
    """Dies right after its block is on the stream, before indexing it or acking its events."""

    crash_at: int = 3

    async def append_block(self, block: Block, wire: bytes | None = None) -> None:
        await super().append_block(block, wire)
        if block.height == self.crash_at:
            raise Crash


class StoreCrashingAfterRecord(LedgerStore):
    """Dies after the block is indexed, before the events are acked."""

    crash_at = 3

    def record(self, applied: VerifiedBlock, checkpoint: Any) -> None:
        super().record(applied, checkpoint)
        if applied.block.height == self.crash_at:
            raise Crash


async def test_a_second_orderer_with_a_stale_view_is_refused(ledger: Ledger, tmp_path: Any) -> None:
    await ledger.register_department("tax")
    await ledger.submit(ledger.document("tax", 1))
    standby = Orderer(
        ledger.nc,
        LedgerStore(make_engine(f"sqlite:///{tmp_path / 'standby.db'}")),
        ledger.data.signing_key("orderer"),
        ledger.data.genesis(),
        ledger.settings.batch_limits,
    )
    await standby.recover()
    stale_height = standby.height
    committed = await ledger.submit(ledger.document("tax", 2))  # the active orderer moves on
    assert committed["height"] == stale_height + 1

    envelope = ledger.document("tax", 3)
    assert standby.checkpoint is not None
    log = standby.checkpoint.log.copy()
    leaf = leaf_hash(envelope.to_bytes())
    log.append(leaf)
    rival = seal_block(
        chain_id="test-chain",
        height=stale_height + 1,
        prev_hash=standby.checkpoint.block_hash,
        events=[envelope.to_dict()],
        leaf_hashes=[leaf],
        log_after=log,
        time="2030-01-01T00:00:00.000000Z",
        orderer_key=ledger.data.signing_key("orderer"),
    )
    with pytest.raises(OrdererFenced):
        await standby.append_block(rival)
    blocks = await read_chain(ledger)
    assert blocks[stale_height + 1].hash == committed["block_hash"] != rival.hash
    assert block_msg_id(rival) != block_msg_id(blocks[stale_height + 1])
    assert (await verify_chain(ledger.nc.jetstream())).ok


@pytest.mark.parametrize("crash", ["after_append", "after_record"])
async def test_a_crash_mid_commit_loses_no_event_and_doubles_none(
    crash: str, chain_dir: DataDir, nats_server: EmbeddedNats
) -> None:
    settings = ledger_settings(chain_dir.root, batch_max_count=5, ack_wait_s=1.0)
    db_url = settings.database_url_for("ledger")
    nc = await connect(nats_server.url)
    client = GovChainClient(nc)

    async def start(kind: type[Orderer], store: LedgerStore) -> tuple[asyncio.Task[None], asyncio.Event]:
        orderer = kind(
            nc,
            store,
            chain_dir.signing_key("orderer"),
            chain_dir.genesis(),
            settings.batch_limits,
            ack_wait_s=settings.ack_wait_s,
        )
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(orderer.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 20)
        return task, stop

    crashing, _ = await start(
        CrashAfterAppend if crash == "after_append" else Orderer,
        (StoreCrashingAfterRecord if crash == "after_record" else LedgerStore)(make_engine(db_url)),
    )
    key = SigningKey.generate()
    published = [
        make_event(
            chain_dir.signing_key("root"),
            source=ev.ROOT,
            type="department.registered",
            data={"department_id": "tax", "name": "Tax", "public_key": key.public.hex},
        )
    ] + [
        make_event(
            key,
            source="tax",
            type="document.registered",
            data={"document_id": f"d{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
        )
        for n in range(30)
    ]
    for envelope in published:
        await client.publish(envelope)
    with pytest.raises(Crash):
        await asyncio.wait_for(crashing, 30)

    store = LedgerStore(make_engine(db_url))
    task, stop = await start(Orderer, store)
    try:
        for _ in range(400):
            if all(store.locate(e.id, e.source) for e in published):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(settings.ack_wait_s * 2)  # let every unacked copy come back and be judged
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)

    js = nc.jetstream()
    newest = await last_height(js)
    ids = [e["id"] async for _, raw in follow_blocks(js, 0, to_height=newest) for e in Block.from_bytes(raw).events]
    assert all(ids.count(e.id) == 1 for e in published), "an event was lost or ordered twice"
    assert len(ids) == len(set(ids))
    assert (await verify_chain(js)).ok
    await nc.drain()


class CountBySource:
    """A minimal projection: how many events each source has on chain."""

    name = "count_by_source"
    metadata = MetaData()
    counts = Table("test_counts", metadata, Column("source", String(64), primary_key=True), Column("n", Integer))

    def prepare(self, engine: Engine) -> None:
        self.metadata.create_all(engine)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        for envelope in block.envelopes:
            current = conn.execute(select(self.counts.c.n).where(self.counts.c.source == envelope.source)).scalar()
            if current is None:
                conn.execute(self.counts.insert().values(source=envelope.source, n=1))
            else:
                conn.execute(self.counts.update().where(self.counts.c.source == envelope.source).values(n=current + 1))

    def read(self, conn: Connection) -> dict[str, int]:
        return {row.source: row.n for row in conn.execute(select(self.counts))}


async def test_a_projection_resumes_from_its_checkpoint(ledger: Ledger, db_url: str) -> None:
    await ledger.register_department("tax")
    for n in range(4):
        await ledger.submit(ledger.document("tax", n))
    js = ledger.nc.jetstream()
    engine = make_engine(db_url)
    first = ProjectionRunner(js, engine, CountBySource())
    reached = await first.run(until_height=await last_height(js))
    with engine.connect() as conn:
        assert CountBySource().read(conn) == {"root": 2, "tax": 4}  # genesis + registration

    for n in range(4, 10):
        await ledger.submit(ledger.document("tax", n))
    resumed = ProjectionRunner(js, engine, CountBySource())
    assert resumed.height == reached
    await resumed.run(until_height=await last_height(js))
    with engine.connect() as conn:
        assert CountBySource().read(conn) == {"root": 2, "tax": 10}
    engine.dispose()


async def publish_tampered_block(ledger: Ledger) -> int:
    """Stop the orderer, then append a block whose event was altered after the orderer signed it."""
    await ledger.shutdown()
    blocks = await read_chain(ledger)
    last = blocks[-1]
    envelope = ledger.document("tax", 99)
    new_leaf = leaf_hash(envelope.to_bytes())
    log = Frontier()
    for leaf in [*(leaf for block in blocks for leaf in block.leaf_hashes()), new_leaf]:
        log.append(leaf)
    block = seal_block(
        chain_id=last.header.chain_id,
        height=last.height + 1,
        prev_hash=last.hash,
        events=[envelope.to_dict()],
        leaf_hashes=[new_leaf],
        log_after=log,
        time="2030-01-01T00:00:00.000000Z",
        orderer_key=ledger.data.signing_key("orderer"),
    )
    altered = dict(envelope.to_dict(), data={**envelope.data, "title": "Tampered"})
    tampered = block.model_copy(update={"events": [altered]})
    await ledger.nc.jetstream().publish(
        subjects.BLOCKS_SUBJECT,
        tampered.to_bytes(),
        headers={"Nats-Expected-Last-Sequence": str(subjects.block_sequence(last.height))},
    )
    return tampered.height


async def test_a_tampered_block_halts_a_projection_and_fails_verify(ledger: Ledger, tmp_path: Any) -> None:
    await ledger.register_department("tax")
    await ledger.submit(ledger.document("tax", 1))
    bad_height = await publish_tampered_block(ledger)
    js = ledger.nc.jetstream()

    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    runner = ProjectionRunner(js, engine, CountBySource())
    with pytest.raises(ProjectionHalted) as halted:
        await runner.run(until_height=bad_height)
    assert halted.value.height == bad_height
    assert "events Merkle root" in halted.value.detail
    assert ProjectionRunner(js, engine, CountBySource()).height == bad_height - 1  # nothing applied

    report = await verify_chain(js)
    assert (report.ok, report.first_bad_height, report.height) == (False, bad_height, bad_height - 1)

    cli = subprocess.run(
        [sys.executable, "-m", "govchain.services.cli", "verify", "--json", "--nats-url", ledger.nats_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1, cli.stderr
    assert json.loads(cli.stdout) == {
        "ok": False,
        "height": bad_height - 1,
        "events": 3,
        "first_bad_height": bad_height,
        "crypto": "intl",
    }

    # The orderer itself refuses to resume on a broken chain.
    with pytest.raises(Exception, match="fails verification"):
        await ledger.start()


async def test_an_orderer_whose_key_is_revoked_stops_instead_of_signing(ledger: Ledger) -> None:
    orderer_key = ledger.data.signing_key("orderer")
    revoke = make_event(
        ledger.root, source=ev.ROOT, type="key.revoked", data={"key_id": orderer_key.key_id, "reason": "compromised"}
    )
    assert (await ledger.submit(revoke))["status"] == "committed"  # signed by the key as of before
    await ledger.client.publish(
        make_event(
            ledger.root,
            source=ev.ROOT,
            type="department.registered",
            data={"department_id": "late", "name": "Late", "public_key": SigningKey.generate().public.hex},
        )
    )
    assert ledger.task is not None
    with pytest.raises(OrdererKeyRevoked):
        await asyncio.wait_for(ledger.task, 20)
    ledger.task = None
    assert (await verify_chain(ledger.nc.jetstream())).ok
