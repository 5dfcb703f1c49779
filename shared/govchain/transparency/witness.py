"""A c2sp.org/tlog-witness ``add-checkpoint`` decision, free of HTTP and of storage.

The witness's one promise: for each log (origin) it cosigns only checkpoints consistent with
every checkpoint it cosigned before, so a log that shows two histories to two audiences cannot
get both witnessed. It keeps the latest cosigned (size, root) per origin and answers, in the
order tlog-witness.md gives:

* 400 the body is malformed, or old size > checkpoint size;
* 404 the origin is not a log it is configured for;
* 403 no trusted log key signed the checkpoint, or a trusted key's signature fails;
* 409 the old size is not the latest size it cosigned (body: that size, ``text/x.tlog.size``);
* 422 size 0 without the empty-tree root; a proof sent with old size 0; a consistency proof
  that does not verify from the stored root; the same size with another root;
* 200 its cosignature line(s), once the new tree head is durably stored;
* 503 (not in the spec; rare) when racing requests keep moving the head: the log asks again.

Storage is a :class:`WitnessState` whose ``advance`` is a compare-and-swap: of two requests
racing from the same stored head only one advances, the other is judged again against the new
head. That closes the rollback race tlog-witness.md describes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from govchain.protocol.merkle import EMPTY_ROOT, TreeHasher, verify_consistency
from govchain.transparency.checkpoint import LogCheckpoint
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.errors import (
    InvalidSignature,
    MalformedCheckpoint,
    MalformedNote,
    MalformedWitnessRequest,
    UnverifiedNote,
)
from govchain.transparency.note import format_note, parse_note
from govchain.transparency.verification import VerifiedNote, verifier_map, verify_note
from govchain.transparency.vkeys import Ed25519Verifier, NoteVerifier
from govchain.transparency.witness_protocol import (
    NOTE_CONTENT_TYPE,
    SIZE_CONTENT_TYPE,
    format_cosignatures,
    format_size,
    parse_add_checkpoint,
)

MAX_ATTEMPTS = 8
"""Compare-and-swap retries before answering 503: only under a storm of racing requests."""


@dataclass(frozen=True, slots=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """A log's state at the witness: the latest cosigned head, the time it was cosigned, and the
    checkpoint with the log's and the witness's signatures (served to monitors)."""

    origin: str
    head: TreeHead
    timestamp: int
    note: bytes


class WitnessState(Protocol):
    """Where a witness keeps each log's latest cosigned head (durably: a cosignature is only
    returned after ``advance`` returned True)."""

    def latest(self, origin: str) -> WitnessedCheckpoint | None: ...

    def advance(self, expected: TreeHead | None, new: WitnessedCheckpoint) -> bool:
        """Store ``new`` if the origin's stored head is still ``expected`` (None: no row yet);
        False, changing nothing, if another request moved it first."""
        ...

    def record_refusal(self, origin: str, note: bytes, reason: str) -> None:
        """Keep a validly signed but inconsistent checkpoint: evidence the log misbehaved."""
        ...


@dataclass(frozen=True, slots=True)
class TrustedLog:
    """A log the witness serves: its origin line and the key(s) it signs checkpoints with."""

    origin: str
    verifiers: tuple[NoteVerifier, ...]
    tree: TreeHasher | None = None
    """The hash of the log's Merkle tree: None for RFC 6962/9162 SHA-256 (every C2SP log);
    a gm GovChain chain's checkpoints carry the root of its SM3 tree (docs/crypto-profiles.md)."""

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValueError("an origin is one non-empty line")
        if not self.verifiers:
            raise ValueError(f"log {self.origin!r} needs at least one verifier key")
        verifier_map(self.verifiers)  # two keys a signature line could not tell apart: refuse now

    @classmethod
    def from_vkeys(cls, origin: str, vkeys: Sequence[str], tree: TreeHasher | None = None) -> TrustedLog:
        return cls(origin, tuple(Ed25519Verifier.from_vkey(v) for v in vkeys), tree)

    @property
    def origin_hash(self) -> str:
        """Lowercase hex SHA-256 of the origin: the monitoring URL's path element."""
        return hashlib.sha256(self.origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, body and its content type; ``reason`` is for the operator's log."""

    status: int
    body: bytes
    content_type: str
    reason: str = ""


def _refuse(status: int, reason: str) -> Answer:
    return Answer(status, f"{reason}\n".encode(), "text/plain; charset=utf-8", reason)


class Witness:
    """The decision of a witness with one cosigning key over a fixed set of logs."""

    def __init__(self, signer: CosignatureSigner, logs: Iterable[TrustedLog], state: WitnessState) -> None:
        self.signer = signer
        self.state = state
        self.logs = {log.origin: log for log in logs}
        self._by_hash = {log.origin_hash: log.origin for log in self.logs.values()}

    def add_checkpoint(self, body: bytes) -> Answer:
        """Judge one ``add-checkpoint`` request body; never raises on any input."""
        try:
            request = parse_add_checkpoint(body)
            note = parse_note(request.checkpoint)
            checkpoint = LogCheckpoint.parse(note.text)
        except (MalformedWitnessRequest, MalformedNote, MalformedCheckpoint) as exc:
            return _refuse(400, f"malformed request: {exc}")
        log = self.logs.get(checkpoint.origin)
        if log is None:
            return _refuse(404, "unknown log origin")
        try:
            verified = verify_note(note, log.verifiers)
        except (UnverifiedNote, InvalidSignature) as exc:
            return _refuse(403, f"checkpoint not signed by the log: {exc}")
        if request.old_size > checkpoint.size:
            return _refuse(400, f"old size {request.old_size} is beyond the checkpoint size {checkpoint.size}")
        for _ in range(MAX_ATTEMPTS):
            answer = self._try_advance(log, checkpoint, request.old_size, request.proof, verified)
            if answer is not None:
                return answer
        return _refuse(503, "too many concurrent updates of this log; try again")

    def _try_advance(
        self, log: TrustedLog, checkpoint: LogCheckpoint, old_size: int, proof: tuple[bytes, ...], note: VerifiedNote
    ) -> Answer | None:
        """One judgement against the stored head; None when another request moved it meanwhile.

        The cosignature covers ``note.text``, the very bytes the log signed."""
        current = self.state.latest(log.origin)
        empty = EMPTY_ROOT if log.tree is None else log.tree.empty_root
        latest = current.head if current is not None else TreeHead(0, empty)
        if old_size != latest.size:
            return Answer(409, format_size(latest.size), SIZE_CONTENT_TYPE, "old size is not the latest cosigned size")
        problem = _inconsistency(latest, checkpoint, proof, log.tree)
        if problem is not None:
            self.state.record_refusal(log.origin, format_note(note.text, note.verified), problem)
            return _refuse(422, problem)
        timestamp = max(self.signer.now(), current.timestamp if current is not None else 0, 1)
        cosignature = self.signer.cosign(note.text, timestamp)
        served = format_note(note.text, [*note.verified, cosignature])
        new = WitnessedCheckpoint(log.origin, TreeHead(checkpoint.size, checkpoint.root), timestamp, served)
        if not self.state.advance(current.head if current is not None else None, new):
            return None
        return Answer(200, format_cosignatures([cosignature]), NOTE_CONTENT_TYPE, "cosigned")

    def monitoring_checkpoint(self, origin_hash: str) -> bytes | None:
        """The latest cosigned checkpoint of the log whose origin hashes to ``origin_hash``
        (``GET <prefix>/<origin hash>/checkpoint``), or None: never cosigned or unknown."""
        origin = self._by_hash.get(origin_hash)
        if origin is None:
            return None
        current = self.state.latest(origin)
        return current.note if current is not None else None


def _inconsistency(
    latest: TreeHead, checkpoint: LogCheckpoint, proof: tuple[bytes, ...], tree: TreeHasher | None = None
) -> str | None:
    """Why ``checkpoint`` cannot follow ``latest`` (the spec's 422 cases), or None."""
    if checkpoint.size == 0 and checkpoint.root != (EMPTY_ROOT if tree is None else tree.empty_root):
        return "a checkpoint of size 0 must carry the empty tree's root"
    if latest.size == 0:
        # Every tree extends the empty one: there is nothing to prove (and a verifier that
        # refuses a "proof" from size 0, as govchain.protocol.merkle does, must not be asked).
        return "no consistency proof is sent from size 0" if proof else None
    if latest.size == checkpoint.size and latest.root != checkpoint.root:
        return "same tree size as the cosigned checkpoint, different root: the log forked"
    if not verify_consistency(latest.size, checkpoint.size, latest.root, checkpoint.root, list(proof), tree):
        return "the consistency proof does not verify from the cosigned checkpoint"
    return None
