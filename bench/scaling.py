"""Scaling: the ledger's proof store at 10^4, 10^5 and 10^6 events.

Through NATS, 10^6 signed events would take longer than a benchmark run on 2 cores, so this
builds the ledger's own store directly: real :class:`LedgerStore` (SQLite), real
``LedgerStore.record`` per block of 500 (block row, event rows, the Merkle nodes the
:class:`Frontier` completes, the checkpoint), with synthetic leaves instead of signed events.
At each point it reports the process's RSS, the inclusion / consistency proof time (read
from the store, verified with the RFC 9162 verifier) and the orderer's per-batch de-duplication
lookup (``LedgerStore.included`` of 500 ids). It runs in its own process for a clean RSS.

    python -m bench.scaling --points 10000,100000,1000000 --dir /tmp/x
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.platform import REPO_ROOT, proc_status_kib
from govchain.protocol.block import ZERO_HASH, seal_block
from govchain.protocol.eventref import EventKey
from govchain.protocol.genesis import genesis_payload, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import (
    Frontier,
    NodeSource,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from govchain.protocol.state import ChainState
from govchain.protocol.verify import Checkpoint, VerifiedBlock
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine

BLOCK_SIZE = 500
PROOF_SAMPLES = 200
LOOKUP_SAMPLES = 20
BLOCK_TIME = "2025-01-01T00:00:00.000000Z"
EVENT_TYPE = "document.registered"


@dataclass
class ScalePoint:
    events: int
    rss_kib: int
    append_events_per_s: float
    inclusion_proof_us: float
    inclusion_path_len: int
    node_reads: float
    consistency_proof_us: float
    dedup_lookup_500_ms: float
    db_mib: float


def _leaf(index: int) -> bytes:
    return leaf_hash(index.to_bytes(8, "big"))


class _Counting:
    def __init__(self, inner: NodeSource) -> None:
        self.inner = inner
        self.reads = 0

    def perfect_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.inner.perfect_node(level, index)


def _measure(store: LedgerStore, log: Frontier, rng: random.Random) -> dict[str, Any]:
    size = log.size
    root = log.root()
    times, reads, lengths = [], [], []
    for index in (rng.randrange(size) for _ in range(PROOF_SAMPLES)):
        t0 = time.perf_counter()

        def prove(source: NodeSource, index: int = index) -> tuple[list[bytes], int]:
            counting = _Counting(source)
            return inclusion_proof(index, size, counting), counting.reads

        path, n_reads = store.with_nodes(prove)
        if not verify_inclusion(_leaf(index), index, size, path, root):
            raise AssertionError(f"inclusion proof of leaf {index} in {size} does not verify")
        times.append(time.perf_counter() - t0)
        reads.append(n_reads)
        lengths.append(len(path))
    old = size // 3
    t0 = time.perf_counter()
    old_root = store.with_nodes(lambda s: root_at(old, s))
    proof = store.with_nodes(lambda s: consistency_proof(old, size, s))
    if not verify_consistency(old, size, old_root, root, proof):
        raise AssertionError("consistency proof does not verify")
    consistency_s = time.perf_counter() - t0
    lookups = []
    for _ in range(LOOKUP_SAMPLES):
        ids = [EventKey("tax", f"e{rng.randrange(size * 2)}") for _ in range(BLOCK_SIZE)]  # about half on chain
        t0 = time.perf_counter()
        store.included(ids)
        lookups.append(time.perf_counter() - t0)
    return {
        "inclusion_proof_us": statistics.median(times) * 1e6,
        "inclusion_path_len": max(lengths),
        "node_reads": statistics.mean(reads),
        "consistency_proof_us": consistency_s * 1e6,
        "dedup_lookup_500_ms": statistics.median(lookups) * 1e3,
    }


def build(points: list[int], workdir: Path) -> list[ScalePoint]:
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "ledger-scale.db"
    store = LedgerStore(make_engine(f"sqlite:///{db}"))
    root, orderer = SigningKey.generate(), SigningKey.generate()
    genesis = make_genesis_event("scale", [root], [orderer])
    state = ChainState.from_genesis(genesis_payload(genesis))
    log, prev_hash, height = Frontier(), ZERO_HASH, -1
    rng = random.Random(7)
    results = []
    segment_start, segment_events = time.perf_counter(), 0
    for target in sorted(points):
        while log.size < target:
            first = log.size
            leaves = [_leaf(i) for i in range(first, min(target, first + BLOCK_SIZE))]
            new_nodes = [node for leaf in leaves for node in log.append(leaf)]
            height += 1
            block = seal_block(
                chain_id="scale",
                height=height,
                prev_hash=prev_hash,
                events=[],
                leaf_hashes=leaves,
                log_after=log,
                time=BLOCK_TIME,
                orderer_key=orderer,
            )
            rows = [SimpleNamespace(id=f"e{i}", type=EVENT_TYPE, source="tax") for i in range(first, log.size)]
            applied = VerifiedBlock(block, rows, leaves, first, height == 0, new_nodes, state)  # type: ignore[arg-type]
            store.record(applied, Checkpoint(height, block.hash, log.copy(), state))
            prev_hash = block.hash
            segment_events += len(leaves)
        append_rate = segment_events / (time.perf_counter() - segment_start)
        figures = _measure(store, log, rng)
        results.append(
            ScalePoint(
                events=log.size,
                rss_kib=proc_status_kib(os.getpid(), "VmRSS") or 0,
                append_events_per_s=append_rate,
                db_mib=sum(p.stat().st_size for p in workdir.glob("ledger-scale.db*")) / 2**20,
                **figures,
            )
        )
        print(json.dumps(asdict(results[-1])), file=sys.stderr, flush=True)
        segment_start, segment_events = time.perf_counter(), 0
    store.engine.dispose()
    return results


def run_scaling(points: list[int], workdir: Path) -> list[ScalePoint]:
    """Run :func:`build` in a child process and return its points."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.scaling", "--points", ",".join(map(str, points)), "--dir", str(workdir)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return [ScalePoint(**p) for p in json.loads(out.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", default="10000,100000,1000000")
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    points = build([int(p) for p in args.points.split(",")], args.dir)
    print(json.dumps([asdict(p) for p in points]))


if __name__ == "__main__":
    main()
