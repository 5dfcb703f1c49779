"""Reading the whole chain back: a new projection catching up, and an auditor's verify."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert

from govchain.audit import ChainReport, verify_chain
from govchain.bus.blocks import last_height
from govchain.projection.runner import ProjectionRunner
from govchain.protocol.verify import VerifiedBlock
from govchain.storage.engine import make_engine

_metadata = MetaData()
_documents = Table(
    "bench_documents",
    _metadata,
    Column("event_id", String(64), primary_key=True),
    Column("height", Integer, nullable=False),
    Column("source", String(64), nullable=False),
)


class DocumentIndex:
    """A minimal read model: one row per event (what a registry projection does, minus detail)."""

    name = "bench-documents"

    def prepare(self, engine: Engine) -> None:
        _metadata.create_all(engine)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        if block.envelopes:
            conn.execute(
                insert(_documents),
                [{"event_id": e.id, "height": block.block.height, "source": e.source} for e in block.envelopes],
            )


@dataclass
class ReplayResult:
    events: int
    blocks: int
    seconds: float
    ok: bool = True
    detail: str | None = None
    cpu_seconds: float = 0.0
    """CPU time of this process (every thread) over the replay: it does not depend on how
    loaded the machine is, unlike ``seconds``."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1e6 if self.events else 0.0


async def catch_up(js: JetStreamContext, genesis_hash: str, workdir: Path) -> ReplayResult:
    """A fresh projection (SQLite) follows BLOCKS from height 0 to the head, verifying each block."""
    engine = make_engine(f"sqlite:///{workdir / 'catchup.db'}")
    runner = ProjectionRunner(js, engine, DocumentIndex(), genesis_hash=genesis_hash)
    newest = await last_height(js)
    events = 0

    def count(height: int, _newest: int) -> None:
        nonlocal events
        checkpoint = runner.verifier.checkpoint
        events = checkpoint.log.size if checkpoint is not None else 0

    t0, cpu0 = time.perf_counter(), time.process_time()
    await runner.run(until_height=newest, on_block=count)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    engine.dispose()
    return ReplayResult(events, newest + 1, seconds, cpu_seconds=cpu)


async def verify(js: JetStreamContext, genesis_hash: str) -> ReplayResult:
    """``govchain verify``: every block and every event re-checked (govchain.audit.verify_chain)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    report: ChainReport = await verify_chain(js, genesis_hash=genesis_hash)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return ReplayResult(report.events, report.height + 1, seconds, report.ok, report.detail, cpu)
