"""Ledger refusals, tallied from stream REJECTED (refused events never reach the chain).

Why a follower that stores rows keyed by stream sequence, rather than the alternatives:

- *Reading the stream on demand* in every summary costs a pass over every refusal ever
  made (REJECTED keeps them all), per request, and grows without bound.
- *A durable JetStream consumer* keeps its position on the server, apart from our rows: a
  crash between our insert and its ack counts a refusal twice unless we de-duplicate
  anyway, and the consumer is server state someone must provision and clean up.

Here the position *is* the rows (the highest stored sequence), written in the same
transaction, so a restart resumes exactly where it stopped, reading with direct gets
(:mod:`govchain.bus.stream_reader`) like the block projections do. A summary first waits (bounded) until the tally
has reached the stream's last sequence at request time, so a refusal its publisher has
already been told about is in the next summary.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, func, insert, select

from govchain.bus.stream_reader import follow_batches
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.logs import get_logger
from govchain.projection.runner import wait_for_height
from govchain.services.analytics import tables as t

log = get_logger("govchain.analytics")

BATCH_MAX = 500
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Refusal:
    stream_seq: int
    event_id: str
    department: str
    reason: str
    rejected_at: str | None

    @classmethod
    def from_message(cls, stream_seq: int, subject: str, data: bytes) -> Refusal:
        """Read a REJECTED record; the subject (``gov.rejected.<dept>.<event id>``) backs up a
        record that does not parse, so even that is counted rather than lost."""
        parts = subject.split(".", 3)
        department, event_id = (parts[2], parts[3]) if len(parts) == 4 else ("unknown", "unknown")
        try:
            record: Any = json.loads(data)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {}
        return cls(
            stream_seq=stream_seq,
            event_id=str(record.get("event_id") or event_id)[:128],
            department=str(record.get("source") or department)[:64],
            reason=str(record.get("reason") or UNREADABLE)[:64],
            rejected_at=record.get("rejected_at") if isinstance(record.get("rejected_at"), str) else None,
        )


class RefusalTally:
    """Follows REJECTED into ``analytics_refusals``; the tables must exist (migrated) first."""

    def __init__(self, js: JetStreamContext, engine: Engine, names: ChainNames = DEFAULT) -> None:
        self.js = js
        self.names = names
        self.engine = engine
        with engine.connect() as conn:
            self.seq: int = conn.execute(select(func.coalesce(func.max(t.refusals.c.stream_seq), 0))).scalar_one()

    async def run(self, stop: asyncio.Event) -> None:
        async for messages in follow_batches(
            self.js, self.names.rejected_stream, self.seq + 1, stop=stop, gapless=False, batch=BATCH_MAX
        ):
            batch = [Refusal.from_message(m.seq, m.subject, m.data) for m in messages]
            await asyncio.to_thread(self._store, batch)
            self.seq = batch[-1].stream_seq

    async def caught_up(self, timeout: float = 10.0) -> int:
        """Wait (bounded) until every refusal on the stream now is stored; the sequence reached."""
        try:
            last = (await self.js.stream_info(self.names.rejected_stream)).state.last_seq
        except NotFoundError:
            return self.seq
        await wait_for_height(lambda: self.seq, last, timeout)  # a sequence waits like a height
        return self.seq

    def _store(self, batch: list[Refusal]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.refusals),
                [
                    {
                        "stream_seq": r.stream_seq,
                        "event_id": r.event_id,
                        "department": r.department,
                        "reason": r.reason,
                        "rejected_at": r.rejected_at,
                    }
                    for r in batch
                ],
            )
        log.debug("refusals tallied", count=len(batch), up_to_seq=batch[-1].stream_seq)
