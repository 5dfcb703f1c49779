"""The orderer's hot path, CPU time per event by stage: the real ``Orderer`` loop, NATS faked.

The ledger's own ``Orderer._order`` runs over a stream of pre-signed messages (batch
envelopes of ``--batch-size`` events from several departments, as ``make bench`` sends)
handed to it by an in-memory puller; blocks are "appended" to a fake JetStream that only
counts them, and indexed into a real SQLite store (``synchronous=FULL``, as the service runs).
Each stage the orderer calls is timed with the CPU clock of its own thread
(``time.thread_time``), so the figures do not depend on how loaded the machine is:

- parse: ``preparse_message`` (JSON, envelope, canonical forms, batch paths);
- dedup: ``LedgerStore.included``;
- validate: ``sequence`` (payload models, signatures, event time, policy, per event);
- seal: Merkle log appends, the events root, header hash, Ed25519 signature, wire bytes;
- index: ``LedgerStore.record`` (one SQL transaction, fsynced, per block);
- the rest: the loop itself, the cutter, acks, thread hand-offs (total - stages).

``--profile FILE`` writes a cProfile of the loop (own and cumulative time per function).
For a repeatable instruction count, run it under callgrind twice with different
``--events`` from one ``--workload`` file and divide the difference by the difference in
events (set-up cancels out)::

    python -m bench.hotpath --events 20000 --workload /tmp/w.pickle        # writes it once
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.1 \\
        python -m bench.hotpath --events 2000 --workload /tmp/w.pickle

``--crypto gm`` builds a 国密 chain instead (genesis naming the gm profile, SM2 root, orderer
and department keys, SM3 hashing, an Ed25519 checkpoint key as ``govchain init --crypto gm``
makes); the default, ``intl``, is the chain this benchmark always built. A stored workload
carries its profile and is refused under the other one.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pickle
import pstats
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from govchain.crypto import CHECKPOINT_SUITE, DEFAULT_SUITE, SUITE_NAMES, needs_checkpoint_key, suite_by_name
from govchain.protocol import events as ev
from govchain.protocol.cutter import BlockLimits
from govchain.protocol.envelope import utc_now
from govchain.protocol.genesis import make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import Principal
from govchain.protocol.verify import ChainVerifier
from govchain.services.ledger import orderer as orderer_module
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine

STAGES = ("parse", "dedup", "validate", "seal", "index")


@dataclass
class Workload:
    root: bytes
    orderer: bytes
    departments: dict[str, bytes]
    messages: list[tuple[str, bytes, str]]
    """(subject, payload, Nats-Msg-Id) of each message, in publishing order."""
    batch_size: int
    signed_at: str
    """When the events were signed: the orderer's clock is held there, so that a stored
    workload's events stay within the chain's event-time window whenever it is replayed."""
    crypto: str = DEFAULT_SUITE
    """The chain's crypto profile (``intl`` | ``gm``): every key above is of its suite."""


def make_workload(events: int, batch_size: int, departments: int, crypto: str = DEFAULT_SUITE) -> Workload:
    from bench.workload import presign

    suite = suite_by_name(crypto)
    signed_at = utc_now()
    keys = {f"dept{i}": SigningKey.generate(suite) for i in range(departments)}
    messages = presign(keys, events, tag="hot", batch_size=batch_size)
    return Workload(
        SigningKey.generate(suite).to_pem(),
        SigningKey.generate(suite).to_pem(),
        {name: key.to_pem() for name, key in keys.items()},
        [(m.subject, m.payload, m.msg_id) for m in messages],
        batch_size,
        signed_at,
        suite.name,
    )


def load_workload(
    path: Path | None, events: int, batch_size: int, departments: int, crypto: str = DEFAULT_SUITE
) -> Workload:
    if path is not None and path.exists():
        with path.open("rb") as file:
            stored = _Unpickler(file).load()
        workload = stored if isinstance(stored, Workload) else Workload(**stored)
        if workload.crypto != crypto:
            raise SystemExit(f"{path} holds a {workload.crypto} workload, not {crypto}: use another --workload file")
        return workload
    workload = make_workload(events, batch_size, departments, crypto)
    if path is not None:
        path.write_bytes(pickle.dumps(asdict(workload)))
    return workload


class _Unpickler(pickle.Unpickler):
    """Reads workloads stored as a ``Workload`` of whatever module ran (``__main__`` too)."""

    def find_class(self, module: str, name: str) -> Any:
        return Workload if name == "Workload" else super().find_class(module, name)


class _Msg:
    """What the orderer reads of a JetStream message."""

    __slots__ = ("data", "headers", "metadata", "subject")

    def __init__(self, subject: str, data: bytes, msg_id: str, seq: int) -> None:
        self.subject, self.data, self.headers = subject, data, {"Nats-Msg-Id": msg_id}
        self.metadata = SimpleNamespace(sequence=SimpleNamespace(stream=seq))

    async def ack(self) -> None:
        return None

    async def nak(self) -> None:
        return None


class _JetStream:
    """Counts what the orderer appends; a block lands at the sequence it expects."""

    def __init__(self, next_block_seq: int, keep: bool = False) -> None:
        self.next_block_seq = next_block_seq
        self.block_bytes = 0
        self.rejections = 0
        self.blocks: list[bytes] | None = [] if keep else None
        """The appended blocks' bytes, when asked to keep them (tests)."""

    async def publish(self, subject: str, payload: bytes, *, stream: str, headers: dict[str, str]) -> Any:
        if stream.startswith("BLOCKS") or subject.endswith("blocks"):
            self.block_bytes += len(payload)
            if self.blocks is not None:
                self.blocks.append(payload)
            seq, self.next_block_seq = self.next_block_seq, self.next_block_seq + 1
            return SimpleNamespace(seq=seq)
        self.rejections += 1
        return SimpleNamespace(seq=0)


class _Nats:
    def __init__(self, js: _JetStream) -> None:
        self._js = js

    def jetstream(self) -> _JetStream:
        return self._js


class _Puller:
    """Hands out the messages in fetches of at most ``batch``, then stops the loop."""

    def __init__(self, msgs: list[_Msg], stop: asyncio.Event) -> None:
        self._msgs, self._at, self._stop = msgs, 0, stop

    async def fetch(self, batch: int, timeout: float) -> list[_Msg]:
        taken = self._msgs[self._at : self._at + batch]
        self._at += len(taken)
        if self._at >= len(self._msgs):
            self._stop.set()
        return taken

    async def pause(self) -> None:
        return None


class StageClock:
    """CPU seconds of each stage, on the thread that ran it."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[stage] += time.thread_time() - start

        return timed


def _instrument(clock: StageClock, store: LedgerStore) -> dict[str, Any]:
    """Time the stages where the orderer calls them (names differ between versions); returns
    the module attributes replaced, to be put back."""
    saved = {
        name: getattr(orderer_module, name)
        for name in ("preparse_message", "sequence", "seal_judged", "seal_block", "utc_now")
        if hasattr(orderer_module, name)
    }
    orderer_module.preparse_message = clock.wrap("parse", orderer_module.preparse_message)  # type: ignore[attr-defined]
    orderer_module.sequence = clock.wrap("validate", orderer_module.sequence)  # type: ignore[attr-defined]
    for name in ("seal_judged", "seal_block"):  # the seal step: today's, or the one before
        if hasattr(orderer_module, name):
            setattr(orderer_module, name, clock.wrap("seal", getattr(orderer_module, name)))
            break
    store.included = clock.wrap("dedup", store.included)  # type: ignore[method-assign]
    store.record = clock.wrap("index", store.record)  # type: ignore[method-assign]
    return saved


async def _run(
    workload: Workload, events: int, workdir: Path, profile: Path | None, stages: bool, keep_blocks: bool = False
) -> dict[str, Any]:
    root, orderer_key = SigningKey.from_pem(workload.root), SigningKey.from_pem(workload.orderer)
    if needs_checkpoint_key(root.suite):  # a gm chain, as `govchain init --crypto gm` makes it
        checkpoint_key = SigningKey.generate(CHECKPOINT_SUITE)
        genesis = make_genesis_event("hotpath", [root], [orderer_key], checkpoint_key=checkpoint_key)
    else:
        genesis = make_genesis_event("hotpath", [root], [orderer_key])
    store = LedgerStore(make_engine(f"sqlite:///{workdir / 'ledger.db'}"))
    verifier = ChainVerifier()
    genesis_block = make_genesis_block(genesis, orderer_key)
    applied = verifier.verify(genesis_block)
    assert verifier.checkpoint is not None
    store.record(applied, verifier.checkpoint)
    state = verifier.checkpoint.state
    for name, pem in workload.departments.items():
        state.add_principal(Principal(name, "department", name.title(), name))
        state.add_key(SigningKey.from_pem(pem).public, name)
    assert state.keys[orderer_key.key_id].owner == ev.LEDGER

    saved = {"utc_now": orderer_module.utc_now}
    orderer_module.utc_now = lambda: workload.signed_at  # type: ignore[attr-defined]
    js = _JetStream(next_block_seq=2, keep=keep_blocks)
    orderer = orderer_module.Orderer(_Nats(js), store, orderer_key, genesis, BlockLimits())  # type: ignore[arg-type]
    orderer.checkpoint = verifier.checkpoint
    per_message = max(1, workload.batch_size)
    msgs = [
        _Msg(subject, payload, msg_id, seq)
        for seq, (subject, payload, msg_id) in enumerate(workload.messages[: -(-events // per_message)], 1)
    ]
    clock = StageClock()
    if stages:
        saved = {**_instrument(clock, store), **saved}
    stop = asyncio.Event()
    puller = _Puller(msgs, stop)
    gc.collect()
    gc.freeze()  # as a service settles after start-up (govchain.runtime)
    profiler = cProfile.Profile() if profile else None
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        await orderer._order(puller, stop, None)  # type: ignore[arg-type]
    finally:
        if profiler is not None:
            profiler.disable()
        for name, value in saved.items():
            setattr(orderer_module, name, value)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
    assert orderer.checkpoint is not None
    committed = orderer.checkpoint.log.size - 1
    if committed <= 0 or js.rejections:
        raise SystemExit(f"the orderer committed {committed} events and refused {js.rejections}: not a hot path")
    if profiler is not None and profile is not None:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        text.write(f"cProfile of the orderer loop over {committed:,} events (times inflated by the profiler)\n")
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(45)
        profile.write_text(text.getvalue())
    store.engine.dispose()
    us = {stage: clock.seconds[stage] / committed * 1e6 for stage in STAGES} if stages else {}
    if stages:
        us["rest (loop, cutter, acks, hand-offs)"] = cpu / committed * 1e6 - sum(us.values())
    result = {
        "crypto": orderer.suite.name,
        "events": committed,
        "blocks": orderer.height,
        "rejected": js.rejections,
        "cpu_us_per_event": cpu / committed * 1e6,
        "wall_us_per_event": wall / committed * 1e6,
        "stages_us_per_event": us,
        "block_bytes_per_event": js.block_bytes / committed,
    }
    if js.blocks is not None:
        result["block_wires"] = [genesis_block.to_bytes(), *js.blocks]
    return result


async def measure_async(
    events: int,
    batch_size: int = 100,
    *,
    departments: int = 8,
    workload_path: Path | None = None,
    profile: Path | None = None,
    stages: bool = True,
    crypto: str = DEFAULT_SUITE,
    keep_blocks: bool = False,
) -> dict[str, Any]:
    """The hot path's figures (see the module docstring), from inside a running event loop.

    ``keep_blocks``: also return the chain's blocks as appended (``block_wires``, block 0 first)."""
    workload = load_workload(workload_path, events, batch_size, departments, crypto)
    with tempfile.TemporaryDirectory(prefix="govchain-hotpath-") as tmp:
        return await _run(workload, events, Path(tmp), profile, stages, keep_blocks)


def measure(
    events: int,
    batch_size: int = 100,
    *,
    departments: int = 8,
    workload_path: Path | None = None,
    profile: Path | None = None,
    stages: bool = True,
    crypto: str = DEFAULT_SUITE,
    keep_blocks: bool = False,
) -> dict[str, Any]:
    return asyncio.run(
        measure_async(
            events,
            batch_size,
            departments=departments,
            workload_path=workload_path,
            profile=profile,
            stages=stages,
            crypto=crypto,
            keep_blocks=keep_blocks,
        )
    )


def _profile_note(result: dict[str, Any]) -> str:
    crypto = result.get("crypto", DEFAULT_SUITE)
    return "" if crypto == DEFAULT_SUITE else f"; a {crypto} chain"


def print_hotpath(result: dict[str, Any]) -> None:
    print(
        f"\nOrderer hot path (bench.hotpath: the real loop, NATS faked{_profile_note(result)}), {result['events']:,} events in "
        f"{result['blocks']} blocks: {result['cpu_us_per_event']:.1f} µs CPU per event"
    )
    for stage, us in result["stages_us_per_event"].items():
        print(f"  {stage:<40} {us:7.1f} µs  {us / result['cpu_us_per_event']:5.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--departments", type=int, default=8)
    parser.add_argument("--workload", type=Path, help="pre-signed messages: read if it exists, else written")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the loop here")
    parser.add_argument("--no-stages", action="store_true", help="no stage timers (for instruction counts)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; each is printed, the JSON has the best")
    parser.add_argument(
        "--crypto", choices=SUITE_NAMES, default=DEFAULT_SUITE, help="the chain's crypto profile (default intl)"
    )
    args = parser.parse_args()
    results = [
        measure(
            args.events,
            args.batch_size,
            departments=args.departments,
            workload_path=args.workload,
            profile=args.profile,
            stages=not args.no_stages,
            crypto=args.crypto,
        )
        for _ in range(args.repeat)
    ]
    for result in results:
        print_hotpath(result)
    best = min(results, key=lambda r: r["cpu_us_per_event"])
    best["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(best))


if __name__ == "__main__":
    main()
