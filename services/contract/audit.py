"""Re-executing every contract from the chain alone, and comparing with what is on chain.

The audit builds a fresh contract engine projection in a scratch database, replays every
block (verified), and collects the results the contracts *should* have produced. Every
result event on chain signed by the contract engine must be one of them, byte for byte in
type, data and time; anything else is a forged or altered result.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import Connection, select

from govchain.bus.blocks import last_height
from govchain.projection.runner import ProjectionRunner
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.protocol.verify import VerifiedBlock
from govchain.services.contract import tables as t
from govchain.services.contract.engine import ContractEngineProjection
from govchain.storage.engine import make_engine

NOT_RESULTS = {"clock.tick"}


@dataclass
class ContractAudit:
    ok: bool
    checked: int
    mismatches: list[dict[str, Any]]
    not_yet_on_chain: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "mismatches": self.mismatches,
                "not_yet_on_chain": self.not_yet_on_chain}


class _Replay(ContractEngineProjection):
    """The engine's projection, also noting every result event found on chain."""

    def __init__(self) -> None:
        super().__init__()
        self.on_chain: dict[str, dict[str, Any]] = {}

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        for envelope in block.envelopes:
            if envelope.source == CONTRACT_ENGINE and envelope.type not in NOT_RESULTS:
                self.on_chain[envelope.id] = {"type": envelope.type, "data": envelope.data, "time": envelope.time,
                                              "height": block.block.height}
        super().apply(conn, block)


async def audit_contracts(
    js: JetStreamContext, *, genesis_hash: str | None = None, on_block: Callable[[int, int], None] | None = None,
) -> ContractAudit:
    with tempfile.TemporaryDirectory(prefix="govchain-audit-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'replay.db'}")
        replay = _Replay()
        runner = ProjectionRunner(js, engine, replay, genesis_hash=genesis_hash, check_events=True)
        newest = await last_height(js)
        await runner.run(until_height=newest, on_block=on_block)
        with engine.connect() as conn:
            expected = {row.event_id: {"type": row.type, "data": json.loads(row.data), "time": row.time}
                        for row in conn.execute(select(t.outbox))}
        engine.dispose()
    mismatches = []
    for event_id, actual in sorted(replay.on_chain.items(), key=lambda item: item[1]["height"]):
        wanted = expected.get(event_id)
        seen = {k: actual[k] for k in ("type", "data", "time")}
        if wanted is None:
            mismatches.append({"event_id": event_id, "height": actual["height"], "kind": "forged",
                               "detail": f"{actual['type']} on chain that no contract produced"})
        elif wanted != seen:
            mismatches.append({"event_id": event_id, "height": actual["height"], "kind": "altered",
                               "detail": f"re-execution gives {wanted}, the chain holds {seen}"})
    missing = sorted(set(expected) - set(replay.on_chain))
    return ContractAudit(not mismatches, len(replay.on_chain), mismatches, missing)
