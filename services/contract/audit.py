"""Re-executing every contract from the chain alone, and comparing with what is on chain.

The audit builds a fresh contract engine projection in a scratch database, replays every
block (verified), and collects the results the contracts *should* have produced. Every
result event on chain signed by the contract engine must be one of them, byte for byte in
type, data and time; anything else is a forged or altered result.

The other way round, a result re-execution expects but the chain lacks is *missing* (the
engine's result was suppressed, or refused by the ledger) when either

(a) the chain holds a contract-engine result whose triggering block is later than the missing
    one's: the engine publishes its outbox in order of triggering block, one event after
    the other, and the ledger orders events in the order they arrive, so by the time a later
    block's result is on chain every earlier one has been published and ordered; or
(b) the newest block's time is at least ``grace_seconds`` (default GRACE_SECONDS) past the
    triggering block's time: the engine has had ample time, whatever else happened.

Otherwise the result may still be on its way (the newest blocks' results sit in the engine's
outbox until it publishes them): it is listed in ``not_yet_on_chain`` and does not make the
audit fail. Both rules read only the chain (block times, never the wall clock), so two
auditors of the same chain agree.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import Connection, select

from govchain.bus.blocks import last_height
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.projection.runner import ProjectionRunner
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.protocol.verify import VerifiedBlock
from govchain.services.contract import tables as t
from govchain.services.contract.projection import ContractEngineProjection
from govchain.storage.engine import make_engine

NOT_RESULTS = {"clock.tick"}
GRACE_SECONDS = 300.0
"""Block time after its triggering block by which a result must be on chain (rule (b) above)."""


@dataclass
class ContractAudit:
    ok: bool
    checked: int
    mismatches: list[dict[str, Any]]
    not_yet_on_chain: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "mismatches": self.mismatches,
            "not_yet_on_chain": self.not_yet_on_chain,
        }


class _Replay(ContractEngineProjection):
    """The engine's projection, also noting every result event found on chain and block times."""

    def __init__(self) -> None:
        super().__init__()
        self.on_chain: dict[str, dict[str, Any]] = {}
        self.block_times: dict[int, str] = {}

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        self.block_times[block.block.height] = block.block.header.time
        for envelope in block.envelopes:
            if envelope.source == CONTRACT_ENGINE and envelope.type not in NOT_RESULTS:
                self.on_chain[envelope.id] = {
                    "type": envelope.type,
                    "data": envelope.data,
                    "time": envelope.time,
                    "height": block.block.height,
                }
        super().apply(conn, block)


async def audit_contracts(
    js: JetStreamContext,
    *,
    genesis_hash: str | None = None,
    on_block: Callable[[int, int], None] | None = None,
    grace_seconds: float = GRACE_SECONDS,
    names: ChainNames = DEFAULT,
) -> ContractAudit:
    with tempfile.TemporaryDirectory(prefix="govchain-audit-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'replay.db'}")
        replay = _Replay()
        runner = ProjectionRunner(js, engine, replay, genesis_hash=genesis_hash, check_events=True, names=names)
        newest = await last_height(js, names)
        await runner.run(until_height=newest, on_block=on_block)
        with engine.connect() as conn:
            expected = {
                row.event_id: {
                    "type": row.type,
                    "data": json.loads(row.data),
                    "time": row.time,
                    "trigger_height": row.height,
                }
                for row in conn.execute(select(t.outbox))
            }
        engine.dispose()
    mismatches = []
    for event_id, actual in sorted(replay.on_chain.items(), key=lambda item: item[1]["height"]):
        wanted = expected.get(event_id)
        seen = {k: actual[k] for k in ("type", "data", "time")}
        if wanted is None:
            mismatches.append(
                {
                    "event_id": event_id,
                    "height": actual["height"],
                    "kind": "forged",
                    "detail": f"{actual['type']} on chain that no contract produced",
                }
            )
        elif (wanted := {k: wanted[k] for k in ("type", "data", "time")}) != seen:
            mismatches.append(
                {
                    "event_id": event_id,
                    "height": actual["height"],
                    "kind": "altered",
                    "detail": f"re-execution gives {wanted}, the chain holds {seen}",
                }
            )
    missing, pending = _missing(expected, replay, grace_seconds)
    mismatches += missing
    return ContractAudit(not mismatches, len(replay.on_chain), mismatches, pending)


def _missing(
    expected: dict[str, dict[str, Any]], replay: _Replay, grace_seconds: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Expected results absent from the chain: missing by rules (a) or (b), else still pending."""
    progress = max((expected[i]["trigger_height"] for i in replay.on_chain if i in expected), default=-1)
    newest_time = replay.block_times[max(replay.block_times)] if replay.block_times else None
    missing, pending = [], []
    for event_id, wanted in sorted(expected.items(), key=lambda item: (item[1]["trigger_height"], item[0])):
        if event_id in replay.on_chain:
            continue
        height = wanted["trigger_height"]
        waited = _seconds(replay.block_times.get(height), newest_time)
        if height < progress:
            why = f"the engine's results for block {progress} are on chain, this one (from block {height}) is not"
        elif waited is not None and waited >= grace_seconds:
            why = f"not on chain {waited:.0f} s of block time after its block {height} (grace {grace_seconds:.0f} s)"
        else:
            pending.append(event_id)
            continue
        missing.append(
            {
                "event_id": event_id,
                "height": height,
                "kind": "missing",
                "detail": f"re-execution expects {wanted['type']} {wanted['data']}; {why}",
            }
        )
    return missing, pending


def _seconds(earlier: str | None, later: str | None) -> float | None:
    if earlier is None or later is None:
        return None
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
