"""Shared pieces of the transparency tests: a log with a key, synthetic trees, a witness."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import MemoryTree, consistency_proof, leaf_hash, root_at
from govchain.transparency.checkpoint import LogCheckpoint, sign_checkpoint
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness import TreeHead, TrustedLog, Witness, WitnessedCheckpoint
from govchain.transparency.witness_protocol import format_add_checkpoint

VECTORS = json.loads((Path(__file__).parent / "vectors" / "c2sp_vectors.json").read_text("utf-8"))
ORIGIN = "gov.example/govchain/test"


def synthetic_leaves(n: int, seed: bytes = b"") -> list[bytes]:
    return [b"leaf %d %s" % (i, seed) for i in range(n)]


def tree_of(leaves: list[bytes]) -> MemoryTree:
    return MemoryTree(leaf_hash(data) for data in leaves)


@dataclass
class Log:
    """A log that signs checkpoints of its in-memory tree (the ledger's part, played in tests)."""

    origin: str = ORIGIN
    key: SigningKey = field(default_factory=SigningKey.generate)
    leaves: list[bytes] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=MemoryTree)

    @property
    def signer(self) -> Ed25519Signer:
        return Ed25519Signer(self.origin, self.key)

    @property
    def vkey(self) -> str:
        return self.signer.verifier.vkey

    def grow_to(self, size: int, seed: bytes = b"") -> None:
        for data in synthetic_leaves(size, seed)[len(self.leaves) :]:
            self.leaves.append(data)
            self.tree.append(leaf_hash(data))

    def checkpoint(self, size: int | None = None) -> LogCheckpoint:
        size = self.tree.size if size is None else size
        return LogCheckpoint(self.origin, size, root_at(size, self.tree))

    def signed(self, size: int | None = None) -> bytes:
        return sign_checkpoint(self.checkpoint(size), [self.signer])

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None) -> bytes:
        size = self.tree.size if size is None else size
        if proof is None:
            proof = consistency_proof(old, size, self.tree) if old else []
        return format_add_checkpoint(old, proof, self.signed(size))


class MemoryState:
    """An in-memory :class:`WitnessState` for unit tests of the decision (a lock makes the
    compare-and-swap atomic, as the database transaction does in the service)."""

    def __init__(self) -> None:
        self.rows: dict[str, WitnessedCheckpoint] = {}
        self.refusals: list[tuple[str, bytes, str]] = []
        self._lock = threading.Lock()

    def latest(self, origin: str) -> WitnessedCheckpoint | None:
        return self.rows.get(origin)

    def advance(self, expected: TreeHead | None, new: WitnessedCheckpoint) -> bool:
        with self._lock:
            current = self.rows.get(new.origin)
            if (current.head if current else None) != expected:
                return False
            self.rows[new.origin] = new
            return True

    def record_refusal(self, origin: str, note: bytes, reason: str) -> None:
        self.refusals.append((origin, note, reason))


class Clock:
    def __init__(self, now: float = 1_760_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def witness_signer(clock: Clock) -> CosignatureSigner:
    return CosignatureSigner("witness.example/audit", SigningKey.generate(), clock)


@pytest.fixture
def memory_witness(log: Log, witness_signer: CosignatureSigner) -> tuple[Witness, MemoryState]:
    state = MemoryState()
    return Witness(witness_signer, [TrustedLog.from_vkeys(log.origin, [log.vkey])], state), state
