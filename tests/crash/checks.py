"""What must hold after every crash and restart, once the load has drained.

(a) everything came back by itself and caught up (``settle``), (b) ``govchain verify``
passes (``run_verify``), (c) every event that got a PubAck is on chain exactly once, or was
refused with a reason on stream REJECTED, and no event is on chain twice (``account``),
(d) every store equals a rebuild from the chain at the same height (``compare_stores``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from nats.js import JetStreamContext
from sqlalchemy import Engine, create_engine, event, text

from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.stream_reader import read_stream
from govchain.privacy.vault import KeyVault
from govchain.projection.digest import table_digests
from govchain.projection.runner import Projection, ProjectionRunner
from govchain.protocol.block import Block
from govchain.protocol.verify import ChainVerifier
from govchain.services.analytics.projection import AnalyticsProjection
from govchain.services.analytics.refusals import RefusalTally
from govchain.services.contract.projection import ContractEngineProjection
from govchain.services.identity.projection import IdentityProjection
from govchain.services.ledger.store import LedgerStore
from govchain.services.registry.projection import RegistryProjection
from govchain.storage.engine import make_engine

from .procs import GOVCHAIN, REPO


@dataclass(frozen=True)
class Store:
    """One service's store: its database file (``db/<database>.db``) and checkpoint name."""

    name: str
    database: str
    checkpoint: str
    projection: Callable[[Engine], Projection] | None = None
    """How the service builds its projection on an engine (None: the ledger's own index)."""
    refusals: bool = False
    """It also tallies stream REJECTED (analytics)."""


STORES = (
    Store("ledger", "ledger", "ledger"),
    Store("identity", "identity", "identity", lambda engine: IdentityProjection()),
    Store("registry", "registry", "registry", lambda engine: RegistryProjection(KeyVault(engine))),
    Store("contract", "contract", "contract-engine", lambda engine: ContractEngineProjection()),
    Store("analytics", "analytics", "analytics", lambda engine: AnalyticsProjection(), refusals=True),
)


def _scalar(path: Path, sql: str, *params: Any) -> Any:
    """One value from a live store (None while the store or its table does not exist yet)."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute(sql, params).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else row[0]


def checkpoint_height(db: Path, store: Store) -> int | None:
    """The height a live store has applied (None before its first block)."""
    return _scalar(
        db / f"{store.database}.db", "SELECT height FROM govchain_checkpoints WHERE name = ?", store.checkpoint
    )


# -- (a) back by itself and caught up


@dataclass
class Settled:
    head: int
    waited_s: float
    state: dict[str, Any]


async def _state(js: JetStreamContext, db: Path, *, cluster: bool) -> dict[str, Any]:
    """Every figure that must agree before the stores are compared."""
    events = await js.stream_info(subjects.EVENTS_STREAM)
    consumer = await js.consumer_info(subjects.EVENTS_STREAM, subjects.ORDERER_CONSUMER)
    rejected = await js.stream_info(subjects.REJECTED_STREAM)
    state: dict[str, Any] = {
        "head": await last_height(js),
        "events_waiting": events.state.messages,
        "unacked": consumer.num_ack_pending + consumer.num_pending,
        "rejected_last_seq": rejected.state.last_seq,
        "outbox_unsent": _scalar(db / "contract.db", "SELECT count(*) FROM contract_outbox WHERE published = 0"),
        "refusals_seq": _scalar(db / "analytics.db", "SELECT coalesce(max(stream_seq), 0) FROM analytics_refusals"),
    }
    for store in STORES:
        state[store.name] = checkpoint_height(db, store)
    if cluster:
        for name in (subjects.EVENTS_STREAM, subjects.BLOCKS_STREAM, subjects.REJECTED_STREAM):
            info = (await js.stream_info(name)).cluster
            leader = info.leader if info else None
            lagging = [] if info is None else [r.name for r in (info.replicas or []) if not r.current or r.offline]
            state[f"{name}_replicas"] = "ok" if leader and not lagging else f"leader={leader} lagging={lagging}"
    return state


def _ready(state: dict[str, Any]) -> bool:
    return (
        state["events_waiting"] == 0
        and state["unacked"] == 0
        and state["outbox_unsent"] == 0
        and state["refusals_seq"] == state["rejected_last_seq"]
        and all(state[store.name] == state["head"] for store in STORES)
        and all(v == "ok" for k, v in state.items() if k.endswith("_replicas"))
    )


async def settle(
    js: JetStreamContext,
    db: Path,
    alive: Callable[[], list[str]],
    *,
    cluster: bool = False,
    timeout: float = 180,
    quiet_s: float = 1.5,
) -> Settled:
    """Wait until intake is drained, every store is at the head, the contract engine's results
    are sent, the refusals are tallied (and, on a cluster, every replica is current), and it
    all stays so for ``quiet_s``. A process that died or a state that never settles fails,
    with what was still waiting: nothing may need a hand to recover."""
    started = time.monotonic()
    previous: dict[str, Any] | None = None
    since = started
    state: dict[str, Any] = {}
    while True:
        dead = alive()
        if dead:
            raise AssertionError("a process died after the restart:\n" + "\n".join(dead))
        try:
            state = await _state(js, db, cluster=cluster)
        except Exception as exc:  # noqa: BLE001  (a cluster electing, a stream not back yet: ask again)
            state = {"error": f"{type(exc).__name__}: {exc}"}
        if state != previous:
            previous, since = state, time.monotonic()
        elif "error" not in state and _ready(state) and time.monotonic() - since >= quiet_s:
            return Settled(state["head"], time.monotonic() - started, state)
        if time.monotonic() - started > timeout:
            raise AssertionError(f"did not settle within {timeout:.0f}s; still: {state}")
        await asyncio.sleep(0.25)


# -- (b) govchain verify


def run_verify(data: Path, env: dict[str, str], nats_url: str | None = None) -> tuple[int, dict[str, Any], str]:
    """``govchain verify --json`` as an operator runs it: exit code, its summary, stderr."""
    command = [*GOVCHAIN, "verify", "--data", str(data), "--json"]
    if nats_url:
        command += ["--nats-url", nats_url]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    try:
        summary = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        summary = {}
    return done.returncode, summary, done.stderr[-2000:]


# -- (c) every acknowledged event on chain exactly once, or refused with a reason


async def chain_ids(js: JetStreamContext) -> Counter[str]:
    """How many times each event id is on chain (every block, genesis to head)."""
    ids: Counter[str] = Counter()
    async for _, raw in follow_blocks(js, 0, to_height=await last_height(js)):
        ids.update(str(e["id"]) for e in json.loads(raw)["events"])
    return ids


async def rejections(js: JetStreamContext) -> dict[str, list[dict[str, Any]]]:
    """Every record on stream REJECTED, by the event id (or batch id) it names."""
    found: dict[str, list[dict[str, Any]]] = {}
    newest = (await js.stream_info(subjects.REJECTED_STREAM)).state.last_seq
    async for message in read_stream(js, subjects.REJECTED_STREAM, 1, to_seq=newest):
        record = json.loads(message.data)
        found.setdefault(str(record.get("event_id")), []).append(record)
    return found


@dataclass
class Accounting:
    acked_messages: int = 0
    acked_ids: int = 0
    committed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    resends: int = 0
    js_duplicates: int = 0
    chain_events: int = 0
    problems: list[str] = field(default_factory=list)


async def account(js: JetStreamContext, record: Path) -> Accounting:
    """Hold the chain to the publisher's record of PubAcks."""
    lines = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    batch_of: dict[str, str] = {}
    expected: dict[str, str] = {}
    result = Accounting(acked_messages=len(lines))
    for line in lines:
        expected.update((i, line.get("expect", "commit")) for i in line["ids"])
        result.resends += bool(line.get("resend"))
        result.js_duplicates += bool(line["duplicate"])
        if line["kind"] == "batch":
            batch_of.update((i, line["msg_id"]) for i in line["ids"])
    on_chain, refused = await chain_ids(js), await rejections(js)
    result.acked_ids, result.chain_events = len(expected), sum(on_chain.values())
    for event_id, expect in sorted(expected.items()):
        times = on_chain[event_id]
        records = refused.get(event_id) or refused.get(batch_of.get(event_id, ""), [])
        if times > 1:
            result.problems.append(f"acknowledged event {event_id} is on chain {times} times")
        elif times == 1 and expect == "commit":
            result.committed += 1
        elif times == 1:
            result.problems.append(f"acknowledged event {event_id} is on chain, but the ledger must refuse it")
        elif not records:
            result.problems.append(f"acknowledged event {event_id} is neither on chain nor on REJECTED (lost)")
        elif not all(r.get("reason") for r in records):
            result.problems.append(f"acknowledged event {event_id} is on REJECTED without a reason: {records}")
        elif expect == "commit":
            result.problems.append(
                f"acknowledged valid event {event_id} was refused: {records[0]['reason']} {records[0].get('detail')}"
            )
        else:
            result.rejected[records[0]["reason"]] += 1
    doubled = sorted(i for i, n in on_chain.items() if n > 1)
    if doubled:
        result.problems.append(f"{len(doubled)} event ids on chain more than once, e.g. {doubled[:5]}")
    return result


# -- (d) every store equals a rebuild from the chain


def _snapshot_engine(path: Path) -> Engine:
    """An engine whose connections we put in one read transaction ourselves (a snapshot)."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    return engine


def live_digests(path: Path, checkpoint: str) -> tuple[int | None, dict[str, str]]:
    """The checkpoint height and table digests of a live store, read from one snapshot."""
    engine = _snapshot_engine(path)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            height = conn.execute(
                text("SELECT height FROM govchain_checkpoints WHERE name = :n"), {"n": checkpoint}
            ).scalar()
            return height, table_digests(conn)
    finally:
        engine.dispose()


def _rows(path: Path, table: str) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {repr(row) for row in conn.execute(f'SELECT * FROM "{table}"')}


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """The replays' progress lines (INFO) off the test's output, for the length of the block."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.configure(**saved)


async def rebuild(js: JetStreamContext, store: Store, path: Path, height: int, refusals_seq: int) -> dict[str, str]:
    """Replay the chain into a fresh database up to ``height`` (and, for analytics, REJECTED
    up to ``refusals_seq``), the way the service builds its store; its table digests."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        if store.projection is None:  # the ledger's index, as the orderer replays it after a crash
            index, verifier = LedgerStore(engine), ChainVerifier()
            async for h, raw in follow_blocks(js, 0, to_height=height):
                applied = verifier.verify(Block.from_bytes(raw, height_hint=h))
                assert verifier.checkpoint is not None
                index.record(applied, verifier.checkpoint)
        else:
            runner = ProjectionRunner(js, engine, store.projection(engine))
            await runner.run(until_height=height, on_block=lambda *_: None)
            if store.refusals and refusals_seq > 0:
                tally, stop = RefusalTally(js, engine), asyncio.Event()
                task = asyncio.create_task(tally.run(stop))
                while tally.seq < refusals_seq and not task.done():
                    await asyncio.sleep(0.05)
                stop.set()
                await task
        return table_digests(engine)
    finally:
        engine.dispose()


@dataclass
class Comparison:
    stores: int = 0
    tables: int = 0
    rebuild_s: float = 0.0
    problems: list[str] = field(default_factory=list)


async def compare_stores(js: JetStreamContext, db: Path, scratch: Path, head: int) -> Comparison:
    """Digest each live store and a fresh replay of the chain to the same height; on a
    mismatch, name the tables and show a few rows found on one side only."""
    result = Comparison()
    scratch.mkdir(parents=True, exist_ok=True)
    refusals_seq = int(_scalar(db / "analytics.db", "SELECT coalesce(max(stream_seq), 0) FROM analytics_refusals") or 0)
    for store in STORES:
        live_path = db / f"{store.database}.db"
        height, live = live_digests(live_path, store.checkpoint)
        if height != head:
            result.problems.append(f"{store.name}: checkpoint at {height}, the chain head is {head}")
            continue
        fresh_path = scratch / f"{store.database}.db"
        started = time.monotonic()
        with quiet_logs():
            fresh = await rebuild(js, store, fresh_path, height, refusals_seq)
        result.rebuild_s += time.monotonic() - started
        result.stores += 1
        result.tables += len(live)
        for table in sorted(set(live) | set(fresh)):
            if live.get(table) == fresh.get(table):
                continue
            if table not in live or table not in fresh:
                result.problems.append(
                    f"{store.name}: table {table} only in the {'rebuild' if table in fresh else 'live store'}"
                )
                continue
            ours, theirs = _rows(live_path, table), _rows(fresh_path, table)
            result.problems.append(
                f"{store.name}: table {table} differs from a rebuild at height {height}: "
                f"{len(ours - theirs)} rows only live, e.g. {sorted(ours - theirs)[:3]}; "
                f"{len(theirs - ours)} rows only in the rebuild, e.g. {sorted(theirs - ours)[:3]}"
            )
    return result
